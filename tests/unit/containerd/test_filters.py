"""containerd's filter syntax: what parses, what it means, what is refused."""
import pytest

import errdefs
from containerd.core import filters
from containerd.core.filters import EQUAL, MATCHES, NOT_EQUAL, PRESENT, Selector

FIELDS = {
    ("topic",): "/tasks/exit",
    ("namespace",): "moby",
    ("labels", "app"): "web",
    ("labels", "com.example/tier"): "front",
    ("labels", "empty"): "",
}


def adaptor(fieldpath):
    value = FIELDS.get(tuple(fieldpath))
    return (value, True) if value is not None else ("", False)


def matches(*texts: str) -> bool:
    return filters.parse_all(texts).match(adaptor)


@pytest.mark.parametrize("text, selectors", [
    ("name", [Selector(("name",))]),
    ("name==value,foo!=bar", [Selector(("name",), EQUAL, "value"), Selector(("foo",), NOT_EQUAL, "bar")]),
    ('topic=="/tasks/exit"', [Selector(("topic",), EQUAL, "/tasks/exit")]),
    ("topic~=|^/tasks/|", [Selector(("topic",), MATCHES, "^/tasks/")]),
    (r"input~=/foo\/bar/,id!=ff", [Selector(("input",), MATCHES, "foo/bar"), Selector(("id",), NOT_EQUAL, "ff")]),
    ("name~=[abc]+", [Selector(("name",), MATCHES, "[abc]+")]),
    (r"name~=[abc]\+", [Selector(("name",), MATCHES, r"[abc]\+")]),
    ("compound.labels==punctuated_value.foo-bar",
     [Selector(("compound", "labels"), EQUAL, "punctuated_value.foo-bar")]),
    ('labels."very complex label"==something', [Selector(("labels", "very complex label"), EQUAL, "something")]),
    ('"leading quote".postquote==value', [Selector(("leading quote", "postquote"), EQUAL, "value")]),
    (r'name~="asdf\n\tfooo"', [Selector(("name",), MATCHES, "asdf\n\tfooo")]),
    (" foo == bar  ,  labels.a ", [Selector(("foo",), EQUAL, "bar"), Selector(("labels", "a"), PRESENT)]),
    ("name==牛", [Selector(("name",), EQUAL, "牛")]),
])
def test_parses(text, selectors):
    assert list(filters.parse(text).selectors) == selectors


@pytest.mark.parametrize("text, complaint", [
    ("foo=bar", 'unsupported operator "="'),
    ("input==,id!=ff", "expected value or quoted"),
    ("interrupted==", "unexpected end of input"),
    ("labels.containerd.io/key==value", "expected an operator"),
    ("topic==/tasks/exit", "invalid quote encountered"),  # / and | quote only after ~=
    ('labels."containerd.io\nkey"==value', "quoted literal not terminated"),
    (r'labels."\g"', "illegal escape sequence"),
    (r'labels."\xaz"', "illegal numeric escape sequence"),
    ("doublevalue=value value", 'unsupported operator "="'),
    ("a==b c==d", "unexpected input: c"),
    (",", "expected field or quoted"),
])
def test_refuses(text, complaint):
    with pytest.raises(errdefs.InvalidArgument) as raised:
        filters.parse(text)
    assert complaint in str(raised.value)


def test_meaning():
    assert matches()  # no filter: everything
    assert matches("")
    assert matches('topic=="/tasks/exit"')
    assert matches("topic~=|^/tasks/|,namespace==moby")  # selectors: all of them
    assert not matches("topic~=|^/tasks/|,namespace==other")
    assert matches("namespace==other", 'topic~="exit$"')  # filters: any of them
    assert not matches("namespace==other", "topic~=|^/images/|")
    assert matches("labels.app") and not matches("labels.missing")
    assert matches("labels.empty")  # present, with an empty value
    assert matches('labels."com.example/tier"==front')
    assert matches("labels.missing!=x")  # absent is not equal to anything
    assert not matches('labels.missing==""')  # and not equal to the empty string either
    assert matches("labels.app~=e") and not matches("labels.app~=^e")
    assert not matches("labels.app~=[")  # a broken expression matches nothing, as in containerd


def test_message_field_reads_event_fields():
    from protos import event_types_pb2

    event = event_types_pb2.ContainerUpdate(id="c1", labels={"a.b": "x"})
    assert filters.message_field(event, ["id"]) == ("c1", True)
    assert filters.message_field(event, ["image"]) == ("", False)
    assert filters.message_field(event, ["labels", "a", "b"]) == ("x", True)
    assert filters.message_field(event, ["nothing"]) == ("", False)
    create = event_types_pb2.ContainerCreate(id="c1", runtime=event_types_pb2.ContainerCreate.Runtime(name="rt"))
    assert filters.message_field(create, ["runtime", "name"]) == ("rt", True)

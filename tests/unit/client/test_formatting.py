"""The --format template subset, docker's tabwriter alignment, go-units sizes and durations,
and truncation: checked against values docker prints."""
from __future__ import annotations

import pytest

from client import formatting as fmt


class Row:
    def __init__(self, name, labels=None):
        self._name, self._labels = name, labels or {}

    def Names(self):
        return self._name

    def ID(self):
        return "0123456789ab"

    def Label(self, key):
        return self._labels.get(key, "")

    def as_json(self):
        return {"ID": self.ID(), "Names": self.Names()}


@pytest.mark.parametrize("source, data, expected", [
    ("{{.Name}}", {"Name": "/web"}, "/web"),
    ("{{.State.Status}} {{.State.Pid}}", {"State": {"Status": "running", "Pid": 42}}, "running 42"),
    ("{{.State.Running}}", {"State": {"Running": False}}, "false"),
    ("{{json .Config.Cmd}}", {"Config": {"Cmd": ["sh", "-c", "x"]}}, '["sh","-c","x"]'),
    ("{{json .}}", {"a": 1}, '{"a":1}'),
    ("{{json .}}", {"a": "<none> & …"}, '{"a":"<none> & …"}'),
    ("{{.Missing}}", {"a": 1}, "<no value>"),
    ("{{.Config.Env}}", {"Config": {"Env": ["A=1", "B=2"]}}, "[A=1 B=2]"),
    ("{{.Labels}}", {"Labels": {"b": "2", "a": "1"}}, "map[a:1 b:2]"),
    ("{{join .Args \",\"}}", {"Args": ["x", "y"]}, "x,y"),
    ("{{index .Labels \"a\"}}", {"Labels": {"a": "1"}}, "1"),
    ("{{upper .Name}}", {"Name": "web"}, "WEB"),
    ("x  {{- .Name}}", {"Name": "y"}, "xy"),
    ("{{.Name -}}  z", {"Name": "y"}, "yz"),
    ('{{.A}}"{{.B}}"', {"A": "a", "B": "b"}, 'a"b"'),
    ('{{index .L "k k"}}', {"L": {"k k": "v"}}, "v"),
    ('{{join .A "\\n"}}', {"A": ["1", "2"]}, "1\n2"),
])
def test_template_on_json(source, data, expected):
    assert fmt.Template(source).render(data) == expected


def test_template_on_objects_calls_methods_and_json_uses_as_json():
    assert fmt.Template('{{.ID}} {{.Names}} {{.Label "tier"}}').render(Row("web", {"tier": "x"})) == \
        "0123456789ab web x"
    assert fmt.Template("{{json .}}").render(Row("web")) == '{"ID":"0123456789ab","Names":"web"}'
    assert fmt.Template("{{json .}}").render(Row("<a&b>")) == '{"ID":"0123456789ab","Names":"\\u003ca\\u0026b\\u003e"}'
    with pytest.raises(fmt.TemplateError):
        fmt.Template("{{.Nope}}").render(Row("web"))
    with pytest.raises(fmt.TemplateError):
        fmt.Template("{{nosuchfunc .ID}}").render(Row("web"))


def test_prepare_as_docker_prefix_and_escapes():
    assert fmt.prepare("table {{.ID}}\\t{{.Names}}") == (True, "{{.ID}}\t{{.Names}}")
    assert fmt.prepare("{{.ID}}\\n") == (False, "{{.ID}}\n")


def test_table_header_and_alignment_like_tabwriter():
    out = fmt.render("table {{.ID}}\t{{.Names}}", [Row("web"), Row("a-much-longer-name")], {"ID": "CONTAINER ID"})
    assert out == ("CONTAINER ID   NAMES\n"
                   "0123456789ab   web\n"
                   "0123456789ab   a-much-longer-name\n")
    # minimum width 10, padding 3; the last cell is not padded
    assert fmt.tabwrite(["a\tb\tc", "dd\teeeeeeeeeeee\tf"]) == ("a         b              c\n"
                                                              "dd        eeeeeeeeeeee   f\n")
    # the header of a field with no known header is its name in capitals; literal text stays
    assert fmt.render("table {{.ID}}: {{.Names}}", [Row("w")], {"ID": "CONTAINER ID"}) == \
        "CONTAINER ID: NAMES\n0123456789ab: w\n"
    assert fmt.render("{{.Names}}", [Row("w"), Row("v")], {}) == "w\nv\n"


def test_tabwriter_counts_characters_not_bytes():
    assert fmt.tabwrite(["\"abcdefgh…\"\tx", "a\ty"]) == "\"abcdefgh…\"   x\na             y\n"


@pytest.mark.parametrize("size, expected", [
    (0, "0B"), (999, "999B"), (1000, "1kB"), (8192, "8.19kB"), (3_090_000, "3.09MB"), (4_265_000, "4.26MB"),
    (1_234_567_890, "1.23GB"), (999_999, "1e+03kB"),
])
def test_human_size_with_precision_3(size, expected):
    assert fmt.human_size(size, 3) == expected


def test_human_size_default_precision_and_bytes_size():
    assert fmt.human_size(1_234_567) == "1.235MB"
    assert fmt.bytes_size(1024 * 1024 * 3 / 2) == "1.5MiB"


@pytest.mark.parametrize("seconds, expected", [
    (0.4, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
    (5399, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"),
    (14 * 86400, "2 weeks"), (60 * 86400, "2 months"), (2 * 365 * 86400, "2 years"),
])
def test_human_duration(seconds, expected):
    assert fmt.human_duration(seconds) == expected


def test_since():
    assert fmt.since(100, now=105) == "5 seconds ago"


def test_truncation():
    assert fmt.ellipsis("sh -c 'echo hi; sleep 100'", 20) == "sh -c 'echo hi; sle…"
    assert len(fmt.ellipsis("x" * 50, 20)) == 20
    assert fmt.ellipsis("short", 20) == "short"
    assert fmt.truncate_id("sha256:" + "ab" * 32) == "abababababab"
    assert fmt.truncate_id("c" * 64) == "c" * 12


def test_go_quote_and_time():
    assert fmt.go_quote('echo "hi"\\') == '"echo \\"hi\\"\\\\"'
    assert fmt.go_quote("a\tb\n") == '"a\\tb\\n"'
    assert fmt.go_quote("…") == '"…"'
    text = fmt.go_time(0)
    assert len(text.split(" ")) == 4 and text.split(" ")[0].startswith(("1970", "1969"))


def test_familiar_name():
    assert fmt.familiar_name("docker.io/library/busybox") == "busybox"
    assert fmt.familiar_name("docker.io/user/tool") == "user/tool"
    assert fmt.familiar_name("docker.io/library/a/b") == "library/a/b"
    assert fmt.familiar_name("example.com/team/tool") == "example.com/team/tool"

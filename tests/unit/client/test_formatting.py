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


CONTAINER = {"Name": "/web", "State": {"Running": True, "Pid": 0},
             "Config": {"Env": ["A=1", "B=2"], "Labels": {"tier": "front", "app": "shop"}, "Cmd": None},
             "NetworkSettings": {"Networks": {"frontend": {"IPAddress": "10.0.1.2"},
                                              "backend": {"IPAddress": "10.0.0.2"}}}}


@pytest.mark.parametrize("source, expected", [
    # range: lists, maps in key order, integers; {{.}} is the element, $ the root
    ("{{range .Config.Env}}{{.}};{{end}}", "A=1;B=2;"),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "10.0.0.2 10.0.1.2 "),
    ("{{range $name, $net := .NetworkSettings.Networks}}{{$name}}={{$net.IPAddress}},{{end}}",
     "backend=10.0.0.2,frontend=10.0.1.2,"),
    ("{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}", "0:A=1 1:B=2 "),
    ("{{range $e := .Config.Env}}{{$e}}{{end}}", "A=1B=2"),
    ("{{range .Config.Env}}{{$.Name}}{{end}}", "/web/web"),
    ("{{range 3}}{{.}}{{end}}", "012"),
    ("{{range .Config.Cmd}}x{{else}}none{{end}}", "none"),
    ("{{range .Missing}}x{{else}}none{{end}}", "none"),
    ("{{range .Config.Env}}{{.}}{{break}}{{end}}", "A=1"),
    ("{{range .Config.Env}}{{if eq . \"A=1\"}}{{continue}}{{end}}{{.}}{{end}}", "B=2"),
    # if, else if, else, with Go's truth: false, 0, nil, empty string, list and map are false
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if .State.Pid}}pid{{else if .Config.Cmd}}cmd{{else if .Config.Env}}env{{else}}none{{end}}", "env"),
    ("{{if .Config.Cmd}}a{{end}}{{if .Missing}}b{{end}}{{if \"\"}}c{{end}}{{if 0}}d{{end}}{{if false}}e{{end}}", ""),
    ("{{if and .State.Running (not .State.Pid)}}yes{{end}}", "yes"),
    ("{{if or .Config.Cmd .Name}}{{or .Config.Cmd .Name}}{{end}}", "/web"),
    ("{{with .Config.Labels}}{{.tier}}{{end}}", "front"),
    ("{{with .Config.Cmd}}{{.}}{{else}}no command{{end}}", "no command"),
    ("{{with $labels := .Config.Labels}}{{$labels.app}}{{end}}", "shop"),
    ("{{with .Config.Cmd}}x{{else with .Config.Env}}{{index . 1}}{{end}}", "B=2"),
    # nesting, variables
    ("{{range $n, $v := .NetworkSettings.Networks}}{{if eq $n \"backend\"}}"
     "{{with $v}}{{.IPAddress}}{{end}}{{end}}{{end}}", "10.0.0.2"),
    ("{{$n := len .Config.Env}}{{range .Config.Env}}{{$n = 7}}{{end}}{{$n}}", "7"),
    ("{{range .Config.Env}}{{range split . \"=\"}}[{{.}}]{{end}}{{end}}", "[A][1][B][2]"),
    # trimming, comments
    ("a  {{- .Name -}}  \n b", "a/webb"),
    ("{{- /* a comment */ -}}  x", "x"),
    ("{{range .Config.Env -}}\n  {{.}}\n{{- end}}", "A=1B=2"),
    ("{{-3}} {{- 3}}", "-33"),
    # functions
    ("{{len .Config.Env}} {{len .Name}} {{len \"héllo\"}} {{len .Config.Labels}}", "2 4 6 2"),
    ("{{index .Config.Env 1}} {{index .Config.Labels \"tier\"}} "
     "{{index .NetworkSettings.Networks \"backend\" \"IPAddress\"}}", "B=2 front 10.0.0.2"),
    ("{{slice .Name 1}} {{slice .Config.Env 0 1}}", "web [A=1]"),
    # null is Go's nil list or map
    ("{{len .Config.Cmd}} {{index .Config.Cmd 0}} {{index .Config.Labels \"none\"}}", "0 <no value> <no value>"),
    ("{{eq .State.Pid 0}} {{ne .Name \"/web\"}} {{lt 1 2}} {{le \"b\" \"a\"}} {{gt 2.5 1.5}} {{ge 1 1}} {{eq 1 2 1}}",
     "true false true false true true true"),
    ("{{eq .Config.Cmd nil}} {{eq .Name nil}}", "true false"),
    ("{{and 1 0 2}} {{or 0 \"\" \"x\"}} {{not 0}} {{and 0 (index 1 1)}}", "0 x true 0"),
    ("{{.Name | printf \"%s!\"}} "
     "{{printf \"%5.2f|%-4s|%03d|%x|%v|%q|%t\" 3.14159 \"ab\" 7 255 .Config.Env \"q\" true}}",
     "/web!  3.14|ab  |007|ff|[A=1 B=2]|\"q\"|true"),
    ("{{printf \"%d %s\" 1}} {{printf \"%d\" 1 2}} {{printf \"%s\" 1}}",
     "1 %!s(MISSING) 1%!(EXTRA int=2) %!s(int=1)"),
    ("{{print 1 2 \"a\" \"b\" 3 nil}}|{{println .Name 1}}", "1 2ab3 <nil>|/web 1\n"),
    ("{{title \"hello wORLD\"}} {{upper \"straße\"}} {{lower .Name}} {{pad \"x\" 1 2}}| {{truncate .Name 2}}",
     "Hello WORLD STRAßE /web  x  | /w"),
    ("{{join (split \"a b c\" \" \") \"-\"}} {{split \"a,b\" \",\"}} {{json (split \"x\" \",\")}}",
     "a-b-c [a b] [\"x\"]"),
    ("{{json .State}} {{json .Config.Cmd}}", '{"Running":true,"Pid":0} null'),
    ("{{\"a\\tb\"}}{{`raw\\t`}}{{'a'}}{{0x10}}{{1e3}}{{1.5}}", "a\tbraw\\t97161000" + "1.5"),
    ("{{1e6}} {{123456.0}} {{0.00001}} {{.Config}}",
     "1e+06 123456 1e-05 map[Cmd:<nil> Env:[A=1 B=2] Labels:map[app:shop tier:front]]"),
])
def test_actions_and_functions_as_go(source, expected):
    assert fmt.Template(source).render(CONTAINER) == expected


@pytest.mark.parametrize("source, message", [
    ("{{foo}}", 'template: :1: function "foo" not defined'),
    ("{{.X", "template: :1: unclosed action"),
    ("a\n{{if}}", "template: :2: missing value for if"),
    ("{{range .X}}", "template: :1: unexpected EOF"),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{else}}", "template: :1: unexpected {{else}}"),
    ("{{if 1}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}"),
    ("{{end foo}}", 'template: :1: unexpected "foo" in end'),
    ("{{$x}}", 'template: :1: undefined variable "$x"'),
    ("{{if 1}}{{$y := 1}}{{end}}{{$y}}", 'template: :1: undefined variable "$y"'),
    ("{{break}}", "template: :1: {{break}} outside {{range}}"),
    ("{{range $i, $e, $f := .}}{{end}}", "template: :1: too many declarations in range"),
    ("{{(.A}}", "template: :1: unclosed left paren"),
    ("{{.A)}}", "template: :1: unexpected right paren"),
    ('{{"a}}', "template: :1: unterminated quoted string"),
    ("{{| .A}}", 'template: :1: unexpected "|" in command'),
    ("{{1 | 2}}", "template: :1: non executable command in pipeline stage 2"),
    ('{{.A"x"}}', "template: :1: bad character U+0022 '\"'"),
    ("{{/* c */ 1}}", "template: :1: comment ends before closing delimiter"),
    ("{{with 1}}{{else if 2}}{{end}}", "template: :1: unexpected <if> in input"),
    ("{{template \"x\"}}", "template: :1: {{template}} is not supported"),
    ("{{foo}} {{\"a}}", 'template: :1: function "foo" not defined'),  # the first fault, as Go's lazy lexer finds it
])
def test_parse_errors_in_gos_words(source, message):
    with pytest.raises(fmt.TemplateError) as caught:
        fmt.Template(source)
    assert str(caught.value) == message


class Context:
    GO_TYPE = "*formatter.ContainerContext"

    def Names(self):
        return "web"

    def Label(self, key):
        return key


@pytest.mark.parametrize("source, data, message", [
    ("{{.Nope}}", Context(), 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type '
                             '*formatter.ContainerContext'),
    ("{{range .Names}}{{end}}", Context(), 'template: :1:8: executing "" at <.Names>: range can\'t iterate over web'),
    ("{{.Label}}", Context(),
     'template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0'),
    ("{{.Label 1}}", Context(), 'template: :1:9: executing "" at <1>: expected string; found 1'),
    ("{{.Names.X}}", Context(), 'template: :1:8: executing "" at <.Names.X>: can\'t evaluate field X in type string'),
    ("x\n  {{.A.B.C}}", {"A": {"B": 1}},
     'template: :2:6: executing "" at <.A.B.C>: can\'t evaluate field C in type int'),
    ("{{upper .A}}", {"A": True},
     'template: :1:8: executing "" at <.A>: wrong type for value; expected string; got bool'),
    ("{{index .A 5}}", {"A": [1]},
     'template: :1:2: executing "" at <index .A 5>: error calling index: index out of range: 5'),
    ("{{eq 1 \"a\"}}", {},
     'template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison'),
    ('{{"x" 1}}', {}, 'template: :1:2: executing "" at <"x">: can\'t give argument to non-function "x"'),
    ("{{.A 1}}", {"A": 1}, 'template: :1:2: executing "" at <.A>: A is not a method but has arguments'),
    ("{{json}}", {}, 'template: :1:2: executing "" at <json>: wrong number of args for json: want 1 got 0'),
    ("{{nil}}", {}, 'template: :1:2: executing "" at <nil>: nil is not a command'),
])
def test_execution_errors_in_gos_words(source, data, message):
    with pytest.raises(fmt.TemplateError) as caught:
        fmt.Template(source).render(data)
    assert str(caught.value) == message


def test_execution_errors_keep_what_was_written_and_name_the_template():
    with pytest.raises(fmt.TemplateError) as caught:
        fmt.Template("a {{.A}} {{range .A}}{{end}}", "version").render({"A": "b"})
    assert str(caught.value) == 'template: version:1:17: executing "version" at <.A>: range can\'t iterate over b'
    assert caught.value.output == "a b "


def test_a_data_objects_own_refusal_is_placed_in_the_template():
    class Struct(dict):
        def __contains__(self, name):
            raise fmt.TemplateError(f"can't evaluate field {name} in type *events.Message")

    with pytest.raises(fmt.TemplateError) as caught:
        fmt.Template("{{.Status}} {{.Nope}}").render(Struct())
    assert str(caught.value) == ('template: :1:2: executing "" at <.Status>: '
                                 "can't evaluate field Status in type *events.Message")


def test_inspect_each_reports_the_objects_a_template_fails_on():
    template = fmt.Template("{{range .}}{{.}}{{end}}")
    assert fmt.inspect_each(template, [[1, 2], "x", [3]]) == (
        "12\n3\n", ['template parsing error: template: :1:8: executing "" at <.>: range can\'t iterate over x'])
    assert fmt.inspect_each(template, []) == ("\n", [])


def test_table_headers_keep_their_names_through_docker_functions():
    out = fmt.render("table {{lower .ID}}\t{{upper .Names}}\t{{pad .Names 1 1}}", [Row("web")],
                     {"ID": "CONTAINER ID"})
    assert out == ("CONTAINER ID   NAMES      NAMES \n"
                   "0123456789ab   WEB        web \n")
    # a header the template fails on keeps what it wrote before failing, as docker's does
    assert fmt.render("table {{.ID}}:{{range .Names}}{{end}}", [], {"ID": "CONTAINER ID"}) == "CONTAINER ID:\n"


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

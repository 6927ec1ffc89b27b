"""What docker's formatter package does, for our commands: Go's text/template for --format,
tabwriter-aligned tables, go-units human sizes and durations, and truncation.

Templates are text/template's language: actions and pipelines, $variables and $, {{if}},
{{else if}}, {{with}}, {{range}} (over lists, maps in key order, and integers), {{else}},
{{break}}, {{continue}}, comments and {{- -}} trimming, with docker's functions (json, split,
join, title, lower, upper, pad, truncate) and Go's builtins but for html, js, urlquery and call;
{{define}}, {{template}} and {{block}} are refused. Errors are worded as Go words them. The data
is decoded JSON, where a dict is a Go map (a missing key is <no value>), or objects whose
capitalised methods are those of a docker formatter context ({{.ID}}, {{.Label "key"}}).

A format starting with `table ` renders a header row (each field's header name, from the
object's HEADERS) and aligns the columns as Go's tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
does, which is what docker uses.
"""

import time


class TemplateError(Exception):
    """A template that cannot be parsed or run, in Go's words ("template: NAME:LINE: ...");
    `output` is what an execution wrote before it failed, which docker's version and info print."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


# Lexing: Go's text/template lexer, as a list of (kind, text, offset) items

_SPACE = " \t\r\n"
_SPACES = frozenset(_SPACE)
_KEYWORDS = frozenset(("block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"))
_TERMINATORS = frozenset(".,|:()") | _SPACES


class _LexingStopped(Exception):
    """Raised past the error item, to end the lexing."""


class _Lexer:
    """A lexing error becomes the last item, which the parser reports only when it gets there:
    an earlier parse error is the one Go names."""

    def __init__(self, source: str):
        self.source = source
        self.position = 0
        self.items: list[tuple[str, str, int]] = []

    def run(self) -> list[tuple[str, str, int]]:
        source = self.source
        trim_text = False
        try:
            while True:
                start = self.position
                opening = source.find("{{", start)
                end = len(source) if opening < 0 else opening
                if trim_text:
                    while start < end and source[start] in _SPACE:
                        start += 1
                text = source[start:end]
                trims_before = opening >= 0 and self.left_trim_marker(opening + 2)
                if trims_before:
                    text = text.rstrip(_SPACE)
                if text:
                    self.items.append(("text", text, start))
                if opening < 0:
                    self.items.append(("eof", "", len(source)))
                    return self.items
                self.position = opening + (4 if trims_before else 2)
                if source.startswith("/*", self.position):
                    trim_text = self.comment()
                else:
                    self.items.append(("{{", "{{", opening))
                    trim_text = self.action()
        except _LexingStopped:
            return self.items

    def fail(self, message: str, at: int):
        self.items.append(("error", message, at))
        raise _LexingStopped

    def left_trim_marker(self, at: int) -> bool:
        return self.source[at:at + 1] == "-" and self.source[at + 1:at + 2] in _SPACES

    def right_delimiter(self, at: int) -> int:
        """The width of the `}}` (2) or ` -}}` (4) at `at`, 0 for none."""
        source = self.source
        if source.startswith("}}", at):
            return 2
        if source[at:at + 1] in _SPACES and source.startswith("-}}", at + 1):
            return 4
        return 0

    def comment(self) -> bool:
        start = self.position
        close = self.source.find("*/", start + 2)
        if close < 0:
            self.fail("unclosed comment", start)
        width = self.right_delimiter(close + 2)
        if not width:
            self.fail("comment ends before closing delimiter", start)
        self.position = close + 2 + width
        return width == 4

    def action(self) -> bool:
        """The items up to `}}`; whether it trims the text after it."""
        source, depth = self.source, 0
        while True:
            at = self.position
            width = self.right_delimiter(at)
            if width:
                if depth:
                    self.fail("unclosed left paren", at)
                self.items.append(("}}", "}}", at))
                self.position = at + width
                return width == 4
            if at >= len(source):
                self.fail("unclosed action", at)
            ch = source[at]
            self.position = at + 1
            if ch in _SPACE:
                self.space(at)
            elif ch in "=|(":
                if ch == "(":
                    depth += 1
                self.items.append((ch, ch, at))
            elif ch == ")":
                depth -= 1
                if depth < 0:
                    self.fail("unexpected right paren", at)
                self.items.append((ch, ch, at))
            elif ch == ":":
                if source[at + 1:at + 2] != "=":
                    self.fail("expected :=", at)
                self.position += 1
                self.items.append((":=", ":=", at))
            elif ch in "\"'":
                self.quoted(at, "string" if ch == '"' else "char")
            elif ch == "`":
                close = source.find("`", at + 1)
                if close < 0:
                    self.fail("unterminated raw quoted string", at)
                self.position = close + 1
                self.items.append(("string", source[at:close + 1], at))
            elif ch == "$":
                self.word(at, "variable")
            elif ch == "." and not "0" <= source[at + 1:at + 2] <= "9":
                self.word(at, "field")
            elif ch in "+-." or "0" <= ch <= "9":
                self.number(at)
            elif ch == "_" or ch.isalnum():
                self.word(at, "identifier")
            elif ch < "\x7f" and ch.isprintable():
                self.items.append(("char", ch, at))
            else:
                self.fail(f"unrecognized character in action: {_unicode(ch)}", at)

    def space(self, start: int):
        source, end = self.source, start
        while end < len(source) and source[end] in _SPACE:
            end += 1
        if source.startswith("-}}", end):  # the last space is the ` -}}` delimiter's
            end -= 1
        self.position = end
        if end > start:
            self.items.append(("space", source[start:end], start))

    def at_terminator(self, at: int) -> bool:
        return at >= len(self.source) or self.source[at] in _TERMINATORS or self.source.startswith("}}", at)

    def word(self, start: int, kind: str):
        """A field (.Name), variable ($name) or identifier; a lone . is the dot, a lone $ the root."""
        source = self.source
        end = start if kind == "identifier" else start + 1
        if kind == "field" and self.at_terminator(end):
            self.items.append(("dot", ".", start))
            return
        while end < len(source) and (source[end] == "_" or source[end].isalnum()):
            end += 1
        if not self.at_terminator(end):
            self.fail(f"bad character {_unicode(source[end])}", end)
        word = source[start:end]
        if kind == "identifier":
            if word in _KEYWORDS:
                kind = "keyword"
            elif word in ("true", "false"):
                kind = "bool"
            elif word == "nil":
                kind = "nil"
        self.position = end
        self.items.append((kind, word, start))

    def quoted(self, start: int, kind: str):
        source = self.source
        quote, i = source[start], start + 1
        while i < len(source) and source[i] != quote and source[i] != "\n":
            i += 2 if source[i] == "\\" and source[i + 1:i + 2] not in ("", "\n") else 1
        if i >= len(source) or source[i] != quote:
            self.fail("unterminated quoted string" if kind == "string" else "unterminated character constant", start)
        self.position = i + 1
        self.items.append((kind, source[start:i + 1], start))

    def number(self, start: int):
        source, i = self.source, start
        if source[i] in "+-":
            i += 1
        digits = "0123456789_"
        if source[i:i + 1] == "0" and source[i + 1:i + 2] in ("x", "X", "o", "O", "b", "B"):
            digits = {"x": "0123456789abcdefABCDEF_", "o": "01234567_", "b": "01_"}[source[i + 1].lower()]
            i += 2
        while i < len(source) and source[i] in digits:
            i += 1
        if source[i:i + 1] == ".":
            i += 1
            while i < len(source) and source[i] in digits:
                i += 1
        if digits == "0123456789_" and source[i:i + 1] in ("e", "E"):
            i += 1
            if source[i:i + 1] in ("+", "-"):
                i += 1
            while i < len(source) and source[i] in digits:
                i += 1
        if i < len(source) and (source[i] == "_" or source[i].isalnum()):
            self.fail(f"bad number syntax: {go_quote(source[start:i + 1])}", start)
        if source[i:i + 1] in ("+", "-"):  # Go's complex constants (1+2i), which we do not have
            end = i + 1
            while end < len(source) and (source[end] in "._" or source[end].isalnum()):
                end += 1
            self.fail(f"bad number syntax: {go_quote(source[start:end])}", start)
        self.position = i
        self.items.append(("number", source[start:i], start))


def _unicode(ch: str) -> str:
    """Go's %#U."""
    return f"U+{ord(ch):04X} '{ch}'" if ch.isprintable() else f"U+{ord(ch):04X}"


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'",
            '"': '"'}


def _unquote(token: str) -> str:
    """strconv.Unquote of a "string", `raw string` or 'c'haracter; ValueError if malformed."""
    if token[0] == "`":
        return token[1:-1].replace("\r", "")
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        code = body[i + 1]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[code]
            out.append(chr(int(body[i + 2:i + 2 + width], 16)))
            i += 2 + width
        elif code in "01234567":
            out.append(chr(int(body[i + 1:i + 4], 8)))
            i += 4
        else:
            raise ValueError(token)
    return "".join(out)


# Parsing: Go's parse.Tree, as lists of nodes (a str is literal text)

class _Operand:
    """A term of a command, of one of Go's node kinds: "field" (.A.B) and "variable" ($x.A.B)
    with their names (a variable's own first), "chain" (fields of what a parenthesised
    pipeline or a function gives, which is its value), "function" (named by its text), "dot",
    "nil", and "literal" (a bool,
    number or string constant: its value, and its text as written, which errors print)."""
    __slots__ = ("kind", "pos", "text", "value", "names")

    def __init__(self, kind, pos, text="", value=None, names=None):
        self.kind, self.pos, self.text, self.value, self.names = kind, pos, text, value, names

    def __str__(self):
        if self.kind == "field":
            return "".join("." + name for name in self.names)
        if self.kind == "variable":
            return ".".join(self.names)
        if self.kind == "chain":
            return _operand_text(self.value) + "".join("." + name for name in self.names)
        return self.text


class _Command:
    __slots__ = ("pos", "args")

    def __init__(self, pos):
        self.pos, self.args = pos, []

    def __str__(self):
        return " ".join(_operand_text(arg) for arg in self.args)


class _Pipe:
    """Commands joined by |, with the variables it declares ($x :=) or assigns ($x =)."""
    __slots__ = ("pos", "declared", "assigns", "commands")

    def __init__(self, pos):
        self.pos, self.declared, self.assigns, self.commands = pos, [], False, []

    def __str__(self):
        declared = ", ".join(self.declared) + (" = " if self.assigns else " := ") if self.declared else ""
        return declared + " | ".join(str(command) for command in self.commands)


def _operand_text(node) -> str:
    return f"({node})" if isinstance(node, _Pipe) else str(node)


class _Action:
    """{{pipe}}, or {{if}}, {{with}} or {{range}} (the keyword) with its body and its {{else}}
    part (None without one)."""
    __slots__ = ("pos", "keyword", "pipe", "body", "otherwise")

    def __init__(self, keyword, pipe, body=None, otherwise=None):
        self.pos, self.keyword, self.pipe, self.body, self.otherwise = pipe.pos, keyword, pipe, body, otherwise

    def __str__(self):
        return "{{" + (self.keyword + " " if self.keyword else "") + str(self.pipe) + "}}"


class _Keyword:
    """{{break}} and {{continue}}, and the {{end}} and {{else}} that end a list being parsed."""
    __slots__ = ("pos", "word")

    def __init__(self, word, pos):
        self.word, self.pos = word, pos

    def __str__(self):
        return "{{" + self.word + "}}"


_OPERAND_STARTS = frozenset(("bool", "char", "dot", "field", "identifier", "nil", "number", "string", "variable", "("))


class _Parser:
    """Go's parse.Tree for one template: its nodes, where a str is literal text; a
    TemplateError, in Go's words, for the first fault."""

    def __init__(self, source: str, name: str):
        self.source, self.name = source, name
        self.items = _Lexer(source).run()
        self.index = 0
        self.current = self.items[0]  # the item an error's line is taken from, as Go's last read token
        self.variables = ["$"]
        self.range_depth = 0

    def fail(self, message: str):
        line = 1 + self.source.count("\n", 0, self.current[2])
        raise TemplateError(f"template: {self.name}:{line}: {message}")

    def unexpected(self, item, context: str):
        kind, text, _ = item
        if kind == "eof":
            described = "EOF"
        elif kind in ("keyword", "dot"):
            described = f"<{text}>"
        else:
            described = go_quote(text[:10]) + ("..." if len(text) > 10 else "")
        self.fail(f"unexpected {described} in {context}")

    def next(self):
        item = self.peek()
        if item[0] != "eof":
            self.index += 1
        return item

    def peek(self):
        self.current = item = self.items[self.index]
        if item[0] == "error":
            self.fail(item[1])
        return item

    def next_non_space(self):
        while (item := self.next())[0] == "space":
            pass
        return item

    def peek_non_space(self):
        item = self.next_non_space()
        if item[0] != "eof":  # which next() does not step past
            self.index -= 1
        return item

    def expect(self, kind: str, context: str):
        item = self.next_non_space()
        if item[0] != kind:
            self.unexpected(item, context)
        return item

    def parse(self) -> list:
        nodes = []
        while self.peek()[0] != "eof":
            node = self.text_or_action()
            if type(node) is _Keyword and node.word in ("end", "else"):
                self.fail(f"unexpected {node}")
            nodes.append(node)
        return nodes

    def node_list(self) -> tuple[list, str]:
        """The nodes up to the {{end}} or {{else}} that closes them, and which word it was."""
        nodes = []
        while self.peek_non_space()[0] != "eof":
            node = self.text_or_action()
            if type(node) is _Keyword and node.word in ("end", "else"):
                return nodes, node.word
            nodes.append(node)
        self.fail("unexpected EOF")

    def text_or_action(self):
        item = self.next_non_space()
        if item[0] == "text":
            return item[1]
        if item[0] == "{{":
            return self.action()
        self.unexpected(item, "input")

    def action(self):
        item = self.next_non_space()
        kind, word, pos = item
        if kind == "keyword":
            if word in ("if", "with", "range"):
                return self.control(word)
            if word == "end":
                self.expect("}}", "end")
            elif word == "else":
                # `else if` and `else with` leave their keyword to control()
                if self.peek_non_space()[:2] not in (("keyword", "if"), ("keyword", "with")):
                    self.expect("}}", "else")
            elif word in ("break", "continue"):
                following = self.next_non_space()
                if following[0] != "}}":
                    self.unexpected(following, "{{" + word + "}}")
                if not self.range_depth:
                    self.fail(f"{{{{{word}}}}} outside {{{{range}}}}")
            else:
                self.fail(f"{{{{{word}}}}} is not supported")
            return _Keyword(word, pos)
        self.index -= 1
        return _Action("", self.pipeline("command", "}}"))

    def control(self, keyword: str) -> _Action:
        outer_variables = len(self.variables)
        pipe = self.pipeline(keyword, "}}")
        if keyword == "range":  # where {{break}} and {{continue}} may be
            self.range_depth += 1
        body, ending = self.node_list()
        if keyword == "range":
            self.range_depth -= 1
        otherwise = None
        if ending == "else":
            if keyword != "range" and self.peek()[:2] == ("keyword", keyword):
                # {{if a}}…{{else if b}}…{{end}} is {{if a}}…{{else}}{{if b}}…{{end}}{{end}}
                self.next()
                otherwise = [self.control(keyword)]
            else:
                otherwise, ending = self.node_list()
                if ending != "end":
                    self.fail(f"expected end; found {{{{{ending}}}}}")
        del self.variables[outer_variables:]
        return _Action(keyword, pipe, body, otherwise)

    def pipeline(self, context: str, end: str) -> _Pipe:
        pipe = _Pipe(self.peek_non_space()[2])
        while (variable := self.peek_non_space())[0] == "variable":
            start = self.index
            self.next()
            following = self.peek_non_space()
            if following[0] in (":=", "="):
                self.next()
                pipe.assigns = following[0] == "="
                pipe.declared.append(variable[1])
                self.variables.append(variable[1])
                break
            if following[:2] == ("char", ","):
                self.next()
                pipe.declared.append(variable[1])
                self.variables.append(variable[1])
                if context == "range" and len(pipe.declared) < 2:
                    if self.peek_non_space()[0] in ("variable", "}}", ")"):
                        continue
                    self.fail("range can only initialize variables")
                self.fail(f"too many declarations in {context}")
            self.index = start  # a variable that starts a command
            break
        while True:
            item = self.next_non_space()
            if item[0] == end:
                break
            if item[0] not in _OPERAND_STARTS:
                self.unexpected(item, context)
            self.index -= 1
            pipe.commands.append(self.command())
        if not pipe.commands:
            self.fail(f"missing value for {context}")
        for stage, command in enumerate(pipe.commands[1:], 2):
            if command.args[0].kind in ("literal", "dot", "nil"):
                self.fail(f"non executable command in pipeline stage {stage}")
        return pipe

    def command(self) -> _Command:
        command = _Command(self.peek_non_space()[2])
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                command.args.append(operand)
            item = self.next()
            if item[0] == "space":
                continue
            if item[0] in ("}}", ")"):
                self.index -= 1
            elif item[0] != "|":
                self.unexpected(item, "operand")
            break
        if not command.args:
            self.fail("empty command")
        return command

    def operand(self):
        node = self.term()
        if node is None or self.peek()[0] != "field":
            return node
        pos, names = self.peek()[2], []
        while self.peek()[0] == "field":
            names.append(self.next()[1][1:])
        if type(node) is _Pipe or node.kind == "function":
            return _Operand("chain", pos, value=node, names=names)
        if node.kind in ("field", "variable"):
            return _Operand(node.kind, pos, names=node.names + names)
        self.fail(f"unexpected . after term {go_quote(str(node))}")

    def term(self):
        item = self.next_non_space()
        kind, text, pos = item
        if kind == "field":
            return _Operand("field", pos, names=[text[1:]])
        if kind == "identifier":
            if text not in _FUNCTIONS:
                self.fail(f"function {go_quote(text)} not defined")
            return _Operand("function", pos, text)
        if kind == "variable":
            if text not in self.variables:
                self.fail(f"undefined variable {go_quote(text)}")
            return _Operand("variable", pos, names=[text])
        if kind in ("dot", "nil"):
            return _Operand(kind, pos, text)
        if kind == "bool":
            return _Operand("literal", pos, text, text == "true")
        if kind in ("number", "char"):
            return _Operand("literal", pos, text, self.number(kind, text))
        if kind == "string":
            try:
                return _Operand("literal", pos, text, _unquote(text))
            except (ValueError, IndexError):
                self.fail("invalid syntax")
        if kind == "(":
            return self.pipeline("parenthesized pipeline", ")")
        self.index -= 1
        return None

    def number(self, kind: str, text: str):
        """An integer (a 'c'haracter is its code point) or a float, as Go's ideal constants."""
        if kind == "char":
            try:
                value = _unquote(text)
            except (ValueError, IndexError):
                value = ""
            if len(value) != 1:
                self.fail(f"malformed character constant: {text}")
            return ord(value)
        try:
            return int(text, 0)
        except ValueError:
            pass
        if text.lstrip("+-").isdigit():  # Go's leading-zero octal: 010 is 8
            try:
                return int(text, 8)
            except ValueError:
                pass
        try:
            return float(text)
        except ValueError:
            self.fail(f"illegal number syntax: {go_quote(text)}")


# Execution: Go's exec.go on decoded JSON and formatter objects

_NOT_PIPED = object()  # no value comes from an earlier command of the pipeline
_ABSENT = object()  # an attribute the object does not have


class _LoopJump(Exception):
    """{{break}} or {{continue}} (the word), on its way to its {{range}}."""


class _CallError(Exception):
    """A function's failure, reported as "error calling NAME: ..."."""


class _Execution:
    """One run of a template: what it wrote, the variables in scope, and the node being
    evaluated, which an error names as Go's does."""

    def __init__(self, template: "Template", data, functions: dict):
        self.template, self.functions = template, functions
        self.out: list[str] = []
        self.variables = [["$", data]]
        self.node = None

    def fail(self, message: str):
        raise TemplateError(self.template.locate(self.node) + message, "".join(self.out))

    def walk(self, dot, nodes: list):
        for node in nodes:
            if type(node) is str:
                self.out.append(node)
                continue
            self.node = node
            if type(node) is _Keyword:
                raise _LoopJump(node.word)
            if not node.keyword:
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.declared:
                    self.out.append(go_string(value))
            elif node.keyword == "range":
                self.range(dot, node)
            else:
                self.conditional(dot, node)

    def conditional(self, dot, node: _Action):
        outer_variables = len(self.variables)
        value = self.pipeline(dot, node.pipe)
        if _is_true(value):
            self.walk(value if node.keyword == "with" else dot, node.body)
        elif node.otherwise is not None:
            self.walk(dot, node.otherwise)
        del self.variables[outer_variables:]

    def range(self, dot, node: _Action):
        outer_variables = len(self.variables)
        value = self.pipeline(dot, node.pipe)
        declared = node.pipe.declared
        if value is None:  # a missing key or null: nothing to iterate, as Go's invalid value
            pairs = []
        elif isinstance(value, dict):
            pairs = sorted(value.items())
        elif isinstance(value, (list, tuple)):
            pairs = list(enumerate(value))
        elif type(value) is int:
            if len(declared) > 1:
                self.fail(f"can't use {value} to iterate over more than one variable")
            pairs = [(i, i) for i in range(value)]
        else:
            self.fail(f"range can't iterate over {_sprint(value)}")
        body_variables = len(self.variables)
        for index, element in pairs:
            if node.pipe.assigns:
                for name, bound in zip(declared, (index, element) if len(declared) > 1 else (element,)):
                    self.assign(name, bound)
            elif declared:
                self.variables[-1][1] = element
                if len(declared) > 1:
                    self.variables[-2][1] = index
            try:
                self.walk(element, node.body)
            except _LoopJump as jump:
                if str(jump) == "break":
                    break
            finally:
                del self.variables[body_variables:]
        if not pairs and node.otherwise is not None:
            self.walk(dot, node.otherwise)
        del self.variables[outer_variables:]

    def pipeline(self, dot, pipe: _Pipe):
        self.node = pipe
        value = _NOT_PIPED
        for command in pipe.commands:
            value = self.command(dot, command, value)
        for name in pipe.declared:
            if pipe.assigns:
                self.assign(name, value)
            else:
                self.variables.append([name, value])
        return value

    def lookup(self, name: str):
        for variable in reversed(self.variables):
            if variable[0] == name:
                return variable[1]
        self.fail(f"undefined variable: {name}")

    def assign(self, name: str, value):
        for variable in reversed(self.variables):
            if variable[0] == name:
                variable[1] = value
                return
        self.fail(f"undefined variable: {name}")

    def command(self, dot, command: _Command, final):
        first = command.args[0]
        if type(first) is _Pipe:
            self.not_a_function(command.args, final)
            return self.pipeline(dot, first)
        kind = first.kind
        if kind == "field":
            self.node = first
            return self.field_chain(dot, dot, first.names, command.args, final)
        if kind == "function":
            return self.function(dot, first, command, command.args, final)
        if kind == "variable":
            return self.variable(dot, first, command.args, final)
        if kind == "chain":
            return self.chain(dot, first, command.args, final)
        self.node = first
        self.not_a_function(command.args, final)
        if kind == "nil":
            self.fail("nil is not a command")
        return dot if kind == "dot" else first.value

    def not_a_function(self, args: list, final):
        if len(args) > 1 or final is not _NOT_PIPED:
            self.fail(f"can't give argument to non-function {args[0]}")

    def variable(self, dot, node: _Operand, args, final):
        self.node = node
        value = self.lookup(node.names[0])
        if len(node.names) == 1:
            self.not_a_function(args, final)
            return value
        return self.field_chain(dot, value, node.names[1:], args, final)

    def chain(self, dot, node: _Operand, args, final):
        self.node = node
        return self.field_chain(dot, self.argument(dot, "any", node.value), node.names, args, final)

    def field_chain(self, dot, receiver, names: list, args, final):
        """The fields one after the other; only the last one is given the arguments."""
        for name in names[:-1]:
            receiver = self.field(dot, name, receiver, (), _NOT_PIPED)
        return self.field(dot, names[-1], receiver, args, final)

    def field(self, dot, name: str, receiver, args, final):
        """receiver.name: a map's key, or an object's attribute or method (its arguments are
        args[1:] and the piped value)."""
        if receiver is None:  # Go gives nothing for a field of nothing
            return None
        has_arguments = len(args) > 1 or final is not _NOT_PIPED
        if isinstance(receiver, dict):
            if has_arguments:
                self.fail(f"{name} is not a method but has arguments")
            return receiver[name] if name in receiver else None
        member = getattr(receiver, name, _ABSENT) if name[:1].isupper() else _ABSENT  # Go sees exported names only
        if member is _ABSENT:
            self.fail(f"can't evaluate field {name} in type {_go_type(receiver)}")
        if callable(member):
            signature = _method_signature(member)
            if not has_arguments and signature == _NO_PARAMETERS:  # {{.ID}}, as most calls are: nothing to check
                return member()
            return self.call(dot, member, signature, name, args, final, self.node)
        if has_arguments:
            self.fail(f"{name} has arguments but cannot be invoked as function")
        return member

    def function(self, dot, node: _Operand, command, args, final):
        self.node = node
        name = node.text
        implementation, parameters, variadic = self.functions[name]
        if implementation is None:
            return self.short_circuit(dot, name, args[1:], final)
        return self.call(dot, implementation, (parameters, variadic), name, args, final, command)

    def call(self, dot, function, signature, name: str, args, final, node):
        """function(args[1:]..., final), each value checked against the parameter's type."""
        parameters, variadic = signature
        given = args[1:]
        count = len(given) + (final is not _NOT_PIPED)
        if variadic is None and count != len(parameters):
            self.fail(f"wrong number of args for {name}: want {len(parameters)} got {count}")
        if variadic is not None and count < len(parameters):
            self.fail(f"wrong number of args for {name}: want at least {len(parameters)} got {len(given)}")
        values = [self.argument(dot, parameters[i] if i < len(parameters) else variadic, arg)
                  for i, arg in enumerate(given)]
        if final is not _NOT_PIPED:
            values.append(self.checked(final, parameters[len(given)] if len(given) < len(parameters) else variadic))
        try:
            return function(*values)
        except _CallError as error:
            self.node = node
            self.fail(f"error calling {name}: {error}")

    def short_circuit(self, dot, name: str, given, final):
        """and/or: the first false (and) or true (or) value, evaluating no further; else the last."""
        if not given and final is _NOT_PIPED:
            self.fail(f"wrong number of args for {name}: want at least 1 got 0")
        value = None
        for arg in given:
            value = self.argument(dot, "any", arg)
            if _is_true(value) == (name == "or"):
                return value
        return value if final is _NOT_PIPED else final

    def argument(self, dot, kind: str, node):
        """An argument's value for a parameter of the kind ("any", "string", "int", "[]string")."""
        self.node = node
        if type(node) is _Pipe:
            return self.checked(self.pipeline(dot, node), kind)
        node_kind = node.kind
        if node_kind == "field":
            return self.checked(self.field_chain(dot, dot, node.names, (node,), _NOT_PIPED), kind)
        if node_kind == "variable":
            return self.checked(self.variable(dot, node, (node,), _NOT_PIPED), kind)
        if node_kind == "function":
            return self.checked(self.function(dot, node, node, (node,), _NOT_PIPED), kind)
        if node_kind == "chain":
            return self.checked(self.chain(dot, node, (node,), _NOT_PIPED), kind)
        if node_kind == "dot":
            return self.checked(dot, kind)
        if node_kind == "nil":
            if kind not in ("any", "[]string"):
                self.fail(f"cannot assign nil to {kind}")
            return [] if kind == "[]string" else None
        value = node.value
        if kind == "any" or (kind == "string" and type(value) is str) or (kind == "int" and type(value) is int):
            return value
        if kind == "int" and type(value) is float and value.is_integer():  # Go's 1.0 is an integer constant too
            return int(value)
        if kind == "[]string":
            self.fail(f"can't handle {node} for arg of type []string")
        self.fail(f"expected {'integer' if kind == 'int' else kind}; found {node}")

    def checked(self, value, kind: str):
        """Go's validateType; a list passes for []string, as a JSON list of strings is one."""
        if kind == "any":
            return value
        if value is None:
            if kind != "[]string":
                self.fail(f"invalid value; expected {kind}")
            return []
        expected = {"string": str, "int": int, "[]string": (list, tuple)}[kind]
        if not isinstance(value, expected) or value is True or value is False:
            self.fail(f"wrong type for value; expected {kind}; got {_go_type(value)}")
        return value


_NO_PARAMETERS = ((), None)


def _method_signature(method) -> tuple[tuple, str | None]:
    """A Python method as Go sees a formatter context's: string parameters (*args for any
    number of them); a builtin's are unknown, and so any."""
    code = getattr(getattr(method, "__func__", method), "__code__", None)
    if code is None:
        return (), "any"
    count = code.co_argcount - (1 if hasattr(method, "__self__") else 0)  # a bound method's self
    return ("string",) * count, ("string" if code.co_flags & 0x04 else None)  # 0x04: CO_VARARGS


def _is_true(value) -> bool:
    """Go's truth: false, 0, nil, and empty strings, lists and maps are false; objects true."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


def _go_type(value) -> str:
    """The Go type an error names for a value: decoded JSON is Go's interface{} values; an
    object may name its Go type in GO_TYPE."""
    if value is True or value is False:
        return "bool"
    named = getattr(value, "GO_TYPE", None)
    if named:
        return named
    for python_type, go_type in ((int, "int"), (float, "float64"), (str, "string"), (list, "[]interface {}"),
                                 (tuple, "[]interface {}"), (dict, "map[string]interface {}")):
        if isinstance(value, python_type):
            return go_type
    return type(value).__name__


# Functions: docker's (templates.basicFunctions) and Go's builtins

def to_json(value) -> str:
    """docker's `json` template function: an encoder with HTML escaping off; but a formatter
    context (ps and images rows) marshals itself with json.Marshal, which escapes < > &.
    (Go writes a float as 1 where Python writes 1.0: API replies have no such floats.)"""
    import json

    marshalled = hasattr(value, "as_json")
    if marshalled:
        value = value.as_json()
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    escapes = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")) if marshalled else ()
    for ch, escape in escapes + (("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # escaped either way
        text = text.replace(ch, escape)
    return text


def _split(text: str, separator: str) -> list:
    return list(text) if separator == "" else text.split(separator)


def _join(items, separator: str) -> str:
    return separator.join(item if type(item) is str else _sprint(item) for item in items)


def _title(text: str) -> str:
    """strings.Title: each word's first letter in title case, the rest as it is."""
    out, previous = [], " "
    for ch in text:
        out.append(ch.title() if _separates_words(previous) else ch)
        previous = ch
    return "".join(out)


def _separates_words(ch: str) -> bool:
    if ch.isascii():
        return not (ch.isalnum() or ch == "_")
    return not ch.isalnum() and ch.isspace()


def _each_rune(text: str, convert) -> str:
    """strings.ToUpper/ToLower: a character with no one-character counterpart (ß) stays as it is."""
    if text.isascii():
        return convert(text)
    return "".join(converted if len(converted := convert(ch)) == 1 else ch for ch in text)


def _pad(text: str, before: int, after: int) -> str:
    return " " * before + text + " " * after if text else text


def _truncate(text: str, length: int) -> str:
    if length < 0:
        raise _CallError(f"runtime error: slice bounds out of range [:{length}]")
    return text[:length]


def _length(value) -> int:
    if value is None:  # JSON's null for a Go nil list or map, whose length is 0
        return 0
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, (list, tuple, dict)):
        return len(value)
    raise _CallError(f"len of type {_go_type(value)}")


def _index(item, *keys):
    """item[key][key]...: a string's bytes, a list's elements, a map's values (nothing for a
    missing key, or in JSON's null, which stands for a Go nil map or list)."""
    for key in keys:
        if item is None:
            return None
        if isinstance(item, dict):
            if type(key) is not str:
                raise _CallError(f"value has type {_go_type(key)}; should be string")
            item = item[key] if key in item else None
            continue
        if isinstance(item, str):
            item = item.encode()
        elif not isinstance(item, (list, tuple)):
            raise _CallError(f"can't index item of type {_go_type(item)}")
        position = _position(key, len(item))
        if position == len(item):  # Go's bound check lets this one through, to reflect's
            raise _CallError(f"reflect: {'string' if isinstance(item, bytes) else 'slice'} index out of range")
        item = item[position]
    return item


def _position(key, limit: int) -> int:
    """An index into a sequence, at most `limit`."""
    if key is None:
        raise _CallError("cannot index slice/array with nil")
    if type(key) is not int:
        raise _CallError(f"cannot index slice/array with type {_go_type(key)}")
    if not 0 <= key <= limit:
        raise _CallError(f"index out of range: {key}")
    return key


def _slice(item, *bounds):
    """item[i:j] of a string (its bytes, as text) or list; a list's third bound is its
    capacity's, which ours do not have."""
    if item is None:
        raise _CallError("slice of untyped nil")
    if len(bounds) > 3:
        raise _CallError(f"too many slice indexes: {len(bounds)}")
    text = isinstance(item, str)
    if text:
        if len(bounds) == 3:
            raise _CallError("cannot 3-index slice a string")
        item = item.encode()
    elif not isinstance(item, (list, tuple)):
        raise _CallError(f"can't slice item of type {_go_type(item)}")
    given = [_position(bound, len(item)) for bound in bounds]
    start, end, capacity = given + [0, len(item), len(item)][len(given):]  # Go's defaults for the others
    if start > end or end > capacity:
        raise _CallError("invalid slice index: %d > %d" % ((start, end) if start > end else (end, capacity)))
    return item[start:end].decode(errors="replace") if text else item[start:end]


def _kind(value) -> str | None:
    """Go's basic kind of a value, for comparisons (None for what has none)."""
    if value is True or value is False:
        return "bool"
    for python_type, kind in ((int, "int"), (float, "float"), (str, "string")):
        if isinstance(value, python_type):
            return kind
    return None


def _eq(first, *others) -> bool:
    if not others:
        raise _CallError("missing argument for comparison")
    for other in others:
        if first is None or other is None:
            equal = first is other
        elif _kind(first) != _kind(other):
            raise _CallError("incompatible types for comparison")
        elif _kind(first) is None and isinstance(other, (list, tuple, dict)):
            raise _CallError(f"non-comparable type {_sprint(other)}: {_go_type(other)}")
        else:
            equal = first == other
        if equal:
            return True
    return False


def _lt(first, second) -> bool:
    kind = _kind(first)
    if kind is None or _kind(second) is None:
        raise _CallError("invalid type for comparison")
    if kind != _kind(second):
        raise _CallError("incompatible types for comparison")
    if kind == "bool":
        raise _CallError("invalid type for comparison")
    return first < second


def _print(*values) -> str:
    """fmt.Sprint: a space between two operands when neither is a string."""
    out = []
    for i, value in enumerate(values):
        if i and type(value) is not str and type(values[i - 1]) is not str:
            out.append(" ")
        out.append(_sprint(value))
    return "".join(out)


def _println(*values) -> str:
    return " ".join(_sprint(value) for value in values) + "\n"


# name: (implementation, parameter kinds, the kind of any further arguments or None)
_FUNCTIONS = {
    "json": (to_json, ("any",), None),
    "split": (_split, ("string", "string"), None),
    "join": (_join, ("[]string", "string"), None),
    "title": (_title, ("string",), None),
    "lower": (lambda text: _each_rune(text, str.lower), ("string",), None),
    "upper": (lambda text: _each_rune(text, str.upper), ("string",), None),
    "pad": (_pad, ("string", "int", "int"), None),
    "truncate": (_truncate, ("string", "int"), None),
    "and": (None, ("any",), "any"),  # None: _Execution.short_circuit evaluates its arguments lazily
    "or": (None, ("any",), "any"),
    "not": (lambda value: not _is_true(value), ("any",), None),
    "len": (_length, ("any",), None),
    "index": (_index, ("any",), "any"),
    "slice": (_slice, ("any",), "any"),
    "print": (_print, (), "any"),
    "printf": (lambda format, *values: _sprintf(format, values), ("string",), "any"),
    "println": (_println, (), "any"),
    "eq": (_eq, ("any",), "any"),
    "ne": (lambda first, second: not _eq(first, second), ("any", "any"), None),
    "lt": (_lt, ("any", "any"), None),
    "le": (lambda first, second: _lt(first, second) or _eq(first, second), ("any", "any"), None),
    "gt": (lambda first, second: not (_lt(first, second) or _eq(first, second)), ("any", "any"), None),
    "ge": (lambda first, second: not _lt(first, second), ("any", "any"), None),
}

# A table's header row is the template run on the headers, with docker's functions that would
# change them (templates.HeaderFunctions) giving their first argument back
_HEADER_FUNCTIONS = dict(_FUNCTIONS, **{name: (lambda value, *ignored: value, kinds, None) for name, kinds in (
    ("json", ("string",)), ("split", ("string", "string")), ("join", ("string", "string")), ("title", ("string",)),
    ("lower", ("string",)), ("upper", ("string",)), ("truncate", ("string", "int")))})


# Printing: Go's fmt

def go_string(value) -> str:
    """How an action prints a value: fmt.Sprint, and <no value> for nothing."""
    if type(value) is str:  # most are: ps and images print strings only
        return value
    return "<no value>" if value is None else _sprint(value)


def _sprint(value) -> str:
    """fmt's %v of a decoded-JSON value."""
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{_sprint(key)}:{_sprint(item)}" for key, item in sorted(value.items())) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_sprint(item) for item in value) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 64), which %v uses: the shortest digits that read
    back as the same float, in e-notation for exponents below -4 or from 6 on."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    text = repr(abs(value))
    if "e" in text:
        mantissa, _, exponent_text = text.partition("e")
        exponent, digits = int(exponent_text), mantissa.replace(".", "")
    else:
        whole, _, fraction = text.partition(".")
        if whole != "0":
            exponent, digits = len(whole) - 1, whole + fraction
        else:
            significant = fraction.lstrip("0")
            exponent, digits = len(significant) - len(fraction) - 1, significant
    digits = digits.rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    whole, fraction = digits[:exponent + 1].ljust(exponent + 1, "0"), digits[exponent + 1:]
    return sign + whole + ("." + fraction if fraction else "")


def _sprintf(format: str, values: tuple) -> str:
    """fmt.Sprintf for the verbs templates use: %v %s %q %d %t %f %e %g %x %X %o %b %c %T %%,
    with flags, width and precision; Go's %!verb(...) marks for what does not fit."""
    out, i, used = [], 0, 0
    while i < len(format):
        percent = format.find("%", i)
        if percent < 0:
            out.append(format[i:])
            break
        out.append(format[i:percent])
        i = percent + 1
        flags = ""
        while i < len(format) and format[i] in "+-# 0":
            flags += format[i]
            i += 1
        width_start = i
        while i < len(format) and format[i].isdigit():
            i += 1
        width = int(format[width_start:i]) if i > width_start else None
        precision = None
        if format[i:i + 1] == ".":
            precision_start = i = i + 1
            while i < len(format) and format[i].isdigit():
                i += 1
            precision = int(format[precision_start:i] or 0)
        if i >= len(format):
            out.append("%!(NOVERB)")
            break
        verb = format[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif used >= len(values):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_pad_to(_format_value(verb, flags, precision, values[used]), flags, width, verb))
            used += 1
    if used < len(values):
        out.append("%!(EXTRA " + ", ".join(_bad_value(value) for value in values[used:]) + ")")
    return "".join(out)


def _bad_value(value) -> str:
    return "<nil>" if value is None else f"{_go_type(value)}={_sprint(value)}"


def _format_value(verb: str, flags: str, precision: int | None, value) -> str:
    if verb == "T":
        return "<nil>" if value is None else _go_type(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_format_value(verb, flags, precision, item) for item in value) + "]"
    if verb == "v":
        if not isinstance(value, float) or precision is None:
            return _sprint(value)
        verb = "g"  # as Go's %.2v of a float
    if isinstance(value, str):
        if verb == "s":
            return value if precision is None else value[:precision]
        if verb == "q":
            return go_quote(value)
        if verb in "xX":
            text = value.encode().hex()
            return text.upper() if verb == "X" else text
    elif value is True or value is False:
        if verb == "t":
            return _sprint(value)
    elif isinstance(value, int):
        sign = "+" if "+" in flags and value >= 0 else " " if " " in flags and value >= 0 else ""
        if verb == "d":
            return sign + str(value)
        if verb in "boxX":
            prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}[verb] if "#" in flags else ""
            digits = format(abs(value), verb)
            return ("-" if value < 0 else sign) + prefix + digits
        if verb == "c":
            return chr(value)
        if verb == "U":
            return f"U+{value:04X}"
        if verb == "q":
            return "'" + chr(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    elif isinstance(value, float):
        sign = "+" if "+" in flags else " " if " " in flags else ""
        if verb in "eEfF":
            return format(value, f"{sign}.{6 if precision is None else precision}{verb}")
        if verb in "gG":
            if precision is None:
                text = (sign if value >= 0 else "") + _go_float(value)
            else:
                text = format(value, f"{sign}.{precision}{verb}")
            return text.upper() if verb == "G" else text
    return f"%!{verb}({_bad_value(value)})"


def _pad_to(text: str, flags: str, width: int | None, verb: str) -> str:
    """Go pads to the width with spaces, on the left unless `-`; `0` pads with zeros after a sign."""
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags:
        if text[:1] in ("-", "+") and verb not in "sqv":
            return text[0] + text[1:].rjust(width - 1, "0")
        return text.rjust(width, "0")
    return text.rjust(width)


class Template:
    """A parsed template (TemplateError at once for one Go would not parse), to run on values."""

    def __init__(self, source: str, name: str = ""):
        self.source, self.name = source, name
        self.nodes = _Parser(source, name).parse()

    def render(self, data, functions: dict = _FUNCTIONS) -> str:
        execution = _Execution(self, data, functions)
        try:
            execution.walk(data, self.nodes)
        except TemplateError as error:
            if str(error).startswith("template: "):
                raise
            # a data object's own refusal (events' Message has Go's fields only), placed in
            # the template as Go places it
            execution.fail(str(error))
        return "".join(execution.out)

    def locate(self, node) -> str:
        """Go's words for where an execution failed: its line, and the column in bytes."""
        if node is None:
            return f"template: {self.name}: "
        before = self.source[:node.pos].encode()
        line, column = before.count(b"\n") + 1, len(before) - (before.rfind(b"\n") + 1)
        return f"template: {self.name}:{line}:{column}: executing {go_quote(self.name)} at <{node}>: "


def inspect_each(template: Template, objects: list) -> tuple[str, list[str]]:
    """What docker's TemplateInspector writes for the objects (each one's output and a newline;
    an empty line if there is none), and its errors for the objects the template fails on."""
    rendered, errors = [], []
    for obj in objects:
        try:
            rendered.append(template.render(obj) + "\n")
        except TemplateError as error:
            errors.append(f"template parsing error: {error}")
    return "".join(rendered) or "\n", errors


def prepare(format: str) -> tuple[bool, str]:
    """(is a table, the template text) as docker's Context.preFormat does."""
    table = format.startswith("table")
    if table:
        format = format[len("table"):]
    format = format.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    return table, format


def render(format: str, rows: list, headers: dict[str, str]) -> str:
    """Every row through the template; a table gets a header and aligned columns."""
    table, source = prepare(format)
    template = Template(source)
    lines = [template.render(row) for row in rows]
    if not table:
        return "".join(line + "\n" for line in lines)
    try:
        header = template.render(_HeaderRow(headers), _HEADER_FUNCTIONS)
    except TemplateError as error:  # docker ignores the header's failure, keeping what it wrote
        header = error.output
    return tabwrite([header] + lines)


class _HeaderRow:
    """Answers every field with its header, as docker's header context does."""

    def __init__(self, headers: dict[str, str]):
        self.headers = headers

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        header = self.headers.get(name, name.upper())
        return lambda *args: header

    @staticmethod
    def Label(name: str) -> str:
        """{{.Label "com.example.tier"}} is headed by the label's last part (SubHeaderContext.Label)."""
        return name.split(".")[-1].replace("-", " ").replace("_", " ")


def tabwrite(lines: list[str], minwidth: int = 10, padding: int = 3) -> str:
    """Go's text/tabwriter with (minwidth 10, tabwidth 1, padding 3, ' ', no flags): a cell is
    text ended by a tab; the text after a line's last tab is not part of any column."""
    text = "\n".join(lines)
    rows = [line.split("\t") for line in text.split("\n")]
    out = []
    # Columns are formed by blocks of consecutive lines that have a cell in that column.
    widths_per_row = [[0] * (len(cells) - 1) for cells in rows]
    _align(rows, widths_per_row, 0, 0, len(rows), minwidth, padding)
    for cells, widths in zip(rows, widths_per_row):
        line = "".join(cell + " " * (width - len(cell)) for cell, width in zip(cells[:-1], widths))
        out.append(line + cells[-1])
    return "\n".join(out) + "\n"


def _align(rows, widths, column, start, end, minwidth, padding):
    i = start
    while i < end:
        if len(rows[i]) - 1 <= column:
            i += 1
            continue
        j = i
        while j < end and len(rows[j]) - 1 > column:
            j += 1
        width = max(len(rows[k][column]) for k in range(i, j)) + padding
        width = max(width, minwidth)
        for k in range(i, j):
            widths[k][column] = width
        _align(rows, widths, column + 1, i, j, minwidth, padding)
        i = j


# go-units

_DECIMAL = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
_BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]


def _go_g(value: float, precision: int) -> str:
    text = f"{value:.{precision}g}"
    if "e" in text:  # Go writes e+03 as C does; keep it
        mantissa, _, exponent = text.partition("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0").rjust(2, "0")
        text = f"{mantissa}e{sign}{digits}"
    return text


def human_size(size: float, precision: int = 4) -> str:
    """units.HumanSizeWithPrecision: decimal units, %.<precision>g."""
    i = 0
    while size >= 1000 and i < len(_DECIMAL) - 1:
        size /= 1000
        i += 1
    return f"{_go_g(size, precision)}{_DECIMAL[i]}"


def bytes_size(size: float) -> str:
    """units.BytesSize: binary units, %.4g."""
    i = 0
    while size >= 1024 and i < len(_BINARY) - 1:
        size /= 1024
        i += 1
    return f"{_go_g(size, 4)}{_BINARY[i]}"


def human_duration(seconds: float) -> str:
    """units.HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def since(timestamp: float, now: float | None = None) -> str:
    """'N seconds ago', as docker's CREATED column."""
    return human_duration((time.time() if now is None else now) - timestamp) + " ago"


def ellipsis(text: str, width: int) -> str:
    """formatter.Ellipsis: at most width characters, the last one … when cut."""
    if len(text) <= width:
        return text
    if width <= 0:
        return ""
    return text[:width - 1] + "…"


def truncate_id(ident: str) -> str:
    """stringid.TruncateID: drop the algorithm, keep 12 characters."""
    if ":" in ident:
        ident = ident.split(":", 1)[1]
    return ident[:12]


def go_quote(text: str) -> str:
    """strconv.Quote for printable text."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_time(timestamp: float) -> str:
    """time.Unix(t, 0).String(): '2006-01-02 15:04:05 -0700 MST' in local time."""
    local = time.localtime(timestamp)
    return time.strftime("%Y-%m-%d %H:%M:%S %z ", local) + (local.tm_zone or "")


def familiar_name(name: str) -> str:
    """reference.FamiliarName: docker.io/library/x is x, docker.io/u/x is u/x."""
    for prefix in ("docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            if name.startswith("library/") and name.count("/") == 1:
                name = name[len("library/"):]
            break
    return name

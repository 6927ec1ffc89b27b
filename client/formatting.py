"""What docker's formatter package does, for our commands: a small subset of Go templates for
--format, tabwriter-aligned tables, go-units human sizes and durations, and truncation.

Template subset: literal text; actions `{{.Field}}`, `{{.Field.Sub}}`, `{{.}}`, `{{json X}}`,
`{{upper X}}`, `{{lower X}}`, `{{title X}}`, `{{join X "sep"}}`, `{{index X "key"}}`,
`{{.Label "key"}}` on objects that have such a method. A format starting with `table ` renders
a header row (each field's header name, from the object's HEADERS) and aligns the columns as
Go's tabwriter.NewWriter(out, 10, 1, 3, ' ', 0) does, which is what docker uses.
"""

import time


class TemplateError(Exception):
    pass


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def _tokens(action: str) -> list[tuple[str, str]]:
    """The words and "quoted strings" of an action (no re: it is slow to import)."""
    out, i = [], 0
    while i < len(action):
        ch = action[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            text, i = [], i + 1
            while i < len(action) and action[i] != '"':
                if action[i] == "\\" and i + 1 < len(action):
                    text.append(_ESCAPES.get(action[i + 1], action[i + 1]))
                    i += 2
                else:
                    text.append(action[i])
                    i += 1
            if i >= len(action):
                raise TemplateError("unterminated quoted string")
            out.append(("str", "".join(text)))
            i += 1
        else:
            start = i
            while i < len(action) and not action[i].isspace():
                i += 1
            out.append(("word", action[start:i]))
    return out


def _lookup(value, path: str):
    if path == ".":
        return value
    for name in path.strip(".").split("."):
        if value is None:
            return None
        if isinstance(value, dict):
            if name not in value:
                return None
            value = value[name]
        else:
            attribute = getattr(value, name, _MISSING)
            if attribute is _MISSING:
                raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
            value = attribute() if callable(attribute) else attribute
    return value


_MISSING = object()


def go_string(value) -> str:
    """fmt.Sprint of a decoded-JSON value, as text/template prints it."""
    if value is None:
        return "<no value>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value)) if abs(value) < 1e6 else f"{value:g}".replace("e+0", "e+")
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_string(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    return str(value)


def to_json(value) -> str:
    """docker's `json` template function: an encoder with HTML escaping off; but a formatter
    context (ps and images rows) marshals itself with json.Marshal, which escapes < > &."""
    import json

    marshalled = hasattr(value, "as_json")
    if marshalled:
        value = value.as_json()
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if marshalled:
        for ch, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                           ("\u2029", "\\u2029")):
            text = text.replace(ch, escape)
    return text


def _evaluate(tokens: list[tuple[str, str]], data):
    if not tokens:
        raise TemplateError("missing value for command")
    kind, word = tokens[0]
    if kind == "str":
        return word

    def argument(i):
        k, w = tokens[i]
        return w if k == "str" else _lookup(data, w)

    if word.startswith("."):
        if len(tokens) > 1:  # a method with arguments: {{.Label "key"}}
            owner, _, name = word.rpartition(".")
            target = _lookup(data, owner or ".")
            method = getattr(target, name, None)
            if not callable(method):
                raise TemplateError(f"{name} is not a method but has arguments")
            return method(*[argument(i) for i in range(1, len(tokens))])
        return _lookup(data, word)
    if word == "json":
        return to_json(argument(1))
    if word in ("upper", "lower", "title"):
        text = go_string(argument(1))
        return {"upper": text.upper, "lower": text.lower, "title": text.title}[word]()
    if word == "join":
        return tokens[2][1].join(go_string(v) for v in (argument(1) or []))
    if word == "index":
        value = argument(1)
        for i in range(2, len(tokens)):
            key = argument(i)
            value = value.get(key) if isinstance(value, dict) else value[int(key)]
        return value
    if word == "println":
        return " ".join(go_string(argument(i)) for i in range(1, len(tokens))) + "\n"
    raise TemplateError(f'function "{word}" not defined')


class Template:
    def __init__(self, source: str):
        self.parts: list = []
        position = 0
        trim_next = False
        while (start := source.find("{{", position)) != -1:
            end = source.find("}}", start + 2)
            if end == -1:
                raise TemplateError("unclosed action")
            text = source[position:start]
            if trim_next:
                text = text.lstrip()
            action = source[start + 2:end]
            if action.startswith("- ") or action == "-":
                text, action = text.rstrip(), action[1:]
            trim_next = action.endswith(" -")
            if trim_next:
                action = action[:-1]
            self.parts.append(text)
            self.parts.append(_tokens(action))
            position = end + 2
        self.parts.append(source[position:].lstrip() if trim_next else source[position:])

    def render(self, data) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(go_string(_evaluate(part, data)))
        return "".join(out)


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
    header = Template(source).render(_HeaderRow(headers))
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

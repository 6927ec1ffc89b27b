"""containerd's filter syntax (pkg/filters), used to select containers, events and plugins.

A filter is a comma-separated list of selectors, all of which must match:

    selector  := fieldpath [operator value]      no operator: the field must be present
    fieldpath := field ("." field)*
    field     := [A-Za-z][A-Za-z0-9_]* | "quoted"
    operator  := "==" | "!=" | "~="              ~= is a regular expression, searched anywhere
    value     := [^\\s,]+ | "quoted" | /quoted/ | |quoted|   (/ and | quotes only after ~=)

Several filters given together match if any one does. Quoted strings take Go's escapes plus
an escaped closing quote. So `topic=="/tasks/exit"`, `namespace==moby,topic~=|^/tasks/|` and
`labels."com.example/owner"` all parse; `topic==/tasks/exit` does not, as in containerd.

What a field path means is up to the adaptor of the thing being matched: a function from the
path to (value, present).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor

import errdefs

log = logging.getLogger(__name__)

Adaptor = Callable[[Sequence[str]], "tuple[str, bool]"]

PRESENT, EQUAL, NOT_EQUAL, MATCHES = "?", "==", "!=", "~="
_QUOTES = '"/|'
_ALT_QUOTES = "/|"
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


@dataclass(frozen=True)
class Selector:
    fieldpath: tuple[str, ...]
    operator: str = PRESENT
    value: str = ""

    def match(self, adaptor: Adaptor) -> bool:
        value, present = adaptor(self.fieldpath)
        if self.operator == PRESENT:
            return present
        if self.operator == EQUAL:
            return present and value == self.value
        if self.operator == NOT_EQUAL:
            return value != self.value
        try:
            return re.search(self.value, value) is not None
        except re.error as exc:  # containerd logs a bad expression and lets it match nothing
            log.error("filter: error compiling regexp %r: %s", self.value, exc)
            return False


@dataclass(frozen=True)
class Filter:
    """Selectors that must all match; no selectors matches everything."""

    selectors: tuple[Selector, ...] = ()

    def match(self, adaptor: Adaptor) -> bool:
        return all(selector.match(adaptor) for selector in self.selectors)


@dataclass(frozen=True)
class AnyOf:
    """Filters of which one must match; no filters matches everything."""

    filters: tuple[Filter, ...] = ()

    def match(self, adaptor: Adaptor) -> bool:
        return not self.filters or any(f.match(adaptor) for f in self.filters)


def parse(text: str) -> Filter:
    if text == "":
        return Filter()
    return Filter(tuple(_Parser(text).selectors()))


def parse_all(texts: Iterable[str]) -> AnyOf:
    """The filters of a request, any of which may match (containerd's ParseAll)."""
    return AnyOf(tuple(parse(text) for text in texts))


# adaptors


def map_field(fieldpath: Sequence[str], mapping: Mapping[str, str]) -> tuple[str, bool]:
    """A map such as labels: the rest of the path is one key (quote keys with dots)."""
    if len(fieldpath) != 1:
        return "", False
    value = mapping.get(fieldpath[0])
    return (value, True) if value is not None else ("", False)


def message_field(message, fieldpath: Sequence[str]) -> tuple[str, bool]:
    """A protobuf message by its field names, as containerd's generated fieldpath methods
    answer for event types: strings, bools, nested messages and string maps."""
    if not fieldpath:
        return "", False
    field = message.DESCRIPTOR.fields_by_name.get(fieldpath[0])
    if field is None:
        return "", False
    value = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key = ".".join(fieldpath[1:])
        return (value[key], True) if key in value else ("", False)
    if field.is_repeated:
        return "", False
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return message_field(value, fieldpath[1:]) if message.HasField(field.name) else ("", False)
    if len(fieldpath) != 1:
        return "", False
    if field.type == FieldDescriptor.TYPE_STRING:
        return value, bool(value)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return ("true" if value else "false"), True
    return "", False


# parsing


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, message: str, pos: int | None = None) -> errdefs.InvalidArgument:
        pos = self.pos if pos is None else pos
        if pos < len(self.text):
            where = f"[{self.text[:pos]} >|{self.text[pos]}|< {self.text[pos + 1:]}]"
        else:
            where = f"[{self.text}]"
        return errdefs.InvalidArgument(f"filters: parse error: {where}: {message}: invalid argument")

    def peek(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def selectors(self) -> list[Selector]:
        selectors = [self.selector()]
        while (next_char := self.peek()) != "":
            if next_char != ",":
                raise self.error(f"unexpected input: {next_char}")
            self.pos += 1
            selectors.append(self.selector())
        return selectors

    def selector(self) -> Selector:
        fieldpath = self.fieldpath()
        if self.peek() in ("", ","):
            return Selector(fieldpath)
        operator = self.operator()
        return Selector(fieldpath, operator, self.value(allow_alt_quotes=operator == MATCHES))

    def fieldpath(self) -> tuple[str, ...]:
        fields = [self.field()]
        while self.peek() == ".":
            self.pos += 1
            fields.append(self.field())
        return tuple(fields)

    def field(self) -> str:
        start, char = self.pos, self.peek()
        if char.isascii() and char.isalpha():
            return self.word(lambda c: c.isascii() and (c.isalnum() or c == "_"))
        if char and char in _QUOTES:
            return self.quoted(allow_alt_quotes=False)
        raise self.error("expected field or quoted", start)

    def operator(self) -> str:
        start = self.pos
        for operator in (EQUAL, NOT_EQUAL, MATCHES):
            if self.text.startswith(operator, start):
                self.pos += len(operator)
                return operator
        if self.text.startswith("=", start):
            raise self.error('unsupported operator "="', start)
        raise self.error('expected an operator ("=="|"!="|"~=")', start)

    def value(self, allow_alt_quotes: bool) -> str:
        start, char = self.pos, self.peek()
        if char == "":
            raise self.error("unexpected end of input", start)
        if char in _QUOTES:
            return self.quoted(allow_alt_quotes)
        text = self.word(lambda c: not c.isspace() and c != ",")
        if not text:
            raise self.error("expected value or quoted", start)
        return text

    def word(self, accepts: Callable[[str], bool]) -> str:
        start = self.pos
        while self.pos < len(self.text) and accepts(self.text[self.pos]):
            self.pos += 1
        return self.text[start:self.pos]

    def quoted(self, allow_alt_quotes: bool) -> str:
        start = self.pos
        quote = self.text[start]
        if quote in _ALT_QUOTES and not allow_alt_quotes:
            raise self.error("invalid quote encountered", start)
        self.pos += 1
        result = []
        while True:
            if self.pos >= len(self.text) or self.text[self.pos] == "\n":
                raise self.error("quoted literal not terminated", start)
            char = self.text[self.pos]
            self.pos += 1
            if char == quote:
                return "".join(result)
            if char == "\\":
                result.append(self.escape(quote))
            else:
                result.append(char)

    def escape(self, quote: str) -> str:
        start = self.pos - 1
        char = self.text[self.pos:self.pos + 1]
        self.pos += 1
        if char in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[char]
        if char == quote:
            return quote
        if char in _HEX_ESCAPES:
            digits = self.text[self.pos:self.pos + _HEX_ESCAPES[char]]
            self.pos += len(digits)
            if (len(digits) != _HEX_ESCAPES[char] or not all(d in "0123456789abcdefABCDEF" for d in digits)
                    or int(digits, 16) > 0x10FFFF):
                raise self.error("illegal numeric escape sequence", start)
            return chr(int(digits, 16))
        if char in "01234567":
            digits = char + self.text[self.pos:self.pos + 2]
            self.pos += 2
            if len(digits) != 3 or not all(d in "01234567" for d in digits) or int(digits, 8) > 255:
                raise self.error("illegal numeric escape sequence", start)
            return chr(int(digits, 8))
        raise self.error("illegal escape sequence", start)

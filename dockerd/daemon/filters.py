"""Matching objects against parsed filters (name → values, as `dockerd.api.query.filters`
gives them), the way moby's api/types/filters does: every term must match, and within a
term any one of its values."""
from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Iterable, Mapping
from datetime import datetime

import errdefs

Filters = Mapping[str, list[str]]


def validate(filters: Filters, accepted: Iterable[str]) -> None:
    """moby refuses a term it does not know: `invalid filter 'x'`."""
    accepted = set(accepted)
    for key, values in filters.items():
        if values and key not in accepted:
            raise errdefs.InvalidArgument(f"invalid filter '{key}'")


def boolean(filters: Filters, key: str) -> bool | None:
    """A term that takes true/false (dangling): None if absent, 400 for other values."""
    values = filters.get(key) or []
    if not values:
        return None
    parsed = set()
    for value in values:
        lowered = value.lower()
        if lowered in ("true", "1"):
            parsed.add(True)
        elif lowered in ("false", "0"):
            parsed.add(False)
        else:
            raise errdefs.InvalidArgument(f"invalid filter '{key}={value}'")
    if len(parsed) > 1:
        raise errdefs.InvalidArgument(f"invalid filter '{key}': both true and false given")
    return parsed.pop()


def match_labels(filters: Filters, labels: Mapping[str, str] | None, key: str = "label") -> bool:
    """Every value of the term matches: `k` needs the label, `k=v` that value, `k!=v` not it."""
    labels = labels or {}
    for wanted in filters.get(key) or []:
        if "!=" in wanted:
            name, _, value = wanted.partition("!=")
            if labels.get(name) == value:
                return False
        elif "=" in wanted:
            name, _, value = wanted.partition("=")
            if labels.get(name) != value:
                return False
        elif wanted not in labels:
            return False
    return True


def match_any(filters: Filters, key: str, value: str, *, how: str = "exact") -> bool:
    """True if the term is absent or one of its values matches value: exact, substring, prefix or glob."""
    values = filters.get(key) or []
    if not values:
        return True
    for wanted in values:
        if (how == "exact" and value == wanted or how == "substring" and wanted in value
                or how == "prefix" and value.startswith(wanted)
                or how == "glob" and fnmatch.fnmatchcase(value, wanted)):
            return True
    return False


def match_prune_labels(filters: Filters, labels: Mapping[str, str] | None) -> bool:
    """The prune routes' label terms, as moby's matchLabels: every `label` value must be on
    the object (`k` or `k=v`), and the object is kept out if it carries every `label!` value."""
    def carries_all(key: str) -> bool:
        for wanted in filters.get(key) or []:
            name, has_value, value = wanted.partition("=")
            if name not in (labels or {}) or (has_value and labels[name] != value):
                return False
        return True

    if filters.get("label") and not carries_all("label"):
        return False
    return not (filters.get("label!") and carries_all("label!"))


_DURATION = re.compile(r"[-+]?((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+")
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration_seconds(text: str) -> float | None:
    """Go's time.ParseDuration ("1h30m", "-5s", "0"), in seconds; None if text is not one."""
    if text in ("0", "+0", "-0"):
        return 0.0
    if not _DURATION.fullmatch(text):
        return None
    seconds = sum(float(number) * _SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
    return -seconds if text.startswith("-") else seconds


def timestamp_nano(value: str, now_ns: int | None = None) -> int:
    """A time filter's value (until=) as moby reads it (GetTimestamp, then ParseTimestamps): a
    duration before now, in whole seconds; an RFC 3339 date or time, local when it names no
    zone; or unix seconds with an optional fraction."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    duration = _duration_seconds(value)
    if duration is not None and value != "0":
        return (now_ns - int(duration * 1e9)) // 1_000_000_000 * 1_000_000_000
    if "-" in value:
        try:
            when = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            raise errdefs.InvalidArgument(f'parsing time "{value}": not an RFC 3339 date or time') from None
        if when.tzinfo is None:
            when = when.astimezone()
        return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000
    seconds, _, fraction = value.partition(".")
    if not seconds.lstrip("-").isdigit() or (fraction and not fraction.isdigit()):
        raise errdefs.InvalidArgument(f'failed to parse value as time or duration: "{value}"')
    return int(seconds) * 1_000_000_000 + (int(fraction[:9].ljust(9, "0")) if fraction else 0)


def until_nano(filters: Filters) -> int | None:
    """The prune routes' `until` term: None when absent; one value at most, as in moby."""
    values = filters.get("until") or []
    if len(values) > 1:
        raise errdefs.InvalidArgument("more than one until filter specified")
    return timestamp_nano(values[0]) if values else None

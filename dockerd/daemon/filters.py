"""Matching objects against parsed filters (name → values, as `dockerd.api.query.filters`
gives them), the way moby's api/types/filters does: every term must match, and within a
term any one of its values."""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

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

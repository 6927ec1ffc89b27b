"""Reading requests the way moby does: lenient booleans, filters in either JSON form,
`seconds[.fraction]` times, and JSON bodies whose faults are the client's (400).

Every route uses these instead of FastAPI's own parsing of booleans (which refuses the
`True`/`False`/`none` docker clients send) and of bodies (which answers 422).
"""
from __future__ import annotations

import json
from typing import Any

from fastapi import Request

import errdefs

_FALSE = {"", "0", "no", "false", "none"}


def boolean(value: str | None, default: bool = False) -> bool:
    """moby's rule: absent → default; "", 0, no, false, none (any case) → false; else true."""
    if value is None:
        return default
    return value.strip().lower() not in _FALSE


def flag(request: Request, name: str, default: bool = False) -> bool:
    return boolean(request.query_params.get(name), default)


def integer(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise errdefs.InvalidArgument(f"invalid value for {name}: {value!r}: not an integer") from None


Filters = dict[str, list[str]]


def filters(value: str | None) -> Filters:
    """The `filters` parameter, in the CLI's map form ({"label": {"a=b": true}}) or docker-py's
    list form ({"label": ["a=b"]}), as name → values."""
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as e:
        raise errdefs.InvalidArgument(f"invalid filter: {e}") from None
    if not isinstance(parsed, dict):
        raise errdefs.InvalidArgument("invalid filter: expected a JSON object")
    result: Filters = {}
    for name, values in parsed.items():
        if isinstance(values, dict):
            result[name] = [v for v, on in values.items() if on]
        elif isinstance(values, list):
            result[name] = [str(v) for v in values]
        elif isinstance(values, str):
            result[name] = [values]
        else:
            raise errdefs.InvalidArgument(f"invalid filter: {name!r} must be a list or a map of values")
    return result


def request_filters(request: Request, allowed: set[str] | None = None) -> Filters:
    """The request's filters; with allowed, an unknown name is a 400 as in moby."""
    result = filters(request.query_params.get("filters"))
    if allowed is not None:
        for name in result:
            if name not in allowed:
                raise errdefs.InvalidArgument(f"invalid filter '{name}'")
    return result


def timestamp_nano(value: str | None) -> int | None:
    """`seconds[.fraction]` (what the CLI and docker-py send for since/until) as nanoseconds
    since the epoch; None when absent or empty."""
    if value is None or value == "":
        return None
    seconds, _, fraction = value.partition(".")
    try:
        if not fraction.isdigit() and fraction != "":
            raise ValueError
        nanos = int((fraction + "000000000")[:9]) if fraction else 0
        whole = int(seconds)
    except ValueError:
        raise errdefs.InvalidArgument(f"failed to parse value as time or duration: {value!r}") from None
    return whole * 1_000_000_000 + (nanos if whole >= 0 else -nanos)


async def json_body(request: Request, default: Any = None) -> Any:
    """The request body as JSON: an empty body (POSTs often have one) is `default`; a
    malformed one is a 400."""
    body = await request.body()
    if not body.strip():
        return default
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise errdefs.InvalidArgument(f"invalid JSON: {e}") from None

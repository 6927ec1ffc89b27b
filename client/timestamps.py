"""docker's GetTimestamp, which the CLI applies to --since and --until (events, logs) before
sending them: a Go duration before now, an RFC 3339 date or time, or unix seconds."""
from __future__ import annotations

_DURATION_PART = ("ns", "us", "µs", "μs", "ms", "s", "m", "h")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float | None:
    """Go's time.ParseDuration ("1h30m", "-5s", "1.5h", "0"), in seconds; None if not one."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        return None
    total, i = 0.0, 0
    while i < len(body):
        start = i
        while i < len(body) and (body[i].isdigit() or body[i] == "."):
            i += 1
        number = body[start:i]
        if not number or number == "." or number.count(".") > 1:
            return None
        unit = next((u for u in sorted(_DURATION_PART, key=len, reverse=True) if body.startswith(u, i)), None)
        if unit is None:
            return None
        total += float(number) * _SECONDS[unit]
        i += len(unit)
    return -total if text.startswith("-") else total


def timestamp(value: str, now: float) -> str:
    """docker's GetTimestamp, which the client applies to --since and --until: a duration
    before now (whole seconds), an RFC 3339 date or time (local when it names no zone, as
    seconds.nanoseconds), or unix seconds passed on as they are."""
    from client.__main__ import CommandError

    duration = duration_seconds(value)
    if duration is not None and value != "0":
        return str(int((now - duration) // 1))
    if "-" in value:
        import datetime

        try:
            when = datetime.datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            raise CommandError(f'parsing time "{value}": cannot parse as RFC 3339', 1) from None
        if when.tzinfo is None:
            when = when.astimezone()
        return f"{int(when.timestamp())}.{when.microsecond * 1000:09d}"
    seconds, _, fraction = value.partition(".")
    if not seconds.lstrip("-").isdigit() or (fraction and not fraction.isdigit()):
        raise CommandError(f'failed to parse value as time or duration: "{value}"', 1)
    return value

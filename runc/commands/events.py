"""Print a container's resource statistics and OOM events as JSON lines, every --interval
until the container stops; with --stats, one statistics line and exit."""
import json
import sys
import time

import errdefs

from .. import cli
from ..libcontainer.container import Container
from ..libcontainer.status import Status

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration such as "5s", "250ms" or "1m30s", in seconds."""
    total, number, i = 0.0, "", 0
    while i < len(text):
        if text[i].isdigit() or text[i] == ".":
            number += text[i]
            i += 1
            continue
        unit = next((u for u in sorted(_UNITS, key=len, reverse=True) if text.startswith(u, i)), None)
        if unit is None or not number:
            raise errdefs.InvalidArgument(f"invalid duration {text!r}")
        total += float(number) * _UNITS[unit]
        number, i = "", i + len(unit)
    if number or total <= 0:
        raise errdefs.InvalidArgument(f"invalid duration {text!r}")
    return total


OPTIONS = [
    cli.Option("--interval", default="5s", help="time between statistics (Go duration, default 5s)"),
    cli.Option("--stats", kind="flag", help="print one statistics event and exit"),
]
ARGUMENTS = [cli.Argument("id")]


def _emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def run(ctx, args) -> int:
    interval = parse_duration(args.interval)
    c = Container.load(ctx.root, args.id)
    if c.status() is Status.STOPPED:
        raise errdefs.FailedPrecondition("container not running")
    if args.stats:
        _emit({"type": "stats", "id": c.id, "data": c.cgroup.stats()})
        return 0
    ooms = c.cgroup.oom_kill_count()
    next_stats = 0.0
    # OOM kills are checked often so they are reported promptly; statistics every interval.
    while c.status() is not Status.STOPPED:
        count = c.cgroup.oom_kill_count()
        if count > ooms:
            _emit({"type": "oom", "id": c.id})
            ooms = count
        if time.monotonic() >= next_stats:
            _emit({"type": "stats", "id": c.id, "data": c.cgroup.stats()})
            next_stats = time.monotonic() + interval
        time.sleep(min(0.2, interval))
    return 0

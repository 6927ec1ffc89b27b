"""docker logs: inspect for Config.Tty, then /logs; framed output demultiplexed to stdout and
stderr unless the container has a terminal."""
from __future__ import annotations

import sys

from client.commands import parser as make_parser
from client import api


def parser(name):
    p = make_parser(name, "docker logs [OPTIONS] CONTAINER", "Fetch the logs of a container",
                    required="1 argument")
    p.add_argument("container")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("--since", default="")
    p.add_argument("--until", default="")
    p.add_argument("--details", action="store_true")
    return p


def timestamp(value: str, now: float) -> str:
    """docker's GetTimestamp: a duration (10m, 1h30m) before now, a unix time, or RFC 3339."""
    import re

    if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", value):
        scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
        seconds = sum(float(n) * scale[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)", value))
        moment = now - seconds
        return f"{int(moment)}.{int((moment % 1) * 1e9):09d}"
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    import datetime

    text = value.replace("Z", "+00:00")
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        from client.__main__ import CommandError

        raise CommandError(f"invalid value for \"since\": failed to parse value as time or duration: \"{value}\"", 1)
    if when.tzinfo is None:
        when = when.astimezone()
    moment = when.timestamp()
    return f"{int(moment)}.{int(round((moment % 1) * 1e9)):09d}"


def demultiplex(response, out, err) -> None:
    buffer = b""
    while True:
        data = response.read_some()
        if not data:
            break
        buffer += data
        while len(buffer) >= 8:
            kind, size = buffer[0], int.from_bytes(buffer[4:8], "big")
            if len(buffer) < 8 + size:
                break
            payload, buffer = buffer[8:8 + size], buffer[8 + size:]
            if kind in (0, 1):
                out.write(payload)
                out.flush()
            elif kind == 2:
                err.write(payload)
                err.flush()
            elif kind == 3:
                from client.__main__ import CommandError

                raise CommandError(f"error from daemon in stream: {payload.decode(errors='replace')}", 1)
            else:
                from client.__main__ import CommandError

                raise CommandError("Unrecognized input header: %d" % kind, 1)


def run(client, args) -> int:
    import time

    container = client.get_json(f"/containers/{api.q(args.container)}/json")
    now = time.time()
    params = {"stdout": "1", "stderr": "1", "tail": args.tail, "follow": "1" if args.follow else None,
              "timestamps": "1" if args.timestamps else None, "details": "1" if args.details else None,
              "since": timestamp(args.since, now) if args.since else None,
              "until": timestamp(args.until, now) if args.until else None}
    response = client.request("GET", f"/containers/{api.q(args.container)}/logs", params)
    try:
        if (container.get("Config") or {}).get("Tty"):
            while data := response.read_some():
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
        else:
            demultiplex(response, sys.stdout.buffer, sys.stderr.buffer)
    finally:
        response.close()
    return 0

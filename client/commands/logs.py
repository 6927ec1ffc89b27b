"""docker logs: inspect for Config.Tty, then /logs; framed output demultiplexed to stdout and
stderr unless the container has a terminal."""
from __future__ import annotations

import sys

from client.commands import parser as make_parser
from client import api
from client.timestamps import timestamp


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

    from client.__main__ import CommandError

    container = client.get_json(f"/containers/{api.q(args.container)}/json")
    now = time.time()
    bounds = {}
    for name in ("since", "until"):
        value = getattr(args, name)
        try:
            bounds[name] = timestamp(value, now) if value else None
        except CommandError as error:  # the client library words it, naming the option
            raise CommandError(f'invalid value for "{name}": {error}', 1) from None
    params = {"stdout": "1", "stderr": "1", "tail": args.tail, "follow": "1" if args.follow else None,
              "timestamps": "1" if args.timestamps else None, "details": "1" if args.details else None, **bounds}
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

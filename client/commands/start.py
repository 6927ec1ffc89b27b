"""docker start (without -a yet): POST /containers/{c}/start for each; 304 counts as started."""
from __future__ import annotations

from client.commands import parser as make_parser
from client import api


def parser(name):
    p = make_parser(name, "docker start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers")
    p.add_argument("containers", nargs="+")
    return p


def run(client, args) -> int:
    import sys

    from client.__main__ import CommandError

    failed = []
    for name in args.containers:
        try:
            client.post(f"/containers/{api.q(name)}/start")
        except api.APIError as error:
            print(f"Error response from daemon: {error.message}", file=sys.stderr)
            failed.append(name)
            continue
        print(name, flush=True)
    if failed:
        raise CommandError(f"Error: failed to start containers: {', '.join(failed)}", 1)
    return 0

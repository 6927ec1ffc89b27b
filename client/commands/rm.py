"""docker rm: DELETE /containers/{c}; with -f a missing container is not an error."""
from __future__ import annotations

from client.commands import parser as make_parser
from client import api


def parser(name):
    p = make_parser(name, "docker rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers")
    p.add_argument("containers", nargs="+")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-v", "--volumes", action="store_true")
    p.add_argument("-l", "--link", action="store_true")
    return p


def run(client, args) -> int:
    import sys

    from client.__main__ import CommandError

    params = {"force": "1" if args.force else None, "v": "1" if args.volumes else None,
              "link": "1" if args.link else None}
    failed = []
    for name in args.containers:
        try:
            client.delete(f"/containers/{api.q(name)}", params)
        except api.APIError as error:
            if args.force and error.status == 404:  # said, but not a failure
                print(f"Error response from daemon: {error.message}", file=sys.stderr)
                continue
            failed.append(f"Error response from daemon: {error.message}")
            continue
        print(name, flush=True)
    if failed:
        raise CommandError("\n".join(failed), 1)
    return 0

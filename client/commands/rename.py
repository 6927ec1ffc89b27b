"""docker rename: POST /containers/{c}/rename?name=; prints nothing."""
from __future__ import annotations

from client.commands import parser as make_parser
from client import api


def parser(name):
    p = make_parser(name, "docker rename CONTAINER NEW_NAME", "Rename a container",
                    required="2 arguments")
    p.add_argument("container")
    p.add_argument("new_name")
    return p


def run(client, args) -> int:
    from client.__main__ import CommandError

    if not args.new_name.strip():
        raise CommandError("Error: Neither old nor new names may be empty", 1)
    try:
        client.post(f"/containers/{api.q(args.container)}/rename", {"name": args.new_name})
    except api.APIError as error:
        raise CommandError(f"Error response from daemon: {error.message}\n"
                           f"Error: failed to rename container named {args.container}", 1) from None
    return 0

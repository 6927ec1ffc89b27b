"""docker rmi: DELETE /images/{ref}; prints Untagged:/Deleted: lines."""
from __future__ import annotations

from client.commands import parser as make_parser
from client import api


def parser(name):
    p = make_parser(name, "docker rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images")
    p.add_argument("images", nargs="+")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--no-prune", action="store_true")
    return p


def run(client, args) -> int:
    from client.__main__ import CommandError

    params = {"force": "1" if args.force else None, "noprune": "1" if args.no_prune else None}
    failed = []
    for name in args.images:
        try:
            reply = client.delete(f"/images/{api.q(name)}", params) or []
        except api.APIError as error:
            failed.append(f"Error response from daemon: {error.message}")
            continue
        for item in reply:
            if item.get("Untagged"):
                print(f"Untagged: {item['Untagged']}")
            if item.get("Deleted"):
                print(f"Deleted: {item['Deleted']}")
    if failed:
        raise CommandError("\n".join(failed), 1)
    return 0

"""List the containers under --root, as a table or as JSON."""
import json
import os
import sys

import errdefs

from .. import cli
from ..libcontainer.container import Container


OPTIONS = [
    cli.Option("-f", "--format", default="table", help="table or json"),
    cli.Option("-q", "--quiet", kind="flag", help="print only the ids"),
]
ARGUMENTS: list = []


def containers(root: str) -> list[Container]:
    found = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else ():
        try:
            found.append(Container.load(root, name))
        except (errdefs.NotFound, errdefs.InvalidArgument):
            continue  # a create in progress, or a foreign entry
    return found


def run(ctx, args) -> int:
    if args.format not in ("table", "json"):
        raise errdefs.InvalidArgument(f"--format must be table or json, not {args.format!r}")
    states = [c.oci_state() for c in containers(ctx.root)]
    if args.quiet:
        for state in states:
            print(state["id"])
    elif args.format == "json":
        sys.stdout.write(json.dumps(states or None) + "\n")
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"]) for s in states]
        widths = [max(12, *(len(r[i]) for r in rows)) for i in range(len(rows[0]))]
        for row in rows:
            print("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0

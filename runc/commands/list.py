"""List the containers under --root, as a table or as JSON."""
import json
import os
import sys

import errdefs

from ..libcontainer.container import Container


def configure(parser) -> None:
    parser.add_argument("-f", "--format", choices=("table", "json"), default="table")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the ids")


def containers(root: str) -> list[Container]:
    found = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else ():
        try:
            found.append(Container.load(root, name))
        except (errdefs.NotFound, errdefs.InvalidArgument):
            continue  # a create in progress, or a foreign entry
    return found


def run(ctx, args) -> int:
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

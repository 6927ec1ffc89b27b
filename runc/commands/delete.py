"""Delete a container: its cgroups and state. A running one needs --force (SIGKILL first)."""
import os

import errdefs

from ..libcontainer import container as containers


def configure(parser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="kill the container first if it is running")
    parser.add_argument("id")


def run(ctx, args) -> int:
    try:
        c = containers.Container.load(ctx.root, args.id)
    except errdefs.NotFound:
        # A create that died before writing state.json leaves only its directory behind.
        containers.validate_id(args.id)
        leftover = os.path.join(ctx.root, args.id)
        if os.path.isdir(leftover):
            containers.remove_directory(leftover)
            return 0
        if args.force:
            return 0
        raise
    c.delete(force=args.force, log=ctx.log)
    return 0

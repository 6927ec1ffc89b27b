"""Delete a container: its cgroups and state. A running one needs --force (SIGKILL first)."""
import os

import errdefs

from .. import cli
from ..libcontainer import container as containers


OPTIONS = [cli.Option("-f", "--force", kind="flag", help="kill the container first if it is running")]
ARGUMENTS = [cli.Argument("id")]


def run(ctx, args) -> int:
    try:
        c = containers.Container.load(ctx.root, args.id)
    except errdefs.NotFound:
        # A create that died before writing state.json leaves only its directory behind; load
        # has validated the id, so it is safe as a path.
        leftover = os.path.join(ctx.root, args.id)
        if os.path.isdir(leftover):
            containers.remove_directory(leftover)
            return 0
        if args.force:
            return 0
        raise
    c.delete(force=args.force, log=ctx.log)
    return 0

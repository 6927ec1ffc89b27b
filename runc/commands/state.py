"""Print a container's state as JSON (runtime-spec "state" plus runc's rootfs, created, owner)."""
import json
import sys

from .. import cli
from ..libcontainer.container import Container

OPTIONS: list = []
ARGUMENTS = [cli.Argument("id")]


def run(ctx, args) -> int:
    state = Container.load(ctx.root, args.id).oci_state()
    sys.stdout.write(json.dumps(state, indent=2))
    return 0

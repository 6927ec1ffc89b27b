"""Print a container's state as JSON (runtime-spec "state" plus runc's rootfs, created, owner)."""
import json
import sys

from ..libcontainer.container import Container


def configure(parser) -> None:
    parser.add_argument("id")


def run(ctx, args) -> int:
    state = Container.load(ctx.root, args.id).oci_state()
    sys.stdout.write(json.dumps(state, indent=2))
    return 0

"""Start a created container: release its init from the exec fifo so it execs the user program."""
from .. import cli
from ..libcontainer.container import Container

OPTIONS: list = []
ARGUMENTS = [cli.Argument("id")]


def run(ctx, args) -> int:
    Container.load(ctx.root, args.id).start(ctx.log)
    return 0

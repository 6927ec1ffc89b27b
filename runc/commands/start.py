"""Start a created container: release its init from the exec fifo so it execs the user program."""
from ..libcontainer.container import Container


def configure(parser) -> None:
    parser.add_argument("id")


def run(ctx, args) -> int:
    Container.load(ctx.root, args.id).start(ctx.log)
    return 0

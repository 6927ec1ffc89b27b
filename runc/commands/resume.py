"""Thaw a paused container."""
from ..libcontainer.container import Container


def configure(parser) -> None:
    parser.add_argument("id")


def run(ctx, args) -> int:
    Container.load(ctx.root, args.id).resume()
    return 0

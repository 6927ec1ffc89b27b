"""Freeze every process of a running container (cgroup freezer)."""
from ..libcontainer.container import Container


def configure(parser) -> None:
    parser.add_argument("id")


def run(ctx, args) -> int:
    Container.load(ctx.root, args.id).pause()
    return 0

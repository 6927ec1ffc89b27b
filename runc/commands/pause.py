"""Freeze every process of a running container (cgroup freezer)."""
from .. import cli
from ..libcontainer.container import Container

OPTIONS: list = []
ARGUMENTS = [cli.Argument("id")]


def run(ctx, args) -> int:
    Container.load(ctx.root, args.id).pause()
    return 0

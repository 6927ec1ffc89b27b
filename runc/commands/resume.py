"""Thaw a paused container."""
from .. import cli
from ..libcontainer.container import Container

OPTIONS: list = []
ARGUMENTS = [cli.Argument("id")]


def run(ctx, args) -> int:
    Container.load(ctx.root, args.id).resume()
    return 0

"""Create and start a container. In the foreground pyrunc stays its parent, forwards signals,
relays the terminal, deletes it when it exits (unless --keep) and exits with its status."""
from .. import cli, foreground
from ..libcontainer import container
from .create import CREATE_OPTIONS, create_options

OPTIONS = [
    *CREATE_OPTIONS,
    cli.Option("-d", "--detach", kind="flag", help="start the container and return"),
    cli.Option("--keep", kind="flag", help="do not delete the container after it exits"),
    cli.Option("--no-subreaper", kind="flag", help="accepted for runc compatibility"),
]
ARGUMENTS = [cli.Argument("id")]


def run(ctx, args) -> int:
    console_pair = None
    if not args.detach:
        foreground.become_subreaper()
        if args.console_socket is None:
            # Made before create reads the config, so whether or not it asks for a terminal;
            # the child uses it only if it does.
            console_pair = foreground.console_pair()
    opts = create_options(ctx, args, console_pair=console_pair)
    c = container.create(ctx.root, args.id, opts, ctx.log)
    master = None
    if console_pair is not None:
        master = foreground.take_master(console_pair, c.config["process"].get("terminal", False))
        if master is not None:
            from ..libcontainer import console

            console.copy_size(master)  # before start: the program may ask for it at once
    try:
        c.start(ctx.log)
    except BaseException:
        c.delete(force=True, log=ctx.log)
        raise
    if args.detach:
        return 0
    status = foreground.wait(c.pid, master)
    if not args.keep:
        c.destroy(ctx.log)
    return status

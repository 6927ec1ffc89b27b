"""Send a signal (default SIGTERM) to a container's init, or with --all to every process in
its cgroup."""
import signal

import errdefs

from .. import cli
from ..libcontainer.container import Container


OPTIONS = [cli.Option("-a", "--all", kind="flag", help="signal every process of the container")]
ARGUMENTS = [cli.Argument("id"), cli.Argument("signal", required=False, default="SIGTERM")]


def parse_signal(text: str) -> int:
    """"9", "KILL" or "SIGKILL", as runc accepts them."""
    if text.isdigit():
        number = int(text)
        if 0 < number < signal.NSIG:
            return number
    else:
        name = text.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        if hasattr(signal.Signals, name):
            return signal.Signals[name].value
    raise errdefs.InvalidArgument(f"unknown signal {text!r}")


def run(ctx, args) -> int:
    signum = parse_signal(args.signal)
    Container.load(ctx.root, args.id).signal(signum, all_processes=args.all)
    return 0

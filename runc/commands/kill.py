"""Send a signal (default SIGTERM) to a container's init, or with --all to every process in
its cgroup."""
import signal

import errdefs

from ..libcontainer.container import Container


def configure(parser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="signal every process of the container")
    parser.add_argument("id")
    parser.add_argument("signal", nargs="?", default="SIGTERM")


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

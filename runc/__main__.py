"""pyrunc's command line: global flags, then one verb, as runc's.

    pyrunc [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup] COMMAND ...

This module is the one place that turns errors into a message and an exit status: every
failure is printed to stderr, written to --log (with its errdefs kind, for the shim) and
exits 1, as runc's `fatal` does.
"""
import argparse
import os
import sys

import errdefs

from . import OCI_VERSION, VERSION
from .commands import COMMANDS, Context, load_command
from .log import Log

DEFAULT_ROOT = "/run/pyrunc"


def _global_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyrunc",
        description="Open Container Initiative runtime, in Python, command-line compatible with runc 1.1.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n" + "\n".join(f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items()),
    )
    parser.add_argument("--root", default=DEFAULT_ROOT, help="directory for container state (default %(default)s)")
    parser.add_argument("--log", help="write pyrunc's log to this file")
    parser.add_argument("--log-format", default="text", choices=("text", "json"))
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.add_argument("--systemd-cgroup", action="store_true",
                        help="accept systemd-style cgroupsPath 'slice:prefix:name' (placed with cgroupfs)")
    parser.add_argument("--rootless", default="auto", help="accepted for runc compatibility; pyrunc runs as root")
    parser.add_argument("-v", "--version", action="store_true", help="print the version")
    parser.add_argument("command", nargs="?")
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    return parser


def _version() -> str:
    import platform

    return (f"pyrunc version {VERSION}\ncommit: pydocker-{VERSION}\nspec: {OCI_VERSION}\n"
            f"python: {platform.python_version()}")


def main(argv: list[str] | None = None) -> int:
    args = _global_parser().parse_args(argv)
    if args.version:
        print(_version())
        return 0
    if not args.command:
        _global_parser().print_help()
        return 0
    if args.command not in COMMANDS:
        print(f"pyrunc: no such command {args.command!r}", file=sys.stderr)
        return 1
    root = os.path.abspath(args.root)
    log = Log(args.log and os.path.abspath(args.log), args.log_format, args.debug)
    ctx = Context(root=root, log=log, systemd_cgroup=args.systemd_cgroup)
    command = load_command(args.command)
    parser = argparse.ArgumentParser(prog=f"pyrunc {args.command}", description=command.__doc__)
    command.configure(parser)
    command_args = parser.parse_args(args.arguments)
    try:
        return command.run(ctx, command_args)
    except (errdefs.Error, OSError) as e:
        message = _describe(e)
        log.error(message, kind=errdefs.kind_of(e))
        print(message, file=sys.stderr)
        return getattr(command, "ERROR_STATUS", 1)


def _describe(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    return str(e)



if __name__ == "__main__":
    sys.exit(main())

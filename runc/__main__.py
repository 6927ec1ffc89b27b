"""pyrunc's command line: global options, then one verb, as runc's.

    pyrunc [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup] COMMAND ...

This module is the one place that turns errors into a message and an exit status: every
failure is printed to stderr, written to --log (with its errdefs kind, for the shim) and
exits 1, as runc's `fatal` does; a command line that does not parse exits 2.
"""
import gc
import os
import sys

import errdefs

from . import OCI_VERSION, VERSION, cli, trace
from .commands import COMMANDS, Context, load_command
from .log import Log, describe

DEFAULT_ROOT = "/run/pyrunc"

GLOBAL_OPTIONS = [
    cli.Option("--root", default=DEFAULT_ROOT, help=f"directory for container state (default {DEFAULT_ROOT})"),
    cli.Option("--log", help="write pyrunc's log to this file"),
    cli.Option("--log-format", default="text", help="text or json"),
    cli.Option("--debug", kind="flag", help="log debug messages"),
    cli.Option("--systemd-cgroup", kind="flag",
               help="accept systemd-style cgroupsPath 'slice:prefix:name' (placed with cgroupfs)"),
    cli.Option("--rootless", default="auto", help="accepted for runc compatibility; pyrunc runs as root"),
    cli.Option("-v", "--version", kind="flag", help="print the version"),
]
GLOBAL_ARGUMENTS = [cli.Argument("command", required=False), cli.Argument("arguments", rest=True)]


def main() -> None:
    # pyrunc lives for one command: no cycle is worth collecting, and skipping the
    # interpreter's teardown (a full collection that touches every page the fork shared)
    # saves ~5 ms a container.
    gc.disable()
    status = run(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _usage() -> str:
    text = cli.usage("pyrunc", "Open Container Initiative runtime, in Python, command-line compatible with runc 1.1.",
                     GLOBAL_OPTIONS, GLOBAL_ARGUMENTS)
    return text + "\n\ncommands:\n" + "\n".join(f"  {name:<10} {summary}" for name, summary in COMMANDS.items())


def _version() -> str:
    import platform

    return (f"pyrunc version {VERSION}\ncommit: pydocker-{VERSION}\nspec: {OCI_VERSION}\n"
            f"python: {platform.python_version()}")


def run(argv: list[str]) -> int:
    if cli.wants_help(argv, GLOBAL_OPTIONS):
        print(_usage())
        return 0
    try:
        args = cli.parse(argv, GLOBAL_OPTIONS, GLOBAL_ARGUMENTS)
    except cli.UsageError as e:
        print(f"pyrunc: {e}", file=sys.stderr)
        return 2
    if args.version:
        print(_version())
        return 0
    if not args.command:
        print(_usage())
        return 0
    if args.command not in COMMANDS:
        print(f"pyrunc: no such command {args.command!r}", file=sys.stderr)
        return 1
    if args.log_format not in ("text", "json"):
        print(f"pyrunc: --log-format must be text or json, not {args.log_format!r}", file=sys.stderr)
        return 2
    command = load_command(args.command)
    prog = f"pyrunc {args.command}"
    if cli.wants_help(args.arguments, command.OPTIONS):
        print(cli.usage(prog, command.__doc__ or "", command.OPTIONS, command.ARGUMENTS))
        return 0
    try:
        command_args = cli.parse(args.arguments, command.OPTIONS, command.ARGUMENTS)
    except cli.UsageError as e:
        print(f"{prog}: {e}\n\n{cli.usage(prog, command.__doc__ or '', command.OPTIONS, command.ARGUMENTS)}",
              file=sys.stderr)
        return 2
    log = Log(args.log and os.path.abspath(args.log), args.log_format, args.debug)
    ctx = Context(root=os.path.abspath(args.root), log=log, systemd_cgroup=args.systemd_cgroup)
    try:
        with trace.command(args.command):
            return command.run(ctx, command_args)
    except (errdefs.Error, OSError) as e:
        message = describe(e)
        log.error(message, kind=errdefs.kind_of(e))
        print(message, file=sys.stderr)
        return getattr(command, "ERROR_STATUS", 1)


if __name__ == "__main__":
    main()

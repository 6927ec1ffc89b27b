"""Run a new process inside a running container, joining its namespaces and cgroup.

The process comes from --process FILE (a runtime-spec "process" object, used as is) or from
the command line on top of the container's own process settings."""
import copy
import json

import errdefs

from .. import cli, foreground
from ..libcontainer import container

# runc exits 255 when the exec itself failed, so callers can tell it from the program's own status.
ERROR_STATUS = 255


OPTIONS = [
    cli.Option("-p", "--process", help="path to a process.json"),
    cli.Option("--console-socket", help="unix socket that receives the pty master"),
    cli.Option("--cwd", help="working directory in the container"),
    cli.Option("-e", "--env", kind="append", help="KEY=VALUE to set"),
    cli.Option("-t", "--tty", kind="flag", help="allocate a pseudo-terminal"),
    cli.Option("-u", "--user", help="uid[:gid]"),
    cli.Option("-g", "--additional-gids", kind="append", help="an additional group id"),
    cli.Option("-d", "--detach", kind="flag", help="start the process and return"),
    cli.Option("--pid-file", help="write the process's pid here"),
    cli.Option("--process-label", help="accepted for runc compatibility (no SELinux)"),
    cli.Option("--apparmor", help="accepted for runc compatibility (no AppArmor)"),
    cli.Option("--no-new-privs", kind="flag", help="set no_new_privs"),
    cli.Option("-c", "--cap", kind="append", help="add a capability"),
    cli.Option("--preserve-fds", kind="int", default=0, help="pass fds 3..3+N-1 on"),
    cli.Option("--ignore-paused", kind="flag", help="exec even into a paused container"),
]
# The command is every argument after the id, its own options included (`exec ID sh -c ...`).
ARGUMENTS = [cli.Argument("id"), cli.Argument("command", rest=True)]


def build_process(base: dict, args) -> dict:
    if args.process:
        with open(args.process) as f:
            process = json.load(f)
        if not isinstance(process, dict):
            raise errdefs.InvalidArgument(f"{args.process}: a process must be a JSON object")
        return process
    if not args.command:
        raise errdefs.InvalidArgument("exec: give a command, or a process with --process")
    process = copy.deepcopy(base)
    process["args"] = args.command
    env = dict(e.split("=", 1) for e in process.get("env", []) if "=" in e)
    for entry in args.env:
        key, _, value = entry.partition("=")
        env[key] = value
    process["env"] = [f"{k}={v}" for k, v in env.items()]
    process["terminal"] = args.tty
    if args.cwd:
        process["cwd"] = args.cwd
    if args.user:
        uid, _, gid = args.user.partition(":")
        process.setdefault("user", {})["uid"] = int(uid)
        if gid:
            process["user"]["gid"] = int(gid)
    if args.additional_gids:
        process.setdefault("user", {})["additionalGids"] = [int(gid) for gid in args.additional_gids]
    if args.no_new_privs:
        process["noNewPrivileges"] = True
    caps = process.setdefault("capabilities", {})
    for cap in args.cap:
        for kind in ("bounding", "effective", "permitted", "ambient", "inheritable"):
            if cap not in caps.setdefault(kind, []):
                caps[kind].append(cap)
    return process


def run(ctx, args) -> int:
    c = container.Container.load(ctx.root, args.id)
    process = build_process(c.config["process"], args)
    console_pair = None
    if not args.detach:
        foreground.become_subreaper()
        if process.get("terminal") and not args.console_socket:
            from ..libcontainer import console

            console_pair = foreground.console_pair()
            # The process runs as soon as it is set up: give it our size from the start.
            size = console.own_size()
            if size and "consoleSize" not in process:
                process["consoleSize"] = size
    opts = container.ExecOptions(console_socket=args.console_socket, pid_file=args.pid_file,
                                 preserve_fds=args.preserve_fds, ignore_paused=args.ignore_paused,
                                 console_pair=console_pair)
    pid = container.execute(c, process, opts, ctx.log)
    master = None
    if console_pair is not None:
        master = foreground.take_master(console_pair, has_terminal=True)
    if args.detach:
        return 0
    return foreground.wait(pid, master)

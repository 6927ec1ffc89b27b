"""Run a new process inside a running container, joining its namespaces and cgroup.

The process comes from --process FILE (a runtime-spec "process" object, used as is) or from
the command line on top of the container's own process settings."""
import argparse
import copy
import json
import socket

import errdefs

from .. import foreground
from ..libcontainer import container

# runc exits 255 when the exec itself failed, so callers can tell it from the program's own status.
ERROR_STATUS = 255


def configure(parser) -> None:
    parser.add_argument("-p", "--process", help="path to a process.json")
    parser.add_argument("--console-socket", help="unix socket that receives the pty master")
    parser.add_argument("--cwd", help="working directory in the container")
    parser.add_argument("-e", "--env", action="append", default=[], help="KEY=VALUE to set")
    parser.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    parser.add_argument("-u", "--user", help="uid[:gid]")
    parser.add_argument("-g", "--additional-gids", action="append", type=int, default=[])
    parser.add_argument("-d", "--detach", action="store_true", help="start the process and return")
    parser.add_argument("--pid-file", help="write the process's pid here")
    parser.add_argument("--process-label", help="accepted for runc compatibility (no SELinux)")
    parser.add_argument("--apparmor", help="accepted for runc compatibility (no AppArmor)")
    parser.add_argument("--no-new-privs", action="store_true")
    parser.add_argument("-c", "--cap", action="append", default=[], help="add a capability")
    parser.add_argument("--preserve-fds", type=int, default=0)
    parser.add_argument("--ignore-paused", action="store_true")
    parser.add_argument("id")
    # Everything after the id is the command, options included (`exec ID sh -c ...`).
    parser.add_argument("command", nargs=argparse.REMAINDER)


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
        process.setdefault("user", {})["additionalGids"] = args.additional_gids
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

            console_pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
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
        from ..libcontainer import console

        ours, theirs = console_pair
        theirs.close()
        master = console.receive_master(ours)
        ours.close()
    if args.detach:
        return 0
    return foreground.wait(pid, master)

"""docker exec: POST /containers/{c}/exec, then /exec/{id}/start (hijacked unless -d);
the exit status is the exec's ExitCode (GET /exec/{id}/json), 126 or 127 when the daemon
could not run the command at all."""
from __future__ import annotations

import os

from client import api
from client.commands.run import FlagParser, OptionsError, encode_json, environment_variable, read_kv_file


def parser(name):
    p = FlagParser(f"pydocker {name}", "pydocker exec [OPTIONS] CONTAINER COMMAND [ARG...]",
                         "Execute a command in a running container", "at least 2 arguments")
    p.add_argument("container")
    p.add_argument("arguments", nargs="+")
    p.add_argument("--detach-keys", default="")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-u", "--user", default="")
    p.add_argument("--privileged", action="store_true")
    p.add_argument("-e", "--env", action="append", type=environment_variable)
    p.add_argument("--env-file", action="append")
    p.add_argument("-w", "--workdir", default="")
    return p


def run(client, args) -> int:
    from client.__main__ import CommandError
    from client import streams

    try:
        environment = [entry for path in args.env_file for entry in read_kv_file(path, os.environ.get)] + args.env
    except OptionsError as error:
        raise CommandError(str(error), 1) from None
    client.get_json(f"/containers/{api.q(args.container)}/json")  # "No such container" comes first
    attached = not args.detach
    stdin = attached and args.interactive
    if attached and args.tty and stdin and not os.isatty(0):
        raise CommandError("the input device is not a TTY", 1)
    body = {"User": args.user, "Privileged": args.privileged, "Tty": args.tty}
    if args.tty:
        body["ConsoleSize"] = list(streams.terminal_size())
    body.update({"AttachStdin": stdin, "AttachStderr": attached, "AttachStdout": attached, "Detach": args.detach,
                 "DetachKeys": args.detach_keys, "Env": environment or None, "WorkingDir": args.workdir,
                 "Cmd": args.arguments})
    response = client.request("POST", f"/containers/{api.q(args.container)}/exec", body=encode_json(body),
                              headers={"Content-Type": "application/json"})
    try:
        exec_id = response.json()["Id"]
    finally:
        response.close()

    start = {"Detach": args.detach, "Tty": args.tty}
    if args.tty:
        start["ConsoleSize"] = body["ConsoleSize"]
    if args.detach:
        response = client.request("POST", f"/exec/{exec_id}/start", body=encode_json(start),
                                  headers={"Content-Type": "application/json"})
        response.read()
        response.close()
        return 0
    conn = streams.hijack(client, f"/exec/{exec_id}/start", body=encode_json(start), content_type="application/json")
    try:
        with streams.RawTerminal(args.tty and stdin), \
                streams.WindowSize(client, f"/exec/{exec_id}", enabled=args.tty and os.isatty(0)):
            detached = streams.copy(conn, tty=args.tty, stdin=stdin, stdout=True, stderr=True,
                                    detach_keys=streams.detach_keys(args.detach_keys))
    finally:
        conn.close()
    if detached:
        raise CommandError("read escape sequence", 1)
    return client.get_json(f"/exec/{exec_id}/json").get("ExitCode") or 0

"""docker start: POST /containers/{c}/start for each; 304 counts as started. With -a or -i,
one container, attached before it starts (as run does), and its exit status is ours."""
from __future__ import annotations

from client.commands import parser as make_parser
from client import api


def parser(name):
    p = make_parser(name, "docker start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers")
    p.add_argument("containers", nargs="+")
    p.add_argument("-a", "--attach", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("--detach-keys", default="")
    return p


def run(client, args) -> int:
    import sys

    from client.__main__ import CommandError

    if args.attach or args.interactive:
        if len(args.containers) > 1:
            raise CommandError("you cannot start and attach multiple containers at once", 1)
        return start_attached(client, args)
    failed = []
    for name in args.containers:
        try:
            client.post(f"/containers/{api.q(name)}/start")
        except api.APIError as error:
            print(f"Error response from daemon: {error.message}", file=sys.stderr)
            failed.append(name)
            continue
        print(name, flush=True)
    if failed:
        raise CommandError(f"Error: failed to start containers: {', '.join(failed)}", 1)
    return 0


def start_attached(client, args) -> int:
    import os

    from client import streams

    container = client.get_json(f"/containers/{api.q(args.containers[0])}/json")
    container_id, config = container["Id"], container.get("Config") or {}
    tty = bool(config.get("Tty"))
    stdin = args.interactive and bool(config.get("OpenStdin"))
    auto_remove = bool((container.get("HostConfig") or {}).get("AutoRemove"))
    with streams.Signals(client, container_id, proxy=not tty):
        params = {"stream": "1", "stdin": "1" if stdin else None, "stdout": "1", "stderr": "1",
                  "detachKeys": args.detach_keys or None}
        conn = streams.hijack(client, f"/containers/{container_id}/attach", params)
        try:
            condition = "removed" if auto_remove else "next-exit"
            waiting = client.request("POST", f"/containers/{container_id}/wait", {"condition": condition})
            try:
                with streams.RawTerminal(tty and stdin) as terminal:
                    try:
                        client.post(f"/containers/{container_id}/start")
                    except api.APIError:
                        terminal.restore()
                        if auto_remove:
                            waiting.read()
                        raise
                    with streams.WindowSize(client, f"/containers/{container_id}", enabled=tty and os.isatty(1)):
                        detached = streams.copy(conn, tty=tty, stdin=stdin, stdout=True, stderr=True,
                                                detach_keys=streams.detach_keys(args.detach_keys))
                if detached:
                    return 0
                reply = waiting.json() or {}
            finally:
                waiting.close()
        finally:
            conn.close()
    if (reply.get("Error") or {}).get("Message"):
        streams.logrus("error", f"Error waiting for container: {reply['Error']['Message']}")
        return 125
    return reply.get("StatusCode", 0)

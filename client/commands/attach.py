"""docker attach: our terminal on a running container's streams (hijacked POST
/containers/{c}/attach) until it exits, with its exit status; ctrl-p ctrl-q (with a TTY)
leaves it running, and says so as docker does ("read escape sequence", status 1)."""
from __future__ import annotations

import os

from client import api
from client.commands.run import FlagParser


def parser(name):
    p = FlagParser(f"pydocker {name}", "pydocker attach [OPTIONS] CONTAINER",
                   "Attach local standard input, output, and error streams to a running container", "1 argument",
                   interspersed=True)
    p.add_argument("container")
    p.add_argument("--no-stdin", action="store_true")
    p.add_argument("--sig-proxy", action="store_true")
    p.add_argument("--detach-keys", default="")
    return p


def attachable(client, name: str) -> dict:
    """The container, if it runs (its inspect document); docker's words otherwise."""
    from client.__main__ import CommandError

    container = client.get_json(f"/containers/{api.q(name)}/json")
    state = container.get("State") or {}
    if not state.get("Running"):
        raise CommandError("You cannot attach to a stopped container, start it first", 1)
    if state.get("Paused"):
        raise CommandError("You cannot attach to a paused container, unpause it first", 1)
    if state.get("Restarting"):
        raise CommandError("You cannot attach to a restarting container, wait until it is running", 1)
    return container


def run(client, args) -> int:
    from client.__main__ import CommandError
    from client import streams

    container = attachable(client, args.container)
    tty = bool(container["Config"].get("Tty"))
    if tty and not args.no_stdin and not os.isatty(0):
        raise CommandError("the input device is not a TTY", 1)
    container_id = container["Id"]
    stdin = not args.no_stdin and bool(container["Config"].get("OpenStdin"))
    waiting = client.request("POST", f"/containers/{container_id}/wait")
    try:
        proxy = ("sig_proxy" not in args.given or args.sig_proxy) and not tty
        with streams.Signals(client, container_id, proxy=proxy):
            params = {"stream": "1", "stdin": "1" if stdin else None, "stdout": "1", "stderr": "1",
                      "detachKeys": args.detach_keys or None}
            conn = streams.hijack(client, f"/containers/{container_id}/attach", params)
            try:
                attachable(client, container_id)  # it may have stopped meanwhile: attaching would hang
                with streams.RawTerminal(tty and stdin), \
                        streams.WindowSize(client, f"/containers/{container_id}", nudge=True,
                                           enabled=tty and os.isatty(1)):
                    detached = streams.copy(conn, tty=tty, stdin=stdin, stdout=True, stderr=True,
                                            detach_keys=streams.detach_keys(args.detach_keys))
            finally:
                conn.close()
        if detached:
            raise CommandError("read escape sequence", 1)
        reply = waiting.json() or {}
    finally:
        waiting.close()
    if (reply.get("Error") or {}).get("Message"):
        raise CommandError(reply["Error"]["Message"], 1)
    return reply.get("StatusCode", 0)

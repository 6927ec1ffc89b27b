"""The messages pyrunc (the parent) and the process it forks (the child) exchange while a
container or an exec'd process is being set up.

One SOCK_SEQPACKET socketpair carries them, a JSON object per packet. The child speaks first
in each exchange and, where the table says so, waits for the parent's reply:

    child -> parent               parent does                                   parent replies
    USERNS                        writes uid_map/gid_map of the child           USERNS_DONE
    PID {pid}                     records the init pid, reaps the intermediate  -
    HOOKS                         applies cgroup limits, runs prestart and      HOOKS_DONE
                                  createRuntime hooks (mounts are done, the
                                  root is not pivoted yet)
    READY                         sets rlimits and oom_score_adj, writes        RUN
                                  state.json (status created)
    ERROR {kind, message}         fails the command                             -
    (socket closed)               setup finished: the child now waits on the exec fifo (create) or has exec'd

Before the child starts, the parent sends GO once it has put the child into its cgroups, so
nothing the child does escapes the cgroup's limits or accounting.
"""
import json
import socket

GO = "go"
USERNS = "userns"
USERNS_DONE = "userns-done"
PID = "pid"
HOOKS = "hooks"
HOOKS_DONE = "hooks-done"
READY = "ready"
RUN = "run"
ERROR = "error"

_MAX_MESSAGE = 1 << 16


def pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(sock: socket.socket, message_type: str, **fields) -> None:
    sock.send(json.dumps({"type": message_type, **fields}).encode())


def recv(sock: socket.socket) -> dict | None:
    """The next message, or None once the other side has closed its end."""
    raw = sock.recv(_MAX_MESSAGE)
    return json.loads(raw) if raw else None


class ProtocolError(Exception):
    pass


def expect(sock: socket.socket, message_type: str) -> dict:
    message = recv(sock)
    if message is None or message["type"] != message_type:
        raise ProtocolError(f"expected {message_type!r} from pyrunc, got {message!r}")
    return message

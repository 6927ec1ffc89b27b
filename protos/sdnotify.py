"""The service manager's notification protocol (systemd's sd_notify(3)), for pycontainerd and
pydockerd running under `Type=notify` units: one datagram of `KEY=VALUE` lines on the unix
socket named by $NOTIFY_SOCKET (a leading `@` names the abstract namespace).

    notifier = Notifier.from_environment()   # takes NOTIFY_SOCKET out of our environment
    notifier.ready()                         # READY=1: serving; systemd starts what waits on us
    notifier.reloading(); ...; notifier.ready()
    notifier.stopping()                      # STOPPING=1: on the way down

Here, not in each daemon, because protos is what both daemons may import besides errdefs,
and it already holds the protocols the processes speak beside containerd's gRPC (ttrpc, the
trace datagrams). Standard library only, a dozen lines: no libsystemd.
"""
from __future__ import annotations

import os
import socket
import time


class Notifier:
    def __init__(self, address: str | None):
        self.address = address

    @classmethod
    def from_environment(cls) -> Notifier:
        """The notifier for $NOTIFY_SOCKET, which is removed from our environment: the shims and
        runtimes we start must not inherit it (runc, given one, waits for the container to
        notify; go-runc filters it out for that reason)."""
        return cls(os.environ.pop("NOTIFY_SOCKET", None) or None)

    def send(self, *assignments: str) -> bool:
        """Send the assignments in one datagram; False if there is no socket or it is gone
        (a service manager that went away must not take the daemon with it)."""
        if not self.address:
            return False
        address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(address)
                sock.sendall("\n".join(assignments).encode())
        except OSError:
            return False
        return True

    def ready(self) -> bool:
        return self.send("READY=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def reloading(self) -> bool:
        # systemd (253 and later) matches the reload to its own clock by MONOTONIC_USEC.
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

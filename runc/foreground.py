"""Waiting in the foreground for a container process (`run` and `exec` without -d).

pyrunc becomes a child subreaper before it forks, so the process it started is re-parented
to it when the intermediate child exits; it then reaps every child until that one exits,
forwards the signals it receives, and relays the terminal when it allocated one.
"""
import os
import signal
import socket

from .libcontainer import syscalls as S

FORWARDED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                     signal.SIGUSR1, signal.SIGUSR2, signal.SIGCONT)


def become_subreaper() -> None:
    S.linux.prctl(S.PR_SET_CHILD_SUBREAPER, 1)


def console_pair() -> tuple[socket.socket, socket.socket]:
    """The child sends the pty master on the second end; take_master receives it on the first."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def take_master(pair: tuple[socket.socket, socket.socket], has_terminal: bool) -> int | None:
    """The pty master the child sent, or None if it has no terminal; closes the pair."""
    ours, theirs = pair
    theirs.close()
    with ours:
        if not has_terminal:
            return None
        from .libcontainer import console

        return console.receive_master(ours)


def exit_code(wait_status: int) -> int:
    """The shell's convention, used by every layer of the stack: 128+N for signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


class Reaper:
    def __init__(self, pid: int):
        self.pid = pid
        self.status: int | None = None

    def reap(self, block: bool) -> None:
        """Collect exited children; with `block`, until `pid` is among them."""
        while self.status is None:
            try:
                got, wait_status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            if got == 0:
                return
            if got == self.pid:
                self.status = exit_code(wait_status)


def wait(pid: int, console_master: int | None = None) -> int:
    """Wait for `pid`, forwarding signals to it; returns its exit code."""
    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    reaper = Reaper(pid)
    if console_master is not None:
        from .libcontainer import console

        def done() -> bool:
            reaper.reap(block=False)
            return reaper.status is not None

        try:
            console.relay(console_master, done)
        finally:
            os.close(console_master)
    reaper.reap(block=True)
    return reaper.status if reaper.status is not None else 255

"""The one place the shim collects exited children.

The shim is a child subreaper: when pyrunc create exits, the container's init is re-parented
to it, and so is every orphan of the container without a pid namespace of its own. One
thread waits for SIGCHLD and reaps *every* child with waitpid(-1); each exit goes to every
subscriber. Whoever starts a child subscribes *before* starting it, so an exit that comes
before the starter even knows the pid is not lost (runtime-stack.md §9.1-§9.2). The shim's
main thread is the reaper: an idle shim then has no thread but those it needs to serve.

Never Popen.wait or os.waitpid(pid) elsewhere: a second reaper steals exits, and Popen turns
the resulting ECHILD into status 0 (a failed `pyrunc create` would look like success).
"""
import ctypes
import os
import signal
import threading
import time

_SIGNALS = {signal.SIGCHLD, signal.SIGUSR1}
_PR_SET_CHILD_SUBREAPER = 36
# Made at import, so the fork server makes it once and every shim shares it.
_libc = ctypes.CDLL(None, use_errno=True)


def become_subreaper() -> None:
    """Adopt the orphans among this process's descendants: the container's init, once the
    runtime that started it exits."""
    if _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def block_signals() -> None:
    """Block the signals the reaper waits for, in this thread and (so call it before they
    start) every thread it starts; only the reaper's sigwait then receives them."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)


def exit_code(wait_status: int) -> int:
    """128+N for signal N: the convention every layer of the stack shares."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


class Exit:
    __slots__ = ("pid", "status", "timestamp")

    def __init__(self, pid: int, status: int, timestamp: float):
        self.pid = pid
        self.status = status
        self.timestamp = timestamp  # time.time() when reaped: when the process exited, near enough


class Subscription:
    """Every exit reaped while subscribed, in order."""

    def __init__(self, reaper: "Reaper"):
        self._reaper = reaper
        self._exits: list[Exit] = []
        self._changed = threading.Condition(reaper.lock)

    def _deliver(self, exit: Exit) -> None:  # called with the reaper's lock held
        self._exits.append(exit)
        self._changed.notify_all()

    def exits(self) -> list[Exit]:
        with self._changed:
            return list(self._exits)

    def wait_for(self, pid: int, timeout: float | None = None) -> Exit:
        """Block until `pid` has exited; its Exit."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                for exit in self._exits:
                    if exit.pid == pid:
                        return exit
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"process {pid} did not exit within {timeout}s")
                self._changed.wait(remaining)

    def close(self) -> None:
        self._reaper.unsubscribe(self)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *_) -> None:
        self.close()


class Reaper:
    def __init__(self):
        self.lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._listeners = []  # callables(Exit), called outside the lock, in reaping order
        self._main_thread = threading.get_ident()  # made by, and run() in, the shim's main thread

    def subscribe(self) -> Subscription:
        subscription = Subscription(self)
        with self.lock:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self.lock:
            self._subscriptions.remove(subscription)

    def on_exit(self, listener) -> None:
        """Call `listener(exit)` for every exit, from the reaper's thread: it must not block,
        and above all not wait for another exit, which only this thread can reap."""
        self._listeners.append(listener)

    def run(self, until: threading.Event) -> None:
        """Reap in the calling thread (the shim's main thread) until `until` is set and
        wake() is called. SIGCHLD must already be blocked in every thread (block_signals(),
        called before any other thread starts), so that sigwait here receives it."""
        while not until.is_set():
            if signal.sigwait(_SIGNALS) == signal.SIGCHLD:
                self.reap()

    def wake(self) -> None:
        """Have run() look at its stop event now."""
        signal.pthread_kill(self._main_thread, signal.SIGUSR1)

    def reap(self) -> None:
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            exit = Exit(pid, exit_code(wait_status), time.time())
            with self.lock:
                for subscription in self._subscriptions:
                    subscription._deliver(exit)
            for listener in self._listeners:
                listener(exit)

"""One thread that reads the lines every shim writes on its stderr FIFO.

Handlers run on the watcher thread, one at a time, under the watcher's lock: unwatch() takes
the same lock, so once it returns no handler is running for that fd and the caller may close
it. Handlers must be quick.
"""
from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

READ_SIZE = 1 << 16


class Watcher:
    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._lock = threading.Lock()
        self._handlers: dict[int, Callable[[], None]] = {}
        self._wake_read, self._wake_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._epoll.register(self._wake_read, select.EPOLLIN)
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="shim-watcher", daemon=True)
        self._thread.start()

    def watch_lines(self, fd: int, on_line: Callable[[str], None]) -> None:
        """Call on_line for every line read from non-blocking fd, until unwatched."""
        pending = bytearray()

        def handle() -> None:
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                return
            pending.extend(data)
            *lines, rest = pending.split(b"\n")
            pending[:] = rest
            for line in lines:
                on_line(line.decode(errors="replace"))

        self._watch(fd, select.EPOLLIN, handle)

    def unwatch(self, fd: int) -> None:
        with self._lock:
            if self._handlers.pop(fd, None) is not None:
                self._epoll.unregister(fd)

    def close(self) -> None:
        """Stop the thread; what is still watched stays open (its owners close it)."""
        self._closing = True
        os.write(self._wake_write, b"x")
        self._thread.join()
        self._epoll.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _watch(self, fd: int, events: int, handler: Callable[[], None]) -> None:
        with self._lock:
            self._handlers[fd] = handler
            self._epoll.register(fd, events)

    def _loop(self) -> None:
        while not self._closing:
            for fd, _events in self._epoll.poll():
                with self._lock:
                    handler = self._handlers.get(fd)
                    if handler is None:
                        continue
                    try:
                        handler()
                    except Exception:  # noqa: BLE001 - one bad handler must not stop the others
                        log.exception("watcher: handler for fd %d failed", fd)

"""One thread that moves every byte of a shim's process streams.

A thread per stream would be simpler, but each costs a shim ~90 KiB of private memory, and
a shim's memory is paid once per container. So every copy (pipe -> FIFO/file, FIFO -> pipe,
pty master <-> FIFOs) is a source and a sink registered here, served by one selector loop.
Sinks are non-blocking: when one is full (nobody reads a FIFO), its copy stops reading its
source until the sink drains, and the other copies go on.
"""
import errno
import os
import selectors
import threading

_CHUNK = 64 * 1024


class Copy:
    """One registered copy; `done` is set once it is over."""

    __slots__ = ("source", "sink", "pending", "done")

    def __init__(self, source: int, sink: int, done: threading.Event):
        self.source = source
        self.sink = sink
        self.pending = b""
        self.done = done


class _Watch:
    __slots__ = ("fd", "on_ready")

    def __init__(self, fd: int, on_ready):
        self.fd = fd
        self.on_ready = on_ready


class IOLoop:
    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._added: list = []  # Copy and _Watch items for the loop to register
        self._ending: list[Copy] = []
        self._thread: threading.Thread | None = None

    def copy(self, source: int, sink: int) -> Copy:
        """Copy source to sink until source ends (or end() is called); both fds become the
        loop's and are closed at the end."""
        os.set_blocking(sink, False)
        copy = Copy(source, sink, threading.Event())
        with self._lock:
            self._added.append(copy)
            self._start()
        os.write(self._wake_write, b"x")
        return copy

    def _start(self) -> None:  # with the lock held
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="io", daemon=True)
            self._thread.start()

    def watch(self, fd: int, on_ready) -> None:
        """Call on_ready() (in the loop's thread; it must not block) each time fd is readable."""
        with self._lock:
            self._added.append(_Watch(fd, on_ready))
            self._start()
        os.write(self._wake_write, b"x")

    def end(self, copy: Copy) -> None:
        """End a copy whose source never ends by itself (a FIFO the shim holds open): what
        was already read is written out first, as far as the sink takes it at once."""
        with self._lock:
            self._ending.append(copy)
        os.write(self._wake_write, b"x")

    def _run(self) -> None:
        while True:
            for key, events in self._selector.select():
                if key.data is None:
                    self._adopt_added()
                elif isinstance(key.data, _Watch):
                    key.data.on_ready()
                elif events & selectors.EVENT_WRITE:
                    self._flush(key.data)
                else:
                    self._read(key.data)

    def _adopt_added(self) -> None:
        try:
            os.read(self._wake_read, 4096)
        except BlockingIOError:
            pass
        with self._lock:
            added, self._added = self._added, []
            ending, self._ending = self._ending, []
        for item in added:
            self._selector.register(item.fd if isinstance(item, _Watch) else item.source, selectors.EVENT_READ, item)
        for copy in ending:
            if copy.done.is_set():
                continue
            waiting_on_sink = bool(copy.pending)
            try:
                os.write(copy.sink, copy.pending)
            except OSError:
                pass  # a reader that takes nothing more: what is left is dropped
            self._finish(copy, from_sink=waiting_on_sink)

    def _read(self, copy: Copy) -> None:
        try:
            data = os.read(copy.source, _CHUNK)
        except BlockingIOError:
            return
        except OSError:  # EIO: a pty with no slave left
            data = b""
        if not data:
            self._finish(copy)
            return
        copy.pending = data
        self._flush(copy, reading=True)

    def _flush(self, copy: Copy, reading: bool = False) -> None:
        try:
            while copy.pending:
                written = os.write(copy.sink, copy.pending)
                copy.pending = copy.pending[written:]
        except BlockingIOError:
            if reading:  # stop reading the source until the sink takes more
                self._selector.unregister(copy.source)
                self._selector.register(copy.sink, selectors.EVENT_WRITE, copy)
            return
        except OSError as e:
            if e.errno in (errno.EPIPE, errno.EIO):
                self._finish(copy, from_sink=not reading)
                return
            raise
        if not reading:
            self._selector.unregister(copy.sink)
            self._selector.register(copy.source, selectors.EVENT_READ, copy)

    def _finish(self, copy: Copy, from_sink: bool = False) -> None:
        self._selector.unregister(copy.sink if from_sink else copy.source)
        os.close(copy.source)
        os.close(copy.sink)
        copy.done.set()

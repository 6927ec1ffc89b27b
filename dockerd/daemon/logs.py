"""Reading a container's json-file log (written by pydockerd-logger, below pydockerd): for
`logs` (tail, since/until, timestamps, follow) and for attach, which follows the file from
the moment it attaches.

The logger holds a shared flock on the file while it runs; once the container has exited,
a reader that can take the lock exclusively knows every byte of output is in the file.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator

from .container import parse_rfc3339

STDOUT, STDERR = 1, 2
FOLLOW_INTERVAL = 0.01  # how often a follower looks for new lines
_STREAMS = {"stdout": STDOUT, "stderr": STDERR}


def logger_done(path: str) -> bool:
    """Whether no logger holds the log file (it has written everything and exited)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def wait_logger(path: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not logger_done(path) and time.monotonic() < deadline:
        time.sleep(0.002)


def size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


class Entry:
    __slots__ = ("stream", "data", "time")

    def __init__(self, stream: int, data: bytes, when: str):
        self.stream = stream
        self.data = data
        self.time = when


def _parse(line: bytes) -> Entry | None:
    try:
        record = json.loads(line)
        return Entry(_STREAMS.get(record.get("stream"), STDOUT), record.get("log", "").encode(), record.get("time", ""))
    except (ValueError, AttributeError):
        return None


class Reader:
    """Complete lines of the file from an offset on."""

    def __init__(self, path: str, offset: int = 0):
        self.path = path
        self.offset = offset
        self._file = None

    def read(self) -> list[Entry]:
        if self._file is None:
            try:
                self._file = open(self.path, "rb")
            except FileNotFoundError:
                return []
        self._file.seek(self.offset)
        data = self._file.read()
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        return [e for e in (_parse(line) for line in data[:end].split(b"\n")) if e is not None]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def format_entry(entry: Entry, timestamps: bool) -> bytes:
    if timestamps:
        return entry.time.encode() + b" " + entry.data
    return entry.data


def follow(path: str, offset: int, finished: Callable[[], bool], *, cancelled: Callable[[], bool] = lambda: False,
           ) -> Iterator[Entry]:
    """Entries from offset on, as they are written, until finished() (the process exited
    and its logger is done): then what is left, and the end."""
    reader = Reader(path, offset)
    try:
        while True:
            entries = reader.read()
            yield from entries
            if cancelled():
                return
            if not entries:
                if finished():
                    yield from reader.read()
                    return
                time.sleep(FOLLOW_INTERVAL)
    finally:
        reader.close()


def read_logs(path: str, *, stdout: bool, stderr: bool, tail: int | None, since_ns: int | None,
              until_ns: int | None, timestamps: bool, follow_until: Callable[[], bool] | None,
              cancelled: Callable[[], bool] = lambda: False) -> Iterator[tuple[int, bytes]]:
    """What `GET /containers/{id}/logs` sends, as (stream, data)."""
    wanted = {s for s, on in ((STDOUT, stdout), (STDERR, stderr)) if on}

    def accept(entry: Entry) -> bool:
        if entry.stream not in wanted:
            return False
        if since_ns or until_ns:
            when = parse_rfc3339(entry.time)
            if since_ns and when < since_ns:
                return False
            if until_ns and when > until_ns:
                return False
        return True

    reader = Reader(path)
    entries = [e for e in reader.read() if accept(e)]
    offset = reader.offset
    reader.close()
    if tail is not None and tail >= 0:
        entries = list(deque(entries, maxlen=tail)) if tail else []
    for entry in entries:
        yield entry.stream, format_entry(entry, timestamps)
    if follow_until is None:
        return
    for entry in follow(path, offset, follow_until, cancelled=cancelled):
        if until_ns and parse_rfc3339(entry.time) > until_ns:
            return
        if accept(entry):
            yield entry.stream, format_entry(entry, timestamps)

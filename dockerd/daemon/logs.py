"""Reading a container's json-file log (written by pydockerd-logger, below pydockerd): for
`logs` (tail, since/until, timestamps, follow) and for attach, which follows the file from
the moment it attaches.

The file is read in chunks of up to CHUNK bytes and handed on in batches, one per chunk: a
reply of 100k lines is a few dozen writes, not 100k thread hops and flushes. A line cut by
a chunk's end is kept for the next one; the logger's own lines take a fast path that needs
no JSON decoder (anything else still goes through json.loads). Times stay bytes.

The logger holds a shared flock on the file while it runs; once the container has exited,
a reader that can take the lock exclusively knows every byte of output is in the file.
With max-size the logger rotates the file (json.log.1 is the one before json.log, and so on):
the whole log is those files oldest first, and a follower goes on into each new json.log.
"""
from __future__ import annotations

import calendar
import contextlib
import fcntl
import functools
import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator

STDOUT, STDERR = 1, 2
FOLLOW_INTERVAL = 0.01  # how often a follower looks for new lines
CHUNK = 1 << 20  # bytes read at once, and so the most a batch holds (bar one long line)
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

    def __init__(self, stream: int, data: bytes, when: bytes):
        self.stream = stream
        self.data = data
        self.time = when


@functools.lru_cache(maxsize=256)
def _epoch_seconds(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))


def time_ns(when: bytes) -> int:
    """Nanoseconds since the epoch of an entry's RFC 3339 UTC time (0 if there is none);
    the seconds are cached, as a log's lines share a few of them."""
    text = when.decode(errors="replace")
    if not text or text.startswith("0001-"):
        return 0
    main, _, rest = text.rstrip("Z").partition(".")
    try:
        seconds = _epoch_seconds(main)
    except ValueError:
        return 0
    nanos = int((rest + "000000000")[:9]) if rest else 0
    return seconds * 1_000_000_000 + nanos


# One line as the logger writes it, with no escape but a final \n (nearly every line), or any
# other line (decoded by json.loads). The first branch cannot start mid-line: every match
# ends at a newline, and neither branch crosses one.
_LINES = re.compile(rb'\{"log":"([^"\\\n]*)(\\n)?","stream":"std(out|err)","time":"([^"\\\n]*)"\}\n|([^\n]*)\n')


def _parse_json(line: bytes) -> Entry | None:
    try:
        record = json.loads(line)
        return Entry(_STREAMS.get(record.get("stream"), STDOUT), record.get("log", "").encode(),
                     record.get("time", "").encode())
    except (ValueError, AttributeError):
        return None


def parse(data: bytes) -> list[Entry]:
    """The entries of data's lines (data ends with a newline); unreadable lines are skipped."""
    entries = []
    append = entries.append
    for text, newline, stream, when, other in _LINES.findall(data):
        if stream:
            append(Entry(STDOUT if stream == b"out" else STDERR, text + b"\n" if newline else text, when))
        elif other:
            entry = _parse_json(other)
            if entry is not None:
                append(entry)
    return entries


def _open_whole(path: str):
    """The log's files open for reading, oldest first: json.log.N ... json.log.1, json.log.
    Opened afresh until no rotation completed meanwhile (json.log is the file it named before
    the rotated ones were opened, and none of those moved away under us): each one's
    content, read through the open file, then stays what it was at that moment or grows."""
    directory, name = os.path.split(path)
    while True:
        try:
            before = os.stat(path).st_ino
        except FileNotFoundError:
            before = None
        numbers = []
        with contextlib.suppress(FileNotFoundError):
            for other in os.listdir(directory or "."):
                suffix = other[len(name) + 1:] if other.startswith(name + ".") else ""
                if suffix.isdigit():
                    numbers.append(int(suffix))
        files = []
        try:
            for number in sorted(numbers, reverse=True):
                files.append(open(f"{path}.{number}", "rb", buffering=0))
            if before is not None:
                files.append(open(path, "rb", buffering=0))
                if os.fstat(files[-1].fileno()).st_ino != before:
                    raise FileNotFoundError(path)
            return files
        except FileNotFoundError:
            for file in files:
                file.close()


class Reader:
    """Complete lines of a container's log, in chunks. With no offset, the whole log: the
    rotated files oldest first, then json.log; with one, json.log from that offset.
    Either way it stays on json.log as the logger rotates it (`offset` is where it is in the
    file it reads): once the name points to a new file, the rest of the old one is read,
    then the new one from its start; a file emptied under it (max-file 1) is read again
    from its start."""

    def __init__(self, path: str, offset: int | None = None):
        self.path = path
        self.offset = offset or 0
        self._whole = offset is None
        self._files: list = []  # the one being read first; json.log last, once opened

    def _read(self, file, chunk: int) -> tuple[list[Entry], bool]:
        file.seek(self.offset)
        data = file.read(chunk)
        end = data.rfind(b"\n")
        while end < 0 and len(data) >= chunk:  # one line longer than a chunk: read on to its end
            more = file.read(chunk)
            if not more:
                break
            end = more.rfind(b"\n")
            if end >= 0:
                end += len(data)
            data += more
        if end < 0:
            return [], False
        self.offset += end + 1
        return parse(data[:end + 1]), len(data) >= chunk

    def _move_on(self) -> bool:
        """Whether there is something else to read now: the file after a rotated one read to
        its end; json.log once the logger rotated it (the old file is read to its end first:
        it may have grown since it was last read); the emptied file again from its start."""
        if len(self._files) > 1:
            self._files.pop(0).close()
            self.offset = 0
            return True
        current = self._files[0]
        try:
            named = os.stat(self.path).st_ino
            if named != os.fstat(current.fileno()).st_ino:
                self._files.append(open(self.path, "rb", buffering=0))
                return True
        except FileNotFoundError:
            return False
        if os.fstat(current.fileno()).st_size < self.offset:
            self.offset = 0
            return True
        return False

    def _open(self) -> bool:
        if self._whole:
            self._files = _open_whole(self.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                self._files = [open(self.path, "rb", buffering=0)]
        return bool(self._files)

    def read_chunk(self, chunk: int = CHUNK) -> tuple[list[Entry], bool]:
        """(entries of the complete lines in the next chunk, whether there may be more
        complete lines after them). A line longer than a chunk is read whole."""
        if not self._files and not self._open():
            return [], False
        while True:
            entries, more = self._read(self._files[0], chunk)
            if entries:
                return entries, more or len(self._files) > 1
            if not self._move_on():
                return [], False

    def batches(self, chunk: int = CHUNK) -> Iterator[list[Entry]]:
        """The complete lines there are now, a chunk at a time (no empty batches)."""
        while True:
            entries, more = self.read_chunk(chunk)
            if entries:
                yield entries
            if not more:
                return

    def read(self) -> list[Entry]:
        """Every complete line there is now."""
        return [entry for batch in self.batches() for entry in batch]

    def close(self) -> None:
        for file in self._files:
            file.close()
        self._files = []


def format_entry(entry: Entry, timestamps: bool) -> bytes:
    if timestamps:
        return entry.time + b" " + entry.data
    return entry.data


def follow_batches(path: str, offset: int, finished: Callable[[], bool], *,
                   cancelled: Callable[[], bool] = lambda: False, chunk: int = CHUNK) -> Iterator[list[Entry]]:
    """Batches of entries from offset on, as they are written, until finished() (the
    process exited and its logger is done): then what is left, and the end."""
    return _follow(Reader(path, offset), finished, cancelled, chunk)


def _follow(reader: Reader, finished: Callable[[], bool], cancelled: Callable[[], bool],
            chunk: int) -> Iterator[list[Entry]]:
    try:
        while True:
            found = False
            for batch in reader.batches(chunk):
                found = True
                yield batch
                if cancelled():
                    return
            if cancelled():
                return
            if not found:
                if finished():
                    yield from reader.batches(chunk)
                    return
                time.sleep(FOLLOW_INTERVAL)
    finally:
        reader.close()


def follow(path: str, offset: int, finished: Callable[[], bool], *, cancelled: Callable[[], bool] = lambda: False,
           ) -> Iterator[Entry]:
    """follow_batches, an entry at a time."""
    for batch in follow_batches(path, offset, finished, cancelled=cancelled):
        yield from batch


def read_log_batches(path: str, *, stdout: bool, stderr: bool, tail: int | None, since_ns: int | None,
                     until_ns: int | None, timestamps: bool, follow_until: Callable[[], bool] | None,
                     cancelled: Callable[[], bool] = lambda: False,
                     chunk: int = CHUNK) -> Iterator[list[tuple[int, bytes]]]:
    """What `GET /containers/{id}/logs` sends, as batches of (stream, data); never an empty one."""
    wanted = {s for s, on in ((STDOUT, stdout), (STDERR, stderr)) if on}
    both = wanted == {STDOUT, STDERR}

    def select(batch: list[Entry]) -> list[Entry]:
        if not (both or since_ns or until_ns):
            return [e for e in batch if e.stream in wanted]
        if not (since_ns or until_ns):
            return batch
        out = []
        for entry in batch:
            if entry.stream not in wanted:
                continue
            when = time_ns(entry.time)
            if since_ns and when < since_ns:
                continue
            if until_ns and when > until_ns:
                continue
            out.append(entry)
        return out

    def render(entries) -> list[tuple[int, bytes]]:
        if timestamps:
            return [(e.stream, e.time + b" " + e.data) for e in entries]
        return [(e.stream, e.data) for e in entries]

    reader = Reader(path) if tail != 0 else Reader(path, _complete_end(path))
    following = False
    try:
        if tail is not None and tail >= 0:
            kept: deque[Entry] = deque(maxlen=tail)
            if tail:
                for batch in reader.batches(chunk):
                    kept.extend(select(batch))
            if kept:
                yield render(kept)
        else:
            for batch in reader.batches(chunk):
                entries = select(batch)
                if entries:
                    yield render(entries)
                if cancelled():
                    return
        if follow_until is None:
            return
        following = True  # on the same reader: it carries on in the file it has reached
    finally:
        if not following:
            reader.close()
    for batch in _follow(reader, follow_until, cancelled, chunk):
        if until_ns:  # the first entry after until ends the stream
            past = next((i for i, e in enumerate(batch) if time_ns(e.time) > until_ns), None)
            if past is not None:
                entries = select(batch[:past])
                if entries:
                    yield render(entries)
                return
        entries = select(batch)
        if entries:
            yield render(entries)


def _complete_end(path: str) -> int:
    """The offset just past the file's last complete line (where tail=0 starts following)."""
    try:
        with open(path, "rb", buffering=0) as file:
            end = file.seek(0, os.SEEK_END)
            position = end
            while position > 0:
                step = min(CHUNK, position)
                file.seek(position - step)
                data = file.read(step)
                newline = data.rfind(b"\n")
                if newline >= 0:
                    return position - step + newline + 1
                position -= step
            return 0
    except FileNotFoundError:
        return 0


def read_logs(path: str, **options) -> Iterator[tuple[int, bytes]]:
    """read_log_batches, a (stream, data) at a time."""
    for batch in read_log_batches(path, **options):
        yield from batch

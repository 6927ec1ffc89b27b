"""The pydockerd-logger program (see the package docstring):
`pydockerd-logger --log=PATH [--max-size=BYTES] [--max-file=N]`."""
import fcntl
import json
import os
import select
import signal
import sys
import time

STDOUT_FD, STDERR_FD, READY_FD = 3, 4, 5
MAX_MESSAGE = 16 * 1024  # Docker's copier cuts lines at its 16 KiB buffer
PARTIAL_DELAY_MS = 20  # how long a partial line waits for the rest before it is written
READ_SIZE = 64 * 1024


def timestamp(ns: int) -> str:
    """RFC 3339 with nanoseconds, in UTC: 2006-01-02T15:04:05.000000000Z."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def entry(data: bytes, stream: str, when: str) -> bytes:
    text = data.decode("utf-8", errors="replace")
    return (json.dumps({"log": text, "stream": stream, "time": when}, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class Stream:
    def __init__(self, fd: int, name: str):
        self.fd = fd
        self.name = name
        self.pending = b""  # a line not finished yet

    def take(self, data: bytes, when: str) -> list[bytes]:
        """The entries for the complete lines (or full 16 KiB pieces) in pending + data."""
        buffer = self.pending + data
        out = []
        start = 0
        while True:
            newline = buffer.find(b"\n", start, start + MAX_MESSAGE)
            if newline >= 0:
                out.append(entry(buffer[start:newline + 1], self.name, when))
                start = newline + 1
            elif len(buffer) - start >= MAX_MESSAGE:
                out.append(entry(buffer[start:start + MAX_MESSAGE], self.name, when))
                start += MAX_MESSAGE
            else:
                break
        self.pending = buffer[start:]
        return out

    def flush(self, when: str) -> list[bytes]:
        if not self.pending:
            return []
        data, self.pending = self.pending, b""
        return [entry(data, self.name, when)]


def write_all(fd: int, data: bytes) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


def parse_args(argv: list[str]) -> dict[str, str]:
    options = {}
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            options[key] = value
    return options


def open_locked(path: str) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    # Held until the end: a reader that can lock the file exclusively knows the output is all there.
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


class LogFile:
    """json.log, rotated as Docker's json-file rotates it: once it holds max_size bytes, the
    next entry goes to a fresh json.log, the full one becoming json.log.1 (json.log.1 becoming
    json.log.2, and so on; the oldest of max_files goes). With max_files 1 the file is emptied.

    `json.log` names a locked file at every moment (readers take its lock to know the logger
    is done): the full file gets its new name by a link, and the fresh one, locked first,
    replaces it by a rename."""

    def __init__(self, path: str, max_size: int | None = None, max_files: int = 1):
        self.path, self.max_size, self.max_files = path, max_size, max_files
        self.fd = open_locked(path)
        self.size = os.fstat(self.fd).st_size

    def write(self, entries: list[bytes]) -> None:
        if self.max_size is None:
            write_all(self.fd, b"".join(entries))
            return
        pending = []
        for data in entries:
            if self.size >= self.max_size:
                write_all(self.fd, b"".join(pending))
                pending = []
                self.rotate()
            pending.append(data)
            self.size += len(data)
        write_all(self.fd, b"".join(pending))

    def rotate(self) -> None:
        if self.max_files < 2:
            os.ftruncate(self.fd, 0)
            self.size = 0
            return
        for number in range(self.max_files - 1, 1, -1):
            try:
                os.rename(f"{self.path}.{number - 1}", f"{self.path}.{number}")
            except FileNotFoundError:
                pass
        for temporary in (f"{self.path}.rotated", f"{self.path}.fresh"):
            try:
                os.unlink(temporary)  # left by a logger killed mid-rotation
            except FileNotFoundError:
                pass
        os.link(self.path, f"{self.path}.rotated")
        os.rename(f"{self.path}.rotated", f"{self.path}.1")
        fresh = open_locked(f"{self.path}.fresh")
        os.rename(f"{self.path}.fresh", self.path)
        os.close(self.fd)
        self.fd, self.size = fresh, 0

    def close(self) -> None:
        os.close(self.fd)


def run(log_path: str, max_size: int | None = None, max_files: int = 1) -> int:
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    out = LogFile(log_path, max_size, max_files)
    streams = {}
    poller = select.poll()
    for fd, name in ((STDOUT_FD, "stdout"), (STDERR_FD, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            continue
        os.set_blocking(fd, False)
        streams[fd] = Stream(fd, name)
        poller.register(fd, select.POLLIN)
    try:
        os.close(READY_FD)  # ready: the shim goes on
    except OSError:
        pass
    while streams:
        waiting = any(s.pending for s in streams.values())
        ready = poller.poll(PARTIAL_DELAY_MS if waiting else None)
        when = timestamp(time.time_ns())
        if not ready:
            out.write([line for s in streams.values() for line in s.flush(when)])
            continue
        batch = []
        for fd, _ in ready:
            stream = streams[fd]
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                batch += stream.take(data, when)
            else:  # the end of this stream
                batch += stream.flush(when)
                poller.unregister(fd)
                os.close(fd)
                del streams[fd]
        if batch:
            out.write(batch)
    out.close()
    return 0


def main() -> int:
    # Signals meant for the container's group must not cut its log short: the logger ends
    # when its streams do.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    options = parse_args(sys.argv[1:])
    log_path = options.get("log")
    if not log_path:
        print("pydockerd-logger: --log=PATH is required", file=sys.stderr)
        return 2
    max_size = int(options["max-size"]) if "max-size" in options else None
    return run(log_path, max_size, int(options.get("max-file", "1")))


if __name__ == "__main__":
    sys.exit(main())

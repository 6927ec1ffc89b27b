"""The pydockerd-logger program (see the package docstring): `pydockerd-logger --log=PATH`."""
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


def run(log_path: str) -> int:
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    out = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    # Held until the end: a reader that can lock the file exclusively knows the output is all there.
    fcntl.flock(out, fcntl.LOCK_SH)
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
            batch = [line for s in streams.values() for line in s.flush(when)]
            write_all(out, b"".join(batch))
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
            write_all(out, b"".join(batch))
    os.close(out)
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
    return run(log_path)


if __name__ == "__main__":
    sys.exit(main())

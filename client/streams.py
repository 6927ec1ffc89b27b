"""A container's standard streams on the client's terminal: the hijacked connection of
attach and exec, and what the Docker CLI does around it (its hijack.go, tty.go, signals.go).

    conn = hijack(client, f"/containers/{id}/attach", {"stream": "1", "stdout": "1"})
    with RawTerminal(tty and stdin):               # ctrl-p ctrl-q reach us as bytes, not signals
        detached = copy(conn, tty=tty, stdin=True, stdout=True, stderr=True, detach_keys=keys)

copy() runs one select() loop: the container's output to our stdout and stderr (split from
docker's 8-byte frames unless there is a terminal), our stdin to the container (half-closed
at its end, so that the container sees it end too), until the output ends or the user types
the detach keys. Signal handlers (proxying, window size) run between its select() calls.

Only what every caller needs is imported here; termios and fcntl load when a terminal is
actually involved.
"""
import os
import select
import sys

import _signal  # signal.py builds enums at import, which `pydocker exec` need not pay for
import _socket

from client import api

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q
# What the Docker CLI forwards to the container when it catches it, by the name kill takes.
PROXIED_SIGNALS = {_signal.SIGHUP: "HUP", _signal.SIGINT: "INT", _signal.SIGQUIT: "QUIT",
                   _signal.SIGTERM: "TERM", _signal.SIGUSR1: "USR1", _signal.SIGUSR2: "USR2"}
_CONTROL_KEYS = ["ctrl-@"] + [f"ctrl-{chr(c)}" for c in range(ord("a"), ord("z") + 1)] + \
    ["ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]


class Hijacked:
    """A connection the daemon upgraded to a raw byte stream (101 UPGRADED)."""

    def __init__(self, sock, leftover: bytes):
        self.sock = sock
        self.leftover = leftover  # output that arrived in the same read as the 101's head

    def close_write(self) -> None:
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


def hijack(client, path: str, params: dict | None = None, body: bytes | None = None,
           content_type: str = "text/plain") -> Hijacked:
    """POST with `Upgrade: tcp`; an answer >= 400 raises api.APIError as any request does."""
    target = f"/v{client.version}{path}"
    query = {k: v for k, v in (params or {}).items() if v is not None}
    if query:
        target += "?" + "&".join(f"{api.quote(k)}={api.quote(str(v))}" for k, v in sorted(query.items()))
    lines = [f"POST {target} HTTP/1.1", "Host: docker", "User-Agent: pydocker",
             f"Content-Length: {len(body or b'')}", "Connection: Upgrade", f"Content-Type: {content_type}",
             "Upgrade: tcp"]
    lines += [f"{name}: {value}" for name, value in client.headers.items()]
    sock = client._connect()
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(65536)
            if not data:
                raise api.CannotConnect(client.host)
            buffer += data
    except OSError:
        sock.close()
        raise api.CannotConnect(client.host) from None
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    if status < 400:
        return Hijacked(sock, rest)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    response = api.Response(sock, status, headers, rest)
    raw = response.read()
    response.close()
    try:
        message = api.loads(raw)["message"]
    except (ValueError, KeyError, TypeError):
        message = raw.decode(errors="replace").strip()
    raise api.APIError(status, message)


class _Demultiplexer:
    """docker's stdcopy: [stream, 0, 0, 0, size (big-endian, 4 bytes)] then size bytes."""

    def __init__(self, out_fd: int | None, err_fd: int | None):
        self.fds = {0: out_fd, 1: out_fd, 2: err_fd}
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        position, pending, pending_fd = 0, [], None
        while len(buffer) - position >= 8:
            kind, size = buffer[position], int.from_bytes(buffer[position + 4:position + 8], "big")
            end = position + 8 + size
            if len(buffer) < end:
                break
            if kind not in self.fds:
                from client.__main__ import CommandError

                message = (f"error from daemon in stream: {buffer[position + 8:end].decode(errors='replace')}"
                           if kind == 3 else f"Unrecognized input header: {kind}")
                raise CommandError(message, 1)
            fd = self.fds[kind]
            if fd != pending_fd and pending:  # consecutive frames of one stream go out in one write
                write_all(pending_fd, b"".join(pending))
                pending = []
            if fd is not None:
                pending.append(buffer[position + 8:end])
                pending_fd = fd
            position = end
        if pending:
            write_all(pending_fd, b"".join(pending))
        self.buffer = buffer[position:]


class _EscapeDetector:
    """moby/term's escape proxy, byte by byte: a partial match is held back, and given back
    with the byte that broke it. moby looks at one read at a time, and so misses keys that
    arrive in one read; for a terminal that is only a matter of how fast we read, so here
    every byte counts as typed alone."""

    def __init__(self, keys: bytes):
        self.keys, self.matched = keys, 0

    def filter(self, data: bytes) -> tuple[bytes, bool]:
        """(the bytes to send on, whether the whole sequence was typed)."""
        passed = bytearray()
        for byte in data:
            if byte == self.keys[self.matched]:
                self.matched += 1
                if self.matched == len(self.keys):
                    return bytes(passed), True
                continue
            passed += self.keys[:self.matched]
            passed.append(byte)
            self.matched = 0
        return bytes(passed), False


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def detach_keys(spec: str) -> bytes:
    """`--detach-keys` as moby/term's ToBytes reads it ("ctrl-p,ctrl-q", "a,ctrl-x"); a bad
    spec warns and falls back to ctrl-p ctrl-q, as the Docker CLI does."""
    if not spec:
        return DEFAULT_DETACH_KEYS
    codes = bytearray()
    for key in spec.split(","):
        if len(key) == 1:
            codes += key.encode()
        elif key in _CONTROL_KEYS:
            codes.append(_CONTROL_KEYS.index(key))
        elif not key.startswith("ctrl-"):
            logrus("warning", f"invalid detach escape keys, using default: Unknown character: '{key}'")
            return DEFAULT_DETACH_KEYS
    return bytes(codes) or DEFAULT_DETACH_KEYS


def logrus(level: str, message: str) -> None:
    """A line as the Docker CLI's logger (logrus) writes it to a stderr that is no terminal."""
    import datetime

    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds").replace("+00:00", "Z")
    quoted = message.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    sys.stderr.write(f'time="{now}" level={level} msg="{quoted}"\n')
    sys.stderr.flush()


def _send(conn: Hijacked, data: bytes) -> bool:
    """False once the daemon no longer takes input."""
    try:
        conn.sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def _readable(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def copy(conn: Hijacked, *, tty: bool, stdin: bool, stdout: bool, stderr: bool,
         detach_keys: bytes = DEFAULT_DETACH_KEYS) -> bool:
    """Copy until the container's output ends (or, with no output attached, our input);
    True if the user detached. With a terminal, stderr comes mixed into stdout already."""
    out_fd = 1 if stdout else None
    err_fd = (1 if tty else 2) if stderr else None
    wants_output = out_fd is not None or err_fd is not None
    demultiplexer = None if tty else _Demultiplexer(out_fd, err_fd)
    escape = _EscapeDetector(detach_keys) if tty and stdin else None

    def output(data: bytes) -> None:
        if demultiplexer is not None:
            demultiplexer.feed(data)
        elif out_fd is not None:
            write_all(out_fd, data)

    readers = []
    if wants_output:
        readers.append(conn.sock)
        if conn.leftover:
            output(conn.leftover)
    if stdin and _readable(0):
        readers.append(0)
    else:
        conn.close_write()  # the Docker CLI says at once that no input will come
    while readers:
        ready, _, _ = select.select(readers, [], [])
        if conn.sock in ready:
            try:
                data = conn.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return False
            output(data)
        if 0 in ready:
            try:
                data = os.read(0, 32768)
            except OSError:  # a terminal hung up
                data = b""
            ended, detached = not data, False
            if data and escape is not None:
                data, detached = escape.filter(data)
            if data and not _send(conn, data):
                ended = True  # the daemon takes no more input
            if detached:
                return True
            if ended:
                readers.remove(0)
                conn.close_write()
                if not wants_output:
                    return False
    return False


class RawTerminal:
    """Our stdin's terminal in raw mode (moby/term's MakeRaw) while attached with a TTY, so
    keys go to the container as typed; restored on the way out, whatever the way.
    Termination signals nobody else handles unwind through here rather than kill us."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and os.isatty(0)
        self.saved = None
        self.handlers: dict[int, object] = {}

    def __enter__(self):
        if not self.enabled:
            return self
        import termios

        self.saved = termios.tcgetattr(0)
        mode = termios.tcgetattr(0)
        mode[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR |
                     termios.IGNCR | termios.ICRNL | termios.IXON)
        mode[1] &= ~termios.OPOST
        mode[2] = (mode[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        mode[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
        for signum in (_signal.SIGHUP, _signal.SIGTERM):
            if _signal.getsignal(signum) == _signal.SIG_DFL:
                self.handlers[signum] = _signal.signal(signum, _exit_on_signal)
        termios.tcsetattr(0, termios.TCSANOW, mode)
        return self

    def restore(self) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(0, termios.TCSANOW, self.saved)
            self.saved = None
        for signum, handler in self.handlers.items():
            _signal.signal(signum, handler)
        self.handlers = {}

    def __exit__(self, *exc_info) -> None:
        self.restore()


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


class Signals:
    """What the Docker CLI does with signals while a container is attached. With proxy
    (--sig-proxy), those we catch are sent on to the container (POST kill?signal=NAME);
    SIGINT and SIGTERM do not end us either way, until the third, which does."""

    def __init__(self, client, container_id: str, proxy: bool = True):
        self.client, self.container_id, self.proxy = client, container_id, proxy
        self.terminations = 0
        self.previous: dict[int, object] = {}

    def _caught(self, signum, frame) -> None:
        if self.proxy:
            try:
                self.client.post(f"/containers/{self.container_id}/kill", {"signal": PROXIED_SIGNALS[signum]})
            except (api.APIError, api.CannotConnect):
                pass
        if signum in (_signal.SIGINT, _signal.SIGTERM):
            self.terminations += 1
            if self.terminations == 3:
                sys.stderr.write("\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n")
                raise SystemExit(1)

    def __enter__(self):
        caught = PROXIED_SIGNALS if self.proxy else (_signal.SIGINT, _signal.SIGTERM)
        for signum in caught:
            self.previous[signum] = _signal.signal(signum, self._caught)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self.previous.items():
            _signal.signal(signum, handler)
        self.previous = {}


def terminal_size(fd: int = 1) -> tuple[int, int]:
    """(rows, columns) of the terminal on fd; (0, 0) when fd is no terminal."""
    if not os.isatty(fd):
        return 0, 0
    import fcntl
    import termios

    packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    return int.from_bytes(packed[0:2], sys.byteorder), int.from_bytes(packed[2:4], sys.byteorder)


class WindowSize:
    """Keep the container's (or exec's) terminal the size of ours: once now, then on every
    SIGWINCH. `nudge` first resizes one row and column larger, as `docker attach` does, so
    that a program that is already running redraws."""

    def __init__(self, client, path: str, nudge: bool = False, enabled: bool = True):
        self.client, self.path, self.nudge = client, path, nudge  # path: /containers/{id} or /exec/{id}
        self.enabled = enabled
        self.previous = None

    def resize(self, rows: int, columns: int) -> bool:
        if not rows and not columns:
            return True
        try:
            self.client.post(f"{self.path}/resize", {"h": rows, "w": columns})
        except api.APIError:
            return False
        return True

    def _follow(self, signum=None, frame=None) -> None:
        self.resize(*terminal_size())

    def __enter__(self):
        if not self.enabled:
            return self
        import time

        rows, columns = terminal_size()
        if self.nudge:
            self.resize(rows + 1, columns + 1)
        # the process may not be there yet: the Docker CLI tries ten more times, then gives up
        for attempt in range(11):
            if self.resize(rows, columns):
                break
            if attempt == 10:
                print("failed to resize tty, using default size", file=sys.stderr)
            else:
                time.sleep((attempt + 1) * 0.01)
        self.previous = _signal.signal(_signal.SIGWINCH, self._follow)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.previous is not None:
            _signal.signal(_signal.SIGWINCH, self.previous)
            self.previous = None

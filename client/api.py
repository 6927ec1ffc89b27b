"""The Engine API over HTTP/1.1: a unix socket (or TCP), one request per connection.

A tiny HTTP client on a bare socket rather than http.client: http.client imports the email
package, which costs more than `pydocker ps` itself. Errors are translated here, once:

    APIError          the daemon answered with a status >= 400 ({"message": ...})
    CannotConnect     nothing listens at the address
"""

import os

import _socket  # socket.py builds its enums at import: slower than `pydocker ps` may be

API_VERSION = "1.50"
DEFAULT_HOST = "unix:///run/pydocker.sock"


class _Decoding:
    """What the C scanner reads from json.JSONDecoder: the json package itself imports re,
    enum and collections, more than `pydocker ps` may spend."""
    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int, parse_constant = float, int, float


_scanner = None


def loads(data: bytes | str):
    """json.loads for the replies we read, on the C scanner alone."""
    global _scanner
    if _scanner is None:
        import _json

        _scanner = _json.make_scanner(_Decoding())
    text = data.decode() if isinstance(data, bytes) else data
    start = len(text) - len(text.lstrip())
    try:
        value, end = _scanner(text, start)
    except StopIteration:
        raise ValueError("not JSON") from None
    if text[end:].strip():
        raise ValueError("extra data after JSON")
    return value


class APIError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class CannotConnect(Exception):
    def __init__(self, host: str, reason: str = ""):
        super().__init__(f"error during connect: {host}: {reason}" if reason else
                         f"Cannot connect to the Docker daemon at {host}. Is the docker daemon running?")


class TLS:
    """The Docker CLI's TLS settings: the CA the daemon's certificate must be signed by (with
    verify), and our certificate and key, if we have them."""

    def __init__(self, ca: str, cert: str | None, key: str | None, verify: bool):
        self.ca, self.cert, self.key, self.verify = ca, cert, key, verify
        self._context = None

    @classmethod
    def from_flags(cls, flags: dict[str, str | bool]) -> "TLS | None":
        """From --tls, --tlsverify, --tlscacert, --tlscert, --tlskey and the environment, as
        the Docker CLI: DOCKER_TLS_VERIFY (or DOCKER_TLS) set means TLS; the files default
        to ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH (else the config directory),
        the certificate and key only if they are there. None: no TLS."""
        verify = bool(flags.get("tlsverify") or os.environ.get("DOCKER_TLS_VERIFY"))
        if not (verify or flags.get("tls") or os.environ.get("DOCKER_TLS")):
            return None
        directory = (os.environ.get("DOCKER_CERT_PATH") or os.environ.get("DOCKER_CONFIG")
                     or os.path.join(os.path.expanduser("~"), ".docker"))

        def default(name: str) -> str | None:
            path = os.path.join(directory, name)
            return path if os.path.exists(path) else None
        return cls(flags.get("tlscacert") or os.path.join(directory, "ca.pem"),
                   flags.get("tlscert") or default("cert.pem"), flags.get("tlskey") or default("key.pem"), verify)

    def wrap(self, sock, server_hostname: str):
        from client import tls

        if self._context is None:
            self._context = tls.context(self.ca, self.cert, self.key, self.verify)
        return tls.TLSSocket(sock, self._context, server_hostname)


class Response:
    def __init__(self, sock, status: int, headers: dict[str, str], rest: bytes):
        self.sock, self.status, self.headers = sock, status, headers
        self._buffer = rest
        self._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = headers.get("content-length")
        self._remaining = int(length) if length is not None and not self._chunked else None
        self._chunk_left = 0
        self._done = False

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self._buffer += data
        return True

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            if not self._fill():
                raise ConnectionError("connection closed in a chunk header")
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def read_some(self) -> bytes:
        """The next bytes of the body as they arrive; b"" at its end."""
        if self._done:
            return b""
        if self._chunked:
            if self._chunk_left == 0:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._done = True
                    return b""
                self._chunk_left = size
            if not self._buffer and not self._fill():
                raise ConnectionError("connection closed in a chunk")
            data, self._buffer = self._buffer[:self._chunk_left], self._buffer[self._chunk_left:]
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                while len(self._buffer) < 2 and self._fill():
                    pass
                self._buffer = self._buffer[2:]
            return data
        if self._remaining is not None:
            if self._remaining == 0:
                self._done = True
                return b""
            if not self._buffer and not self._fill():
                raise ConnectionError("connection closed early")
            data, self._buffer = self._buffer[:self._remaining], self._buffer[self._remaining:]
            self._remaining -= len(data)
            return data
        if not self._buffer and not self._fill():
            self._done = True
            return b""
        data, self._buffer = self._buffer, b""
        return data

    def read(self) -> bytes:
        parts = []
        while data := self.read_some():
            parts.append(data)
        return b"".join(parts)

    def json(self):
        return loads(self.read() or b"null")

    def close(self) -> None:
        self.sock.close()


class Client:
    def __init__(self, host: str | None = None, tls: "TLS | None" = None):
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self.tls = tls  # used on TCP only, as the Docker CLI's
        # sent with every request (the trace context of `--trace`, for one)
        self.headers: dict[str, str] = {}
        self._version: str | None = os.environ.get("DOCKER_API_VERSION") or None

    @property
    def version(self) -> str:
        """The API version of this command's requests: ours, or the daemon's when it is older
        (the Docker CLI negotiates the same way, with one /_ping); DOCKER_API_VERSION pins it."""
        if self._version is None:
            response = self.request("GET", "/_ping", versioned=False)
            response.read()
            response.close()
            theirs = response.headers.get("api-version", "")
            try:
                older = tuple(map(int, theirs.split("."))) < tuple(map(int, API_VERSION.split(".")))
            except ValueError:  # none, or not a version: assume ours
                older = False
            self._version = theirs if older else API_VERSION
        return self._version

    def _connect(self):
        try:
            if self.host.startswith("unix://"):
                sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                try:
                    sock.connect(self.host[len("unix://"):])
                except OSError:
                    sock.close()
                    raise
            elif self.host.startswith(("tcp://", "http://", "https://")):
                import socket

                address = self.host.split("://", 1)[1].rstrip("/")
                name, colon, port = address.rpartition(":")
                if not colon:
                    name, port = address, ""
                name = name.strip("[]")
                sock = socket.create_connection((name, int(port or (2376 if self.tls else 2375))))
                if self.tls is not None:
                    sock = self._secure(sock, name)
            else:
                raise CannotConnect(self.host)
        except OSError:
            raise CannotConnect(self.host) from None
        return sock

    def _secure(self, sock, name: str):
        from client import tls

        try:
            return self.tls.wrap(sock, name)
        except (tls.TLSError, OSError) as e:  # ssl's errors are OSErrors: the reason matters here
            sock.close()
            raise CannotConnect(self.host, str(e)) from None

    def request(self, method: str, path: str, params: dict | None = None, body=None,
                headers: dict[str, str] | None = None, versioned: bool = True) -> Response:
        """Send one request; raise APIError for a status >= 400 (with the daemon's message).
        body is bytes, or an iterable of chunks sent as they come (chunked: cp, load, import)."""
        target = (f"/v{self.version}" if versioned else "") + path
        if params:
            query = {k: v for k, v in params.items() if v is not None}
            if query:
                target += "?" + "&".join(f"{quote(str(k), '')}={quote(str(v), '')}" for k, v in query.items())
        lines = [f"{method} {target} HTTP/1.1", "Host: docker", "User-Agent: pydocker", "Connection: close"]
        for name, value in {**self.headers, **(headers or {})}.items():
            lines.append(f"{name}: {value}")
        streamed = body is not None and not isinstance(body, bytes)
        if streamed:
            lines.append("Transfer-Encoding: chunked")
        elif body is not None:
            lines.append(f"Content-Length: {len(body)}")
        elif method in ("POST", "PUT"):
            lines.append("Content-Length: 0")
        sock = self._connect()
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if streamed else body or b""))
            if streamed:
                _send_chunks(sock, body)
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                data = sock.recv(65536)
                if not data:
                    raise CannotConnect(self.host)
                buffer += data
        except OSError:
            sock.close()
            raise CannotConnect(self.host) from None
        head, _, rest = buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        response_headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            response_headers[name.strip().lower()] = value.strip()
        response = Response(sock, status, response_headers, rest)
        if status >= 400:
            raw = response.read()
            response.close()
            message = raw.decode(errors="replace").strip()
            try:
                message = loads(raw)["message"]
            except (ValueError, KeyError, TypeError):
                pass
            raise APIError(status, message)
        return response

    def get_json(self, path: str, params: dict | None = None):
        response = self.request("GET", path, params)
        try:
            return response.json()
        finally:
            response.close()

    def post(self, path: str, params: dict | None = None, body=None) -> Response:
        data = None
        headers = {}
        if body is not None:
            import json

            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        response = self.request("POST", path, params, data, headers)
        response.read()
        response.close()
        return response

    def delete(self, path: str, params: dict | None = None):
        response = self.request("DELETE", path, params)
        try:
            return response.json()
        finally:
            response.close()


def _send_chunks(sock, chunks) -> None:
    """The body in HTTP chunks; a daemon that stopped reading (it failed) has its reply read."""
    try:
        for chunk in chunks:
            if chunk:
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str, safe: str = "") -> str:
    """urllib.parse.quote without importing urllib (it costs a few ms of `pydocker ps`)."""
    allowed = _UNRESERVED | frozenset(safe.encode())
    return "".join(chr(b) if b in allowed else f"%{b:02X}" for b in text.encode())


def q(name: str) -> str:
    """A path segment (container or image reference)."""
    return quote(name, safe="/:@")

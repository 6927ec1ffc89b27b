"""containerd's ttrpc protocol: a client and a server on unix sockets, no grpc.

ttrpc is gRPC's calling convention (service and method names, protobuf payloads,
google.rpc.Status errors, string metadata) over a much smaller framing. Every frame is

    uint32 length | uint32 stream id | uint8 type | uint8 flags | length bytes

big-endian, 10 header bytes, at most MAX_MESSAGE_LENGTH (4 MiB) of data. A call is one
stream: the client sends a request frame (type 1) on a fresh odd stream id whose data
is a `ttrpc.Request`, and the server answers with one response frame (type 2) on the
same id whose data is a `ttrpc.Response`. Calls on one connection are multiplexed and
may complete in any order.

Scope: unary calls only, which is all containerd 1.6 (ttrpc 1.1) speaks to shims and
all of the shim API and the ttrpc event service use. Streams (type 3 data frames and the
request flags of ttrpc 1.2) are not implemented: a request carrying stream flags is
answered Unimplemented and data frames are ignored.

Threads, not asyncio: the server runs inside the shim, whose other work (runc
subprocesses, the waitpid reaper, stdio copying) is blocking anyway, and the client runs
inside pycontainerd next to grpcio's thread pool. Per connection there is one reader
thread; each request runs its handler in a thread of its own, because a call such as
Task.Wait blocks until a process exits while other calls keep coming on the same
connection. Writes are serialised by a per-connection lock. Importing this module costs
the standard library's socket/threading/logging plus the protobuf runtime and two small
generated modules; asyncio is never imported.

    server = Server()
    server.register_service(shim_pb2.DESCRIPTOR.services_by_name["Task"], TaskService())
    server.serve(listen(path))            # blocks until server.shutdown() from another thread

    with Client(path) as client:
        task = client.stub(shim_pb2.DESCRIPTOR.services_by_name["Task"],
                           metadata={NAMESPACE_KEY: "moby"})
        state = task.State(shim_pb2.StateRequest(id="c1"), timeout=5)

Errors cross the wire as google.rpc.Status; RPCError carries the code and message both
ways. Nothing here knows errdefs: a server may pass `error_mapper` to turn its own
exceptions into (code, message).
"""
from __future__ import annotations

import enum
import logging
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from google.protobuf import message as _message
from google.protobuf import message_factory
from google.rpc import status_pb2

from protos import ttrpc_pb2

log = logging.getLogger(__name__)

HEADER = struct.Struct(">IIBB")  # length, stream id, type, flags
HEADER_LENGTH = HEADER.size  # 10
MAX_MESSAGE_LENGTH = 4 << 20  # data bytes per frame; ttrpc refuses anything larger

TYPE_REQUEST = 0x1
TYPE_RESPONSE = 0x2

FLAG_REMOTE_CLOSED = 0x1  # request/data flags of ttrpc 1.2 streams
FLAG_REMOTE_OPEN = 0x2

# The metadata key that scopes a ttrpc call to a containerd namespace (gRPC uses
# "containerd-namespace"). Metadata keys are case-insensitive and sent lower-case.
NAMESPACE_KEY = "containerd-namespace-ttrpc"


class Code(enum.IntEnum):
    """The canonical gRPC status codes, which ttrpc uses unchanged."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


def _code(value: int) -> Code | int:
    try:
        return Code(value)
    except ValueError:
        return value


class RPCError(Exception):
    """A call failed with a status: raised by Client.call, and by handlers to choose the
    status the server answers with. Transport failures are statuses too: a connection
    that is closed or lost fails its calls with UNAVAILABLE, a call whose timeout passes
    with DEADLINE_EXCEEDED, an oversized message with RESOURCE_EXHAUSTED."""

    def __init__(self, code: int, message: str = "", details: Iterable = ()):
        self.code = _code(code)
        self.message = message
        self.details = list(details)  # google.protobuf.Any, as the peer sent them
        super().__init__(code, message)

    def __str__(self) -> str:
        name = self.code.name if isinstance(self.code, Code) else str(self.code)
        return f"{name}: {self.message}" if self.message else name

    def __repr__(self) -> str:
        return f"RPCError({self.code!r}, {self.message!r})"

    @classmethod
    def from_status(cls, status) -> RPCError:
        return cls(status.code, status.message, status.details)

    def to_status(self):
        return status_pb2.Status(code=int(self.code), message=self.message, details=self.details)


# --- framing ---------------------------------------------------------------------------


class _PeerClosed(ConnectionError):
    """The peer closed the connection in the middle of a frame."""


def _recv_exact(sock: socket.socket, length: int, *, at_frame_start: bool = False) -> bytes | None:
    """Read exactly `length` bytes; None if the peer closed cleanly before a frame."""
    buffer = bytearray(length)
    view = memoryview(buffer)
    received = 0
    while received < length:
        n = sock.recv_into(view[received:], length - received)
        if n == 0:
            if at_frame_start and received == 0:
                return None
            raise _PeerClosed(f"connection closed after {received} of {length} bytes")
        received += n
    return bytes(buffer)


def _discard(sock: socket.socket, length: int) -> None:
    while length > 0:
        chunk = sock.recv(min(length, 1 << 16))
        if not chunk:
            raise _PeerClosed("connection closed while discarding an oversized message")
        length -= len(chunk)


def read_frame(sock: socket.socket) -> tuple[int, int, int, bytes | None] | None:
    """Read one frame: (stream id, type, flags, data). data is None when the frame was
    larger than MAX_MESSAGE_LENGTH: its bytes were read and dropped, so the connection
    stays usable. Returns None on a clean end of stream; a connection that ends inside a
    frame raises ConnectionError."""
    header = _recv_exact(sock, HEADER_LENGTH, at_frame_start=True)
    if header is None:
        return None
    length, stream_id, frame_type, flags = HEADER.unpack(header)
    if length > MAX_MESSAGE_LENGTH:
        _discard(sock, length)
        return stream_id, frame_type, flags, None
    data = _recv_exact(sock, length) if length else b""
    return stream_id, frame_type, flags, data


def encode_frame(stream_id: int, frame_type: int, flags: int, data: bytes) -> bytes:
    if len(data) > MAX_MESSAGE_LENGTH:
        raise RPCError(Code.RESOURCE_EXHAUSTED, _oversized(f"message of {len(data)} bytes"))
    return HEADER.pack(len(data), stream_id, frame_type, flags) + data


def _oversized(what: str) -> str:
    return f"{what} exceeds maximum message size of {MAX_MESSAGE_LENGTH}"


# --- metadata --------------------------------------------------------------------------

MetadataArg = Mapping[str, "str | Iterable[str]"] | Iterable[tuple[str, str]] | None


def _metadata_pairs(metadata: MetadataArg) -> list[tuple[str, str]]:
    if not metadata:
        return []
    items = metadata.items() if isinstance(metadata, Mapping) else metadata
    pairs = []
    for key, value in items:
        values = [value] if isinstance(value, str) else list(value)
        pairs.extend((key.lower(), v) for v in values)
    return pairs


# --- client ----------------------------------------------------------------------------


class _Pending:
    __slots__ = ("done", "response", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.response: ttrpc_pb2.Response | None = None
        self.error: tuple[int, str] | None = None

    def fail(self, code: int, message: str) -> None:
        self.error = (code, message)
        self.done.set()


class Client:
    """One connection to a ttrpc server; thread-safe, calls multiplexed on odd stream ids.

    on_lost is called once if the connection ends other than by close() (the server closed
    it or it broke), on the thread that reads the connection: it must not block, nor close
    or wait for the client."""

    def __init__(self, path: str | os.PathLike | None = None, *, sock: socket.socket | None = None,
                 connect_timeout: float | None = 10.0, on_lost: Callable[[], None] | None = None):
        if sock is None:
            if path is None:
                raise TypeError("Client needs a socket path or a connected socket")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(connect_timeout)
                sock.connect(os.fspath(path))
                sock.settimeout(None)
            except OSError as exc:
                sock.close()
                raise RPCError(Code.UNAVAILABLE, f"ttrpc: connect {os.fspath(path)}: {exc}") from exc
        self._sock = sock
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._next_stream_id = 1
        self._pending: dict[int, _Pending] = {}
        self._closed: tuple[int, str] | None = None
        self._on_lost = on_lost
        self._reader = threading.Thread(target=self._read_loop, name="ttrpc-client", daemon=True)
        self._reader.start()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def call(self, service: str, method: str, request: _message.Message | bytes,
             response_type: type[_message.Message] | None = None, *,
             metadata: MetadataArg = None, timeout: float | None = None):
        """Call service/method and return the response parsed as response_type (the raw
        payload bytes if response_type is None). Raises RPCError with the server's status,
        or UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED for transport failures.
        timeout (seconds) bounds the wait here and is sent to the server as its deadline."""
        payload = bytes(request) if isinstance(request, (bytes, bytearray, memoryview)) else request.SerializeToString()
        envelope = ttrpc_pb2.Request(service=service, method=method, payload=payload,
                                     timeout_nano=int(timeout * 1e9) if timeout else 0)
        for key, value in _metadata_pairs(metadata):
            envelope.metadata.add(key=key, value=value)
        data = envelope.SerializeToString()
        if len(data) > MAX_MESSAGE_LENGTH:
            raise RPCError(Code.RESOURCE_EXHAUSTED, _oversized(f"request of {len(data)} bytes"))

        pending = _Pending()
        with self._lock:
            if self._closed is not None:
                raise RPCError(*self._closed)
            stream_id = self._next_stream_id
            self._next_stream_id += 2
            self._pending[stream_id] = pending
        try:
            with self._send_lock:
                self._sock.sendall(encode_frame(stream_id, TYPE_REQUEST, 0, data))
        except OSError as exc:
            self._forget(stream_id)
            raise RPCError(Code.UNAVAILABLE, f"ttrpc: sending {service}/{method}: {exc}") from exc

        if not pending.done.wait(timeout):
            self._forget(stream_id)
            raise RPCError(Code.DEADLINE_EXCEEDED, f"ttrpc: {service}/{method} timed out after {timeout}s")
        if pending.error is not None:
            raise RPCError(*pending.error)
        response = pending.response
        if response.HasField("status") and response.status.code != Code.OK:
            raise RPCError.from_status(response.status)
        if response_type is None:
            return response.payload
        try:
            return response_type.FromString(response.payload)
        except _message.DecodeError as exc:
            raise RPCError(Code.INTERNAL, f"ttrpc: decoding {response_type.DESCRIPTOR.full_name}: {exc}") from exc

    def stub(self, service, *, metadata: MetadataArg = None) -> Stub:
        """Callables named after the service's methods, from its ServiceDescriptor
        (e.g. shim_pb2.DESCRIPTOR.services_by_name["Task"]); metadata is sent with every call
        unless a call passes its own."""
        return Stub(self, service, metadata=metadata)

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the connection has ended; False if it has not within timeout."""
        self._reader.join(timeout)
        return not self._reader.is_alive()

    def close(self) -> None:
        """Close the connection; calls still waiting fail with UNAVAILABLE."""
        with self._lock:
            if self._closed is None:
                self._closed = (Code.UNAVAILABLE, "ttrpc: client closed")
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._reader is not threading.current_thread():
            self._reader.join()
        self._sock.close()

    def _forget(self, stream_id: int) -> None:
        with self._lock:
            self._pending.pop(stream_id, None)

    def _read_loop(self) -> None:
        reason = (Code.UNAVAILABLE, "ttrpc: connection closed by the server")
        try:
            while True:
                frame = read_frame(self._sock)
                if frame is None:
                    break
                stream_id, frame_type, _flags, data = frame
                if frame_type != TYPE_RESPONSE:
                    continue  # data frames belong to streams, which we never open
                with self._lock:
                    pending = self._pending.pop(stream_id, None)
                if pending is None:
                    continue  # the caller gave up (timeout) before the answer came
                if data is None:
                    pending.fail(Code.RESOURCE_EXHAUSTED, _oversized("response"))
                    continue
                try:
                    pending.response = ttrpc_pb2.Response.FromString(data)
                except _message.DecodeError as exc:
                    pending.fail(Code.INTERNAL, f"ttrpc: malformed response: {exc}")
                    continue
                pending.done.set()
        except OSError as exc:
            reason = (Code.UNAVAILABLE, f"ttrpc: connection lost: {exc}")
        finally:
            with self._lock:
                lost = self._closed is None
                if lost:
                    self._closed = reason
                reason = self._closed
                pending_calls, self._pending = self._pending, {}
            for pending in pending_calls.values():
                pending.fail(*reason)
            if lost and self._on_lost is not None:
                self._on_lost()


class Stub:
    """Client-side callables for one service, e.g. `stub.State(request, timeout=5)`."""

    def __init__(self, client: Client, service, *, metadata: MetadataArg = None):
        self._client = client
        self._service = service.full_name
        self._metadata = metadata
        self._methods = {}
        for method in service.methods:
            if method.client_streaming or method.server_streaming:
                continue
            self._methods[method.name] = message_factory.GetMessageClass(method.output_type)

    def __getattr__(self, name: str):
        try:
            response_type = self._methods[name]
        except KeyError:
            raise AttributeError(f"{self._service} has no unary method {name}") from None

        def call(request, *, metadata: MetadataArg = None, timeout: float | None = None):
            return self._client.call(self._service, name, request, response_type,
                                     metadata=self._metadata if metadata is None else metadata, timeout=timeout)

        call.__name__ = name
        return call


# --- server ----------------------------------------------------------------------------


class Context:
    """What a handler learns about its call besides the request."""

    __slots__ = ("service", "method", "metadata", "deadline")

    def __init__(self, service: str, method: str, metadata: dict[str, list[str]], deadline: float | None):
        self.service = service
        self.method = method
        self.metadata = metadata  # lower-cased key -> values, in the order sent
        self.deadline = deadline  # time.monotonic() value, or None

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of a metadata key."""
        values = self.metadata.get(key.lower())
        return values[0] if values else default

    def time_remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()


Handler = Callable[["_message.Message | bytes", Context], "_message.Message | bytes | None"]
ErrorMapper = Callable[[BaseException], "tuple[int, str] | None"]

_in_handler = threading.local()


class Server:
    """Serves registered unary methods on unix listening sockets.

    A handler is called as handler(request, context) in a thread of its own; request is
    the parsed message (or the payload bytes if the method was registered without a
    request type). It returns the response message, bytes, or None for an empty
    response (google.protobuf.Empty). Raising RPCError answers with that status; any
    other exception is passed to error_mapper, and answered UNKNOWN with its text if
    the mapper returns None or there is none. Unregistered methods answer UNIMPLEMENTED.
    The caller's timeout reaches the handler as context.deadline; nothing interrupts a
    handler that overruns it (the caller has stopped waiting by then).
    """

    def __init__(self, *, error_mapper: ErrorMapper | None = None):
        self._methods: dict[tuple[str, str], tuple[type[_message.Message] | None, Handler]] = {}
        self._services: set[str] = set()
        self._error_mapper = error_mapper
        self._lock = threading.Condition()
        self._stopping = False
        self._serving = 0  # accept loops running
        self._active = 0  # requests being handled
        self._connections: set[_ServerConnection] = set()
        self._wake_read, self._wake_write = os.pipe()
        self._threads: list[threading.Thread] = []

    # registration

    def register(self, service: str, method: str, handler: Handler,
                 request_type: type[_message.Message] | None = None) -> None:
        if (service, method) in self._methods:
            raise ValueError(f"{service}/{method} is already registered")
        self._methods[(service, method)] = (request_type, handler)
        self._services.add(service)

    def register_service(self, service, implementation: object) -> None:
        """Register implementation's methods named like the rpcs of a ServiceDescriptor
        (e.g. shim_pb2.DESCRIPTOR.services_by_name["Task"]); rpcs it lacks stay UNIMPLEMENTED."""
        self._services.add(service.full_name)
        for method in service.methods:
            handler = getattr(implementation, method.name, None)
            if handler is None or method.client_streaming or method.server_streaming:
                continue
            self.register(service.full_name, method.name, handler, message_factory.GetMessageClass(method.input_type))

    # serving

    def serve(self, listener: socket.socket) -> None:
        """Accept connections on a bound, listening unix socket until shutdown() or close().
        The server owns the socket from now on and closes it (it does not unlink its path)."""
        with self._lock:
            if self._stopping:
                listener.close()
                raise RuntimeError("ttrpc server is shut down")
            self._serving += 1
        try:
            listener.setblocking(False)
            poller = select.poll()
            poller.register(listener, select.POLLIN)
            poller.register(self._wake_read, select.POLLIN)
            while True:
                events = dict(poller.poll())
                if self._wake_read in events or self._stopping:
                    return
                try:
                    sock, _ = listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    log.warning("ttrpc: accept failed: %s", exc)
                    time.sleep(0.05)  # e.g. EMFILE: do not spin
                    continue
                sock.setblocking(True)
                self._adopt(sock)
        finally:
            listener.close()
            with self._lock:
                self._serving -= 1
                self._lock.notify_all()

    def start(self, listener: socket.socket) -> threading.Thread:
        """serve(listener) in a background thread."""
        thread = threading.Thread(target=self.serve, args=(listener,), name="ttrpc-accept", daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    def shutdown(self, timeout: float | None = 10.0) -> bool:
        """Stop accepting, answer new requests UNAVAILABLE, wait up to timeout for the
        requests in progress to be answered, then close every connection. Returns False
        if requests were still running at the timeout. Call it from outside any handler:
        a handler that wants the server to stop (Task.Shutdown) should signal the thread
        that owns the server, so that its own answer is sent first."""
        if getattr(_in_handler, "active", False):
            raise RuntimeError("ttrpc: shutdown() called from a handler would wait for itself")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._stop_accepting()
            drained = self._lock.wait_for(lambda: self._active == 0,
                                          None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._close_all()
        return drained

    def close(self) -> None:
        """Stop at once: no waiting for requests in progress (their answers are lost)."""
        with self._lock:
            self._stop_accepting()
        self._close_all()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _stop_accepting(self) -> None:
        self._stopping = True
        if self._wake_write >= 0:
            os.write(self._wake_write, b"x")  # wakes every accept loop; never drained

    def _close_all(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()
        for connection in connections:
            connection.reader.join()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        with self._lock:
            self._lock.wait_for(lambda: self._serving == 0)
            if self._wake_read >= 0:
                os.close(self._wake_read)
                os.close(self._wake_write)
                self._wake_read = self._wake_write = -1

    def _adopt(self, sock: socket.socket) -> None:
        connection = _ServerConnection(self, sock)
        with self._lock:
            self._connections.add(connection)
        connection.reader.start()

    def _forget(self, connection: _ServerConnection) -> None:
        with self._lock:
            self._connections.discard(connection)

    # request handling

    def _dispatch(self, connection: _ServerConnection, stream_id: int, request: ttrpc_pb2.Request) -> None:
        with self._lock:
            if self._stopping:
                connection.respond(stream_id, status=(Code.UNAVAILABLE, "ttrpc: server shutting down"))
                return
            self._active += 1
        thread = threading.Thread(target=self._handle, args=(connection, stream_id, request),
                                  name=f"ttrpc-{request.method}", daemon=True)
        try:
            thread.start()
        except BaseException:
            self._finished()
            raise

    def _finished(self) -> None:
        with self._lock:
            self._active -= 1
            self._lock.notify_all()

    def _handle(self, connection: _ServerConnection, stream_id: int, request: ttrpc_pb2.Request) -> None:
        _in_handler.active = True
        try:
            payload, status = self._run(request)
            connection.respond(stream_id, payload=payload, status=status)
        finally:
            self._finished()

    def _run(self, request: ttrpc_pb2.Request) -> tuple[bytes, tuple | None]:
        entry = self._methods.get((request.service, request.method))
        if entry is None:
            if request.service not in self._services:
                return b"", (Code.UNIMPLEMENTED, f"service {request.service}")
            return b"", (Code.UNIMPLEMENTED, f"method {request.method}")
        request_type, handler = entry
        metadata: dict[str, list[str]] = {}
        for pair in request.metadata:
            metadata.setdefault(pair.key.lower(), []).append(pair.value)
        deadline = time.monotonic() + request.timeout_nano / 1e9 if request.timeout_nano > 0 else None
        context = Context(request.service, request.method, metadata, deadline)
        try:
            if request_type is None:
                argument = request.payload
            else:
                try:
                    argument = request_type.FromString(request.payload)
                except _message.DecodeError as exc:
                    return b"", (Code.INTERNAL, f"ttrpc: error unmarshalling payload: {exc}")
            result = handler(argument, context)
            if result is None:
                return b"", None
            if isinstance(result, (bytes, bytearray, memoryview)):
                return bytes(result), None
            return result.SerializeToString(), None
        except RPCError as exc:
            return b"", exc
        except Exception as exc:  # noqa: BLE001 - every failure must become an answer
            mapped = self._error_mapper(exc) if self._error_mapper is not None else None
            if mapped is None:
                log.exception("ttrpc: %s/%s failed", request.service, request.method)
                return b"", (Code.UNKNOWN, str(exc) or type(exc).__name__)
            return b"", mapped


class _ServerConnection:
    def __init__(self, server: Server, sock: socket.socket):
        self.server = server
        self.sock = sock
        self.send_lock = threading.Lock()
        self.reader = threading.Thread(target=self._read_loop, name="ttrpc-conn", daemon=True)

    def respond(self, stream_id: int, *, payload: bytes = b"", status=None) -> None:
        response = ttrpc_pb2.Response(payload=payload)
        if isinstance(status, RPCError):
            response.status.CopyFrom(status.to_status())
        elif status is not None:
            code, message = status
            response.status.code = int(code)
            response.status.message = message
        data = response.SerializeToString()
        if len(data) > MAX_MESSAGE_LENGTH:
            response = ttrpc_pb2.Response()
            response.status.code = Code.RESOURCE_EXHAUSTED
            response.status.message = _oversized(f"response of {len(data)} bytes")
            data = response.SerializeToString()
        try:
            with self.send_lock:
                self.sock.sendall(encode_frame(stream_id, TYPE_RESPONSE, 0, data))
        except OSError as exc:  # the client went away; nobody is left to tell
            log.debug("ttrpc: dropping the answer to stream %d: %s", stream_id, exc)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_loop(self) -> None:
        try:
            while True:
                frame = read_frame(self.sock)
                if frame is None:
                    return
                stream_id, frame_type, flags, data = frame
                if frame_type != TYPE_REQUEST:
                    continue  # data frames of streams we never accepted
                if stream_id % 2 != 1:
                    self.respond(stream_id, status=(Code.INVALID_ARGUMENT,
                                                    "StreamID must be odd for client initiated streams"))
                    continue
                if data is None:
                    self.respond(stream_id, status=(Code.RESOURCE_EXHAUSTED, _oversized("request")))
                    continue
                if flags & (FLAG_REMOTE_OPEN | FLAG_REMOTE_CLOSED):
                    self.respond(stream_id, status=(Code.UNIMPLEMENTED, "ttrpc: streaming calls are not supported"))
                    continue
                try:
                    request = ttrpc_pb2.Request.FromString(data)
                except _message.DecodeError as exc:
                    self.respond(stream_id, status=(Code.INVALID_ARGUMENT, f"ttrpc: malformed request: {exc}"))
                    continue
                self.server._dispatch(self, stream_id, request)
        except OSError as exc:
            log.debug("ttrpc: connection ended: %s", exc)
        finally:
            self.server._forget(self)
            with self.send_lock:  # not under a handler's sendall
                self.sock.close()


def listen(path: str | os.PathLike, *, backlog: int = 128, mode: int | None = 0o600) -> socket.socket:
    """A unix socket bound to path and listening (the path must not exist yet)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(os.fspath(path))
        if mode is not None:
            os.chmod(path, mode)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock

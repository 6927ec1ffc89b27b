"""Hijacked connections: `POST /containers/{id}/attach` and `POST /exec/{id}/start` with
`Connection: Upgrade` + `Upgrade: tcp` (engine-api.md §3.3).

uvicorn cannot send a 101 followed by raw TCP, so the server's HTTP protocol hands such a
request, and its socket, to a handler registered here:

    from dockerd.server import hijack

    async def attach(request: hijack.HijackRequest, conn: hijack.HijackedConnection) -> None:
        ...                                   # errors raised here, before upgrade(), are JSON replies
        await conn.upgrade(streams.MULTIPLEXED_STREAM)
        await conn.write(frame)               # output; raises ConnectionError once the client is gone
        data = await conn.read()              # input; b"" at the client's half-close (stdin done)
        ...                                   # the handler's return ends it: conn.finish() is called

    hijack.route("POST", "/containers/{id}/attach", attach)

Paths are matched without the version prefix (an out-of-range one is refused as for every
route). The same paths without the Upgrade headers go to the FastAPI app as usual: moby
then answers 200 and a raw stream, which the owners of those routes decide on.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from starlette.datastructures import QueryParams

import errdefs

from .. import trace
from ..api import errors, versions

log = logging.getLogger("pydockerd")

# Input buffered beyond this stops reading from the socket until the handler catches up.
READ_HIGH_WATER = 1 << 20
# How long finish() waits for a client to close after our half-close before closing anyway.
FINISH_TIMEOUT = 10.0


@dataclass
class HijackRequest:
    method: str
    path: str  # without the version prefix
    params: dict[str, str]  # from the route's {name} parts
    query: QueryParams  # .get(name), .getlist(name), as a FastAPI route's request.query_params
    headers: dict[str, str]  # names in lower case
    body: bytes
    api_version: str
    daemon: Any

    def json(self, default: Any = None) -> Any:
        """The body as JSON; empty → default; malformed → InvalidArgument (a 400)."""
        if not self.body.strip():
            return default
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise errdefs.InvalidArgument(f"invalid JSON: {e}") from None


Handler = Callable[[HijackRequest, "HijackedConnection"], Awaitable[None]]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern
    handler: Handler


_ROUTES: list[_Route] = []


def route(method: str, path: str, handler: Handler) -> None:
    """Serve `Upgrade: tcp` requests for path (e.g. "/exec/{id}/start", no version prefix) with handler."""
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    _ROUTES.append(_Route(method.upper(), re.compile(f"^{regex}$"), handler))


def unroute(handler: Handler) -> None:
    """Forget a handler (for tests that register their own)."""
    _ROUTES[:] = [r for r in _ROUTES if r.handler is not handler]


def match(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler for a request path (with or without a version prefix) and its parameters;
    the latest registration wins, so a test can stand in for a route."""
    path = versions.strip(path)
    for candidate in reversed(_ROUTES):
        if candidate.method == method:
            found = candidate.pattern.match(path)
            if found:
                return candidate.handler, found.groupdict()
    return None


class HijackedConnection(asyncio.Protocol):
    """The raw connection once uvicorn has let go of it; also its asyncio protocol."""

    def __init__(self, transport: asyncio.Transport, buffered: bytes):
        self.transport = transport
        self.upgraded = False
        self._buffer = bytearray(buffered)
        self._eof = False
        self._lost = asyncio.get_running_loop().create_future()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        if buffered:
            self._readable.set()

    # asyncio.Protocol

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._readable.set()
        if len(self._buffer) > READ_HIGH_WATER:
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._readable.set()
        return True  # keep our direction open: the client's half-close only ends its input

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._readable.set()
        self._writable.set()
        if not self._lost.done():
            self._lost.set_result(None)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # for handlers

    @property
    def gone(self) -> bool:
        """Whether the connection is closed (by the client or by us). A client that closes
        looks like one that half-closed (read() gives b"") until a write finds nobody there."""
        return self._lost.done()

    async def wait_gone(self) -> None:
        """Return once the connection is closed: the client went away (or we closed it)."""
        await asyncio.shield(self._lost)

    async def read_exactly(self, size: int) -> bytes:
        """size bytes (fewer only at end of input); for the request body."""
        while len(self._buffer) < size and not self._eof:
            self._readable.clear()
            await self._readable.wait()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def read(self, limit: int = 65536) -> bytes:
        """What the client sent, up to limit bytes; b"" once its input has ended."""
        while not self._buffer and not self._eof:
            self._readable.clear()
            await self._readable.wait()
        data = bytes(self._buffer[:limit])
        del self._buffer[:limit]
        if len(self._buffer) < READ_HIGH_WATER and not self.gone:
            self.transport.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        if self.gone or self.transport.is_closing():
            raise ConnectionResetError("the client has gone away")
        self.transport.write(data)
        await self._writable.wait()

    async def upgrade(self, content_type: str) -> None:
        """Answer 101 UPGRADED; written and flushed on its own, before any output (docker-py
        loses output that arrives in the same read as the headers)."""
        await self.write(_head(101, "UPGRADED", [("Content-Type", content_type), ("Connection", "Upgrade"),
                                                 ("Upgrade", "tcp")]))
        self.upgraded = True
        await self._flushed()

    async def send_error(self, status: int, message: str) -> None:
        """A JSON error reply, for a failure before upgrade(); then the connection ends."""
        body = json.dumps({"message": message}, separators=(",", ":")).encode() + b"\n"
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   ("Connection", "close")]
        try:
            await self.write(_head(status, HTTPStatus(status).phrase, headers) + body)
        except ConnectionError:
            return
        await self.finish()

    async def close_write(self) -> None:
        """Half-close: the client reads end of output; its input still comes."""
        if not self.gone and not self.transport.is_closing() and self.transport.can_write_eof():
            await self._flushed()
            self.transport.write_eof()

    async def finish(self) -> None:
        """End the connection without a reset: half-close, drop input until the client closes,
        then close. (Closing with unread input would send a TCP RST.)"""
        if self.gone:
            return
        await self.close_write()
        try:
            async with asyncio.timeout(FINISH_TIMEOUT):
                while await self.read():
                    pass
        except TimeoutError:
            pass
        self.transport.close()
        await self.wait_gone()

    def abort(self) -> None:
        """Drop the connection at once (daemon shutdown)."""
        self.transport.abort()

    async def _flushed(self) -> None:
        # Wait until the kernel has everything we wrote.
        while not self.gone and self.transport.get_write_buffer_size():
            await asyncio.sleep(0.001)


def _head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += [f"{name.decode().title()}: {value.decode()}" for name, value in versions.HEADERS]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def serve(conn: HijackedConnection, method: str, target: str, headers: list[tuple[bytes, bytes]],
                daemon: Any) -> None:
    """Read the request body, run the route's handler, and end the connection, whatever happens."""
    raw_path, _, query_string = target.partition("?")
    path = unquote(raw_path)
    header_map = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in headers}
    try:
        version, path = versions.split(path)
        found = match(method, path)
        if found is None:  # unregistered since the protocol looked: not expected
            raise errdefs.NotFound("page not found")
        handler, params = found
        if "chunked" in header_map.get("transfer-encoding", "").lower():
            raise errdefs.InvalidArgument("a chunked request body cannot be upgraded")
        body = await conn.read_exactly(int(header_map.get("content-length") or 0))
        request = HijackRequest(method, path, params, QueryParams(query_string), header_map, body, version, daemon)
        parent = trace.context_of(header_map)
        if parent is None:
            await handler(request, conn)
        else:
            with trace.tracer().server_span(trace.request_name(method, path), parent):
                await handler(request, conn)
    except asyncio.CancelledError:
        conn.abort()
        raise
    except Exception as exc:  # noqa: BLE001 - every failure ends the connection properly
        if conn.upgraded:
            log.warning("%s %s failed after upgrade: %s", method, path, exc, exc_info=not _expected(exc))
        else:
            await conn.send_error(*errors.error_body(exc))
            return
    await conn.finish()


def _expected(exc: BaseException) -> bool:
    return isinstance(exc, (errdefs.Error, ConnectionError))


class Connections:
    """The hijacked connections being served, so that shutdown can end them."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task] = set()

    def start(self, conn: HijackedConnection, *args: Any) -> None:
        task = asyncio.get_running_loop().create_task(serve(conn, *args))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)


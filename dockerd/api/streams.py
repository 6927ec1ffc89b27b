"""Streamed replies (engine-api.md §3): JSON message streams and container output.

Both are chunked (docker-py treats a reply as a stream only then) and every message is
written as soon as it exists: uvicorn sends each yielded chunk at once, and nothing buffers
in between.

    json_stream(messages)            pull, push, load, import, build: one JSON object per message
    output_stream(chunks, tty)       exec output: raw bytes (TTY) or 8-byte framed (not TTY)
    output_stream(batches, tty, batched=True)   logs: lists of chunks, each list one write
    frame(stream, data)              one multiplexed frame, for hijacked attach and exec too
"""
from __future__ import annotations

import json
import logging
import struct
from collections.abc import AsyncIterable, AsyncIterator, Iterable

from starlette.concurrency import iterate_in_threadpool
from starlette.responses import Response, StreamingResponse

from .errors import error_body, error_response

log = logging.getLogger("pydockerd")

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3  # a frame's stream byte; SYSTEMERR: an error from the daemon
RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


_HEADER = struct.Struct(">BxxxL").pack


def frame(stream: int, data: bytes) -> bytes:
    """An 8-byte header (stream, 0, 0, 0, big-endian length) and the payload."""
    return _HEADER(stream, len(data)) + data


def frames(chunks: Iterable[tuple[int, bytes]], tty: bool) -> bytes:
    """Many chunks as one write: raw for a TTY, each framed otherwise (empty ones dropped)."""
    if tty:
        return b"".join(data for _, data in chunks)
    header = _HEADER
    return b"".join(header(stream, len(data)) + data for stream, data in chunks if data)


def error_message(message: str) -> dict:
    """A stream's failure: the CLI stops only on errorDetail, docker-py only looks at error."""
    return {"errorDetail": {"message": message}, "error": message}


def encode(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\r\n"


def _aiter(source: Iterable | AsyncIterable) -> AsyncIterator:
    # A plain iterator is a synchronous producer (a pull, a log file): each step runs in the
    # thread pool so it never blocks the loop.
    return aiter(source) if isinstance(source, AsyncIterable) else aiter(iterate_in_threadpool(iter(source)))


async def json_stream(messages: Iterable[dict] | AsyncIterable[dict], *, status: int = 200) -> Response:
    """A chunked application/json reply of the messages, one JSON object per message.

    The first message is awaited before replying, so an error raised before it becomes a
    plain HTTP error (as moby answers a pull of an unknown repository with a 404); an error
    after it ends the stream with an errorDetail/error message."""
    iterator = _aiter(messages)
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        first = None
    except Exception as exc:  # noqa: BLE001 - every error becomes the reply
        return error_response(*error_body(exc))

    async def body() -> AsyncIterator[bytes]:
        if first is None:
            return
        yield encode(first)
        try:
            async for message in iterator:
                yield encode(message)
        except Exception as exc:  # noqa: BLE001 - the status is sent: the error goes in the stream
            yield encode(error_message(error_body(exc)[1]))

    return StreamingResponse(body(), status_code=status, media_type="application/json")


async def output_stream(chunks: Iterable | AsyncIterable, tty: bool, *, batched: bool = False) -> Response:
    """Container output as (stream, data) chunks, written raw for a TTY and framed otherwise
    (clients choose from the container's Config.Tty, so the caller passes that). With
    batched, each item is a list of chunks, sent as one write."""
    iterator = _aiter(chunks)

    async def body() -> AsyncIterator[bytes]:
        try:
            if batched:
                async for batch in iterator:
                    data = frames(batch, tty)
                    if data:
                        yield data
                return
            async for stream, data in iterator:
                if data:
                    yield data if tty else frame(stream, data)
        except Exception as exc:  # noqa: BLE001 - the status is sent: report in the stream
            message = error_body(exc)[1]
            log.warning("output stream failed: %s", message)
            if not tty:
                yield frame(SYSTEMERR, message.encode())

    return StreamingResponse(body(), media_type=RAW_STREAM if tty else MULTIPLEXED_STREAM)

"""The image routes (moby's api/server/router/image): pull and import, list, inspect,
history, tag, remove, push, save, load, prune.

Image names in paths hold `/` and `:` unescaped (`/images/127.0.0.1:5000/x:1/push`), so each
route takes `{name:path}` and the verb is the path's last component. Uploads (load, import)
are read whole before the reply starts, as moby does.
"""
from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterator

import httpx
from fastapi import APIRouter, Request
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

import errdefs
from dockerd.daemon.images import decode_auth

from . import query
from .streams import json_stream

router = APIRouter()
log = logging.getLogger("pydockerd")

SPOOL_IN_MEMORY = 8 << 20  # uploads larger than this go to a temporary file


def _images(request: Request):
    return request.app.state.daemon.images


async def _spooled_body(request: Request) -> tempfile.SpooledTemporaryFile:
    """The whole request body, in memory if small, else on disk."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    async for chunk in request.stream():
        if chunk:
            await run_in_threadpool(spool.write, chunk)
    spool.seek(0)
    return spool


def _closing(messages: Iterator[dict], spool) -> Iterator[dict]:
    try:
        yield from messages
    finally:
        spool.close()


@router.post("/images/create")
async def create(request: Request) -> Response:
    images = _images(request)
    params = request.query_params
    from_image, from_src = params.get("fromImage", ""), params.get("fromSrc", "")
    if from_image:
        auth = decode_auth(request.headers.get("X-Registry-Auth"))
        messages = await run_in_threadpool(images.pull, from_image, params.get("tag", ""),
                                           platform=params.get("platform", ""), auth=auth)
        return await json_stream(messages)
    if not from_src:
        raise errdefs.InvalidArgument("either fromImage or fromSrc must be given")
    spool = await _spooled_body(request)
    try:
        if from_src != "-":
            await run_in_threadpool(_download, from_src, spool)
        messages = await run_in_threadpool(
            images.import_image, spool, repo=params.get("repo", ""), tag=params.get("tag", ""),
            changes=params.getlist("changes"), message=params.get("message", ""), platform=params.get("platform", ""))
    except BaseException:
        spool.close()
        raise
    return await json_stream(_closing(messages, spool))


def _download(url: str, spool) -> None:
    """fromSrc=<url>: the tar comes from there instead of the body."""
    if "://" not in url:
        url = "http://" + url
    spool.seek(0)
    spool.truncate()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            if response.status_code != 200:
                raise errdefs.InvalidArgument(f"failed to download {url}: {response.status_code} {response.reason_phrase}")
            for chunk in response.iter_bytes():
                spool.write(chunk)
    except httpx.HTTPError as exc:
        raise errdefs.InvalidArgument(f"failed to download {url}: {exc}") from None
    spool.seek(0)


@router.get("/images/json")
def list_images(request: Request) -> JSONResponse:
    filters = query.request_filters(request)
    # The old `filter=name` parameter is a reference filter (moby still reads it).
    if request.query_params.get("filter"):
        filters = {**filters, "reference": [*filters.get("reference", []), request.query_params["filter"]]}
    summaries = _images(request).summaries(filters, all=query.flag(request, "all"))
    return JSONResponse(summaries)


@router.post("/images/load")
async def load(request: Request) -> Response:
    spool = await _spooled_body(request)
    try:
        messages = await run_in_threadpool(_images(request).load, spool, quiet=query.flag(request, "quiet"))
    except BaseException:
        spool.close()
        raise
    return await json_stream(_closing(messages, spool))


@router.post("/images/prune")
def prune(request: Request) -> JSONResponse:
    return JSONResponse(_images(request).prune(query.request_filters(request)))


@router.get("/images/get")
async def save_many(request: Request) -> Response:
    return await _save(request, request.query_params.getlist("names"))


@router.get("/images/{name:path}/get")
async def save_one(name: str, request: Request) -> Response:
    return await _save(request, [name])


class _Pipe:
    """A file the exporting thread writes to and the reply reads from, a chunk at a time."""

    def __init__(self):
        self._chunks: list[bytes] = []
        self._condition = threading.Condition()
        self._closed = False
        self._cancelled = False

    def write(self, data: bytes) -> int:
        with self._condition:
            while len(self._chunks) >= 16 and not self._cancelled:
                self._condition.wait()
            if self._cancelled:
                raise BrokenPipeError("the client went away")
            self._chunks.append(bytes(data))
            self._condition.notify_all()
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def cancel(self) -> None:
        with self._condition:
            self._cancelled = True
            self._condition.notify_all()

    def chunks(self) -> Iterator[bytes]:
        try:
            while True:
                with self._condition:
                    while not self._chunks and not self._closed:
                        self._condition.wait()
                    if not self._chunks:
                        return
                    chunk = self._chunks.pop(0)
                    self._condition.notify_all()
                yield chunk
        finally:
            self.cancel()


async def _save(request: Request, names: list[str]) -> Response:
    images = _images(request)
    await run_in_threadpool(images.check_saveable, names)
    pipe = _Pipe()

    def export() -> None:
        try:
            images.save(names, pipe)
        except BaseException:  # noqa: BLE001 - the reply has started: cut it short
            log.exception("save of %s failed", names)
        finally:
            pipe.close()

    threading.Thread(target=export, name="image-save", daemon=True).start()
    return StreamingResponse(iterate_in_threadpool(pipe.chunks()), media_type="application/x-tar")


@router.get("/images/{name:path}/json")
def inspect(name: str, request: Request) -> JSONResponse:
    return JSONResponse(_images(request).inspect(name))


@router.get("/images/{name:path}/history")
def history(name: str, request: Request) -> JSONResponse:
    return JSONResponse(_images(request).history(name))


@router.post("/images/{name:path}/tag")
def tag(name: str, request: Request) -> Response:
    _images(request).tag(name, request.query_params.get("repo", ""), request.query_params.get("tag", ""))
    return Response(status_code=201)


@router.post("/images/{name:path}/push")
async def push(name: str, request: Request) -> Response:
    auth = decode_auth(request.headers.get("X-Registry-Auth"))
    messages = await run_in_threadpool(_images(request).push, name, request.query_params.get("tag", ""), auth=auth)
    return await json_stream(messages)


@router.delete("/images/{name:path}")
def delete(name: str, request: Request) -> JSONResponse:
    replies = _images(request).delete(name, force=query.flag(request, "force"),
                                      prune=not query.flag(request, "noprune"))
    return JSONResponse(replies)

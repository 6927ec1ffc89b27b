"""The archive routes of docker cp (moby's router/container/copy.go): HEAD stats a path of a
container, GET streams it as a tar, PUT extracts a tar into a directory of it. The stat travels
in the X-Docker-Container-Path-Stat header, base64 of its JSON."""
from __future__ import annotations

import base64
import json

import anyio.from_thread
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

import errdefs

from ..daemon.archive import ArchiveService
from . import query
from .containers import threaded

router = APIRouter()
STAT_HEADER = "X-Docker-Container-Path-Stat"


def _service(request: Request) -> ArchiveService:
    return ArchiveService(request.app.state.daemon.containers)


def _path(request: Request) -> str:
    path = request.query_params.get("path") or ""
    if not path:
        raise errdefs.InvalidArgument("bad parameter: pathcannot be empty")  # sic: moby 28's words
    return path


def _stat_header(stat: dict) -> dict[str, str]:
    return {STAT_HEADER: base64.b64encode(json.dumps(stat, separators=(",", ":")).encode()).decode()}


@router.head("/containers/{ref}/archive")
def stat(ref: str, request: Request) -> Response:
    return Response(status_code=200, headers=_stat_header(_service(request).stat(ref, _path(request))))


@router.get("/containers/{ref}/archive")
async def archive(ref: str, request: Request) -> Response:
    items = threaded(lambda cancelled: _service(request).archive(ref, _path(request)))
    found = await anext(items)  # a missing path is a 404 before the reply starts
    return StreamingResponse(items, media_type="application/x-tar", headers=_stat_header(found))


@router.put("/containers/{ref}/archive")
async def extract(ref: str, request: Request) -> Response:
    path = _path(request)
    body = request.stream()

    async def next_chunk() -> bytes:
        return await anext(body, b"")

    def read() -> bytes:  # in the worker thread: the body arrives as the extraction takes it
        return anyio.from_thread.run(next_chunk)

    await run_in_threadpool(_service(request).extract, ref, path, read,
                            copy_uid_gid=query.flag(request, "copyUIDGID"),
                            no_overwrite_dir_non_dir=query.flag(request, "noOverwriteDirNonDir"))
    return Response(status_code=200)

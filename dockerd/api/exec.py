"""The exec routes: create, inspect, resize, and start, hijacked when attached (moby's
daemon/server/router/container/exec.go)."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

import errdefs

from ..server import hijack
from . import query, streams
from .containers import threaded

router = APIRouter()


def _execs(request: Request):
    return request.app.state.daemon.containers.execs


@router.post("/containers/{ref}/exec")
async def create(ref: str, request: Request):
    body = await query.json_body(request, {})
    exec_id = await asyncio.to_thread(_execs(request).create, ref, body or {})
    return JSONResponse({"Id": exec_id}, status_code=201)


@router.get("/exec/{exec_id}/json")
def inspect(exec_id: str, request: Request):
    return _execs(request).inspect(exec_id)


@router.post("/exec/{exec_id}/resize")
def resize(exec_id: str, request: Request):
    _execs(request).resize(exec_id, query.integer(request, "h", 0), query.integer(request, "w", 0))
    return Response(status_code=200)


@router.post("/exec/{exec_id}/start")
async def start_detached(exec_id: str, request: Request):
    """Without Upgrade headers: detached (docker exec -d, docker-py detach=True), or a plain
    200 with the raw output when not detached."""
    body = await query.json_body(request, {}) or {}
    execs = _execs(request)
    detach = bool(body.get("Detach"))
    found = await asyncio.to_thread(execs.start, exec_id, detach=detach, console_size=body.get("ConsoleSize"))
    if detach:
        return Response(status_code=200)

    def produce(cancelled):
        yield from execs.output(found, cancelled)
        execs.finish(found)
    return await streams.output_stream(threaded(produce), found.tty)


async def start(request: hijack.HijackRequest, conn: hijack.HijackedConnection) -> None:
    execs = request.daemon.containers.execs
    body = request.json({}) or {}
    detach = bool(body.get("Detach"))
    found = execs.get(request.params["id"])
    tty = found.tty
    try:
        await asyncio.to_thread(execs.start, found.id, detach=detach, console_size=body.get("ConsoleSize"))
    except errdefs.InvalidArgument as exc:
        # As moby: the runtime's failure goes on the upgraded stream, the exit code (126/127)
        # in the exec's record, where the CLI reads it.
        if found.exit_code is None:
            raise
        await conn.upgrade(streams.RAW_STREAM if tty else streams.MULTIPLEXED_STREAM)
        message = (str(exc) + "\r\n").encode()
        await conn.write(message if tty else streams.frame(streams.STDOUT, message))
        return
    await conn.upgrade(streams.RAW_STREAM if tty else streams.MULTIPLEXED_STREAM)
    if detach:
        return
    input_task = None
    if found.config.get("AttachStdin"):
        input_task = asyncio.create_task(_forward_stdin(execs, found, conn))

    def produce(cancelled):
        yield from execs.output(found, cancelled)
    try:
        async for stream, data in threaded(produce):
            await conn.write(data if tty else streams.frame(stream, data))
    except ConnectionError:
        pass
    finally:
        if input_task is not None:
            input_task.cancel()
        # The exit code is stored before the stream ends: the CLI reads it right after.
        await asyncio.to_thread(execs.finish, found)


async def _forward_stdin(execs, found, conn: hijack.HijackedConnection) -> None:
    while True:
        data = await conn.read()
        if not data:
            break
        await asyncio.to_thread(execs.write_stdin, found, data)
    if not conn.gone:
        await asyncio.to_thread(execs.close_stdin, found)


hijack.route("POST", "/exec/{id}/start", start)

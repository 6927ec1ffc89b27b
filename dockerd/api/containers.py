"""The container routes (moby's daemon/server/router/container): each parses, calls the
container service once, and writes a status. attach is a hijacked connection (registered
with the server's hijack table); wait, logs and stats stream their replies."""
from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

import errdefs

from ..daemon import logs as logfile
from ..server import hijack
from . import query, streams

router = APIRouter()


def _service(request: Request):
    return request.app.state.daemon.containers


async def threaded(produce: Callable[[Callable[[], bool]], Iterator]) -> AsyncIterator:
    """Items of a blocking iterator made by produce(cancelled), read in a thread of its own;
    when the consumer stops (a client gone), cancelled() turns true so the thread ends."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue = asyncio.Queue(maxsize=64)
    stop = threading.Event()
    end = object()

    def put(item) -> None:
        future = asyncio.run_coroutine_threadsafe(items.put(item), loop)
        while not stop.is_set():
            try:
                future.result(0.5)
                return
            except TimeoutError:
                continue
        future.cancel()

    def run() -> None:
        try:
            for item in produce(stop.is_set):
                if stop.is_set():
                    return
                put(item)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer
            put(exc)
        put(end)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        while True:
            item = await items.get()
            if item is end:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()


# --- create, list, inspect ---------------------------------------------------------------------

@router.post("/containers/create")
async def create(request: Request):
    body = await query.json_body(request, {})
    if not isinstance(body, dict):
        raise errdefs.InvalidArgument("config cannot be empty in order to create a container")
    name = request.query_params.get("name") or None
    container_id, warnings = await asyncio.to_thread(_service(request).create, name, body)
    return JSONResponse({"Id": container_id, "Warnings": warnings}, status_code=201)


@router.get("/containers/json")
def list_containers(request: Request):
    return _service(request).list(all=query.flag(request, "all"), limit=query.integer(request, "limit", -1),
                                  size=query.flag(request, "size"),
                                  filters=query.filters(request.query_params.get("filters")))


@router.post("/containers/prune")
def prune(request: Request):
    return _service(request).prune(query.request_filters(request))


@router.get("/containers/{ref}/json")
def inspect(ref: str, request: Request):
    return _service(request).inspect(ref, size=query.flag(request, "size"))


@router.get("/containers/{ref}/top")
def top(ref: str, request: Request):
    return _service(request).top(ref, request.query_params.get("ps_args") or "")


# --- lifecycle ---------------------------------------------------------------------------------

@router.post("/containers/{ref}/start")
def start(ref: str, request: Request):
    _service(request).start(ref)
    return Response(status_code=204)


@router.post("/containers/{ref}/stop")
def stop(ref: str, request: Request):
    _service(request).stop(ref, query.integer(request, "t"), request.query_params.get("signal") or None)
    return Response(status_code=204)


@router.post("/containers/{ref}/restart")
def restart(ref: str, request: Request):
    _service(request).restart(ref, query.integer(request, "t"), request.query_params.get("signal") or None)
    return Response(status_code=204)


@router.post("/containers/{ref}/kill")
def kill(ref: str, request: Request):
    _service(request).kill(ref, request.query_params.get("signal") or None)
    return Response(status_code=204)


@router.post("/containers/{ref}/pause")
def pause(ref: str, request: Request):
    _service(request).pause(ref)
    return Response(status_code=204)


@router.post("/containers/{ref}/unpause")
def unpause(ref: str, request: Request):
    _service(request).unpause(ref)
    return Response(status_code=204)


@router.post("/containers/{ref}/rename")
def rename(ref: str, request: Request):
    _service(request).rename(ref, request.query_params.get("name") or "")
    return Response(status_code=204)


@router.post("/containers/{ref}/resize")
def resize(ref: str, request: Request):
    _service(request).resize(ref, query.integer(request, "h", 0), query.integer(request, "w", 0))
    return Response(status_code=200)


@router.delete("/containers/{ref}")
def remove(ref: str, request: Request):
    _service(request).remove(ref, force=query.flag(request, "force"), volumes=query.flag(request, "v"))
    return Response(status_code=204)


@router.post("/containers/{ref}/wait")
async def wait(ref: str, request: Request):
    waiter = _service(request).waiter(ref, request.query_params.get("condition") or "")

    async def body() -> AsyncIterator[bytes]:
        # The headers are out before this runs: `docker run` sends start only after them.
        async for reply in threaded(lambda cancelled: iter([waiter(cancelled)])):
            if reply:
                yield json.dumps(reply, separators=(",", ":")).encode() + b"\n"

    return StreamingResponse(body(), media_type="application/json")


# --- output --------------------------------------------------------------------------------------

@router.get("/containers/{ref}/logs")
async def logs(ref: str, request: Request):
    service = _service(request)
    tail_text = request.query_params.get("tail") or "all"
    try:
        tail = None if tail_text == "all" else int(tail_text)
    except ValueError:
        tail = None
    options = dict(stdout=query.flag(request, "stdout"), stderr=query.flag(request, "stderr"),
                   follow=query.flag(request, "follow"), tail=tail,
                   since_ns=query.timestamp_nano(request.query_params.get("since")) or None,
                   until_ns=query.timestamp_nano(request.query_params.get("until")) or None,
                   timestamps=query.flag(request, "timestamps"))
    container, _ = service.logs(ref, **options)  # errors (404, 400) before the reply starts
    follow = options.pop("follow")

    def produce(cancelled):
        # Batches (a chunk of the file each), so that the reply is a few big writes.
        finished = service.output_finished(container, container.exits) if follow else None
        return logfile.read_log_batches(container.log_path, **options, follow_until=finished, cancelled=cancelled)
    return await streams.output_stream(threaded(produce), container.tty, batched=True)


@router.get("/containers/{ref}/stats")
async def stats(ref: str, request: Request):
    service = _service(request)
    sampler = service.stats(ref)
    stream = query.flag(request, "stream", True)
    one_shot = query.flag(request, "one-shot")

    def produce(cancelled):
        if not stream:
            if not one_shot:
                sampler.next()
                for _ in range(10):
                    if cancelled():
                        return
                    threading.Event().wait(0.05)
            yield sampler.next()
            return
        sampler.next()
        threading.Event().wait(0.1)
        while not cancelled():
            yield sampler.next()
            for _ in range(10):
                if cancelled():
                    return
                threading.Event().wait(0.1)

    if not stream:
        replies = [reply async for reply in threaded(produce)]
        return JSONResponse(replies[0] if replies else {})

    async def body() -> AsyncIterator[bytes]:
        async for reply in threaded(produce):
            yield json.dumps(reply).encode() + b"\n"
    return StreamingResponse(body(), media_type="application/json")


# --- attach (hijacked) ---------------------------------------------------------------------------

async def attach(request: hijack.HijackRequest, conn: hijack.HijackedConnection) -> None:
    service = request.daemon.containers
    container = service.get(request.params["id"])
    flags = {name: query.boolean(request.query.get(name)) for name in ("stdin", "stdout", "stderr", "stream", "logs")}
    if not (flags["stream"] or flags["logs"]):
        raise errdefs.InvalidArgument("Bad parameters: you must choose at least one stream")
    tty = container.tty
    with container.lock:
        exits = container.exits
        offset = logfile.size(container.log_path)
    await conn.upgrade(streams.RAW_STREAM if tty else streams.MULTIPLEXED_STREAM)
    service.publish(container, "attach")
    wanted = {s for s, on in ((logfile.STDOUT, flags["stdout"]), (logfile.STDERR, flags["stderr"])) if on}
    finished = service.output_finished(container, exits, wait_start=True)

    def produce(cancelled):
        start = offset
        if flags["logs"]:
            reader = logfile.Reader(container.log_path)
            try:
                for batch in reader.batches():
                    yield [(entry.stream, entry.data) for entry in batch if entry.stream in wanted]
            finally:
                start = reader.offset  # the replay's end: following goes on from there
                reader.close()
        if flags["stream"]:
            for batch in logfile.follow_batches(container.log_path, start, finished, cancelled=cancelled):
                yield [(entry.stream, entry.data) for entry in batch if entry.stream in wanted]

    input_task = None
    if flags["stdin"] and container.config.get("OpenStdin"):
        input_task = asyncio.create_task(_forward_stdin(service, container, conn))
    try:
        async for batch in threaded(produce):
            data = streams.frames(batch, tty)
            if data:
                await conn.write(data)
    except ConnectionError:
        pass
    finally:
        if input_task is not None:
            input_task.cancel()


async def _forward_stdin(service, container, conn: hijack.HijackedConnection) -> None:
    def started() -> bool:
        with container.changed:
            while container.stdin_fd is None and not container.removed and not conn.gone:
                if container.state.status not in ("created", "running", "restarting"):
                    return False
                container.changed.wait(0.2)
            return container.stdin_fd is not None
    if not await asyncio.to_thread(started):
        return
    while True:
        data = await conn.read()
        if not data:
            break
        await asyncio.to_thread(service.write_stdin, container, data)
    # As moby's attach: a terminal's input is never closed by a client leaving (a detach with
    # ctrl-p ctrl-q closes the connection too), only a pipe's is, and only with StdinOnce.
    if container.config.get("StdinOnce") and not container.tty and not conn.gone:
        await asyncio.to_thread(service.close_stdin, container)


hijack.route("POST", "/containers/{id}/attach", attach)


@router.post("/containers/{ref}/attach")
async def attach_without_upgrade(ref: str, request: Request):
    """Without Upgrade headers moby answers 200 and a raw stream of the stored output
    (`logs=1&stream=0` from docker-py)."""
    service = _service(request)
    container = service.get(ref)
    stdout, stderr = query.flag(request, "stdout"), query.flag(request, "stderr")

    def produce(cancelled):
        if query.flag(request, "logs"):
            yield from logfile.read_log_batches(container.log_path, stdout=stdout, stderr=stderr, tail=None,
                                                since_ns=None, until_ns=None, timestamps=False, follow_until=None)
        if query.flag(request, "stream"):
            offset = logfile.size(container.log_path)
            finished = service.output_finished(container, container.exits, wait_start=True)
            wanted = {s for s, on in ((logfile.STDOUT, stdout), (logfile.STDERR, stderr)) if on}
            for batch in logfile.follow_batches(container.log_path, offset, finished, cancelled=cancelled):
                yield [(entry.stream, entry.data) for entry in batch if entry.stream in wanted]
    return await streams.output_stream(threaded(produce), container.tty, batched=True)

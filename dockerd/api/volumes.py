"""The volume routes (moby's api/server/router/volume): create, list, inspect, remove, prune."""
from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

import errdefs

from . import query

router = APIRouter()


def _volumes(request: Request):
    return request.app.state.daemon.volumes


def _field(body: dict, name: str):
    """A body field matched without regard to case, as Go decodes JSON."""
    for key, value in body.items():
        if key.lower() == name.lower():
            return value
    return None


@router.get("/volumes")
def list_volumes(request: Request) -> JSONResponse:
    return JSONResponse({"Volumes": _volumes(request).list(query.request_filters(request)), "Warnings": None})


@router.post("/volumes/create")
async def create(request: Request) -> JSONResponse:
    body = await query.json_body(request, {}) or {}
    if not isinstance(body, dict):
        raise errdefs.InvalidArgument("invalid JSON: expected an object")
    volume = await run_in_threadpool(
        _volumes(request).create, _field(body, "Name") or None, driver=_field(body, "Driver") or None,
        driver_opts=_field(body, "DriverOpts") or None, labels=_field(body, "Labels") or None)
    return JSONResponse(volume.to_json(), status_code=201)


@router.post("/volumes/prune")
def prune(request: Request) -> JSONResponse:
    return JSONResponse(_volumes(request).prune(query.request_filters(request)))


@router.get("/volumes/{name}")
def inspect(name: str, request: Request) -> JSONResponse:
    return JSONResponse(_volumes(request).inspect(name))


@router.delete("/volumes/{name}")
def remove(name: str, request: Request) -> Response:
    _volumes(request).remove(name, force=query.flag(request, "force"))
    return Response(status_code=204)

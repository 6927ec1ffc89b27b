"""The network routes (moby's api/server/router/network): until the networking issue only
the predefined bridge, host and none, listed and inspected; create, connect and disconnect
say they are not supported yet, remove refuses the predefined ones."""
from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from . import query

router = APIRouter()


def _networks(request: Request):
    return request.app.state.daemon.networks


@router.get("/networks")
def list_networks(request: Request) -> JSONResponse:
    return JSONResponse(_networks(request).list(query.request_filters(request)))


@router.post("/networks/create")
async def create(request: Request) -> JSONResponse:
    body = await query.json_body(request, {}) or {}
    name = next((v for k, v in body.items() if k.lower() == "name"), "") if isinstance(body, dict) else ""
    return JSONResponse(_networks(request).create(name or ""), status_code=201)


@router.post("/networks/prune")
def prune(request: Request) -> JSONResponse:
    return JSONResponse(_networks(request).prune(query.request_filters(request)))


@router.get("/networks/{ref}")
def inspect(ref: str, request: Request) -> JSONResponse:
    return JSONResponse(_networks(request).inspect(ref))


@router.delete("/networks/{ref}")
def remove(ref: str, request: Request) -> Response:
    _networks(request).remove(ref)
    return Response(status_code=204)


@router.post("/networks/{ref}/connect")
async def connect(ref: str, request: Request) -> Response:
    body = await query.json_body(request, {}) or {}
    container = next((v for k, v in body.items() if k.lower() == "container"), "") if isinstance(body, dict) else ""
    _networks(request).connect(ref, container)
    return Response(status_code=200)


@router.post("/networks/{ref}/disconnect")
async def disconnect(ref: str, request: Request) -> Response:
    body = await query.json_body(request, {}) or {}
    container = next((v for k, v in body.items() if k.lower() == "container"), "") if isinstance(body, dict) else ""
    _networks(request).disconnect(ref, container)
    return Response(status_code=200)

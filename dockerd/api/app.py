"""The Engine API as one FastAPI app: a router per resource, one middleware for versions and
headers, one set of error handlers.

Routes are written without the version prefix: the middleware strips /v1.xx (refusing
versions out of range) and puts the version in `request.state.api_version`, as moby
registers each route bare and under /v{version}. The daemon is `request.app.state.daemon`.
"""
from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import errdefs

from ..trace import TraceMiddleware
from . import archive, containers, errors, exec, images, networks, system, versions, volumes


class EngineMiddleware:
    """Strips and checks the version prefix; adds the headers every reply carries."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in versions.HEADERS if h[0] not in names)]
            await send(message)

        try:
            version, path = versions.split(scope["path"])
        except errdefs.InvalidArgument as exc:
            await errors.error_response(400, str(exc))(scope, receive, send_with_headers)
            return
        if path != scope["path"]:
            prefix_length = len(scope["path"]) - len(path)
            scope = {**scope, "path": path, "raw_path": scope.get("raw_path", b"")[prefix_length:] or path.encode()}
        scope.setdefault("state", {})["api_version"] = version
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # noqa: BLE001 - a bug still gets Docker's error reply
            if started:
                raise
            # Here rather than in an app handler: those run outside this middleware, without our headers.
            await errors.error_response(*errors.error_body(exc))(scope, receive, send_with_headers)


def create_app(daemon) -> FastAPI:
    app = FastAPI(title="pydockerd", docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)
    app.state.daemon = daemon
    for module in (system, containers, archive, exec, images, volumes, networks):
        app.include_router(module.router)
    errors.install(app)
    app.add_middleware(EngineMiddleware)
    app.add_middleware(TraceMiddleware)  # outermost: a traced request's span covers all of it
    return app

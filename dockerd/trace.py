"""pydockerd's part in `pydocker --trace` (the contract is protos/trace.py): a span for every
traced request, REST or hijacked, and one for every call it makes to pycontainerd on its
behalf, whose metadata passes the trace on.

OpenTelemetry (protos/otel.py) is loaded by the first traced request; until then, and for
every untraced request after it, the cost is a look through the request's headers.
"""
from __future__ import annotations

import re

from protos import trace

from .api import versions

_tracer = None
_LONG_ID = re.compile(r"(?<=/)([0-9a-f]{12})[0-9a-f]{52}(?=/|$)")


def tracer():
    global _tracer
    if _tracer is None:
        from protos import otel

        _tracer = otel.Tracer("pydockerd")
    return _tracer


def active() -> bool:
    """Whether the code running now works for a traced request."""
    return _tracer is not None and _tracer.active()


def request_name(method: str, path: str) -> str:
    """"POST /containers/3f4e5a6b7c8d/start": the version prefix dropped, ids as docker shortens them."""
    path = _LONG_ID.sub(r"\1", versions.strip(path))
    return f"{method} {path}"


def context_of(headers: dict[str, str]) -> trace.TraceContext | None:
    """The trace a request belongs to, from its headers (names in lower case)."""
    return trace.TraceContext.from_carrier(headers.get)


class TraceMiddleware:
    """Serves a traced request inside a span; any other request untouched."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        parent = None
        if scope["type"] == "http":
            parent = trace.TraceContext.from_carrier(lambda name: _header(scope, name))
        if parent is None:
            await self.app(scope, receive, send)
            return
        with tracer().server_span(request_name(scope["method"], scope["path"]), parent) as end:
            async def send_and_end(message) -> None:
                if message["type"] == "http.response.body" and not message.get("more_body", False):
                    end()
                await send(message)

            await self.app(scope, receive, send_and_end)


def _header(scope, name: str) -> str | None:
    wanted = name.encode()
    return next((value.decode("latin-1") for key, value in scope["headers"] if key == wanted), None)

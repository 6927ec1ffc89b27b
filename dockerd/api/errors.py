"""The one place errors become HTTP replies: each errdefs kind maps to a status, and every
error reply is Docker's `{"message": ...}` with a Content-Type of exactly
`application/json` (the CLI prints the raw text of anything else, docker-py needs
`message`). FastAPI's own replies (404, 405, validation 422) are rewritten the same way.
"""
from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

import errdefs

log = logging.getLogger("pydockerd")

# As moby's httpstatus maps its errdefs; kinds absent here are 500.
STATUS = {
    errdefs.NotFound.kind: 404,
    errdefs.InvalidArgument.kind: 400,
    errdefs.OutOfRange.kind: 400,
    errdefs.AlreadyExists.kind: 409,
    errdefs.Conflict.kind: 409,
    errdefs.FailedPrecondition.kind: 409,
    errdefs.NotModified.kind: 304,
    errdefs.Unauthenticated.kind: 401,
    errdefs.PermissionDenied.kind: 403,
    errdefs.Unavailable.kind: 503,
    errdefs.NotImplemented.kind: 501,
    errdefs.Canceled.kind: 499,
    errdefs.DeadlineExceeded.kind: 504,
}


def status_of(exc: BaseException) -> int:
    return STATUS.get(errdefs.kind_of(exc), 500)


def error_response(status: int, message: str) -> Response:
    if status == 304:  # a 304 carries no body
        return Response(status_code=304)
    body = json.dumps({"message": message}, separators=(",", ":")) + "\n"
    return Response(body, status_code=status, media_type="application/json")


def error_body(exc: BaseException) -> tuple[int, str]:
    """(status, message) for any exception: a kind's own, or 500 for a bug (logged)."""
    status = status_of(exc)
    if status == 500 and not isinstance(exc, (errdefs.Error, OSError)):
        log.error("unexpected error", exc_info=exc)
    return status, str(exc) or type(exc).__name__


async def _errdefs_error(request: Request, exc: Exception) -> Response:
    return error_response(*error_body(exc))


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    # moby answers an unknown path and a known path with the wrong method alike.
    if (exc.status_code == 404 and exc.detail == "Not Found") or exc.status_code == 405:
        return error_response(404, "page not found")
    message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    return error_response(exc.status_code, message)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    # A malformed body or parameter is the client's fault: 400, never 422 or 500.
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return error_response(400, "invalid request: " + "; ".join(problems))


def install(app: FastAPI) -> None:
    app.add_exception_handler(errdefs.Error, _errdefs_error)
    app.add_exception_handler(OSError, _errdefs_error)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)

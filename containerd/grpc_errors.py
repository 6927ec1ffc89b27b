"""The gRPC edge: errdefs kinds become status codes on the way out, and nothing else does.

Servicers raise errdefs kinds (or let the OS's errors through, which errdefs classifies);
translate_errors wraps every method of a servicer class so that the client sees the kind's
code and the error's message, as containerd's errgrpc.ToGRPC does. Any other exception is a
bug: it is logged with its traceback and answered Unknown.
"""
from __future__ import annotations

import functools
import logging

import grpc

import errdefs

log = logging.getLogger(__name__)

_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def status_code(exc: BaseException) -> grpc.StatusCode:
    return _STATUS_CODES[errdefs.grpc_code(exc)]


def _abort(context: grpc.ServicerContext, method: str, exc: Exception):
    if errdefs.status(exc) is None:
        log.error("%s failed", method, exc_info=exc)
    context.abort(status_code(exc), str(exc) or type(exc).__name__)


def translate_errors(service_descriptor):
    """Class decorator: every rpc of the service that the class defines answers errors with
    their kind's status. Methods the class leaves to the generated base stay Unimplemented."""

    def decorate(cls):
        for method in service_descriptor.methods:
            implementation = cls.__dict__.get(method.name)
            if implementation is None:
                continue
            wrap = _wrap_stream if method.server_streaming else _wrap_unary
            setattr(cls, method.name, wrap(implementation, f"{service_descriptor.name}.{method.name}"))
        return cls

    return decorate


def _wrap_unary(implementation, name):
    @functools.wraps(implementation)
    def call(self, request, context):
        try:
            return implementation(self, request, context)
        except Exception as exc:  # noqa: BLE001 - every failure must become a status
            failure = exc
        _abort(context, name, failure)

    return call


def _wrap_stream(implementation, name):
    @functools.wraps(implementation)
    def stream(self, request, context):
        try:
            yield from implementation(self, request, context)
            return
        except Exception as exc:  # noqa: BLE001 - every failure must become a status
            failure = exc
        _abort(context, name, failure)

    return stream

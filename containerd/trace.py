"""pycontainerd's part in `pydocker --trace` (the contract is protos/trace.py): a span for every
traced gRPC call it serves, and one for every ttrpc call it makes to a shim on its behalf,
whose metadata passes the trace on.

OpenTelemetry (protos/otel.py) is loaded by the first traced call; until then, and for every
untraced call after it (ctr's, containerd's clients'), the cost is a look through the call's
metadata.
"""
from __future__ import annotations

import contextlib

import grpc

from protos import trace

_tracer = None


def tracer():
    global _tracer
    if _tracer is None:
        from protos import otel

        _tracer = otel.Tracer("pycontainerd")
    return _tracer


def active() -> bool:
    """Whether the code running now works for a traced call."""
    return _tracer is not None and _tracer.active()


def span(name: str, **attributes):
    """A span of pycontainerd's own work, if traced."""
    return tracer().internal_span(name, **attributes) if active() else contextlib.nullcontext()


class ServerInterceptor(grpc.ServerInterceptor):
    """Serves each traced unary call inside a span named after its method ("Tasks/Create")."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        metadata = handler_call_details.invocation_metadata or ()
        parent = trace.TraceContext.from_carrier(lambda name: next((v for k, v in metadata if k == name), None))
        if parent is None:
            return handler
        name = handler_call_details.method.rsplit(".", 1)[-1]
        serve = handler.unary_unary

        def traced(request, context):
            with tracer().server_span(name, parent):
                return serve(request, context)

        return grpc.unary_unary_rpc_method_handler(traced, request_deserializer=handler.request_deserializer,
                                                   response_serializer=handler.response_serializer)

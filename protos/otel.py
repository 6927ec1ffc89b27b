"""OpenTelemetry in the daemons (pydockerd, pycontainerd): their spans of traced requests, sent
to the trace's collector as protos/trace.py describes.

Imported at a daemon's first traced request, never before. Measured on the daemons' own
imports: 7-9 ms and 0.6 MiB in pydockerd (FastAPI has already loaded OpenTelemetry's API),
13 ms and 1.7 MiB in pycontainerd, plus 2-4 ms for the first spans, then about 60 us a span.
An untraced daemon pays none of it. The shim and pyrunc never import it (they run once per
container): they use protos/trace.py and runc/trace.py.

Each daemon has a TracerProvider of its own, never the global one: FastAPI traces every
request by itself as soon as a global provider is set.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from protos import trace

_PROPAGATOR = TraceContextTextMapPropagator()


class DatagramExporter(SpanExporter):
    """Each span, as it ends, to the collector its trace names (SimpleSpanProcessor calls this
    in the thread that ends the span: the span has left before the reply it belongs to)."""

    def export(self, spans: list[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            entry = span.context.trace_state.get(trace.VENDOR)
            collector = entry.partition("@")[2] if entry else ""
            if not collector:
                continue
            attributes = dict(span.attributes or {})
            if not span.status.is_ok:
                attributes["error"] = span.status.description or "error"
            trace.send(collector, {
                "trace_id": f"{span.context.trace_id:032x}", "span_id": f"{span.context.span_id:016x}",
                "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else "", "name": span.name,
                "service": span.resource.attributes["service.name"], "start_ns": span.start_time,
                "end_ns": span.end_time, "attributes": attributes})
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class Tracer:
    def __init__(self, service: str):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(DatagramExporter()))
        self._tracer = provider.get_tracer("pydocker")

    @contextlib.contextmanager
    def server_span(self, name: str, parent: trace.TraceContext, **attributes) -> Iterator[Callable[[], None]]:
        """A span for serving a request, child of the caller's span, current for the code it
        runs. Yields a function that ends it early: as the reply's last bytes leave, so that it
        ends before its caller's span does."""
        span = self._tracer.start_span(name, context=_PROPAGATOR.extract(parent.headers()), kind=SpanKind.SERVER,
                                       attributes=attributes)

        def end() -> None:
            if span.end_time is None:
                span.end()

        with otel_trace.use_span(span, end_on_exit=False, record_exception=True, set_status_on_exception=True):
            try:
                yield end
            finally:
                end()

    @contextlib.contextmanager
    def resumed(self, parent: trace.TraceContext) -> Iterator[None]:
        """Make `parent` (a span of another process) current: what follows is traced under it."""
        token = otel_context.attach(_PROPAGATOR.extract(parent.headers()))
        try:
            yield
        finally:
            otel_context.detach(token)

    @contextlib.contextmanager
    def client_span(self, name: str, **attributes) -> Iterator[dict[str, str]]:
        """A span for a call to the next hop; yields the trace context to send with the call."""
        with self._tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier)
            yield carrier

    @contextlib.contextmanager
    def internal_span(self, name: str, **attributes) -> Iterator[None]:
        with self._tracer.start_as_current_span(name, attributes=attributes):
            yield

    @staticmethod
    def active() -> bool:
        """Whether the code running now works for a traced request (served, or resumed)."""
        span = otel_trace.get_current_span().get_span_context()
        return span.is_valid and span.trace_flags.sampled and trace.VENDOR in span.trace_state

    @staticmethod
    def current() -> trace.TraceContext | None:
        """The current span as a context to come back to later (see resumed)."""
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return trace.TraceContext.from_carrier(carrier.get)

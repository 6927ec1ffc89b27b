"""Tracing across the stack's processes: the trace context every hop passes on, and the spans
every hop sends back to whoever traces (`pydocker --trace`).

The context is W3C Trace Context plus one entry of ours in tracestate:

    traceparent   00-<trace id: 32 hex>-<parent span id: 16 hex>-<flags: 2 hex>
    tracestate    pydocker=<root span id: 16 hex>@<collector>[,<other vendors' entries>]

It travels as HTTP headers (client -> pydockerd), gRPC metadata (-> pycontainerd), ttrpc
metadata (-> shim) and the environment variables TRACEPARENT and TRACESTATE (-> pyrunc), as
OpenTelemetry's environment carrier names them. The collector is an abstract unix datagram
socket the client binds (abstract: nothing is left on disk by a client that dies); the root
span is the client's, the parent of work done for the trace outside any request of it (a
traced container's run, its exit handling). Each finished span is one datagram, a JSON object:

    {"trace_id", "span_id", "parent_span_id", "name", "service", "start_ns", "end_ns", "attributes"}

with unix times in nanoseconds; `service` is the hop whose time the span measures.

A request without our entry (the real Docker CLI, ctr, containerd, runc's shim) is not traced:
nothing is imported, opened or sent for it. The shim traces with this module alone; the
daemons with OpenTelemetry (protos/otel.py), loaded at their first traced request; pyrunc,
which may import nothing of the layers above it, repeats the little it needs in runc/trace.py.
"""
from __future__ import annotations

import contextvars
import json
import os
import socket
import time

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
VENDOR = "pydocker"
SAMPLED = 0x01  # traceparent's flag: a trace that is not sampled is not traced
# A collector that does not keep up (its queue holds only net.unix.max_dgram_qlen datagrams)
# holds a sender up for this long at most; then the span is dropped: a trace is never worth
# stalling a container for.
SEND_TIMEOUT = 1.0


_HEX = frozenset("0123456789abcdef")


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and set(text) <= _HEX


def new_span_id() -> str:
    return os.urandom(8).hex()


def vendor_entry(tracestate: str | None) -> str | None:
    """Our entry's value in a tracestate header, None if it has none."""
    for member in (tracestate or "").split(","):
        key, _, value = member.strip().partition("=")
        if key == VENDOR and value:
            return value
    return None


class TraceContext:
    """The span a hop's work hangs from, as the hop above passed it: its identity and the trace's."""

    __slots__ = ("trace_id", "span_id", "flags", "root_span_id", "collector", "tracestate")

    def __init__(self, trace_id: str, span_id: str, flags: int, root_span_id: str, collector: str, tracestate: str):
        self.trace_id = trace_id
        self.span_id = span_id
        self.flags = flags
        self.root_span_id = root_span_id
        self.collector = collector
        self.tracestate = tracestate  # passed on unchanged: other vendors' entries included

    @classmethod
    def parse(cls, traceparent: str | None, tracestate: str | None) -> TraceContext | None:
        """The context of a traced request; None for anything else (no or malformed headers,
        or a trace that is not ours)."""
        entry = vendor_entry(tracestate)
        if entry is None or not traceparent:
            return None
        parts = traceparent.strip().split("-")
        if len(parts) < 4:
            return None
        version, trace_id, span_id, flags = parts[:4]
        if not _is_hex(version, 2) or version == "ff" or (version == "00" and len(parts) != 4):
            return None
        if not (_is_hex(trace_id, 32) and _is_hex(span_id, 16) and _is_hex(flags, 2)) \
                or set(trace_id) == {"0"} or set(span_id) == {"0"} or not int(flags, 16) & SAMPLED:
            return None
        root, _, collector = entry.partition("@")
        if not _is_hex(root, 16) or not collector:
            return None
        return cls(trace_id, span_id, int(flags, 16), root, collector, tracestate.strip())

    @classmethod
    def from_carrier(cls, get) -> TraceContext | None:
        """parse() on whatever `get(name)` finds (metadata's, headers' or the environment's getter)."""
        return cls.parse(get(TRACEPARENT), get(TRACESTATE))

    def child(self, span_id: str) -> TraceContext:
        return TraceContext(self.trace_id, span_id, self.flags, self.root_span_id, self.collector, self.tracestate)

    def root(self) -> TraceContext:
        return self.child(self.root_span_id)

    def headers(self) -> dict[str, str]:
        """This context as the next hop reads it (lower-case names: ttrpc and gRPC metadata want them so)."""
        return {TRACEPARENT: f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}", TRACESTATE: self.tracestate}

    def environment(self) -> dict[str, str]:
        return {name.upper(): value for name, value in self.headers().items()}


def send(collector: str, span: dict) -> None:
    """One finished span to the collector; lost silently if the client is gone."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.settimeout(SEND_TIMEOUT)
        try:
            sock.sendto(json.dumps(span, separators=(",", ":")).encode(), "\0" + collector)
        except OSError:
            pass


def record(parent: TraceContext, span_id: str, name: str, service: str, start_ns: int, end_ns: int,
           attributes: dict) -> dict:
    return {"trace_id": parent.trace_id, "span_id": span_id, "parent_span_id": parent.span_id, "name": name,
            "service": service, "start_ns": start_ns, "end_ns": end_ns, "attributes": attributes}


_current: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar("pydocker_trace", default=None)


def current() -> TraceContext | None:
    """The span the work in progress belongs to, if it is traced (set by `with Span(...)`)."""
    return _current.get()


class Span:
    """A span of the hand-written tracer (the shim's): timed from creation to end(), or over a
    `with` block, during which it is current() for the code it runs."""

    def __init__(self, name: str, service: str, parent: TraceContext, *, start_ns: int | None = None,
                 **attributes):
        self.name = name
        self.service = service
        self.parent = parent
        self.context = parent.child(new_span_id())
        self.start_ns = time.time_ns() if start_ns is None else start_ns
        self.attributes = attributes
        self._token = None

    def end(self, end_ns: int | None = None) -> None:
        send(self.parent.collector, record(self.parent, self.context.span_id, self.name, self.service, self.start_ns,
                                           time.time_ns() if end_ns is None else end_ns, self.attributes))

    def __enter__(self) -> Span:
        self._token = _current.set(self.context)
        return self

    def __exit__(self, kind, error, traceback) -> None:
        _current.reset(self._token)
        if error is not None:
            self.attributes["error"] = str(error) or kind.__name__
        self.end()

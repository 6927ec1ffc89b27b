"""pyrunc's spans, when the shim runs it for a traced request (`pydocker --trace`).

The trace context comes in the environment, TRACEPARENT and TRACESTATE (OpenTelemetry's
environment carrier); each finished span goes to the trace's collector as one JSON datagram.
The wire format is protos/trace.py's, which pyrunc may not import (it imports nothing of the
layers above it): these lines repeat the little of it that pyrunc needs. Untraced, a span is
a shared object that does nothing, and nothing is opened or sent.

    with trace.command("create"):          # in __main__: the command's own span
        with trace.span("cgroup"):         # a phase, child of the span it runs in
            ...

Spans end only in the process that began them: pyrunc's forked children leave through
os._exit, never through a `with` block's end.
"""
import json
import os
import time

_HEX = frozenset("0123456789abcdef")
SAMPLED = 0x01
SEND_TIMEOUT = 1.0  # as protos/trace.py: a collector that does not keep up loses the span

_trace = None  # (trace id, collector, service) once a traced command has begun
_current = ""  # the span id that new spans hang from


def _context(traceparent: str, tracestate: str):
    """(trace id, parent span id, collector) of the environment's context, if it is ours."""
    parts = traceparent.strip().split("-")
    if len(parts) != 4 or parts[0] != "00":
        return None
    _, trace_id, parent_id, flags = parts
    if not (_hex(trace_id, 32) and _hex(parent_id, 16) and _hex(flags, 2)) or not int(flags, 16) & SAMPLED \
            or set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        return None
    for member in tracestate.split(","):
        key, _, value = member.strip().partition("=")
        if key == "pydocker":
            root, _, collector = value.partition("@")
            return (trace_id, parent_id, collector) if _hex(root, 16) and collector else None
    return None


def _hex(text: str, length: int) -> bool:
    return len(text) == length and set(text) <= _HEX


class _Span:
    __slots__ = ("name", "span_id", "parent_id", "start_ns", "attributes")

    def __init__(self, name: str, parent_id: str, **attributes):
        self.name = name
        self.span_id = os.urandom(8).hex()
        self.parent_id = parent_id
        self.attributes = attributes
        self.start_ns = 0

    def __enter__(self):
        global _current
        _current = self.span_id
        self.start_ns = time.time_ns()
        return self

    def __exit__(self, kind, error, traceback):
        global _current
        end_ns = time.time_ns()
        _current = self.parent_id
        if error is not None:
            self.attributes["error"] = str(error) or kind.__name__
        trace_id, collector, service = _trace
        _send(collector, {"trace_id": trace_id, "span_id": self.span_id, "parent_span_id": self.parent_id,
                          "name": self.name, "service": service, "start_ns": self.start_ns, "end_ns": end_ns,
                          "attributes": self.attributes})


class _Untraced:
    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        return None


_UNTRACED = _Untraced()


def _send(collector: str, span: dict) -> None:
    import socket  # only when traced: its import costs an untraced pyrunc a few ms

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.settimeout(SEND_TIMEOUT)
        try:
            sock.sendto(json.dumps(span, separators=(",", ":")).encode(), "\0" + collector)
        except OSError:
            pass


def command(name: str):
    """The span of a whole pyrunc command, if the environment says it is traced."""
    global _trace, _current
    context = _context(os.environ.get("TRACEPARENT", ""), os.environ.get("TRACESTATE", ""))
    if context is None:
        return _UNTRACED
    trace_id, parent_id, collector = context
    _trace = (trace_id, collector, f"pyrunc {name}")
    _current = parent_id
    return _Span(name, parent_id, pid=os.getpid())


def span(name: str):
    """A phase of the command, if it is traced."""
    return _UNTRACED if _trace is None else _Span(name, _current)


def traced() -> bool:
    return _trace is not None

"""`pydocker --trace` (or PYDOCKER_TRACE=1): where a command's time goes, hop by hop.

The client starts a W3C trace: a trace id and the root span (the command itself), sent with
every request as `traceparent`, and `tracestate: pydocker=<root span id>@<collector>` naming
the abstract unix datagram socket it collects on. Every layer a traced request reaches
(pydockerd, pycontainerd, the shim, pyrunc, and the container's own run, which the shim
times) sends each span it finishes there, one JSON datagram each (protos/trace.py has the
whole contract). Once the command is done, the client waits for the stragglers (until every
span's parent has come and nothing came for QUIET seconds, LONGEST_WAIT at most), then
prints the spans as a tree, and a line per layer with the time that was that layer's own: at
each moment the command's time counts for the deepest layer at work. PYDOCKER_TRACE=json
prints the spans instead, one JSON object a line, for scripts.

Nothing of this is imported, bound or sent by an untraced command.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

import _socket

QUIET = 0.2
LONGEST_WAIT = 3.0
POLL = 0.05  # how often the reader looks up from the socket to see whether it may stop
# The layers, outermost first; every pyrunc command (a process of its own) is a layer at the runtime's depth.
LAYERS = ("client", "pydockerd", "pycontainerd", "shim", "runtime", "container")


def traceparent(trace_id: str, span_id: str) -> str:
    return f"00-{trace_id}-{span_id}-01"


class Trace:
    """The command's trace: its context, its collector, and the spans that came back."""

    def __init__(self, command: str, started_ns: int, output: str):
        self.output = output  # "table" or "json"
        self.trace_id = os.urandom(16).hex()
        self.root_span_id = os.urandom(8).hex()
        self.command = command
        self.started_ns = started_ns
        self.collector = f"pydocker-trace-{self.trace_id}"
        self.spans: list[dict] = []
        self._sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
        self._sock.bind("\0" + self.collector)
        self._sock.settimeout(POLL)
        self._last_arrival = time.monotonic()
        self._finishing_at: float | None = None
        self._reader = threading.Thread(target=self._read, name="trace-collector", daemon=True)
        self._reader.start()

    def headers(self) -> dict[str, str]:
        return {"traceparent": traceparent(self.trace_id, self.root_span_id),
                "tracestate": f"pydocker={self.root_span_id}@{self.collector}"}

    def finish(self) -> list[dict]:
        """End the command's span, wait for the stragglers; every span, the command's first."""
        ended_ns = time.time_ns()
        self._finishing_at = time.monotonic()
        self._reader.join()
        self._sock.close()
        root = {"trace_id": self.trace_id, "span_id": self.root_span_id, "parent_span_id": "",
                "name": self.command, "service": "client", "start_ns": self.started_ns, "end_ns": ended_ns,
                "attributes": {"pid": os.getpid()}}
        return [root, *self.spans]

    def report(self) -> None:
        """On stderr: the command's own output stays as it is."""
        spans = self.finish()
        if self.output == "json":
            sys.stderr.write("".join(json.dumps(span, separators=(",", ":")) + "\n" for span in spans))
        else:
            sys.stderr.write(render(spans))
        sys.stderr.flush()

    def _read(self) -> None:
        while not self._complete():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            try:
                span = json.loads(data)
            except ValueError:
                continue
            if _well_formed(span) and span["trace_id"] == self.trace_id:
                self.spans.append(span)
                self._last_arrival = time.monotonic()

    def _complete(self) -> bool:
        if self._finishing_at is None:
            return False
        now = time.monotonic()
        if now - self._finishing_at >= LONGEST_WAIT:
            return True
        known = {self.root_span_id} | {span["span_id"] for span in self.spans}
        closed = all(span.get("parent_span_id") in known for span in self.spans)
        return closed and now - max(self._last_arrival, self._finishing_at) >= QUIET


_TEXT_FIELDS = ("trace_id", "span_id", "parent_span_id", "name", "service")


def _well_formed(span) -> bool:
    return (isinstance(span, dict) and all(isinstance(span.get(key), str) for key in _TEXT_FIELDS)
            and all(isinstance(span.get(key), int) for key in ("start_ns", "end_ns")))


# --- the table ---------------------------------------------------------------------------------


def _depth(service: str) -> int:
    return LAYERS.index(service if service in LAYERS else "runtime")


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.1f} ms"


def tree(spans: list[dict]) -> list[tuple[int, dict]]:
    """(depth, span) in the order of the tree: children after their parent, by start time; a
    span whose parent never came hangs from the root (the first span)."""
    root, rest = spans[0], spans[1:]
    known = {span["span_id"] for span in spans}
    children: dict[str, list[dict]] = {}
    for span in rest:
        parent = span.get("parent_span_id")
        children.setdefault(parent if parent in known else root["span_id"], []).append(span)
    ordered: list[tuple[int, dict]] = []

    def visit(span: dict, depth: int) -> None:
        ordered.append((depth, span))
        for child in sorted(children.get(span["span_id"], []), key=lambda s: (s["start_ns"], -s["end_ns"])):
            visit(child, depth + 1)

    visit(root, 0)
    return ordered


def own_times(spans: list[dict]) -> dict[str, int]:
    """service -> ns during which it was the deepest layer at work (they add up to the root's time)."""
    bounds = sorted({t for span in spans for t in (span["start_ns"], span["end_ns"])})
    owned: dict[str, int] = {}
    for start, end in zip(bounds, bounds[1:]):
        busy = [span for span in spans if span["start_ns"] <= start and span["end_ns"] >= end]
        if busy:
            deepest = max(busy, key=lambda span: _depth(span["service"]))
            owned[deepest["service"]] = owned.get(deepest["service"], 0) + end - start
    return owned


def render(spans: list[dict]) -> str:
    root = spans[0]
    origin = root["start_ns"]
    rows = [(span["service"], "  " * depth + span["name"], _ms(span["start_ns"] - origin),
             _ms(span["end_ns"] - span["start_ns"])) for depth, span in tree(spans)]
    header = ("HOP", "OPERATION", "START", "DURATION")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [f"trace {root['trace_id']}"]
    for hop, operation, start, duration in [header, *rows]:
        lines.append(f"{hop:<{widths[0]}}  {operation:<{widths[1]}}  {start:>{widths[2]}}  {duration:>{widths[3]}}")
    owned = own_times(spans)
    total = root["end_ns"] - root["start_ns"]
    services = sorted({span["service"] for span in spans},
                      key=lambda s: (_depth(s), min(span["start_ns"] for span in spans if span["service"] == s)))
    summary = [(service, str(sum(1 for span in spans if span["service"] == service)), _ms(owned.get(service, 0)),
                f"{100 * owned.get(service, 0) / total:.0f}%" if total else "") for service in services]
    header = ("LAYER", "SPANS", "OWN TIME", "SHARE")
    widths = [max(len(row[i]) for row in [header, *summary]) for i in range(4)]
    lines.append("")
    for layer, count, own, share in [header, *summary]:
        lines.append(f"{layer:<{widths[0]}}  {count:>{widths[1]}}  {own:>{widths[2]}}  {share:>{widths[3]}}")
    return "\n".join(lines) + "\n"

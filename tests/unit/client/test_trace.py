"""`pydocker --trace`: the trace context the client sends and every layer reads, the requests an
untraced command sends (no context at all), and the table the spans become."""
from __future__ import annotations

import json
import socket
import threading

import pytest

from client import trace
from client.__main__ import _split_globals, main
from protos.trace import TraceContext
from runc import trace as runc_trace

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT = "00f067aa0ba902b7"


def test_the_context_the_client_sends_is_the_one_the_daemons_and_pyrunc_read():
    collector = trace.Trace("pydocker ps", 0, "table")
    try:
        headers = collector.headers()
        assert headers["traceparent"] == f"00-{collector.trace_id}-{collector.root_span_id}-01"
        assert headers["tracestate"] == f"pydocker={collector.root_span_id}@{collector.collector}"
        context = TraceContext.parse(headers["traceparent"], headers["tracestate"])
        assert (context.trace_id, context.span_id, context.root_span_id, context.collector) == \
            (collector.trace_id, collector.root_span_id, collector.root_span_id, collector.collector)
        child = context.child("b7ad6b7169203331")
        assert child.headers() == {"traceparent": f"00-{collector.trace_id}-b7ad6b7169203331-01",
                                   "tracestate": headers["tracestate"]}
        environment = child.environment()
        assert runc_trace._context(environment["TRACEPARENT"], environment["TRACESTATE"]) == \
            (collector.trace_id, "b7ad6b7169203331", collector.collector)
    finally:
        collector.finish()


@pytest.mark.parametrize("traceparent, tracestate", [
    (f"00-{TRACE_ID}-{ROOT}-01", None),  # not ours: no tracestate entry
    (f"00-{TRACE_ID}-{ROOT}-01", "congo=t61rcWkgMzE"),
    (None, f"pydocker={ROOT}@c"),
    (f"00-{TRACE_ID}-{ROOT}-00", f"pydocker={ROOT}@c"),  # not sampled
    (f"00-{'0' * 32}-{ROOT}-01", f"pydocker={ROOT}@c"),
    (f"00-{TRACE_ID}-{'0' * 16}-01", f"pydocker={ROOT}@c"),
    (f"00-{TRACE_ID.upper()}-{ROOT}-01", f"pydocker={ROOT}@c"),
    (f"00-{TRACE_ID}-{ROOT}-01-extra", f"pydocker={ROOT}@c"),
    (f"ff-{TRACE_ID}-{ROOT}-01", f"pydocker={ROOT}@c"),
    (f"00-{TRACE_ID}-{ROOT}", f"pydocker={ROOT}@c"),
    (f"00-{TRACE_ID}-{ROOT}-01", "pydocker=nothex@c"),
    (f"00-{TRACE_ID}-{ROOT}-01", f"pydocker={ROOT}@"),
])
def test_a_request_that_is_not_one_of_our_traces_is_not_traced(traceparent, tracestate):
    assert TraceContext.parse(traceparent, tracestate) is None
    assert runc_trace._context(traceparent or "", tracestate or "") is None


def test_other_vendors_entries_and_a_future_version_are_kept():
    state = f"congo=t61rcWkgMzE, pydocker={ROOT}@collector-1"
    context = TraceContext.parse(f"01-{TRACE_ID}-{ROOT}-01-future", state)
    assert (context.trace_id, context.collector) == (TRACE_ID, "collector-1")
    assert context.child("b7ad6b7169203331").headers()["tracestate"] == state


def test_trace_is_a_global_flag():
    assert _split_globals(["--trace", "-H", "unix:///x", "run", "--trace"]) == ("unix:///x", True, {}, ["run", "--trace"])
    assert _split_globals(["ps"]) == (None, False, {}, ["ps"])


# --- what goes over the wire -------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path):
    """A stand-in daemon on a unix socket: answers every request with `[]`, keeps their heads."""
    path = tmp_path / "docker.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    heads: list[str] = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                heads.append(data.partition(b"\r\n\r\n")[0].decode())
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"unix://{path}", heads
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()


def header_names(head: str) -> set[str]:
    return {line.partition(":")[0].lower() for line in head.split("\r\n")[1:]}


def test_an_untraced_command_sends_no_trace_context(engine, monkeypatch, capsys):
    host, heads = engine
    monkeypatch.delenv("PYDOCKER_TRACE", raising=False)
    assert main(["-H", host, "ps"]) == 0
    assert heads and all(not header_names(head) & {"traceparent", "tracestate"} for head in heads)
    assert capsys.readouterr().err == ""


def test_a_traced_command_sends_its_context_and_reports_its_spans(engine, monkeypatch, capsys):
    host, heads = engine
    monkeypatch.setenv("PYDOCKER_TRACE", "json")
    assert main(["-H", host, "ps"]) == 0
    spans = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(span["service"], span["name"], span["parent_span_id"]) for span in spans] == \
        [("client", "pydocker ps", "")]
    root = spans[0]
    lines = heads[0].split("\r\n")
    assert f"traceparent: 00-{root['trace_id']}-{root['span_id']}-01" in lines
    assert any(line.startswith(f"tracestate: pydocker={root['span_id']}@") for line in lines)


def test_spans_sent_to_the_collector_come_back_and_others_do_not(monkeypatch):
    monkeypatch.setattr(trace, "QUIET", 0.05)
    collector = trace.Trace("pydocker run", 1, "json")
    context = TraceContext.parse(**dict(zip(("traceparent", "tracestate"), collector.headers().values())))
    from protos import trace as wire

    with wire.Span("POST /containers/create", "pydockerd", context):
        pass
    foreign = dict(wire.record(context, "1111111111111111", "stray", "pydockerd", 1, 2, {}), trace_id="f" * 32)
    wire.send(collector.collector, foreign)
    wire.send(collector.collector, {"not": "a span"})
    spans = collector.finish()
    assert [(span["service"], span["name"]) for span in spans] == \
        [("client", "pydocker run"), ("pydockerd", "POST /containers/create")]
    assert spans[1]["parent_span_id"] == spans[0]["span_id"]


# --- the table ---------------------------------------------------------------------------------


def span(span_id, parent, service, name, start, end):
    return {"trace_id": TRACE_ID, "span_id": span_id, "parent_span_id": parent, "name": name, "service": service,
            "start_ns": start * 1_000_000, "end_ns": end * 1_000_000, "attributes": {}}


SPANS = [
    span("r", "", "client", "pydocker run --rm busybox true", 0, 100),
    span("c", "r", "pydockerd", "POST /containers/create", 10, 20),
    span("s", "r", "pydockerd", "POST /containers/x/start", 30, 80),
    span("t", "s", "pycontainerd", "Tasks/Start", 35, 75),
    span("h", "t", "shim", "Start", 40, 70),
    span("p", "h", "pyrunc start", "process", 42, 68),
    span("q", "p", "pyrunc start", "start", 50, 60),
    span("k", "r", "container", "run", 58, 90),
    span("o", "gone", "shim", "Delete", 91, 95),
]


def test_the_tree_puts_children_under_their_parent_by_start_and_orphans_under_the_root():
    assert [(depth, s["span_id"]) for depth, s in trace.tree(SPANS)] == \
        [(0, "r"), (1, "c"), (1, "s"), (2, "t"), (3, "h"), (4, "p"), (5, "q"), (1, "k"), (1, "o")]


def test_own_time_goes_to_the_deepest_layer_at_work_and_adds_up_to_the_command():
    owned = trace.own_times(SPANS)
    ms = {service: ns / 1_000_000 for service, ns in owned.items()}
    # 0-10 client, 10-20 pydockerd, 20-30 client, 30-35 pydockerd, 35-40 pycontainerd, 40-42 shim,
    # 42-58 pyrunc, 58-90 the container (deepest, though pyrunc and the rest still run), 90-91
    # client, 91-95 shim, 95-100 client
    assert ms == {"client": 10 + 10 + 1 + 5, "pydockerd": 10 + 5, "pycontainerd": 5, "shim": 2 + 4,
                  "pyrunc start": 16, "container": 32}
    assert sum(owned.values()) == 100 * 1_000_000


def test_the_table():
    assert trace.render(SPANS) == f"""\
trace {TRACE_ID}
HOP           OPERATION                         START  DURATION
client        pydocker run --rm busybox true   0.0 ms  100.0 ms
pydockerd       POST /containers/create       10.0 ms   10.0 ms
pydockerd       POST /containers/x/start      30.0 ms   50.0 ms
pycontainerd      Tasks/Start                 35.0 ms   40.0 ms
shim                Start                     40.0 ms   30.0 ms
pyrunc start          process                 42.0 ms   26.0 ms
pyrunc start            start                 50.0 ms   10.0 ms
container       run                           58.0 ms   32.0 ms
shim            Delete                        91.0 ms    4.0 ms

LAYER         SPANS  OWN TIME  SHARE
client            1   26.0 ms    26%
pydockerd         2   15.0 ms    15%
pycontainerd      1    5.0 ms     5%
shim              2    6.0 ms     6%
pyrunc start      2   16.0 ms    16%
container         1   32.0 ms    32%
"""

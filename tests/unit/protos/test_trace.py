"""protos/trace.py and protos/otel.py: the spans the shim (hand-written) and the daemons
(OpenTelemetry) send are the same datagrams, and nothing of OpenTelemetry is loaded where it
must not be."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from protos import trace

REPO = Path(__file__).resolve().parents[3]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = "00f067aa0ba902b7"
ROOT = "a3ce929d0e0e4736"


@pytest.fixture
def collector():
    """An abstract datagram socket, as the client binds one; yields (name, read every span)."""
    name = f"pydocker-test-{os.getpid()}-{os.urandom(4).hex()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(1)

    def received() -> list[dict]:
        spans = []
        sock.setblocking(False)
        try:
            while True:
                spans.append(json.loads(sock.recv(65536)))
        except BlockingIOError:
            return spans

    yield name, received
    sock.close()


def context(collector_name: str) -> trace.TraceContext:
    return trace.TraceContext.parse(f"00-{TRACE_ID}-{CALLER}-01", f"congo=x, pydocker={ROOT}@{collector_name}")


def test_hand_written_spans_nest_through_current_and_reach_the_collector(collector):
    name, received = collector
    assert trace.current() is None
    with trace.Span("Start", "shim", context(name), task="c1") as outer:
        assert trace.current().span_id == outer.context.span_id
        inner = trace.Span("process", "pyrunc start", trace.current())
        environment = inner.context.environment()
        inner.end()
        with pytest.raises(RuntimeError), trace.Span("Kill", "shim", trace.current()):
            raise RuntimeError("no such process")
    assert trace.current() is None
    first, failed, last = received()
    assert (first["name"], first["service"], first["parent_span_id"]) == ("process", "pyrunc start", outer.context.span_id)
    assert failed["attributes"] == {"error": "no such process"}
    assert (last["name"], last["parent_span_id"], last["trace_id"], last["attributes"]) == \
        ("Start", CALLER, TRACE_ID, {"task": "c1"})
    assert last["start_ns"] <= first["start_ns"] <= first["end_ns"] <= last["end_ns"]
    assert environment == {"TRACEPARENT": f"00-{TRACE_ID}-{inner.context.span_id}-01",
                           "TRACESTATE": f"congo=x, pydocker={ROOT}@{name}"}


def test_the_root_is_where_work_outside_the_request_hangs(collector):
    name, _ = collector
    root = context(name).root()
    assert (root.trace_id, root.span_id) == (TRACE_ID, ROOT)


def test_a_span_for_a_collector_that_is_gone_is_dropped_quietly():
    trace.Span("Start", "shim", context(f"nobody-{os.urandom(4).hex()}")).end()


def test_opentelemetry_spans_are_the_same_datagrams(collector):
    from protos import otel

    name, received = collector
    tracer = otel.Tracer("pycontainerd")
    assert not tracer.active()
    with tracer.server_span("Tasks/Start", context(name)) as end:
        assert tracer.active()
        with tracer.client_span("Task/Start") as carrier:
            sent = trace.TraceContext.from_carrier(carrier.get)
        later = tracer.current()
        end()  # early, as the reply's last bytes leave; leaving the block does not end it again
    assert not tracer.active()
    with tracer.resumed(later.root()):
        assert tracer.active()
        with tracer.internal_span("delete"):
            pass
    client, server, resumed = received()
    assert (server["name"], server["service"], server["parent_span_id"], server["trace_id"]) == \
        ("Tasks/Start", "pycontainerd", CALLER, TRACE_ID)
    assert (client["name"], client["parent_span_id"]) == ("Task/Start", server["span_id"])
    assert (sent.span_id, sent.root_span_id, sent.collector) == (client["span_id"], ROOT, name)
    assert "congo=x" in sent.tracestate
    assert (resumed["name"], resumed["parent_span_id"]) == ("delete", ROOT)
    assert server["start_ns"] <= client["start_ns"] <= client["end_ns"] <= server["end_ns"]


def loaded_top_levels(*modules: str) -> set[str]:
    probe = f"import sys, {', '.join(modules)}; print(' '.join(sorted(sys.modules)))"
    return set(subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.split())


def test_the_shim_and_pyrunc_never_load_opentelemetry():
    loaded = loaded_top_levels("shim.serve", "shim.__main__", "runc.__main__", "runc.libcontainer.container")
    assert not {name for name in loaded if name.startswith("opentelemetry")}


def test_the_daemons_load_the_sdk_only_when_a_traced_request_comes():
    for modules in (("containerd.server", "containerd.runtime.shim"), ("dockerd.api.app", "dockerd.daemon")):
        loaded = loaded_top_levels(*modules)
        assert not {name for name in loaded if name.startswith("opentelemetry.sdk")} and "protos.otel" not in loaded

"""pydocker's views of the stack itself: `system layers` (the live processes of every layer)
and `--trace` (where a command's time goes, hop by hop), on a real pydockerd + pycontainerd."""
from __future__ import annotations

import json
import socket
import subprocess
import threading

import pytest

from tests.fixtures.client import PYDOCKER

pytestmark = pytest.mark.root

HOPS = ("client", "pydockerd", "pycontainerd", "shim", "pyrunc create", "pyrunc start", "container")


def pydocker(stack, *args, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([PYDOCKER, *args], capture_output=True, text=True, env=stack.environment | (env or {}),
                          timeout=timeout)


def traced_spans(stack, *args) -> tuple[subprocess.CompletedProcess, list[dict]]:
    done = pydocker(stack, *args, env={"PYDOCKER_TRACE": "json"})
    return done, [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]


def test_trace_of_run_rm_has_every_hop_nested_in_one_trace(stack):
    done, spans = traced_spans(stack, "run", "--rm", "busybox", "true")
    assert done.returncode == 0, done.stderr
    root = spans[0]
    assert root["service"] == "client" and root["parent_span_id"] == ""
    assert {span["service"] for span in spans} >= set(HOPS), spans
    assert {span["trace_id"] for span in spans} == {root["trace_id"]}
    by_id = {span["span_id"]: span for span in spans}
    assert len(by_id) == len(spans)
    for span in spans:
        assert span["end_ns"] > span["start_ns"], span
        if span is root:
            continue
        parent = by_id[span["parent_span_id"]]  # every parent came back
        assert parent["start_ns"] <= span["start_ns"] and span["end_ns"] <= parent["end_ns"], (parent, span)
    # Each hop's spans hang from the hop above it.
    hop_of = {span["span_id"]: span["service"] for span in spans}
    callers = {span["service"]: set() for span in spans}
    for span in spans[1:]:
        callers[span["service"]].add(hop_of[span["parent_span_id"]])
    assert callers["pydockerd"] <= {"client", "pydockerd"}
    assert callers["pycontainerd"] <= {"pydockerd", "pycontainerd"}
    assert callers["shim"] <= {"pycontainerd"}
    assert callers["pyrunc create"] <= {"shim", "pyrunc create"}
    assert callers["container"] == {"client"}
    # the processes are the stack's own: pyrunc's phases in another process than the shim's
    pyrunc_pids = {span["attributes"].get("pid") for span in spans if span["service"] == "pyrunc create"} - {None}
    assert pyrunc_pids and root["attributes"]["pid"] not in pyrunc_pids


@pytest.fixture
def relay(stack, tmp_path):
    """A unix socket in front of pydockerd that passes bytes both ways (hijacked streams too)
    and keeps the head of every request: (its -H host, the heads)."""
    path = tmp_path / "relay.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(16)
    heads: list[str] = []

    def pipe(source: socket.socket, sink: socket.socket, keep_head: bool) -> None:
        head = b""
        try:
            while data := source.recv(65536):
                if keep_head and b"\r\n\r\n" not in head:
                    head += data
                    if b"\r\n\r\n" in head:
                        heads.append(head.partition(b"\r\n\r\n")[0].decode("latin-1"))
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            daemon = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            daemon.connect(str(stack.socket))
            threading.Thread(target=pipe, args=(client, daemon, True), daemon=True).start()
            threading.Thread(target=pipe, args=(daemon, client, False), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"unix://{path}", heads
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()


def trace_headers(head: str) -> set[str]:
    return {line.partition(":")[0].lower() for line in head.split("\r\n")[1:]} & {"traceparent", "tracestate"}


def test_only_a_traced_run_sends_the_trace_context(stack, relay):
    host, heads = relay
    done = pydocker(stack, "-H", host, "run", "--rm", "busybox", "true", env={"PYDOCKER_TRACE": "0"})
    assert done.returncode == 0, done.stderr
    assert any("/attach" in head for head in heads) and not any(trace_headers(head) for head in heads)
    heads.clear()
    done = pydocker(stack, "-H", host, "--trace", "run", "--rm", "busybox", "true")
    assert done.returncode == 0, done.stderr
    assert any("/attach" in head for head in heads)
    assert all(trace_headers(head) == {"traceparent", "tracestate"} for head in heads), heads


def test_trace_table_names_every_hop(stack):
    done = pydocker(stack, "--trace", "run", "--rm", "busybox", "true")
    assert done.returncode == 0, done.stderr
    table, _, summary = done.stderr.partition("\n\n")
    lines = table.splitlines()
    assert lines[0].startswith("trace ") and lines[1].split() == ["HOP", "OPERATION", "START", "DURATION"]
    hops = {line[:len(hop)] for line in lines[2:] for hop in HOPS if line.startswith(hop + " ")}
    assert hops == set(HOPS)
    layers = {line.split("  ")[0].strip(): line for line in summary.splitlines()[1:]}
    assert set(layers) >= set(HOPS), summary
    assert done.stdout == ""


# --- system layers -----------------------------------------------------------------------------


def ppid_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[1])


def layers(stack) -> dict:
    done = pydocker(stack, "system", "layers", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def ours(report: dict, stack) -> dict:
    """Our pycontainerd's entry (others' stacks on the machine are listed when pydockerd is down)."""
    found = [d for d in report["pycontainerd"] if d["address"] == str(stack.containerd_socket)]
    assert len(found) == 1, report["pycontainerd"]
    return found[0]


def shim_of(daemon: dict, container_id: str) -> dict:
    found = [shim for shim in daemon["shims"] if shim["id"] == container_id]
    assert len(found) == 1, daemon["shims"]
    return found[0]


def test_layers_shows_the_processes_of_every_layer(stack):
    container_id = stack.docker("run", "-d", "--name", "ticker", "busybox", "sleep", "300").stdout.strip()
    init_pid = stack.inspect(container_id)["State"]["Pid"]
    report = layers(stack)
    dockerd = report["pydockerd"]
    assert (dockerd["state"], dockerd["pid"], dockerd["ppid"]) == ("running", stack.process.pid, ppid_of(stack.process.pid))
    assert str(stack.socket) in dockerd["sockets"] and dockerd["containerd"] == str(stack.containerd_socket)
    assert len(report["pycontainerd"]) == 1
    daemon = ours(report, stack)
    assert (daemon["state"], daemon["pid"], daemon["ppid"]) == \
        ("running", stack.containerd.pid, ppid_of(stack.containerd.pid))
    assert daemon["sockets"] == [str(stack.containerd_socket), f"{stack.containerd_socket}.ttrpc"]
    shim = shim_of(daemon, container_id)
    assert (shim["namespace"], shim["ppid"]) == ("moby", ppid_of(shim["pid"]))
    assert shim["bundle"].endswith(f"/moby/{container_id}") and shim["sockets"][0].startswith(f"{stack.work}/s/")
    roles = {process["role"]: process for process in shim["processes"]}
    assert set(roles) == {"container", "logger"}
    container = roles["container"]
    assert (container["pid"], container["ppid"], container["name"], container["command"]) == \
        (init_pid, shim["pid"], "ticker", "sleep 300")
    for forkserver in daemon["forkservers"]:
        assert forkserver["ppid"] == ppid_of(forkserver["pid"])
    assert 0 <= container["uptime"] <= shim["uptime"] <= daemon["uptime"]

    table = pydocker(stack, "system", "layers").stdout.splitlines()
    assert table[0].split() == ["LAYER", "PID", "PPID", "UPTIME", "DETAILS"]
    assert table[1].split()[:3] == ["pydockerd", str(stack.process.pid), str(ppid_of(stack.process.pid))]
    assert any(line.split()[:3] == ["`-", "pycontainerd", str(stack.containerd.pid)] for line in table)
    line = next(line for line in table if line.split()[2:3] == [str(init_pid)])
    assert line.split()[1] == "container" and f"ticker ({container_id[:12]})  sleep 300" in line


def test_layers_says_which_daemon_is_down_and_shows_what_still_runs(stack):
    container_id = stack.docker("run", "-d", "--name", "ticker", "busybox", "sleep", "300").stdout.strip()
    init_pid = stack.inspect(container_id)["State"]["Pid"]
    stack.kill9()
    try:
        report = layers(stack)
        assert report["pydockerd"] == {"state": "down", "address": stack.host}
        container = next(p for p in shim_of(ours(report, stack), container_id)["processes"] if p["role"] == "container")
        assert (container["pid"], container["name"]) == (init_pid, None)
        done = pydocker(stack, "system", "layers")
        assert done.stdout.splitlines()[1].split() == ["pydockerd", "-", "-", "down", stack.host]
        assert f"pydockerd is down: nothing serves {stack.host}." in done.stdout
    finally:
        stack.start()

    stack.containerd.kill()
    stack.containerd.wait(10)
    try:
        report = layers(stack)
        assert report["pydockerd"]["state"] == "running"
        [daemon] = report["pycontainerd"]
        assert (daemon["state"], daemon["address"]) == ("down", str(stack.containerd_socket))
        container = next(p for p in shim_of(daemon, container_id)["processes"] if p["role"] == "container")
        assert (container["pid"], container["name"]) == (init_pid, "ticker")
        assert f"pycontainerd is down: nothing serves {stack.containerd_socket}." in \
            pydocker(stack, "system", "layers").stdout
    finally:
        stack.start_containerd()
    assert stack.docker("ps", "--format", "{{.Names}}").stdout.split() == ["ticker"]

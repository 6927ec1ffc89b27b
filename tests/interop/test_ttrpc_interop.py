"""protos.ttrpc against a real ttrpc peer: Debian's containerd 1.6 serves
containerd.services.events.ttrpc.v1.Events on <grpc address>.ttrpc, the service every
shim calls to publish task events. The real `ctr events` confirms what arrived, which
also checks the Any type URL: ctr skips events it cannot decode."""
import queue
import signal
import socket
import subprocess
import threading
import time

import pytest
from google.protobuf import empty_pb2, timestamp_pb2

from protos import event_types_pb2, events_pb2, ttrpc, ttrpc_events_pb2, ttrpc_pb2, typeurl
from protos.ttrpc import Code, RPCError

pytestmark = [pytest.mark.root, pytest.mark.interop]

EVENTS = ttrpc_events_pb2.DESCRIPTOR.services_by_name["Events"]


@pytest.fixture
def client(containerd):
    with ttrpc.Client(f"{containerd.address}.ttrpc") as client:
        yield client


@pytest.fixture
def events_client(containerd, client):
    return client.stub(EVENTS, metadata={ttrpc.NAMESPACE_KEY: containerd.namespace})


@pytest.fixture
def ctr_events(containerd):
    """Lines printed by a running `ctr events`, stopped (by PID) at teardown."""
    process = subprocess.Popen(["ctr", "--address", str(containerd.address), "events"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    try:
        yield lines
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        process.stdout.close()
        process.stderr.close()


def task_exit_envelope(namespace: str, pid: int) -> events_pb2.Envelope:
    exited_at = timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=5000)
    event = event_types_pb2.TaskExit(container_id="pydocker-c1", id="pydocker-c1", pid=pid, exit_status=137,
                                     exited_at=exited_at)
    return events_pb2.Envelope(timestamp=exited_at, namespace=namespace, topic="/tasks/exit",
                               event=typeurl.pack(event))


def test_forward_task_exit_reaches_subscribers(containerd, events_client, ctr_events):
    # ctr gives no sign that its subscription is in place: forward until one event shows.
    deadline = time.monotonic() + 30
    pid = 1000
    while time.monotonic() < deadline:
        pid += 1
        reply = events_client.Forward(
            ttrpc_events_pb2.ForwardRequest(envelope=task_exit_envelope(containerd.namespace, pid)), timeout=10)
        assert reply == empty_pb2.Empty()
        try:
            line = ctr_events.get(timeout=1)
        except queue.Empty:
            continue
        break
    else:
        pytest.fail("ctr events printed nothing within 30s")
    # "<timestamp> <namespace> <topic> <event as JSON>"
    assert f" {containerd.namespace} /tasks/exit " in line
    assert '"container_id":"pydocker-c1"' in line and '"exit_status":137' in line and '"pid":10' in line


def test_real_server_statuses(containerd, client, events_client):
    with pytest.raises(RPCError) as caught:
        client.call(EVENTS.full_name, "Publish", b"", timeout=10)
    assert (caught.value.code, caught.value.message) == (Code.UNIMPLEMENTED, "method Publish")
    with pytest.raises(RPCError) as caught:
        client.call("containerd.task.v2.Task", "State", b"", timeout=10)
    assert caught.value.code == Code.UNIMPLEMENTED
    bad = task_exit_envelope("not a namespace!", 1)
    with pytest.raises(RPCError) as caught:
        events_client.Forward(ttrpc_events_pb2.ForwardRequest(envelope=bad), timeout=10)
    assert caught.value.code == Code.INVALID_ARGUMENT and "namespace" in caught.value.message


def test_real_server_refuses_oversized_frames(containerd):
    """Our frame header is the one Go's ttrpc reads: a frame over 4 MiB is answered
    ResourceExhausted on its own stream id and the connection stays usable."""
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(f"{containerd.address}.ttrpc")
        raw.settimeout(30)
        for stream_id, payload, expected in [(1, b"x" * ttrpc.MAX_MESSAGE_LENGTH, Code.RESOURCE_EXHAUSTED),
                                             (3, b"", Code.UNIMPLEMENTED)]:
            data = ttrpc_pb2.Request(service=EVENTS.full_name, method="Publish", payload=payload).SerializeToString()
            raw.sendall(ttrpc.HEADER.pack(len(data), stream_id, ttrpc.TYPE_REQUEST, 0) + data)
            answered_id, frame_type, _, answer = ttrpc.read_frame(raw)
            assert (answered_id, frame_type) == (stream_id, ttrpc.TYPE_RESPONSE)
            assert ttrpc_pb2.Response.FromString(answer).status.code == expected

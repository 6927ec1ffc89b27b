"""protos.ttrpc against itself and against hand-made frames: no child processes, no root."""
import socket
import subprocess
import sys
import threading
import time

import pytest
from google.protobuf import any_pb2, empty_pb2

from protos import shim_pb2, task_pb2, ttrpc, ttrpc_pb2
from protos.ttrpc import Code, RPCError

TASK = shim_pb2.DESCRIPTOR.services_by_name["Task"]
TASK_NAME = "containerd.task.v2.Task"


class FakeTask:
    """A few shim methods; the rest of the Task service stays unimplemented."""

    def __init__(self):
        self.seen = []
        self.release = threading.Event()
        self.waiting = threading.Event()  # set once a Wait is in its handler

    def State(self, request, context):
        self.seen.append(context)
        return shim_pb2.StateResponse(id=request.id, exec_id=request.exec_id, pid=42, status=task_pb2.RUNNING)

    def Kill(self, request, context):
        raise RPCError(Code.NOT_FOUND, f"process {request.exec_id} not found")

    def Wait(self, request, context):
        self.waiting.set()
        self.release.wait(10)
        return shim_pb2.WaitResponse(exit_status=137)

    def Delete(self, request, context):
        raise ValueError("runc delete: exit status 1")

    def Shutdown(self, request, context):
        return None  # google.protobuf.Empty


@pytest.fixture
def socket_path(tmp_path):
    return tmp_path / "ttrpc.sock"


@pytest.fixture
def task():
    return FakeTask()


@pytest.fixture
def server(socket_path, task):
    server = ttrpc.Server()
    server.register_service(TASK, task)
    server.start(ttrpc.listen(socket_path))
    yield server
    task.release.set()
    server.close()


@pytest.fixture
def client(server, socket_path):
    with ttrpc.Client(socket_path) as client:
        yield client


@pytest.fixture
def stub(client):
    return client.stub(TASK, metadata={ttrpc.NAMESPACE_KEY: "moby"})


@pytest.fixture(autouse=True)
def no_threads_left_behind():
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and set(threading.enumerate()) - before:
        time.sleep(0.01)
    assert set(threading.enumerate()) - before == set()


def test_header_layout():
    frame = ttrpc.encode_frame(5, ttrpc.TYPE_REQUEST, 0, b"abc")
    assert frame == b"\x00\x00\x00\x03" b"\x00\x00\x00\x05" b"\x01" b"\x00" b"abc"
    assert ttrpc.HEADER_LENGTH == 10
    assert ttrpc.MAX_MESSAGE_LENGTH == 4 * 1024 * 1024


def test_unary_round_trip(stub, task):
    state = stub.State(shim_pb2.StateRequest(id="c1", exec_id="e1"), timeout=5)
    assert (state.id, state.exec_id, state.pid, state.status) == ("c1", "e1", 42, task_pb2.RUNNING)
    assert task.seen[0].service == TASK_NAME and task.seen[0].method == "State"


def test_empty_response(stub):
    assert stub.Shutdown(shim_pb2.ShutdownRequest(id="c1")) == empty_pb2.Empty()


def test_raw_bytes_handler(socket_path):
    with ttrpc.Server() as server:
        server.register("test.Echo", "Echo", lambda payload, context: payload[::-1])
        server.start(ttrpc.listen(socket_path))
        with ttrpc.Client(socket_path) as client:
            assert client.call("test.Echo", "Echo", b"abc") == b"cba"


def test_client_uses_odd_stream_ids_and_matches_answers_out_of_order():
    ours, theirs = socket.socketpair()
    with ttrpc.Client(sock=ours) as client, theirs:
        results = {}
        callers = [threading.Thread(target=lambda n=n: results.__setitem__(
            n, client.call("s.S", f"M{n}", b"", timeout=5))) for n in range(2)]
        requests = {}
        for caller in callers:
            caller.start()
            stream_id, frame_type, flags, data = ttrpc.read_frame(theirs)
            assert (frame_type, flags) == (ttrpc.TYPE_REQUEST, 0)
            requests[stream_id] = ttrpc_pb2.Request.FromString(data).method
        assert sorted(requests) == [1, 3]
        for stream_id in sorted(requests, reverse=True):  # answer the later call first
            answer = ttrpc_pb2.Response(payload=requests[stream_id].encode()).SerializeToString()
            theirs.sendall(ttrpc.encode_frame(stream_id, ttrpc.TYPE_RESPONSE, 0, answer))
        for caller in callers:
            caller.join()
        assert results == {0: b"M0", 1: b"M1"}


def test_concurrent_calls_share_one_connection(socket_path):
    arrived = threading.Barrier(8, timeout=10)

    def handler(payload, context):
        arrived.wait()  # only returns once all eight calls are being handled at once
        return payload

    with ttrpc.Server() as server:
        server.register("test.Echo", "Echo", handler)
        server.start(ttrpc.listen(socket_path))
        with ttrpc.Client(socket_path) as client:
            results = [None] * 8
            callers = [threading.Thread(target=lambda n=n: results.__setitem__(
                n, client.call("test.Echo", "Echo", str(n).encode(), timeout=10))) for n in range(8)]
            for caller in callers:
                caller.start()
            for caller in callers:
                caller.join()
            assert results == [str(n).encode() for n in range(8)]


def test_long_call_does_not_block_others(stub, task):
    waited = []
    waiter = threading.Thread(target=lambda: waited.append(stub.Wait(shim_pb2.WaitRequest(id="c1"), timeout=10)))
    waiter.start()
    assert stub.State(shim_pb2.StateRequest(id="c1"), timeout=5).pid == 42
    task.release.set()
    waiter.join()
    assert waited[0].exit_status == 137


def test_error_status_reaches_the_caller(stub):
    with pytest.raises(RPCError) as caught:
        stub.Kill(shim_pb2.KillRequest(id="c1", exec_id="e9"))
    assert caught.value.code == Code.NOT_FOUND
    assert caught.value.message == "process e9 not found"
    assert str(caught.value) == "NOT_FOUND: process e9 not found"


def test_status_details_travel(socket_path):
    detail = any_pb2.Any(type_url="example.Detail", value=b"\x01")

    def handler(payload, context):
        raise RPCError(Code.FAILED_PRECONDITION, "busy", [detail])

    with ttrpc.Server() as server:
        server.register("test.S", "M", handler)
        server.start(ttrpc.listen(socket_path))
        with ttrpc.Client(socket_path) as client, pytest.raises(RPCError) as caught:
            client.call("test.S", "M", b"")
    assert caught.value.code == Code.FAILED_PRECONDITION and caught.value.details == [detail]


def test_unexpected_exception_is_unknown(stub, caplog):
    with pytest.raises(RPCError) as caught:
        stub.Delete(shim_pb2.DeleteRequest(id="c1"))
    assert (caught.value.code, caught.value.message) == (Code.UNKNOWN, "runc delete: exit status 1")
    assert "Task/Delete failed" in caplog.text


def test_error_mapper_chooses_the_code(socket_path, task):
    def mapper(error):
        return (Code.FAILED_PRECONDITION, f"mapped: {error}") if isinstance(error, ValueError) else None

    with ttrpc.Server(error_mapper=mapper) as server:
        server.register_service(TASK, task)
        server.start(ttrpc.listen(socket_path))
        with ttrpc.Client(socket_path) as client, pytest.raises(RPCError) as caught:
            client.stub(TASK).Delete(shim_pb2.DeleteRequest(id="c1"))
    assert (caught.value.code, caught.value.message) == (Code.FAILED_PRECONDITION,
                                                         "mapped: runc delete: exit status 1")


def test_unknown_service_and_methods_are_unimplemented(client, stub):
    with pytest.raises(RPCError) as caught:
        client.call("containerd.task.v3.Task", "State", b"")
    assert (caught.value.code, caught.value.message) == (Code.UNIMPLEMENTED, "service containerd.task.v3.Task")
    with pytest.raises(RPCError) as caught:
        client.call(TASK_NAME, "Frobnicate", b"")
    assert (caught.value.code, caught.value.message) == (Code.UNIMPLEMENTED, "method Frobnicate")
    with pytest.raises(RPCError) as caught:  # in the service, but FakeTask lacks it
        stub.Pids(shim_pb2.PidsRequest(id="c1"))
    assert caught.value.code == Code.UNIMPLEMENTED


def test_metadata_and_deadline(stub, task):
    stub.State(shim_pb2.StateRequest(id="c1"), timeout=30,
               metadata=[(ttrpc.NAMESPACE_KEY, "moby"), ("X-Trace", "a"), ("x-trace", "b")])
    context = task.seen[-1]
    assert context.metadata == {ttrpc.NAMESPACE_KEY: ["moby"], "x-trace": ["a", "b"]}
    assert context.get("X-TRACE") == "a"
    assert 25 < context.time_remaining() <= 30
    stub.State(shim_pb2.StateRequest(id="c1"))  # the stub's own metadata, no deadline
    assert task.seen[-1].metadata == {ttrpc.NAMESPACE_KEY: ["moby"]}
    assert task.seen[-1].deadline is None


def test_timeout_leaves_the_connection_usable(stub, task):
    with pytest.raises(RPCError) as caught:
        stub.Wait(shim_pb2.WaitRequest(id="c1"), timeout=0.2)
    assert caught.value.code == Code.DEADLINE_EXCEEDED
    task.release.set()  # its late answer arrives and is dropped
    assert stub.State(shim_pb2.StateRequest(id="c1"), timeout=5).pid == 42


def test_server_closing_mid_call_fails_the_call_and_the_client():
    ours, theirs = socket.socketpair()
    with ttrpc.Client(sock=ours) as client:
        failures = []

        def call():
            try:
                client.call("s.S", "M", b"", timeout=10)
            except RPCError as error:
                failures.append(error)

        caller = threading.Thread(target=call)
        caller.start()
        ttrpc.read_frame(theirs)
        theirs.sendall(b"\x00\x00\x00")  # half a header, then gone
        theirs.close()
        caller.join()
        assert failures[0].code == Code.UNAVAILABLE
        with pytest.raises(RPCError) as caught:
            client.call("s.S", "M", b"")
        assert caught.value.code == Code.UNAVAILABLE
        assert client.closed


def test_a_connection_the_server_ends_is_reported_lost_once():
    ours, theirs = socket.socketpair()
    lost = []
    with ttrpc.Client(sock=ours, on_lost=lambda: lost.append(True)) as client:
        assert not client.wait_closed(0)
        theirs.close()
        assert client.wait_closed(10)
        assert lost == [True]
    assert lost == [True]


def test_a_connection_the_client_closes_is_not_reported_lost():
    ours, theirs = socket.socketpair()
    lost = []
    with theirs:
        client = ttrpc.Client(sock=ours, on_lost=lambda: lost.append(True))
        client.close()
        assert client.wait_closed(0)
    assert lost == []


def test_client_closing_mid_call_leaves_the_server_serving(server, socket_path, task):
    first = ttrpc.Client(socket_path)
    waiting = []
    waiter = threading.Thread(target=lambda: waiting.append(pytest.raises(RPCError, first.stub(TASK).Wait,
                                                                           shim_pb2.WaitRequest(id="c1"))))
    waiter.start()
    assert task.waiting.wait(10)
    first.close()
    waiter.join()
    assert waiting[0].value.code == Code.UNAVAILABLE
    task.release.set()  # the handler's answer has nowhere to go
    with ttrpc.Client(socket_path) as second:
        assert second.stub(TASK).State(shim_pb2.StateRequest(id="c1"), timeout=5).pid == 42


def test_oversized_request_is_refused_before_sending(stub, task):
    huge = shim_pb2.CreateTaskRequest(id="c1", bundle="b" * ttrpc.MAX_MESSAGE_LENGTH)
    with pytest.raises(RPCError) as caught:
        stub.Create(huge)
    assert caught.value.code == Code.RESOURCE_EXHAUSTED
    assert stub.State(shim_pb2.StateRequest(id="c1"), timeout=5).pid == 42


def raw_call(sock, stream_id, service, method, payload=b"", flags=0, size_override=None):
    data = ttrpc_pb2.Request(service=service, method=method, payload=payload).SerializeToString()
    sock.sendall(ttrpc.HEADER.pack(size_override or len(data), stream_id, ttrpc.TYPE_REQUEST, flags) + data)
    answered_id, frame_type, _, answer = ttrpc.read_frame(sock)
    assert (answered_id, frame_type) == (stream_id, ttrpc.TYPE_RESPONSE)
    return ttrpc_pb2.Response.FromString(answer)


def test_server_refuses_oversized_frames_and_stays_usable(server, socket_path):
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(socket_path))
        raw.settimeout(10)
        answer = raw_call(raw, 1, TASK_NAME, "State", b"x" * ttrpc.MAX_MESSAGE_LENGTH)
        assert answer.status.code == Code.RESOURCE_EXHAUSTED
        answer = raw_call(raw, 3, TASK_NAME, "State", shim_pb2.StateRequest(id="c1").SerializeToString())
        assert answer.status.code == Code.OK and shim_pb2.StateResponse.FromString(answer.payload).pid == 42


def test_server_refuses_streams_and_even_stream_ids(server, socket_path):
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(socket_path))
        raw.settimeout(10)
        assert raw_call(raw, 1, TASK_NAME, "State", flags=ttrpc.FLAG_REMOTE_OPEN).status.code == Code.UNIMPLEMENTED
        assert raw_call(raw, 2, TASK_NAME, "State").status.code == Code.INVALID_ARGUMENT


def test_oversized_response_becomes_resource_exhausted(socket_path):
    with ttrpc.Server() as server:
        server.register("test.Big", "Get", lambda payload, context: b"x" * ttrpc.MAX_MESSAGE_LENGTH)
        server.start(ttrpc.listen(socket_path))
        with ttrpc.Client(socket_path) as client, pytest.raises(RPCError) as caught:
            client.call("test.Big", "Get", b"", timeout=10)
    assert caught.value.code == Code.RESOURCE_EXHAUSTED


def test_client_drops_oversized_responses_and_stays_usable():
    ours, theirs = socket.socketpair()
    with ttrpc.Client(sock=ours) as client, theirs:
        outcome = []
        caller = threading.Thread(target=lambda: outcome.append(pytest.raises(RPCError, client.call, "s.S", "M", b"")))
        caller.start()
        stream_id, *_ = ttrpc.read_frame(theirs)
        too_big = ttrpc.MAX_MESSAGE_LENGTH + 1
        theirs.sendall(ttrpc.HEADER.pack(too_big, stream_id, ttrpc.TYPE_RESPONSE, 0) + b"\0" * too_big)
        caller.join()
        assert outcome[0].value.code == Code.RESOURCE_EXHAUSTED
        caller = threading.Thread(target=lambda: outcome.append(client.call("s.S", "M", b"")))
        caller.start()
        stream_id, *_ = ttrpc.read_frame(theirs)
        answer = ttrpc_pb2.Response(payload=b"ok").SerializeToString()
        theirs.sendall(ttrpc.encode_frame(stream_id, ttrpc.TYPE_RESPONSE, 0, answer))
        caller.join()
        assert outcome[1] == b"ok"


def test_graceful_shutdown_answers_calls_in_progress(socket_path, task):
    server = ttrpc.Server()
    server.register_service(TASK, task)
    server.start(ttrpc.listen(socket_path))
    client = ttrpc.Client(socket_path)
    outcome = {}
    waiter = threading.Thread(
        target=lambda: outcome.update(wait=client.stub(TASK).Wait(shim_pb2.WaitRequest(id="c1")))
    )
    waiter.start()
    assert task.waiting.wait(10)
    stopper = threading.Thread(target=lambda: outcome.update(shutdown=server.shutdown(timeout=10)))
    stopper.start()
    deadline = time.monotonic() + 10
    while not server._stopping:  # the shutdown has begun
        assert time.monotonic() < deadline
        time.sleep(0.005)
    with pytest.raises(RPCError) as caught:  # new work is turned away meanwhile
        client.stub(TASK).State(shim_pb2.StateRequest(id="c1"), timeout=5)
    assert caught.value.code == Code.UNAVAILABLE
    deadline = time.monotonic() + 10
    while True:  # and soon nobody accepts new connections (the accept loop closes its socket)
        try:
            ttrpc.Client(socket_path).close()
        except RPCError:
            break
        assert time.monotonic() < deadline, "the server still accepts connections while shutting down"
        time.sleep(0.01)
    task.release.set()
    waiter.join()
    stopper.join()
    assert outcome["wait"].exit_status == 137 and outcome["shutdown"] is True
    client.close()


def test_shutdown_from_a_handler_is_refused(socket_path):
    with ttrpc.Server() as server:
        server.register("test.S", "Stop", lambda payload, context: server.shutdown())
        server.start(ttrpc.listen(socket_path))
        with ttrpc.Client(socket_path) as client, pytest.raises(RPCError) as caught:
            client.call("test.S", "Stop", b"")
    assert caught.value.code == Code.UNKNOWN and "wait for itself" in caught.value.message


def test_shim_side_imports_stay_light():
    """What a shim imports for its ttrpc server and event client pulls in neither grpc nor asyncio."""
    probe = ("import sys\n"
             "import protos.ttrpc, protos.typeurl, protos.shim_pb2, protos.ttrpc_events_pb2, protos.event_types_pb2,"
             " protos.runc_options_pb2\n"
             "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                cwd=pytest_root()).stdout.split())
    assert loaded & {"grpc", "asyncio", "concurrent"} == set()


def pytest_root():
    import pathlib
    return pathlib.Path(__file__).resolve().parents[3]

"""Errors cross pycontainerd's edges by kind: errdefs kinds become gRPC status codes on the way
out (grpc_errors), and a shim's ttrpc statuses become kinds on the way in (ShimConnection)."""
import threading

import grpc
import pytest

import errdefs
from containerd.grpc_errors import status_code, translate_errors
from containerd.runtime.shim import ShimConnection
from protos import shim_pb2, ttrpc, version_pb2, version_pb2_grpc

VERSION_SERVICE = version_pb2.DESCRIPTOR.services_by_name["Version"]


class Aborted(Exception):
    """What grpc's context.abort raises to end a call."""


class FakeContext:
    def __init__(self):
        self.status = None

    def abort(self, code, details):
        self.status = (code, details)
        raise Aborted


@pytest.mark.parametrize("error, code", [
    (errdefs.NotFound("container x: not found"), grpc.StatusCode.NOT_FOUND),
    (errdefs.AlreadyExists("x"), grpc.StatusCode.ALREADY_EXISTS),
    (errdefs.InvalidArgument("x"), grpc.StatusCode.INVALID_ARGUMENT),
    (errdefs.FailedPrecondition("x"), grpc.StatusCode.FAILED_PRECONDITION),
    (errdefs.Conflict("x"), grpc.StatusCode.FAILED_PRECONDITION),
    (errdefs.Unavailable("x"), grpc.StatusCode.UNAVAILABLE),
    (errdefs.NotImplemented("x"), grpc.StatusCode.UNIMPLEMENTED),
    (errdefs.DeadlineExceeded("x"), grpc.StatusCode.DEADLINE_EXCEEDED),
    (errdefs.Unknown("x"), grpc.StatusCode.UNKNOWN),
    (FileNotFoundError(2, "No such file"), grpc.StatusCode.NOT_FOUND),
    (PermissionError(13, "Permission denied"), grpc.StatusCode.PERMISSION_DENIED),
    (ValueError("a bug"), grpc.StatusCode.UNKNOWN),
])
def test_kinds_become_status_codes(error, code):
    assert status_code(error) == code

    @translate_errors(VERSION_SERVICE)
    class Failing(version_pb2_grpc.VersionServicer):
        def Version(self, request, context):
            raise error

    context = FakeContext()
    with pytest.raises(Aborted):
        Failing().Version(None, context)
    assert context.status == (code, str(error))


def test_streams_are_translated_and_unimplemented_methods_left_alone():
    from protos import events_pb2, events_pb2_grpc

    @translate_errors(events_pb2.DESCRIPTOR.services_by_name["Events"])
    class Events(events_pb2_grpc.EventsServicer):
        def Subscribe(self, request, context):
            yield "first"
            raise errdefs.InvalidArgument("bad filter")

    context = FakeContext()
    stream = Events().Subscribe(None, context)
    assert next(stream) == "first"
    with pytest.raises(Aborted):
        next(stream)
    assert context.status == (grpc.StatusCode.INVALID_ARGUMENT, "bad filter")
    assert Events.Publish is events_pb2_grpc.EventsServicer.Publish


class FakeShim:
    def State(self, request, context):
        raise ttrpc.RPCError(ttrpc.Code.NOT_FOUND, f"container {request.id}: not found")

    def Kill(self, request, context):
        raise ttrpc.RPCError(ttrpc.Code.FAILED_PRECONDITION, "container not running")

    def Pids(self, request, context):
        return shim_pb2.PidsResponse(processes=[{"pid": 42}])


def test_shim_statuses_become_kinds(tmp_path):
    server = ttrpc.Server()
    server.register_service(shim_pb2.DESCRIPTOR.services_by_name["Task"], FakeShim())
    path = tmp_path / "shim.sock"
    thread = threading.Thread(target=server.serve, args=(ttrpc.listen(path),), daemon=True)
    thread.start()
    connection = ShimConnection(f"unix://{path}", "ns")
    try:
        with pytest.raises(errdefs.NotFound) as raised:
            connection.call("State", shim_pb2.StateRequest(id="c1"), shim_pb2.StateResponse)
        assert str(raised.value) == "container c1: not found"
        with pytest.raises(errdefs.FailedPrecondition):
            connection.call("Kill", shim_pb2.KillRequest(id="c1"), shim_pb2.StateResponse)
        with pytest.raises(errdefs.NotImplemented):
            connection.call("Pause", shim_pb2.PauseRequest(id="c1"), shim_pb2.StateResponse)
        assert [p.pid for p in connection.call("Pids", shim_pb2.PidsRequest(id="c1"), shim_pb2.PidsResponse).processes] == [42]
    finally:
        connection.close()
        server.shutdown()
        thread.join()
    with pytest.raises(errdefs.Unavailable):
        ShimConnection(f"unix://{path}", "ns")

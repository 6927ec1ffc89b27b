"""Facts of containerd's wire contract that a careless edit of a .proto would break
silently: package and service names (they are the gRPC/ttrpc paths), field numbers and
types (they are the bytes), and the Any type URLs of events."""
import importlib
import pathlib

import pytest
from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor as F

from protos import gen
from protos import (
    containers_pb2, event_types_pb2, events_pb2, introspection_pb2, namespaces_pb2, runc_options_pb2, shim_pb2,
    task_pb2, tasks_pb2, ttrpc_events_pb2, ttrpc_pb2, types_pb2, typeurl, version_pb2,
)


def fields(message_type) -> dict[str, tuple[int, int]]:
    return {f.name: (f.number, f.type) for f in message_type.DESCRIPTOR.fields}


def methods(module, service) -> list[str]:
    return [m.name for m in module.DESCRIPTOR.services_by_name[service].methods]


def test_task_exit_fields():
    assert fields(event_types_pb2.TaskExit) == {
        "container_id": (1, F.TYPE_STRING), "id": (2, F.TYPE_STRING), "pid": (3, F.TYPE_UINT32),
        "exit_status": (4, F.TYPE_UINT32), "exited_at": (5, F.TYPE_MESSAGE),
    }
    assert event_types_pb2.TaskExit(container_id="c", pid=1).SerializeToString() == b"\x0a\x01c\x18\x01"


def test_event_type_urls_are_bare_full_names():
    exit_event = event_types_pb2.TaskExit(container_id="c1", id="c1", pid=7, exit_status=137)
    packed = typeurl.pack(exit_event)
    assert packed.type_url == "containerd.events.TaskExit"
    assert typeurl.unpack(packed) == exit_event
    # What Any.Pack writes decodes too.
    prefixed = any_pb2.Any()
    prefixed.Pack(exit_event)
    assert typeurl.unpack(prefixed, event_types_pb2.TaskExit) == exit_event
    with pytest.raises(TypeError):
        typeurl.unpack(packed, event_types_pb2.TaskStart)
    expected = {"TaskCreate", "TaskStart", "TaskDelete", "TaskIO", "TaskExit", "TaskOOM", "TaskExecAdded",
                "TaskExecStarted", "TaskPaused", "TaskResumed", "TaskCheckpointed", "ContainerCreate",
                "ContainerUpdate", "ContainerDelete", "NamespaceCreate", "NamespaceUpdate", "NamespaceDelete",
                "ContentDelete", "ImageCreate", "ImageUpdate", "ImageDelete", "SnapshotPrepare", "SnapshotCommit",
                "SnapshotRemove"}
    assert {m.full_name for m in event_types_pb2.DESCRIPTOR.message_types_by_name.values()} == {
        f"containerd.events.{name}" for name in expected}


class RecordingChannel:
    """Stands in for a grpc.Channel: records the method paths a generated stub asks for."""

    def __init__(self):
        self.paths = []

    def _record(self, path, *args, **kwargs):
        self.paths.append(path)

    unary_unary = unary_stream = stream_unary = stream_stream = _record


@pytest.mark.parametrize("module_name, stub, first_path", [
    ("tasks_pb2_grpc", "TasksStub", "/containerd.services.tasks.v1.Tasks/Create"),
    ("containers_pb2_grpc", "ContainersStub", "/containerd.services.containers.v1.Containers/Get"),
    ("events_pb2_grpc", "EventsStub", "/containerd.services.events.v1.Events/Publish"),
    ("namespaces_pb2_grpc", "NamespacesStub", "/containerd.services.namespaces.v1.Namespaces/Get"),
    ("version_pb2_grpc", "VersionStub", "/containerd.services.version.v1.Version/Version"),
    ("introspection_pb2_grpc", "IntrospectionStub", "/containerd.services.introspection.v1.Introspection/Plugins"),
])
def test_grpc_method_paths(module_name, stub, first_path):
    module = __import__(f"protos.{module_name}", fromlist=[stub])
    channel = RecordingChannel()
    getattr(module, stub)(channel)
    assert channel.paths[0] == first_path


def test_service_surfaces():
    assert methods(tasks_pb2, "Tasks") == [
        "Create", "Start", "Delete", "DeleteProcess", "Get", "List", "Kill", "Exec", "ResizePty", "CloseIO",
        "Pause", "Resume", "ListPids", "Checkpoint", "Update", "Metrics", "Wait"]
    assert methods(shim_pb2, "Task") == [
        "State", "Create", "Start", "Delete", "Pids", "Pause", "Resume", "Checkpoint", "Kill", "Exec",
        "ResizePty", "CloseIO", "Update", "Wait", "Stats", "Connect", "Shutdown"]
    assert methods(containers_pb2, "Containers") == ["Get", "List", "ListStream", "Create", "Update", "Delete"]
    assert methods(events_pb2, "Events") == ["Publish", "Forward", "Subscribe"]
    assert methods(namespaces_pb2, "Namespaces") == ["Get", "List", "Create", "Update", "Delete"]
    assert methods(version_pb2, "Version") == ["Version"]
    assert methods(introspection_pb2, "Introspection") == ["Plugins", "Server"]
    assert methods(ttrpc_events_pb2, "Events") == ["Forward"]
    services = {
        shim_pb2.DESCRIPTOR.services_by_name["Task"].full_name,
        ttrpc_events_pb2.DESCRIPTOR.services_by_name["Events"].full_name,
    }
    assert services == {"containerd.task.v2.Task", "containerd.services.events.ttrpc.v1.Events"}
    subscribe = events_pb2.DESCRIPTOR.services_by_name["Events"].methods_by_name["Subscribe"]
    assert subscribe.server_streaming and subscribe.output_type.full_name == "containerd.services.events.v1.Envelope"
    assert containers_pb2.DESCRIPTOR.services_by_name["Containers"].methods_by_name["ListStream"].server_streaming


def test_shared_types():
    assert fields(types_pb2.Mount) == {"type": (1, F.TYPE_STRING), "source": (2, F.TYPE_STRING),
                                       "target": (3, F.TYPE_STRING), "options": (4, F.TYPE_STRING)}
    assert types_pb2.Mount.DESCRIPTOR.full_name == "containerd.types.Mount"
    assert fields(types_pb2.Metric) == {"timestamp": (1, F.TYPE_MESSAGE), "id": (2, F.TYPE_STRING),
                                        "data": (3, F.TYPE_MESSAGE)}
    assert dict(task_pb2.Status.items()) == {"UNKNOWN": 0, "CREATED": 1, "RUNNING": 2, "STOPPED": 3,
                                            "PAUSED": 4, "PAUSING": 5}
    assert task_pb2.Process.DESCRIPTOR.full_name == "containerd.v1.types.Process"
    assert fields(task_pb2.Process)["exited_at"] == (10, F.TYPE_MESSAGE)


def test_envelope_and_forward():
    assert fields(events_pb2.Envelope) == {"timestamp": (1, F.TYPE_MESSAGE), "namespace": (2, F.TYPE_STRING),
                                           "topic": (3, F.TYPE_STRING), "event": (4, F.TYPE_MESSAGE)}
    assert fields(ttrpc_events_pb2.ForwardRequest) == {"envelope": (1, F.TYPE_MESSAGE)}


def test_shim_messages():
    assert fields(shim_pb2.CreateTaskRequest) == {
        "id": (1, F.TYPE_STRING), "bundle": (2, F.TYPE_STRING), "rootfs": (3, F.TYPE_MESSAGE),
        "terminal": (4, F.TYPE_BOOL), "stdin": (5, F.TYPE_STRING), "stdout": (6, F.TYPE_STRING),
        "stderr": (7, F.TYPE_STRING), "checkpoint": (8, F.TYPE_STRING), "parent_checkpoint": (9, F.TYPE_STRING),
        "options": (10, F.TYPE_MESSAGE)}
    assert fields(shim_pb2.StateResponse)["exec_id"] == (11, F.TYPE_STRING)
    assert fields(shim_pb2.ConnectResponse) == {"shim_pid": (1, F.TYPE_UINT32), "task_pid": (2, F.TYPE_UINT32),
                                                "version": (3, F.TYPE_STRING)}
    # The shim binary's `delete` action prints this message.
    done = shim_pb2.DeleteResponse(pid=9, exit_status=137, exited_at=timestamp_pb2.Timestamp(seconds=1))
    assert done.SerializeToString() == b"\x08\x09\x10\x89\x01\x1a\x02\x08\x01"


def test_tasks_create_request():
    assert fields(tasks_pb2.CreateTaskRequest) == {
        "container_id": (1, F.TYPE_STRING), "rootfs": (3, F.TYPE_MESSAGE), "stdin": (4, F.TYPE_STRING),
        "stdout": (5, F.TYPE_STRING), "stderr": (6, F.TYPE_STRING), "terminal": (7, F.TYPE_BOOL),
        "checkpoint": (8, F.TYPE_MESSAGE), "options": (9, F.TYPE_MESSAGE), "runtime_path": (10, F.TYPE_STRING)}


def test_runc_options():
    assert runc_options_pb2.Options.DESCRIPTOR.full_name == "containerd.runc.v1.Options"
    assert fields(runc_options_pb2.Options)["binary_name"] == (6, F.TYPE_STRING)
    assert fields(runc_options_pb2.Options)["root"] == (7, F.TYPE_STRING)
    assert typeurl.pack(runc_options_pb2.Options()).type_url == "containerd.runc.v1.Options"


def test_ttrpc_envelope():
    assert fields(ttrpc_pb2.Request) == {"service": (1, F.TYPE_STRING), "method": (2, F.TYPE_STRING),
                                         "payload": (3, F.TYPE_BYTES), "timeout_nano": (4, F.TYPE_INT64),
                                         "metadata": (5, F.TYPE_MESSAGE)}
    assert fields(ttrpc_pb2.Response) == {"status": (1, F.TYPE_MESSAGE), "payload": (2, F.TYPE_BYTES)}
    status = ttrpc_pb2.Response.DESCRIPTOR.fields_by_name["status"].message_type
    assert status.full_name == "google.rpc.Status"
    assert {f.name: f.number for f in status.fields} == {"code": 1, "message": 2, "details": 3}


def test_every_stub_loads_together():
    """One descriptor pool holds every file (no duplicate symbols, e.g. google.rpc.Status)."""
    import google.rpc.status_pb2  # noqa: F401 - googleapis' own module first
    for path in sorted(pathlib.Path(gen.PROTOS).glob("*_pb2*.py")):
        importlib.import_module(f"protos.{path.stem}")

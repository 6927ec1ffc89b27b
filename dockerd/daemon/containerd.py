"""The narrow adapter between the container service and pycontainerd (moby's libcontainerd):
Containers, Tasks, Snapshots and Events over gRPC in Docker's namespace, every failure an
errdefs kind. Nothing above this module sees a protobuf."""
from __future__ import annotations

import json
import signal as signals
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2

import errdefs
from containerd.client.client import error_of
from protos import (
    containers_pb2, containers_pb2_grpc, event_types_pb2, events_pb2, events_pb2_grpc, snapshots_pb2,
    snapshots_pb2_grpc, task_pb2, tasks_pb2, tasks_pb2_grpc, types_pb2, typeurl,
)

from .. import trace

RUNTIME = "io.containerd.pydocker.v1"
SNAPSHOTTER = "overlayfs"
SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
PROCESS_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process"
TIMEOUT = 60

STATUS_NAMES = {task_pb2.UNKNOWN: "unknown", task_pb2.CREATED: "created", task_pb2.RUNNING: "running",
                task_pb2.STOPPED: "stopped", task_pb2.PAUSED: "paused", task_pb2.PAUSING: "pausing"}


@dataclass
class TaskState:
    pid: int
    status: str  # created, running, stopped, paused, unknown
    exit_status: int
    exited_at_ns: int


@dataclass
class Exit:
    container_id: str
    id: str  # the container id for the init process, the exec id otherwise
    pid: int
    exit_status: int
    exited_at_ns: int


class Containerd:
    def __init__(self, channel: grpc.Channel, namespace: str):
        self.namespace = namespace
        self.metadata = (("containerd-namespace", namespace),)
        self.containers = containers_pb2_grpc.ContainersStub(channel)
        self.tasks = tasks_pb2_grpc.TasksStub(channel)
        self.snapshots = snapshots_pb2_grpc.SnapshotsStub(channel)
        self.events = events_pb2_grpc.EventsStub(channel)
        self._traced_tasks: dict[str, trace.TraceContext] = {}  # container id -> the traced start of its task

    def _call(self, method, request, timeout: float | None = TIMEOUT):
        if trace.active():
            with trace.tracer().client_span(self._rpc_name(method)) as context:
                return self._invoke(method, request, timeout, self.metadata + tuple(context.items()))
        return self._invoke(method, request, timeout, self.metadata)

    @staticmethod
    def _invoke(method, request, timeout: float | None, metadata):
        try:
            return method(request, metadata=metadata, timeout=timeout)
        except grpc.RpcError as exc:
            raise error_of(exc) from None

    def _rpc_name(self, method) -> str:
        """"Tasks/Create": what a stub's callable calls, to name the span of a traced call."""
        return next(f"{type(stub).__name__.removesuffix('Stub')}/{name}"
                    for stub in (self.containers, self.tasks, self.snapshots, self.events)
                    for name, value in vars(stub).items() if value is method)

    # containers

    def create_container(self, container_id: str, spec: dict, image: str, labels: dict[str, str]) -> None:
        self._call(self.containers.Create, containers_pb2.CreateContainerRequest(container=containers_pb2.Container(
            id=container_id, image=image, labels=labels, runtime=containers_pb2.Container.Runtime(name=RUNTIME),
            spec=any_pb2.Any(type_url=SPEC_TYPE_URL, value=json.dumps(spec).encode()),
            snapshotter=SNAPSHOTTER, snapshot_key=container_id)))

    def container_exists(self, container_id: str) -> bool:
        try:
            self._call(self.containers.Get, containers_pb2.GetContainerRequest(id=container_id))
            return True
        except errdefs.NotFound:
            return False

    def update_spec(self, container_id: str, spec: dict) -> None:
        from google.protobuf import field_mask_pb2
        self._call(self.containers.Update, containers_pb2.UpdateContainerRequest(
            container=containers_pb2.Container(id=container_id, spec=any_pb2.Any(
                type_url=SPEC_TYPE_URL, value=json.dumps(spec).encode())),
            update_mask=field_mask_pb2.FieldMask(paths=["spec"])))

    def delete_container(self, container_id: str) -> None:
        try:
            self._call(self.containers.Delete, containers_pb2.DeleteContainerRequest(id=container_id))
        except errdefs.NotFound:
            pass

    # snapshots

    def prepare(self, key: str, parent: str) -> list[dict]:
        """The container's writable snapshot on the image's top chain ID; an existing one is kept."""
        try:
            reply = self._call(self.snapshots.Prepare, snapshots_pb2.PrepareSnapshotRequest(
                snapshotter=SNAPSHOTTER, key=key, parent=parent))
            return [_mount_dict(m) for m in reply.mounts]
        except errdefs.AlreadyExists:
            return self.mounts(key)

    def mounts(self, key: str) -> list[dict]:
        reply = self._call(self.snapshots.Mounts, snapshots_pb2.MountsRequest(snapshotter=SNAPSHOTTER, key=key))
        return [_mount_dict(m) for m in reply.mounts]

    def remove_snapshot(self, key: str) -> None:
        try:
            self._call(self.snapshots.Remove, snapshots_pb2.RemoveSnapshotRequest(snapshotter=SNAPSHOTTER, key=key))
        except errdefs.NotFound:
            pass

    def snapshot_usage(self, key: str) -> int:
        try:
            return self._call(self.snapshots.Usage, snapshots_pb2.UsageRequest(snapshotter=SNAPSHOTTER, key=key)).size
        except errdefs.Error:
            return 0

    # tasks

    def create_task(self, container_id: str, rootfs: list[dict], *, stdin: str, stdout: str, stderr: str,
                    terminal: bool) -> int:
        return self._call(self.tasks.Create, tasks_pb2.CreateTaskRequest(
            container_id=container_id, rootfs=[types_pb2.Mount(**m) for m in rootfs], stdin=stdin, stdout=stdout,
            stderr=stderr, terminal=terminal)).pid

    def start(self, container_id: str, exec_id: str = "") -> int:
        pid = self._call(self.tasks.Start, tasks_pb2.StartRequest(container_id=container_id, exec_id=exec_id)).pid
        if not exec_id and trace.active():
            self._traced_tasks[container_id] = trace.tracer().current()
        return pid

    def get(self, container_id: str, exec_id: str = "") -> TaskState | None:
        try:
            process = self._call(self.tasks.Get, tasks_pb2.GetRequest(container_id=container_id,
                                                                      exec_id=exec_id)).process
        except errdefs.NotFound:
            return None
        return TaskState(process.pid, STATUS_NAMES.get(process.status, "unknown"), process.exit_status,
                         process.exited_at.ToNanoseconds())

    def list_tasks(self) -> dict[str, TaskState]:
        reply = self._call(self.tasks.List, tasks_pb2.ListTasksRequest())
        return {p.id: TaskState(p.pid, STATUS_NAMES.get(p.status, "unknown"), p.exit_status,
                                p.exited_at.ToNanoseconds()) for p in reply.tasks}

    def delete_task(self, container_id: str) -> tuple[int, int] | None:
        """(exit status, exited at ns), or None if there was no task."""
        started_traced = self._traced_tasks.pop(container_id, None)
        if started_traced is not None and not trace.active():
            # The exit of a task a traced request started is handled outside any request (the
            # monitor's thread): its deletion still belongs to that trace, under its root.
            with trace.tracer().resumed(started_traced.root()):
                return self.delete_task(container_id)
        try:
            reply = self._call(self.tasks.Delete, tasks_pb2.DeleteTaskRequest(container_id=container_id))
        except errdefs.NotFound:
            return None
        return reply.exit_status, reply.exited_at.ToNanoseconds()

    def delete_process(self, container_id: str, exec_id: str) -> None:
        try:
            self._call(self.tasks.DeleteProcess, tasks_pb2.DeleteProcessRequest(container_id=container_id,
                                                                                exec_id=exec_id))
        except errdefs.Error:
            pass

    def kill(self, container_id: str, sig: int = signals.SIGKILL, *, all: bool = False,  # noqa: A002
             exec_id: str = "") -> None:
        self._call(self.tasks.Kill, tasks_pb2.KillRequest(container_id=container_id, exec_id=exec_id, signal=sig,
                                                          all=all))

    def wait(self, container_id: str, exec_id: str = "", timeout: float | None = None) -> tuple[int, int]:
        reply = self._call(self.tasks.Wait, tasks_pb2.WaitRequest(container_id=container_id, exec_id=exec_id),
                           timeout=timeout)
        return reply.exit_status, reply.exited_at.ToNanoseconds()

    def exec(self, container_id: str, exec_id: str, process: dict, *, stdin: str, stdout: str, stderr: str,
             terminal: bool) -> None:
        self._call(self.tasks.Exec, tasks_pb2.ExecProcessRequest(
            container_id=container_id, exec_id=exec_id, stdin=stdin, stdout=stdout, stderr=stderr, terminal=terminal,
            spec=any_pb2.Any(type_url=PROCESS_TYPE_URL, value=json.dumps(process).encode())))

    def close_stdin(self, container_id: str, exec_id: str = "") -> None:
        self._call(self.tasks.CloseIO, tasks_pb2.CloseIORequest(container_id=container_id, exec_id=exec_id,
                                                                stdin=True))

    def resize(self, container_id: str, width: int, height: int, exec_id: str = "") -> None:
        self._call(self.tasks.ResizePty, tasks_pb2.ResizePtyRequest(container_id=container_id, exec_id=exec_id,
                                                                    width=width, height=height))

    def pause(self, container_id: str) -> None:
        self._call(self.tasks.Pause, tasks_pb2.PauseTaskRequest(container_id=container_id))

    def resume(self, container_id: str) -> None:
        self._call(self.tasks.Resume, tasks_pb2.ResumeTaskRequest(container_id=container_id))

    def pids(self, container_id: str) -> list[int]:
        reply = self._call(self.tasks.ListPids, tasks_pb2.ListPidsRequest(container_id=container_id))
        return [p.pid for p in reply.processes]

    # events

    def subscribe(self) -> tuple[grpc.Future, Iterator[tuple[str, object]]]:
        """The task events of our namespace as (topic, event): the call (to cancel) and an
        iterator that ends (raising errdefs.Unavailable) when the stream breaks."""
        call = self.events.Subscribe(events_pb2.SubscribeRequest(filters=['topic~="/tasks/"']))

        def iterate():
            try:
                for envelope in call:
                    if envelope.namespace != self.namespace:
                        continue
                    try:
                        event = typeurl.unpack(envelope.event)
                    except (KeyError, TypeError):
                        continue
                    yield envelope.topic, event
            except grpc.RpcError as exc:
                raise error_of(exc) from None
        return call, iterate()


def exit_of(event: event_types_pb2.TaskExit) -> Exit:
    return Exit(event.container_id, event.id, event.pid, event.exit_status, event.exited_at.ToNanoseconds())


def _mount_dict(mount: types_pb2.Mount) -> dict:
    return {"type": mount.type, "source": mount.source, "target": mount.target, "options": list(mount.options)}

"""containerd.services.tasks.v1.Tasks: tasks, each run by a shim that the runtime's task
manager starts. Every call is passed to the task's shim (containerd.task.v2.Task over
ttrpc); the shim publishes the task events (/tasks/create, /start, /exit, /delete, ...)."""
from __future__ import annotations

import logging

from google.protobuf import empty_pb2, timestamp_pb2

import errdefs
from protos import shim_pb2, task_pb2, tasks_pb2, tasks_pb2_grpc, types_pb2

from ..core import filters
from ..core.metadata import MetadataStore
from ..grpc_errors import translate_errors
from ..registry import GRPC_PLUGIN, METADATA_PLUGIN, RUNTIME_PLUGIN_V2, Registration
from ..runtime.tasks import Task, TaskManager
from . import deadline, required_namespace, to_any

log = logging.getLogger(__name__)

SERVICE = tasks_pb2.DESCRIPTOR.services_by_name["Tasks"]


def process_from_state(container_id: str, exec_id: str, state: shim_pb2.StateResponse) -> task_pb2.Process:
    """A process as the Tasks API shows it: its id is the exec id, or the container id for init."""
    return task_pb2.Process(container_id=container_id, id=exec_id or container_id,
                            pid=state.pid, status=state.status, stdin=state.stdin, stdout=state.stdout,
                            stderr=state.stderr, terminal=state.terminal, exit_status=state.exit_status,
                            exited_at=state.exited_at)


def task_field(task: Task, fieldpath) -> tuple[str, bool]:
    """What a metrics filter sees of a task: its id and namespace."""
    if len(fieldpath) == 1 and fieldpath[0] in ("id", "namespace"):
        return getattr(task, fieldpath[0]), True
    return "", False


@translate_errors(SERVICE)
class TasksService(tasks_pb2_grpc.TasksServicer):
    """Checkpoint is left Unimplemented (no CRIU)."""

    def __init__(self, tasks: TaskManager, store: MetadataStore):
        self._tasks = tasks
        self._store = store

    def register(self, server) -> None:
        tasks_pb2_grpc.add_TasksServicer_to_server(self, server)

    def _task(self, context, container_id: str) -> Task:
        """The container's task; NotFound if either does not exist."""
        namespace = required_namespace(context)
        self._store.get_container(namespace, container_id)
        return self._tasks.get(namespace, container_id)

    def Create(self, request, context):
        namespace = required_namespace(context)
        container = self._store.get_container(namespace, request.container_id)
        if request.HasField("checkpoint"):
            raise errdefs.NotImplemented("restoring a task from a checkpoint is not supported")
        # The request's options win over the container's, as in containerd.
        options = request.options if request.HasField("options") else to_any(container.runtime.options)
        pid = self._tasks.create(namespace, shim_pb2.CreateTaskRequest(
            id=container.id, rootfs=request.rootfs, terminal=request.terminal, stdin=request.stdin,
            stdout=request.stdout, stderr=request.stderr, options=options),
            runtime=container.runtime.name, spec=container.spec.value, timeout=deadline(context))
        return tasks_pb2.CreateTaskResponse(container_id=container.id, pid=pid)

    def _call_shim(self, context, container_id: str, method: str, shim_request, response_type=empty_pb2.Empty):
        """Pass a request to the shim of the container's task, with the caller's deadline."""
        return self._task(context, container_id).call(method, shim_request, response_type, deadline(context))

    def Start(self, request, context):
        started = self._call_shim(context, request.container_id, "Start", shim_pb2.StartRequest(
            id=request.container_id, exec_id=request.exec_id), shim_pb2.StartResponse)
        return tasks_pb2.StartResponse(pid=started.pid)

    def Delete(self, request, context):
        namespace = required_namespace(context)
        self._store.get_container(namespace, request.container_id)
        deleted = self._tasks.delete(namespace, request.container_id, deadline(context))
        return tasks_pb2.DeleteResponse(pid=deleted.pid, exit_status=deleted.exit_status, exited_at=deleted.exited_at)

    def DeleteProcess(self, request, context):
        if not request.exec_id:
            raise errdefs.InvalidArgument("exec id cannot be empty: delete the task to delete its init process")
        deleted = self._call_shim(context, request.container_id, "Delete", shim_pb2.DeleteRequest(
            id=request.container_id, exec_id=request.exec_id), shim_pb2.DeleteResponse)
        return tasks_pb2.DeleteResponse(id=request.exec_id, pid=deleted.pid, exit_status=deleted.exit_status,
                                        exited_at=deleted.exited_at)

    def Get(self, request, context):
        state = self._call_shim(context, request.container_id, "State", shim_pb2.StateRequest(
            id=request.container_id, exec_id=request.exec_id), shim_pb2.StateResponse)
        return tasks_pb2.GetResponse(process=process_from_state(request.container_id, request.exec_id, state))

    def List(self, request, context):
        processes = []
        for task in self._tasks.list(required_namespace(context)):
            try:
                state = task.call("State", shim_pb2.StateRequest(id=task.id), shim_pb2.StateResponse,
                                  deadline(context))
            except (errdefs.NotFound, errdefs.Unavailable) as exc:  # deleted meanwhile, or its shim just died
                log.debug("list: skipping task %s: %s", task.id, exc)
                continue
            processes.append(process_from_state(task.id, "", state))
        return tasks_pb2.ListTasksResponse(tasks=processes)

    def Kill(self, request, context):
        self._call_shim(context, request.container_id, "Kill", shim_pb2.KillRequest(
            id=request.container_id, exec_id=request.exec_id, signal=request.signal, all=request.all))
        return empty_pb2.Empty()

    def Exec(self, request, context):
        if not request.exec_id:
            raise errdefs.InvalidArgument("exec id cannot be empty: invalid argument")
        self._call_shim(context, request.container_id, "Exec", shim_pb2.ExecProcessRequest(
            id=request.container_id, exec_id=request.exec_id, terminal=request.terminal, stdin=request.stdin,
            stdout=request.stdout, stderr=request.stderr, spec=request.spec))
        return empty_pb2.Empty()

    def ResizePty(self, request, context):
        self._call_shim(context, request.container_id, "ResizePty", shim_pb2.ResizePtyRequest(
            id=request.container_id, exec_id=request.exec_id, width=request.width, height=request.height))
        return empty_pb2.Empty()

    def CloseIO(self, request, context):
        task = self._task(context, request.container_id)
        if request.stdin:
            task.call("CloseIO", shim_pb2.CloseIORequest(id=task.id, exec_id=request.exec_id, stdin=True),
                      empty_pb2.Empty, deadline(context))
        return empty_pb2.Empty()

    def Pause(self, request, context):
        self._call_shim(context, request.container_id, "Pause", shim_pb2.PauseRequest(id=request.container_id))
        return empty_pb2.Empty()

    def Resume(self, request, context):
        self._call_shim(context, request.container_id, "Resume", shim_pb2.ResumeRequest(id=request.container_id))
        return empty_pb2.Empty()

    def ListPids(self, request, context):
        pids = self._call_shim(context, request.container_id, "Pids", shim_pb2.PidsRequest(
            id=request.container_id), shim_pb2.PidsResponse)
        return tasks_pb2.ListPidsResponse(processes=pids.processes)

    def Update(self, request, context):
        self._call_shim(context, request.container_id, "Update", shim_pb2.UpdateTaskRequest(
            id=request.container_id, resources=request.resources, annotations=request.annotations))
        return empty_pb2.Empty()

    def Metrics(self, request, context):
        """Each matching task's stats (filter fields: id, namespace); tasks gone meanwhile are left out."""
        namespace = required_namespace(context)
        matcher = filters.parse_all(request.filters)
        metrics = []
        for task in self._tasks.list(namespace):
            if not matcher.match(lambda fieldpath, task=task: task_field(task, fieldpath)):
                continue
            collected = timestamp_pb2.Timestamp()
            collected.GetCurrentTime()
            try:
                stats = task.call("Stats", shim_pb2.StatsRequest(id=task.id), shim_pb2.StatsResponse,
                                  deadline(context))
            except errdefs.NotFound:
                continue
            metrics.append(types_pb2.Metric(timestamp=collected, id=task.id, data=stats.stats))
        return tasks_pb2.MetricsResponse(metrics=metrics)

    def Wait(self, request, context):
        exited = self._call_shim(context, request.container_id, "Wait", shim_pb2.WaitRequest(
            id=request.container_id, exec_id=request.exec_id), shim_pb2.WaitResponse)
        return tasks_pb2.WaitResponse(exit_status=exited.exit_status, exited_at=exited.exited_at)


registration = Registration(
    type=GRPC_PLUGIN, id="tasks", requires=(RUNTIME_PLUGIN_V2, METADATA_PLUGIN),
    init=lambda ic: TasksService(ic.plugins.get(RUNTIME_PLUGIN_V2), ic.plugins.get(METADATA_PLUGIN)),
)

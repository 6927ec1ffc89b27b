"""containerd.task.v2.Task: the API containerd (ours or the real one) drives the shim with.

Each method translates its request into calls on the processes (process.py) and their
outcome back into a response; errors stay errdefs kinds until the ttrpc edge maps them to
status codes. No policy lives here: no restarts, no names, no images.

Exits come from the reaper. An exit is matched to a process by pid; one that comes while a
process is still being started (before its pid is known) is caught by the subscription
taken before the start. While a create or start is being announced, the process's exit
waits for the announcement, as containerd's shim holds exits back only while a start is in
progress. The init's exit is announced only after every exec'd process has exited, so
containerd sees the exec exits first (runtime-stack.md §8).
"""
import contextlib
import json
import os
import re
import threading
import time

from google.protobuf import empty_pb2, timestamp_pb2

import errdefs
from protos import event_types_pb2 as events
from protos import runc_options_pb2, shim_pb2, task_pb2, trace, typeurl

from .process import CREATED, PAUSED, RUNNING, STOPPED, Exec, Init, Process
from . import layout, metrics, oom
from .ioloop import IOLoop
from .reaper import Exit, Reaper
from .runc import Runc
from .stdio import Stdio

_STATUS = {CREATED: task_pb2.CREATED, RUNNING: task_pb2.RUNNING, STOPPED: task_pb2.STOPPED, PAUSED: task_pb2.PAUSED}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
VERSION = "2"  # the shim API version Connect reports


def timestamp(when: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    if when:
        ts.FromNanoseconds(int(when * 1e9))
    return ts


def _trace_run(init: Init, parent: trace.TraceContext) -> None:
    """The container's own run, from its release to its exit, as a span of the trace that
    started it: under the trace's root, since it outlives the request."""
    started_ns = init.released_ns or time.time_ns()  # a runtime that does not say: when its start returned

    def report() -> None:
        _, exited_at = init.wait()
        ended_ns = int(exited_at * 1e9)
        trace.Span("run", "container", parent.root(), start_ns=min(started_ns, ended_ns), pid=init.pid).end(ended_ns)

    threading.Thread(target=report, name="trace-run", daemon=True).start()


class TaskService:
    def __init__(self, *, namespace: str, bundle: str, runtime_root: str, runtime_binary: str, env: dict[str, str],
                 reaper: Reaper, publisher, on_shutdown):
        self.namespace = namespace
        self.env = env
        self.bundle = bundle
        self.runtime_root = runtime_root
        self.runtime_binary = runtime_binary
        self.reaper = reaper
        self.publisher = publisher
        self.on_shutdown = on_shutdown
        self.loop = IOLoop()
        self.init: Init | None = None
        self.execs: dict[str, Exec] = {}
        # The API's lock: one Create, Exec or Delete at a time. Held while the runtime runs.
        self.lock = threading.RLock()
        # The exits' lock, which the reaper's thread takes: never held while waiting for
        # anything, or the reaper would wait for a handler that waits for the reaper.
        self._exits_lock = threading.Lock()
        self._by_pid: dict[int, Process] = {}
        # The processes whose create or start is being announced, each with the exit it had
        # meanwhile (or None): that exit is published after the announcement.
        self._announcing: dict[Process, events.TaskExit | None] = {}
        reaper.on_exit(self._on_exit)

    # --- helpers ---------------------------------------------------------------------------
    def _process(self, container_id: str, exec_id: str = "") -> Process:
        if self.init is None or container_id != self.init.container_id:
            raise errdefs.NotFound(f"container {container_id} not created in this shim")
        if not exec_id:
            return self.init
        try:
            return self.execs[exec_id]
        except KeyError:
            raise errdefs.NotFound(f"process {exec_id} does not exist") from None

    def _runc(self, options: runc_options_pb2.Options | None) -> Runc:
        binary = (options.binary_name if options and options.binary_name else None) or self.runtime_binary
        root = (options.root if options and options.root else None) or self.runtime_root
        # One runtime root per namespace, as containerd's runc shim keeps them.
        return Runc(binary, os.path.join(root, self.namespace), os.path.join(self.bundle, layout.RUNTIME_LOG),
                    self.reaper, self.env, systemd_cgroup=bool(options and options.systemd_cgroup))

    @contextlib.contextmanager
    def _tracking(self, process: Process):
        """Around starting `process` and announcing it: call `_announce` in the block.

        Until the announcement, the process's exit waits, so it cannot overtake the create or
        start event; if the block fails first, that exit is published alone. A process that
        gets its pid in the block is tracked once the block is over, from a reaper
        subscription taken before it started: an exit that came earlier is found there."""
        launching = not process.pid
        with self.reaper.subscribe() as early_exits:
            with self._exits_lock:
                self._announcing[process] = None
            try:
                yield
                if launching:
                    with self._exits_lock:
                        self._by_pid[process.pid] = process
                    for exit in early_exits.exits():
                        if exit.pid == process.pid:
                            self._on_exit(exit)
            finally:
                self._announce(process)

    # --- exits -----------------------------------------------------------------------------
    def _on_exit(self, exit: Exit) -> None:
        with self._exits_lock:
            process = self._by_pid.pop(exit.pid, None)
            if process is None:
                return
            if process is self.init:
                running_execs = [e for e in list(self.execs.values()) if e.status == RUNNING]
            else:
                running_execs = None
        if running_execs is None:
            self._exited(process, exit)
            return
        # Not here, in the reaper's thread: what follows waits for other exits.
        threading.Thread(target=self._init_exited, args=(exit, running_execs), daemon=True).start()

    def _init_exited(self, exit: Exit, execs: list[Exec]) -> None:
        if not self.init.owns_pid_namespace:
            # Without a pid namespace of its own, the container's other processes would
            # outlive its init: kill them, as containerd's shim does.
            try:
                self.init.runc.kill(self.init.container_id, 9, all_processes=True)
            except errdefs.Error:
                pass
        for exec_process in execs:
            try:
                exec_process.wait(timeout=10)
            except errdefs.DeadlineExceeded:
                pass
        self._exited(self.init, exit)

    def _exited(self, process: Process, exit: Exit) -> None:
        if not process.set_exited(exit.status, exit.timestamp):
            return
        event = events.TaskExit(container_id=process.container_id, id=process.id, pid=process.pid,
                                exit_status=exit.status, exited_at=timestamp(exit.timestamp))
        with self._exits_lock:
            if process in self._announcing:
                self._announcing[process] = event
                return
            self.publisher.publish("/tasks/exit", event)

    def _announce(self, process: Process, topic: str | None = None, event=None) -> None:
        """Publish a create or start (if given), then the exit that may already have
        happened, in that order; from now on the process's exit is published as it comes."""
        with self._exits_lock:
            if topic is not None:
                self.publisher.publish(topic, event)
            exit_event = self._announcing.pop(process, None)
            if exit_event is not None:
                self.publisher.publish("/tasks/exit", exit_event)

    # --- the API ---------------------------------------------------------------------------
    def Create(self, request: shim_pb2.CreateTaskRequest, context) -> shim_pb2.CreateTaskResponse:
        if not _ID.match(request.id):
            raise errdefs.InvalidArgument(f"invalid container id {request.id!r}")
        with self.lock:
            if self.init is not None:
                raise errdefs.AlreadyExists(f"container {self.init.container_id} already exists in this shim")
            options = typeurl.unpack(request.options, runc_options_pb2.Options) if request.options.type_url else None
            with open(os.path.join(request.bundle or self.bundle, "config.json")) as f:
                spec = json.load(f)
            init = Init(request.id, Stdio(request.stdin, request.stdout, request.stderr, request.terminal),
                        self._runc(options), request.bundle or self.bundle, self.namespace, self.loop,
                        [{"type": m.type, "source": m.source, "options": list(m.options)} for m in request.rootfs],
                        no_pivot=bool(options and options.no_pivot_root),
                        no_new_keyring=bool(options and options.no_new_keyring),
                        owns_pid_namespace=any(ns.get("type") == "pid" and not ns.get("path")
                                               for ns in spec.get("linux", {}).get("namespaces", [])))
            # For `shim delete`, which may have to clean up after this shim is gone.
            with open(os.path.join(init.bundle, layout.RUNTIME), "w") as f:
                json.dump({"binary": init.runc.binary, "root": init.runc.root}, f)
            with self._tracking(init):
                init.create()
                self.init = init
                self._announce(init, "/tasks/create", events.TaskCreate(
                    container_id=request.id, bundle=init.bundle, rootfs=request.rootfs, pid=init.pid,
                    io=events.TaskIO(stdin=request.stdin, stdout=request.stdout, stderr=request.stderr,
                                     terminal=request.terminal)))
        oom.watch(init.pid, self.loop, lambda: self.publisher.publish(
            "/tasks/oom", events.TaskOOM(container_id=request.id)))
        return shim_pb2.CreateTaskResponse(pid=init.pid)

    def Start(self, request: shim_pb2.StartRequest, context) -> shim_pb2.StartResponse:
        process = self._process(request.id, request.exec_id)
        with self._tracking(process):
            process.start()
            if isinstance(process, Exec):
                self._announce(process, "/tasks/exec-started", events.TaskExecStarted(
                    container_id=request.id, exec_id=request.exec_id, pid=process.pid))
            else:
                self._announce(process, "/tasks/start", events.TaskStart(container_id=request.id, pid=process.pid))
        parent = trace.current()
        if parent is not None and process is self.init:
            _trace_run(self.init, parent)
        return shim_pb2.StartResponse(pid=process.pid)

    def Delete(self, request: shim_pb2.DeleteRequest, context) -> shim_pb2.DeleteResponse:
        process = self._process(request.id, request.exec_id)
        process.delete()
        if isinstance(process, Exec):
            with self.lock:
                del self.execs[process.id]
        self.publisher.publish("/tasks/delete", events.TaskDelete(
            container_id=request.id, id=process.id, pid=process.pid, exit_status=process.exit_status,
            exited_at=timestamp(process.exited_at)))
        return shim_pb2.DeleteResponse(pid=process.pid, exit_status=process.exit_status,
                                       exited_at=timestamp(process.exited_at))

    def Exec(self, request: shim_pb2.ExecProcessRequest, context) -> empty_pb2.Empty:
        init = self._process(request.id)
        if not _ID.match(request.exec_id):
            raise errdefs.InvalidArgument(f"invalid exec id {request.exec_id!r}")
        with self.lock:
            if request.exec_id in self.execs:
                raise errdefs.AlreadyExists(f"exec {request.exec_id} already exists")
            if init.status == STOPPED:
                raise errdefs.FailedPrecondition("cannot exec in a stopped container")
            spec = json.loads(request.spec.value)
            self.execs[request.exec_id] = Exec(
                request.exec_id, request.id, Stdio(request.stdin, request.stdout, request.stderr, request.terminal),
                init.runc, init.bundle, self.namespace, self.loop, spec)
        self.publisher.publish("/tasks/exec-added", events.TaskExecAdded(container_id=request.id,
                                                                         exec_id=request.exec_id))
        return empty_pb2.Empty()

    def State(self, request: shim_pb2.StateRequest, context) -> shim_pb2.StateResponse:
        process = self._process(request.id, request.exec_id)
        stdio = process.stdio
        return shim_pb2.StateResponse(
            id=process.container_id, exec_id=request.exec_id, bundle=process.bundle, pid=process.pid,
            status=_STATUS[process.status], stdin=stdio.stdin, stdout=stdio.stdout, stderr=stdio.stderr,
            terminal=stdio.terminal, exit_status=process.exit_status, exited_at=timestamp(process.exited_at))

    def Wait(self, request: shim_pb2.WaitRequest, context) -> shim_pb2.WaitResponse:
        process = self._process(request.id, request.exec_id)
        status, exited_at = process.wait()
        return shim_pb2.WaitResponse(exit_status=status, exited_at=timestamp(exited_at))

    def Kill(self, request: shim_pb2.KillRequest, context) -> empty_pb2.Empty:
        self._process(request.id, request.exec_id).kill(request.signal, request.all)
        return empty_pb2.Empty()

    def Pids(self, request: shim_pb2.PidsRequest, context) -> shim_pb2.PidsResponse:
        init = self._process(request.id)
        return shim_pb2.PidsResponse(processes=[task_pb2.ProcessInfo(pid=pid) for pid in init.pids()])

    def Pause(self, request: shim_pb2.PauseRequest, context) -> empty_pb2.Empty:
        self._process(request.id).pause()
        self.publisher.publish("/tasks/paused", events.TaskPaused(container_id=request.id))
        return empty_pb2.Empty()

    def Resume(self, request: shim_pb2.ResumeRequest, context) -> empty_pb2.Empty:
        self._process(request.id).resume()
        self.publisher.publish("/tasks/resumed", events.TaskResumed(container_id=request.id))
        return empty_pb2.Empty()

    def ResizePty(self, request: shim_pb2.ResizePtyRequest, context) -> empty_pb2.Empty:
        self._process(request.id, request.exec_id).resize(request.width, request.height)
        return empty_pb2.Empty()

    def CloseIO(self, request: shim_pb2.CloseIORequest, context) -> empty_pb2.Empty:
        if request.stdin:
            self._process(request.id, request.exec_id).close_io()
        return empty_pb2.Empty()

    def Update(self, request: shim_pb2.UpdateTaskRequest, context) -> empty_pb2.Empty:
        # Resources travel as the runtime-spec LinuxResources JSON, as containerd sends them.
        self._process(request.id).update(json.loads(request.resources.value or b"{}"))
        return empty_pb2.Empty()

    def Stats(self, request: shim_pb2.StatsRequest, context) -> shim_pb2.StatsResponse:
        return shim_pb2.StatsResponse(stats=typeurl.pack(metrics.from_runtime_stats(self._process(request.id).stats())))

    def Connect(self, request: shim_pb2.ConnectRequest, context) -> shim_pb2.ConnectResponse:
        return shim_pb2.ConnectResponse(shim_pid=os.getpid(), task_pid=self.init.pid if self.init else 0,
                                        version=VERSION)

    def Shutdown(self, request: shim_pb2.ShutdownRequest, context) -> empty_pb2.Empty:
        with self.lock:
            busy = self.init is not None and not self.init.deleted
        if busy and not request.now:
            return empty_pb2.Empty()  # containerd asks after Delete; a task not deleted keeps its shim
        self.on_shutdown()
        return empty_pb2.Empty()

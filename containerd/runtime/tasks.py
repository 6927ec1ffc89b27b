"""The task manager: every task is a bundle plus the shim running it, and nothing else.

pycontainerd keeps no task state of its own beyond the bundle directory: whatever a client
asks about a task is asked of its shim, which holds the truth (the process, its exit status)
for as long as the task exists. That is why a daemon killed at any moment loses nothing:
on start, load_existing() walks the bundles and reconnects to each shim, and exits that
happened meanwhile are answered by the shims.

When a shim dies (its connection hangs up and a fresh connection is refused), its delete
action cleans up behind it and reports the exit, 137 when it had to kill the container; that
answer is kept in the bundle and given for the task from then on (Get says STOPPED, Wait
returns, Delete removes the bundle), and /tasks/exit and /tasks/delete are published, as
containerd does, because no shim is left to publish them.
"""
from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from google.protobuf import empty_pb2, timestamp_pb2
from google.protobuf import message as _message

import errdefs
from protos import event_types_pb2, shim_pb2, task_pb2

from ..core.events import Exchange
from .bundle import ADDRESS, DEAD_SHIM_DELETE_RESPONSE, SHIM_BINARY_PATH, Bundle
from .shim import CONNECT_TIMEOUT, ShimBinary, ShimConnection, find_binary
from .watcher import Watcher

log = logging.getLogger(__name__)
shim_log = logging.getLogger("containerd.shim")

SHUTDOWN_TIMEOUT = 5.0  # for a shim to close its connection once told to shut down
DEAD_SHIM_EXIT_STATUS = 255  # reported when even the shim's delete action failed


class Task:
    """A task: its bundle, the shim binary that runs it, and the connection to that shim,
    or, once the shim is gone, the task's exit as the shim last reported it (its delete
    action's, if it died)."""

    def __init__(self, bundle: Bundle, binary: ShimBinary, log_fd: int | None):
        self.bundle = bundle
        self.binary = binary
        self.log_fd = log_fd
        self.connection: ShimConnection | None = None
        self.dead_shim_exit: shim_pb2.DeleteResponse | None = None
        self.deleted_exit: shim_pb2.DeleteResponse | None = None  # the shim's answer to Delete, for a retry
        self.lock = threading.Lock()  # serialises create, load and delete with the cleanup after a dead shim

    @property
    def id(self) -> str:
        return self.bundle.id

    @property
    def namespace(self) -> str:
        return self.bundle.namespace

    def call(self, method: str, request: _message.Message, response_type: type[_message.Message],
             timeout: float | None = None):
        """Call the shim's Task service; after the shim died, answer from its last word."""
        connection = self.connection
        if connection is not None:
            return connection.call(method, request, response_type, timeout)
        return self._answer_for_dead_shim(method, request)

    def _answer_for_dead_shim(self, method: str, request: _message.Message):
        last = self.dead_shim_exit
        if last is None:  # the shim is unreachable and its delete action has not answered yet
            raise errdefs.Unavailable(f"task {self.id}: its shim is unreachable and its exit not known yet")
        exec_id = getattr(request, "exec_id", "")
        if exec_id:
            raise errdefs.NotFound(f"process {exec_id} does not exist: the shim of task {self.id} is gone")
        if method == "State":
            return shim_pb2.StateResponse(id=self.id, bundle=str(self.bundle.path), pid=last.pid,
                                          status=task_pb2.STOPPED, exit_status=last.exit_status,
                                          exited_at=last.exited_at)
        if method == "Wait":
            return shim_pb2.WaitResponse(exit_status=last.exit_status, exited_at=last.exited_at)
        if method == "Pids":
            return shim_pb2.PidsResponse()
        if method == "Kill":
            raise errdefs.NotFound("process already finished: not found")
        raise errdefs.FailedPrecondition(
            f"task {self.id}: its shim is gone, the task exited with status {last.exit_status}: failed precondition")


class TaskManager:
    """containerd's runtime v2 task manager: tasks by namespace and id, each run by a shim."""

    def __init__(self, tasks_dir: Path, exchange: Exchange, *, grpc_address: str, ttrpc_address: str, debug: bool):
        self._dir = tasks_dir
        self._exchange = exchange
        self._grpc_address = grpc_address
        self._ttrpc_address = ttrpc_address
        self._debug = debug
        self._lock = threading.Lock()
        self._tasks: dict[tuple[str, str], Task] = {}
        self._creating: set[tuple[str, str]] = set()
        self._closing = False
        self._watcher = Watcher()

    # lookups

    def get(self, namespace: str, task_id: str) -> Task:
        with self._lock:
            task = self._tasks.get((namespace, task_id))
        if task is None:
            raise errdefs.NotFound(f"task {task_id} not found")
        return task

    def list(self, namespace: str) -> list[Task]:
        with self._lock:
            return [task for (task_namespace, _), task in sorted(self._tasks.items()) if task_namespace == namespace]

    # create and delete

    def create(self, namespace: str, request: shim_pb2.CreateTaskRequest, *, runtime: str, spec: bytes,
               timeout: float | None = None) -> int:
        """Make the bundle, start a shim in it and have the shim create the task the request
        describes (its bundle filled in here); returns its init pid. On failure nothing is
        left behind: no bundle, no shim."""
        task_id = request.id
        key = (namespace, task_id)
        with self._lock:
            if key in self._tasks or key in self._creating:
                raise errdefs.AlreadyExists(f"task {task_id}: already exists")
            self._creating.add(key)
        try:
            binary = self._binary(find_binary(runtime), namespace)
            bundle = Bundle.create(self._dir, namespace, task_id, spec)
            task = Task(bundle, binary, None)
            started = False
            with task.lock:  # a shim lost meanwhile is looked into once the task is registered or abandoned
                try:
                    task.log_fd = bundle.open_log()
                    self._watcher.watch_lines(task.log_fd, self._shim_logger(task))
                    address = binary.start(bundle.path, task_id,
                                           request.options if request.HasField("options") else None)
                    started = True
                    # The address first: a restart that finds no binary path stops the shim found there.
                    bundle.write(ADDRESS, address.encode())
                    bundle.write(SHIM_BINARY_PATH, binary.path.encode())
                    task.connection = ShimConnection(address, namespace, on_lost=self._on_lost(task))
                    request.bundle = str(bundle.path)
                    created = task.call("Create", request, shim_pb2.CreateTaskResponse, timeout)
                except BaseException:
                    self._abandon(task, started)
                    raise
                self._register(task)
            return created.pid
        finally:
            with self._lock:
                self._creating.discard(key)

    def delete(self, namespace: str, task_id: str, timeout: float | None = None) -> shim_pb2.DeleteResponse:
        """Delete the task in its shim, shut the shim down and remove the bundle; returns the
        task's exit. A running task is refused by the shim and stays. If removing the bundle
        fails, the task stays too, and a retry answers with the same exit."""
        task = self.get(namespace, task_id)
        with task.lock:
            if not self._registered(task):
                raise errdefs.NotFound(f"task {task_id} not found")
            if task.deleted_exit is None:
                if task.dead_shim_exit is not None:
                    task.deleted_exit = task.dead_shim_exit
                else:
                    try:
                        task.deleted_exit = task.call("Delete", shim_pb2.DeleteRequest(id=task_id),
                                                      shim_pb2.DeleteResponse, timeout)
                    except errdefs.NotFound:  # deleted in the shim by a run of ours that was killed
                        task.deleted_exit = shim_pb2.DeleteResponse()
            task.bundle.retire()
            if task.connection is not None:
                # Should removing the bundle fail, the task stays, and answers with this exit.
                task.dead_shim_exit = task.deleted_exit
                self._shut_down(task, now=False)
            self._close_log(task)
            task.bundle.remove()
            with self._lock:
                del self._tasks[(namespace, task_id)]
        return task.deleted_exit

    # restart

    def load_existing(self) -> None:
        """Take back every task a previous run left in the state directory: reconnect to its
        shim, or clean up after a shim that died meanwhile, or finish an interrupted create or
        delete. A bundle that cannot be loaded is logged and left alone."""
        if not self._dir.is_dir():
            return
        bundles = [(namespace_dir.name, path) for namespace_dir in sorted(self._dir.iterdir()) if namespace_dir.is_dir()
                   for path in sorted(namespace_dir.iterdir())]
        # Shims answer independently: reconnecting to them side by side makes a restart with
        # many tasks about as quick as one with a few.
        with concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="load") as pool:
            for (_, path), future in zip(bundles, [pool.submit(self._load, *b) for b in bundles]):
                try:
                    future.result()
                except Exception:  # noqa: BLE001 - one broken bundle must not keep the others down
                    log.exception("cannot load the task in %s", path)

    def _load(self, namespace: str, path: Path) -> None:
        if path.name.startswith("."):  # retired: a deletion was interrupted
            bundle = Bundle(path, namespace, path.name[1:])
            self._stop_leftover_shim(bundle)
            bundle.remove()
            return
        bundle = Bundle(path, namespace, path.name)
        binary_path = bundle.read(SHIM_BINARY_PATH)
        if binary_path is None:  # cut short before the task was created: stop the shim, if there is one
            self._stop_leftover_shim(bundle)
            bundle.remove()
            return
        binary = self._binary(binary_path.decode(), namespace)
        last_word = bundle.read(DEAD_SHIM_DELETE_RESPONSE)
        if last_word is not None:
            task = Task(bundle, binary, None)
            task.dead_shim_exit = shim_pb2.DeleteResponse.FromString(last_word)
            self._register(task)
            return
        task = Task(bundle, binary, bundle.open_log())
        self._watcher.watch_lines(task.log_fd, self._shim_logger(task))
        with task.lock:  # a shim lost meanwhile is looked into once the task is registered or abandoned
            try:
                task.connection = self._reconnect(bundle, on_lost=self._on_lost(task))
                task.call("State", shim_pb2.StateRequest(id=bundle.id), shim_pb2.StateResponse, CONNECT_TIMEOUT)
            except errdefs.NotFound:  # a live shim has no such task: its create or delete was cut short
                log.info("task %s/%s: its shim has no such task; removing it", namespace, bundle.id)
                self._abandon(task, started=True)
                return
            except errdefs.Error as exc:
                log.warning("task %s/%s: its shim is unreachable (%s); cleaning up after it", namespace, bundle.id, exc)
                self._register(task)
                self._clean_up_after_dead_shim(task)
                return
            self._register(task)

    def close(self) -> None:
        """Let go of every shim (they and their containers keep running) and stop watching."""
        with self._lock:
            self._closing = True
            tasks = list(self._tasks.values())
        for task in tasks:
            with task.lock:
                if task.connection is not None:
                    task.connection.close()
                self._close_log(task)
        self._watcher.close()

    # shims

    def _binary(self, path: str, namespace: str) -> ShimBinary:
        return ShimBinary(path, namespace=namespace, grpc_address=self._grpc_address,
                          ttrpc_address=self._ttrpc_address, debug=self._debug)

    @staticmethod
    def _reconnect(bundle: Bundle, *, on_lost: Callable[[ShimConnection], None] | None = None) -> ShimConnection:
        address = bundle.read(ADDRESS)
        if address is None:
            raise errdefs.Unavailable(f"bundle {bundle.path} has no shim address")
        connection = ShimConnection(address.decode(), bundle.namespace, on_lost=on_lost)
        try:
            connection.call("Connect", shim_pb2.ConnectRequest(id=bundle.id), shim_pb2.ConnectResponse, CONNECT_TIMEOUT)
        except BaseException:
            connection.close()
            raise
        return connection

    def _register(self, task: Task) -> None:
        with self._lock:
            self._tasks[(task.namespace, task.id)] = task

    def _registered(self, task: Task) -> bool:
        with self._lock:
            return self._tasks.get((task.namespace, task.id)) is task

    def _shim_logger(self, task: Task):
        prefix = f"{task.namespace}/{task.id}"
        return lambda line: shim_log.info("shim %s: %s", prefix, line)

    def _on_lost(self, task: Task) -> Callable[[ShimConnection], None]:
        """What to do when a connection to the task's shim ends: find out why, in a thread of
        its own (the connection's reader must not wait for task.lock)."""

        def on_lost(connection: ShimConnection) -> None:
            threading.Thread(target=self._shim_disconnected, args=(task, connection),
                             name=f"shim-lost-{task.id}", daemon=True).start()

        return on_lost

    def _shim_disconnected(self, task: Task, connection: ShimConnection) -> None:
        """A shim's connection hung up. Only if a new one is refused as well is the shim dead."""
        with task.lock:
            if task.connection is not connection or self._closing or not self._registered(task):
                return
            try:
                task.connection = self._reconnect(task.bundle, on_lost=self._on_lost(task))
            except errdefs.Error as exc:
                log.warning("task %s/%s: shim disconnected and unreachable (%s); cleaning up after it",
                            task.namespace, task.id, exc)
                self._clean_up_after_dead_shim(task)
                return
            connection.close()
            log.info("task %s/%s: shim disconnected; reconnected", task.namespace, task.id)

    def _clean_up_after_dead_shim(self, task: Task) -> None:
        """Run the shim's delete action, keep what it reports and publish the task's end.
        Called with task.lock held. Until the report is kept, the closed connection stays, so
        that calls for the task fail as Unavailable rather than find neither."""
        if task.connection is not None:
            task.connection.close()
        try:
            last_word = task.binary.delete(task.bundle.path, task.id)
        except errdefs.Error as exc:
            log.error("task %s/%s: the shim's delete action failed: %s", task.namespace, task.id, exc)
            exited_at = timestamp_pb2.Timestamp()
            exited_at.GetCurrentTime()
            last_word = shim_pb2.DeleteResponse(exit_status=DEAD_SHIM_EXIT_STATUS, exited_at=exited_at)
        task.bundle.write(DEAD_SHIM_DELETE_RESPONSE, last_word.SerializeToString())
        task.dead_shim_exit = last_word
        task.connection = None
        self._close_log(task)
        self._exchange.publish(task.namespace, "/tasks/exit", event_types_pb2.TaskExit(
            container_id=task.id, id=task.id, pid=last_word.pid, exit_status=last_word.exit_status,
            exited_at=last_word.exited_at))
        self._exchange.publish(task.namespace, "/tasks/delete", event_types_pb2.TaskDelete(
            container_id=task.id, pid=last_word.pid, exit_status=last_word.exit_status,
            exited_at=last_word.exited_at))

    def _shut_down(self, task: Task, *, now: bool) -> None:
        """Tell a task's live shim to exit and let go of the connection, whose hang-up is then
        no longer the task's."""
        _tell_to_exit(task.connection, task.namespace, task.id, now=now)
        task.connection = None

    def _abandon(self, task: Task, started: bool) -> None:
        """Undo a task that never came to be: stop its shim, let the shim's delete action undo
        whatever the shim did, remove the bundle. Errors are logged: the caller's error matters."""
        try:
            if task.connection is not None:
                self._shut_down(task, now=True)
            if started:
                task.binary.delete(task.bundle.path, task.id)
        except errdefs.Error as exc:
            log.warning("task %s/%s: cleaning up its shim: %s", task.namespace, task.id, exc)
        self._close_log(task)
        try:
            task.bundle.delete()
        except OSError as exc:
            log.error("task %s/%s: removing its bundle: %s", task.namespace, task.id, exc)

    def _stop_leftover_shim(self, bundle: Bundle) -> None:
        """Shut down the shim that may still serve a bundle being removed; there may be none."""
        try:
            connection = self._reconnect(bundle)
        except errdefs.Error:
            return
        _tell_to_exit(connection, bundle.namespace, bundle.id, now=True)

    def _close_log(self, task: Task) -> None:
        if task.log_fd is not None:
            self._watcher.unwatch(task.log_fd)
            os.close(task.log_fd)
            task.log_fd = None


def _tell_to_exit(connection: ShimConnection, namespace: str, task_id: str, *, now: bool) -> None:
    """Shut a shim down and wait until it has closed its connection, then close ours. Its
    stderr FIFO must stay open until then: a shim writing to a FIFO nobody reads gets EPIPE."""
    try:
        connection.call("Shutdown", shim_pb2.ShutdownRequest(id=task_id, now=now), empty_pb2.Empty, SHUTDOWN_TIMEOUT)
    except errdefs.Error as exc:  # a shim that exits at once may not answer at all
        log.debug("task %s/%s: shutdown: %s", namespace, task_id, exc)
    if not connection.wait_closed(SHUTDOWN_TIMEOUT):
        log.warning("task %s/%s: the shim did not exit within %ss of shutdown", namespace, task_id, SHUTDOWN_TIMEOUT)
    connection.close()

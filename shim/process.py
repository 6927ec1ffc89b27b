"""The processes one shim supervises: the container's init and the processes exec'd into it.

Each process has a status with explicit transitions (containerd's init_state.go):

    created --start--> running --exit--> stopped --delete--> (gone)
                        |   ^
                  pause |   | resume           (init only: the freezer is the container's)
                        v   |
                        paused

What each operation may do in each status is decided here; the service only translates.
The init's exit is recorded in the bundle (atomically) before anybody is told of it, so
`shim delete` can report it if the shim itself dies.
"""
import fcntl
import json
import os
import socket
import struct
import tempfile
import termios
import threading

import errdefs

from . import layout, mounts
from .ioloop import IOLoop
from .runc import Runc
from .stdio import ProcessIO, Stdio

CREATED, RUNNING, STOPPED, PAUSED = "created", "running", "stopped", "paused"


class Process:
    def __init__(self, process_id: str, container_id: str, stdio: Stdio, runc: Runc, bundle: str, namespace: str,
                 loop: IOLoop):
        self.id = process_id
        self.container_id = container_id
        self.stdio = stdio
        self.runc = runc
        self.bundle = bundle
        self.pid = 0
        self.status = CREATED
        self.exit_status = 0
        self.exited_at = 0.0
        self.io = ProcessIO(stdio, namespace, container_id, loop, runc.env)
        self._exited = threading.Event()

    def set_exited(self, status: int, when: float) -> bool:
        """Record the exit; False if it was already recorded (the same exit seen twice)."""
        if self._exited.is_set():
            return False
        self.exit_status, self.exited_at = status, when
        self._record_exit()
        self.status = STOPPED
        self._exited.set()
        return True

    def _record_exit(self) -> None:
        """Only the init's exit is kept on disk: it is the container's, which `shim delete`
        reports after a dead shim."""

    def wait(self, timeout: float | None = None) -> tuple[int, float]:
        if not self._exited.wait(timeout):
            raise errdefs.DeadlineExceeded(f"process {self.id} is still running")
        return self.exit_status, self.exited_at

    def resize(self, width: int, height: int) -> None:
        if self.io.master is None:
            raise errdefs.FailedPrecondition(f"process {self.id} has no terminal")
        fcntl.ioctl(self.io.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def close_io(self) -> None:
        self.io.close_stdin()

    def _receive_console(self, listener: socket.socket) -> None:
        conn, _ = listener.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 4096, 2, socket.MSG_CMSG_CLOEXEC)
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise errdefs.Internal(f"console socket: expected one file descriptor, got {len(fds)}")
        self.io.attach_console(fds[0])

    def _launch(self, run) -> None:
        """Set up stdio, call `run(stdio, console_socket_path)` (a runtime command that
        starts the process and writes its pid file), then wire the stdio."""
        listener = None
        console_dir = None
        try:
            if self.stdio.terminal:
                # In the temp dir, not the bundle: a bundle path can be too long for sun_path.
                console_dir = tempfile.mkdtemp(prefix="pyshim-pty-")
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listener.bind(os.path.join(console_dir, "pty.sock"))
                listener.listen(1)
                devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
                try:
                    run((devnull, devnull, devnull), os.path.join(console_dir, "pty.sock"))
                finally:
                    os.close(devnull)
                self._receive_console(listener)
            else:
                self.io.prepare_pipes()
                run(self.io.runtime_fds, None)
                self.io.wire()
        finally:
            if listener is not None:
                listener.close()
            if console_dir is not None:
                for name in os.listdir(console_dir):
                    os.unlink(os.path.join(console_dir, name))
                os.rmdir(console_dir)


class Init(Process):
    """The container's first process; its life is the container's."""

    def __init__(self, container_id: str, stdio: Stdio, runc: Runc, bundle: str, namespace: str, loop: IOLoop,
                 rootfs_mounts: list[dict], *, no_pivot: bool, no_new_keyring: bool, owns_pid_namespace: bool):
        super().__init__(container_id, container_id, stdio, runc, bundle, namespace, loop)
        self.rootfs_mounts = rootfs_mounts
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        # Without its own pid namespace, the container's processes outlive its init.
        self.owns_pid_namespace = owns_pid_namespace
        self.deleted = False
        self.released_ns: int | None = None  # when a traced start released it (see Runc.start)

    @property
    def rootfs(self) -> str:
        return os.path.join(self.bundle, "rootfs")

    def _record_exit(self) -> None:
        layout.write_init_exit(self.bundle, self.pid, self.exit_status, self.exited_at)

    def create(self) -> None:
        if self.rootfs_mounts:
            os.makedirs(self.rootfs, exist_ok=True)
            mounts.mount_all(self.rootfs_mounts, self.rootfs)
        pid_file = os.path.join(self.bundle, layout.INIT_PID)
        try:
            self._launch(lambda stdio, console: self.runc.create(
                self.container_id, self.bundle, pid_file, stdio, console_socket=console,
                no_pivot=self.no_pivot, no_new_keyring=self.no_new_keyring))
        except BaseException:
            if self.rootfs_mounts:
                mounts.unmount(self.rootfs)
            raise
        self.pid = layout.read_pid(pid_file)

    def start(self) -> None:
        if self.status != CREATED:
            raise errdefs.FailedPrecondition(f"cannot start a {self.status} container")
        self.released_ns = self.runc.start(self.container_id)
        if self.status == CREATED:  # an instant exit may already have stopped it
            self.status = RUNNING

    def kill(self, signal: int, all_processes: bool) -> None:
        if self.status == STOPPED:
            raise errdefs.NotFound("process already finished")
        try:
            self.runc.kill(self.container_id, signal, all_processes)
        except errdefs.FailedPrecondition:
            # It stopped between our look and the runtime's: the same outcome for the caller.
            raise errdefs.NotFound("process already finished") from None

    def pause(self) -> None:
        if self.status != RUNNING:
            raise errdefs.FailedPrecondition(f"cannot pause a {self.status} container")
        self.runc.pause(self.container_id)
        self.status = PAUSED

    def resume(self) -> None:
        if self.status != PAUSED:
            raise errdefs.FailedPrecondition(f"cannot resume a {self.status} container")
        self.runc.resume(self.container_id)
        self.status = RUNNING

    def delete(self) -> None:
        if self.deleted:
            raise errdefs.NotFound(f"container {self.container_id} was already deleted")
        if self.status in (RUNNING, PAUSED):
            raise errdefs.FailedPrecondition(f"cannot delete a {self.status} container: kill it first")
        self.runc.delete(self.container_id, force=True)
        self.deleted = True
        self.status = STOPPED
        self.io.wait_output()
        if self.rootfs_mounts:
            mounts.unmount(self.rootfs)

    def pids(self) -> list[int]:
        return self.runc.ps(self.container_id)

    def update(self, resources: dict) -> None:
        self.runc.update(self.container_id, resources)

    def stats(self) -> dict:
        return self.runc.stats(self.container_id)


class Exec(Process):
    """A process run inside the container by `runc exec`, registered by Exec and run by Start."""

    def __init__(self, exec_id: str, container_id: str, stdio: Stdio, runc: Runc, bundle: str, namespace: str,
                 loop: IOLoop, spec: dict):
        super().__init__(exec_id, container_id, stdio, runc, bundle, namespace, loop)
        self.spec = spec

    def start(self) -> None:
        if self.status != CREATED:
            raise errdefs.FailedPrecondition(f"exec {self.id} was already started")
        process_file = os.path.join(self.bundle, layout.exec_file(self.id, "process.json"))
        pid_file = os.path.join(self.bundle, layout.exec_file(self.id, "pid"))
        with open(process_file, "w") as f:
            json.dump(self.spec, f)
        try:
            self._launch(lambda stdio, console: self.runc.exec(self.container_id, process_file, pid_file, stdio,
                                                               console_socket=console))
        finally:
            os.unlink(process_file)
        self.pid = layout.read_pid(pid_file)
        if self.status == CREATED:
            self.status = RUNNING

    def kill(self, signal: int, all_processes: bool) -> None:
        if self.status != RUNNING or not self.pid:
            raise errdefs.NotFound("process already finished")
        try:
            os.kill(self.pid, signal)
        except ProcessLookupError:
            raise errdefs.NotFound("process already finished") from None

    def delete(self) -> None:
        if self.status == RUNNING:
            raise errdefs.FailedPrecondition(f"cannot delete running exec {self.id}: kill it first")
        self.io.wait_output()
        try:
            os.unlink(os.path.join(self.bundle, layout.exec_file(self.id, "pid")))
        except FileNotFoundError:
            pass

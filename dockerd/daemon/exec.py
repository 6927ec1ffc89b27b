"""Exec instances (moby's daemon/exec.go): a process run in a running container's task
(Tasks.Exec + Start), its output through FIFOs pydockerd reads, its exit code stored before
the attached stream ends, so `docker exec` reads it from /exec/{id}/json."""
from __future__ import annotations

import os
import secrets
import select
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import errdefs

from . import spec as oci
from .container import PAUSED, RUNNING, Container, write_fifo

EXEC_FIELDS = ["User", "Privileged", "Tty", "ConsoleSize", "AttachStdin", "AttachStderr", "AttachStdout", "Detach",
               "DetachKeys", "Env", "WorkingDir", "Cmd"]


@dataclass
class Exec:
    id: str
    container: Container
    config: dict
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    stdin_fd: int | None = None
    readers: dict[int, int] = field(default_factory=dict)  # output FIFO fd -> stream number
    idle_since: float | None = None  # when, after the exit, its output went quiet
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))


class ExecService:
    def __init__(self, containers):
        self.containers = containers
        self._execs: dict[str, Exec] = {}
        self._lock = threading.Lock()

    def get(self, exec_id: str) -> Exec:
        with self._lock:
            found = self._execs.get(exec_id)
        if found is None:
            raise errdefs.NotFound(f"No such exec instance: {exec_id}")
        return found

    def create(self, ref: str, body: dict) -> str:
        lower = {name.lower(): name for name in EXEC_FIELDS}
        config = {lower.get(k.lower(), k): v for k, v in (body or {}).items()}
        cmd = config.get("Cmd")
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd:
            raise errdefs.InvalidArgument("No exec command specified")
        config["Cmd"] = [str(c) for c in cmd]
        container = self.containers.get(ref)
        if container.state.status == PAUSED:
            raise errdefs.Conflict(f"Container {container.id} is paused, unpause the container before exec")
        if container.state.status != RUNNING:
            raise errdefs.Conflict(f"container {container.id} is not running")
        exec_id = secrets.token_hex(32)
        with self._lock:
            self._execs[exec_id] = Exec(exec_id, container, config)
        container.exec_ids.add(exec_id)
        self.containers.publish(container, "exec_create: " + " ".join(config["Cmd"]), {"execID": exec_id})
        return exec_id

    def inspect(self, exec_id: str) -> dict:
        found = self.get(exec_id)
        config = found.config
        return {
            "ID": found.id, "Running": found.running, "ExitCode": found.exit_code,
            "ProcessConfig": {"tty": found.tty, "entrypoint": config["Cmd"][0], "arguments": config["Cmd"][1:],
                              "privileged": bool(config.get("Privileged")), "user": config.get("User") or ""},
            "OpenStdin": bool(config.get("AttachStdin")), "OpenStderr": bool(config.get("AttachStderr")),
            "OpenStdout": bool(config.get("AttachStdout")), "CanRemove": False, "ContainerID": found.container.id,
            "DetachKeys": config.get("DetachKeys") or "", "Pid": found.pid,
        }

    def _process(self, found: Exec) -> dict:
        container = found.container
        base = container.spec.get("process") or {}
        config = found.config
        user = base.get("user") or {"uid": 0, "gid": 0}
        if config.get("User"):
            files = oci.RootfsFiles(self.containers.containerd.mounts(container.id))
            user = oci.resolve_user(config["User"], files)
        process = {
            "terminal": found.tty, "user": user, "args": config["Cmd"],
            "env": oci.merge_env(base.get("env"), config.get("Env")),
            "cwd": config.get("WorkingDir") or base.get("cwd") or "/",
            "capabilities": base.get("capabilities"),
            "noNewPrivileges": bool(base.get("noNewPrivileges")),
        }
        if config.get("Privileged"):
            process["capabilities"] = {k: list(oci.ALL_CAPABILITIES) for k in ("bounding", "effective", "permitted")}
        size = config.get("ConsoleSize") or [0, 0]
        if found.tty and len(size) == 2 and size[0] and size[1]:
            process["consoleSize"] = {"height": int(size[0]), "width": int(size[1])}
        return process

    def start(self, exec_id: str, *, detach: bool, tty: bool | None = None, console_size=None) -> Exec:
        """Launch the process; attached, its output FIFOs are open for `output`."""
        found = self.get(exec_id)
        with found.lock:
            if found.started:
                raise errdefs.Conflict(f"Exec command {exec_id} has already run")
            found.started = True
        container = found.container
        if container.state.status != RUNNING:
            raise errdefs.Conflict(f"container {container.id} is not running")
        if console_size:
            found.config["ConsoleSize"] = console_size
        directory = self.containers.run_root / container.id
        directory.mkdir(parents=True, exist_ok=True)
        paths = {}
        found.readers = {}
        if not detach:
            streams = [("stdout", 1)] if found.tty else [("stdout", 1), ("stderr", 2)]
            for name, number in streams:
                path = directory / f"{exec_id}-{name}"
                os.mkfifo(path, 0o600)
                found.readers[os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)] = number
                paths[name] = str(path)
            if found.config.get("AttachStdin"):
                path = directory / f"{exec_id}-stdin"
                os.mkfifo(path, 0o600)
                found.stdin_fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
                paths["stdin"] = str(path)
        containerd = self.containers.containerd
        try:
            containerd.exec(container.id, exec_id, self._process(found), stdin=paths.get("stdin", ""),
                            stdout=paths.get("stdout", ""), stderr=paths.get("stderr", ""), terminal=found.tty)
            found.pid = containerd.start(container.id, exec_id)
        except errdefs.Error as exc:
            self._close(found)
            text = str(exc).lower()
            found.exit_code = 127 if ("not found" in text or "no such file" in text) else 126
            found.done.set()
            containerd.delete_process(container.id, exec_id)
            raise errdefs.InvalidArgument(str(exc)) from None
        finally:
            for path in paths.values():
                try:
                    os.unlink(path)  # opened on both sides: the names are no longer needed
                except OSError:
                    pass
        found.running = True
        self.containers.publish(container, "exec_start: " + " ".join(found.config["Cmd"]), {"execID": exec_id})
        if detach:
            threading.Thread(target=self.finish, args=(found,), daemon=True).start()
        return found

    def output(self, found: Exec, cancelled=lambda: False) -> Iterator[tuple[int, bytes]]:
        """The process's output as (stream, data), until every stream has ended."""
        readers = dict(found.readers)
        poller = select.poll()
        for fd in readers:
            poller.register(fd, select.POLLIN)
        try:
            while readers:
                if cancelled():
                    return
                ready = poller.poll(200)
                if not ready and found.done.is_set():
                    # exited, and nothing came for a moment: the shim may never have opened them
                    if self._idle_after_exit(found):
                        return
                for fd, event in ready:
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if data:
                        yield readers[fd], data
                    elif event & (select.POLLHUP | select.POLLERR):
                        poller.unregister(fd)
                        os.close(fd)
                        del readers[fd]
        finally:
            for fd in readers:
                poller.unregister(fd)
                os.close(fd)
            found.readers = {}

    @staticmethod
    def _idle_after_exit(found: Exec) -> bool:
        if found.idle_since is None:
            found.idle_since = time.monotonic()
        return time.monotonic() - found.idle_since > 2

    def write_stdin(self, found: Exec, data: bytes) -> None:
        write_fifo(found.stdin_fd, data)

    def close_stdin(self, found: Exec) -> None:
        try:
            self.containers.containerd.close_stdin(found.container.id, found.id)
        except errdefs.Error:
            pass

    def finish(self, found: Exec) -> int:
        """Wait for the exit, store the code, delete the process: before the stream ends."""
        containerd = self.containers.containerd
        if found.exit_code is None:
            try:
                status, _ = containerd.wait(found.container.id, found.id)
            except errdefs.Error:
                status = found.exit_code if found.exit_code is not None else 137
            self._exited(found, status)
        containerd.delete_process(found.container.id, found.id)
        self._close(found)
        return found.exit_code

    def _exited(self, found: Exec, status: int) -> None:
        with found.lock:
            if found.done.is_set():
                return
            found.exit_code = status
            found.running = False
            found.done.set()
        self.containers.publish(found.container, "exec_die", {"execID": found.id, "exitCode": str(status)})

    def handle_exit(self, exit) -> None:
        with self._lock:
            found = self._execs.get(exit.id)
        if found is not None:
            self._exited(found, exit.exit_status)

    def resize(self, exec_id: str, height: int, width: int) -> None:
        found = self.get(exec_id)
        if not found.running:
            raise errdefs.Conflict(f"exec {exec_id} is not running")
        self.containers.containerd.resize(found.container.id, width, height, exec_id)

    def _close(self, found: Exec) -> None:
        if found.stdin_fd is not None:
            os.close(found.stdin_fd)
            found.stdin_fd = None

    def container_exited(self, container: Container) -> None:
        for exec_id in list(container.exec_ids):
            try:
                found = self.get(exec_id)
            except errdefs.NotFound:
                continue
            if found.running:
                self._exited(found, 137 if found.exit_code is None else found.exit_code)

    def container_removed(self, container: Container) -> None:
        with self._lock:
            for exec_id in container.exec_ids:
                found = self._execs.pop(exec_id, None)
                if found is not None:
                    self._close(found)
        container.exec_ids.clear()

"""Running the OCI runtime's command line (pyrunc, or any runc) from the shim.

Each command is a child of the shim, started with the reaper subscribed first and waited
for through it. Errors come back as errdefs kinds: pyrunc puts the kind on its last JSON
log line; an upstream runc does not, and then the kind is guessed from its words the way
containerd's shim does (checkKillError and friends).
"""
import json
import os

import errdefs
from protos import trace

from .reaper import Reaper


class Runc:
    def __init__(self, binary: str, root: str, log_path: str, reaper: Reaper, env: dict[str, str], *,
                 systemd_cgroup: bool = False):
        self.binary = binary
        self.env = env  # containerd's environment for the shim, which the runtime inherits
        self.root = root
        self.log_path = log_path
        self.reaper = reaper
        self.systemd_cgroup = systemd_cgroup

    def _argv(self, *args: str) -> list[str]:
        argv = [self.binary, "--root", self.root, "--log", self.log_path, "--log-format", "json"]
        if self.systemd_cgroup:
            argv.append("--systemd-cgroup")
        return [*argv, *args]

    def run(self, *args: str, stdio: tuple[int, int, int] | None = None, capture: bool = False,
            input: bytes | None = None) -> bytes:
        """Run one command to its end; its stdout if `capture`. Without `stdio`, the command's
        stdin/stdout/stderr are /dev/null (or pipes for capture/input)."""
        log_start = _size(self.log_path)
        parent = trace.current()
        # The command as a hop of its own, from spawn to exit: its interpreter's start-up too.
        span = None if parent is None else trace.Span("process", f"{os.path.basename(self.binary)} {args[0]}", parent)
        env = self.env if span is None else {**self.env, **span.context.environment()}
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        out_r = out_w = in_r = in_w = None
        try:
            stdin, stdout, stderr = stdio or (devnull, devnull, devnull)
            if capture:
                out_r, out_w = os.pipe()
                stdout = out_w
            if input is not None:
                in_r, in_w = os.pipe()
                stdin = in_r
            actions = [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, stdout, 1),
                       (os.POSIX_SPAWN_DUP2, stderr, 2)]
            with self.reaper.subscribe() as exits:
                pid = os.posix_spawn(self.binary, self._argv(*args), env, file_actions=actions,
                                     setsigdef=(2, 13, 15))  # SIGINT, SIGPIPE, SIGTERM as the runtime expects them
                for fd in (out_w, in_r):
                    if fd is not None:
                        os.close(fd)
                out_w = in_r = None
                if in_w is not None:
                    os.write(in_w, input)
                    os.close(in_w)
                    in_w = None
                output = _read_all(out_r) if out_r is not None else b""
                status = exits.wait_for(pid).status
        finally:
            for fd in (devnull, out_r, out_w, in_r, in_w):
                if fd is not None:
                    os.close(fd)
        if span is not None:
            span.attributes["exit_status"] = status
            span.end()
        if status != 0:
            raise self._error(args[0], status, log_start)
        return output

    def _error(self, command: str, status: int, log_start: int) -> errdefs.Error:
        kind, message = last_error(self.log_path, log_start)
        if not message:
            return errdefs.Unknown(f"{os.path.basename(self.binary)} {command} exited with status {status}")
        return errdefs.from_kind(kind or guess_kind(message), message)

    # --- the commands the shim uses ---------------------------------------------------
    def create(self, container_id: str, bundle: str, pid_file: str, stdio: tuple[int, int, int],
               console_socket: str | None = None, no_pivot: bool = False, no_new_keyring: bool = False) -> None:
        args = ["create", "--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        if no_pivot:
            args.append("--no-pivot")
        if no_new_keyring:
            args.append("--no-new-keyring")
        self.run(*args, container_id, stdio=stdio)

    def exec(self, container_id: str, process_file: str, pid_file: str, stdio: tuple[int, int, int],
             console_socket: str | None = None) -> None:
        args = ["exec", "--detach", "--process", process_file, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        self.run(*args, container_id, stdio=stdio)

    def start(self, container_id: str) -> int | None:
        """Start the container; in a traced start, returns when (unix ns) the runtime released
        its init, if the runtime logged it (pyrunc does, when traced), else None."""
        log_start = _size(self.log_path)
        self.run("start", container_id)
        return released_at(self.log_path, log_start) if trace.current() else None

    def kill(self, container_id: str, signal: int, all_processes: bool = False) -> None:
        self.run("kill", *(["--all"] if all_processes else []), container_id, str(signal))

    def delete(self, container_id: str, force: bool = False) -> None:
        self.run("delete", *(["--force"] if force else []), container_id)

    def pause(self, container_id: str) -> None:
        self.run("pause", container_id)

    def resume(self, container_id: str) -> None:
        self.run("resume", container_id)

    def ps(self, container_id: str) -> list[int]:
        return json.loads(self.run("ps", "--format", "json", container_id, capture=True)) or []

    def update(self, container_id: str, resources: dict) -> None:
        self.run("update", "--resources", "-", container_id, input=json.dumps(resources).encode())

    def stats(self, container_id: str) -> dict:
        return json.loads(self.run("events", "--stats", container_id, capture=True))["data"]


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def last_error(log_path: str, start: int = 0) -> tuple[str | None, str]:
    """(kind, message) of the last error line a runc wrote to its JSON log after byte `start`
    (what earlier commands logged is not this command's error); (None, "") if none."""
    try:
        with open(log_path, "rb") as f:
            f.seek(start)
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None, ""
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") == "error":
            return entry.get("kind"), entry.get("msg", "")
    return None, ""


def released_at(log_path: str, start: int) -> int | None:
    """The `released_ns` a traced `pyrunc start` logged after byte `start`, if any."""
    try:
        with open(log_path, "rb") as f:
            f.seek(start)
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        try:
            released = json.loads(line).get("released_ns")
        except ValueError:
            continue
        if isinstance(released, int):
            return released
    return None


def guess_kind(message: str) -> str:
    """An upstream runc's words, mapped the way containerd's shim reads them."""
    lowered = message.lower()
    if "does not exist" in lowered or "not found" in lowered or "no such" in lowered:
        return errdefs.NotFound.kind
    if "not running" in lowered or "not paused" in lowered or "already" in lowered or "stopped" in lowered:
        return errdefs.FailedPrecondition.kind
    if "permission denied" in lowered:
        return errdefs.PermissionDenied.kind
    return errdefs.Unknown.kind

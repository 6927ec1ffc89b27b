"""The parent side of a container: creating it, and every later operation on it.

A container is a directory under the runtime root: state.json (written atomically) and,
between create and start, exec.fifo. pyrunc keeps no process alive between commands, so every
command reloads state.json and re-derives the status from the live system (procfs and the
cgroup freezer), as runc does: the status is never trusted from disk.
"""
from __future__ import annotations

import json
import os
import signal as signals
import time

import errdefs

# init (with rootfs, sync and ctypes behind it) and socket are imported by create and exec
# only: state, kill, start and delete run without them.
from . import cgroups, namespaces, procfs
from .status import Status
from .. import trace
from ..record import Record

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def validate_id(container_id: str) -> None:
    """Ids become paths: only runc's character set, and never '.' or '..'."""
    if not container_id or container_id in (".", "..") or not set(container_id) <= _ID_CHARS:
        raise errdefs.InvalidArgument(f"invalid container ID format: {container_id!r}")


class Container:
    def __init__(self, root: str, state: dict):
        self.root = root
        self.state = state
        self._cgroup = None

    # --- loading and status -------------------------------------------------------------
    @classmethod
    def load(cls, root: str, container_id: str) -> "Container":
        validate_id(container_id)
        try:
            with open(os.path.join(root, container_id, STATE_FILE)) as f:
                return cls(root, json.load(f))
        except FileNotFoundError:
            raise errdefs.NotFound(f"container {container_id} does not exist") from None

    @property
    def id(self) -> str:
        return self.state["id"]

    @property
    def directory(self) -> str:
        return os.path.join(self.root, self.id)

    @property
    def pid(self) -> int:
        return self.state["init_process_pid"]

    @property
    def config(self) -> dict:
        return self.state["config"]

    @property
    def cgroup(self):
        if self._cgroup is None:
            self._cgroup = cgroups.load_manager(self.state["cgroup"])
        return self._cgroup

    def init_alive(self) -> bool:
        return procfs.is_alive(self.pid, self.state["init_process_start"])

    def status(self) -> Status:
        if not self.init_alive():
            return Status.STOPPED
        if self.cgroup.is_frozen():
            return Status.PAUSED
        if os.path.exists(os.path.join(self.directory, EXEC_FIFO)):
            return Status.CREATED
        return Status.RUNNING

    def oci_state(self) -> dict:
        """The state the runtime spec defines, plus runc's extra fields (`state`, `list`)."""
        status = self.status()
        out = {
            "ociVersion": self.config.get("ociVersion", ""),
            "id": self.id,
            "pid": 0 if status is Status.STOPPED else self.pid,
            "status": status.value,
            "bundle": self.state["bundle"],
            "rootfs": self.state["rootfs"],
            "created": self.state["created"],
        }
        if self.config.get("annotations"):
            out["annotations"] = self.config["annotations"]
        out["owner"] = self.state.get("owner", "")
        return out

    def save(self) -> None:
        path = os.path.join(self.directory, STATE_FILE)
        tmp = os.path.join(self.directory, f".{STATE_FILE}.tmp")
        with open(tmp, "w") as f:
            json.dump(self.state, f)
        os.rename(tmp, path)

    def namespace_path(self, kind: str) -> str:
        return namespaces.proc_path(self.pid, kind)

    def owns_pid_namespace(self) -> bool:
        return namespaces.from_spec(self.config).get("pid", "host") is None

    # --- operations -----------------------------------------------------------------------
    def start(self, log) -> None:
        status = self.status()
        if not status.can_start:
            raise errdefs.FailedPrecondition({
                Status.STOPPED: "cannot start a container that has stopped",
                Status.RUNNING: "cannot start an already running container",
                Status.PAUSED: "cannot start an already running container",
            }[status])
        # Once the fifo is open, the init may exec and run; reading its byte is later, even after
        # the program's exit on a busy machine. The shim times the container's run from here.
        released_ns = time.time_ns()
        with trace.span("release init"):
            _open_exec_fifo(os.path.join(self.directory, EXEC_FIFO), self.pid, self.state["init_process_start"])
        if trace.traced():
            log.write("info", "released the container's init", released_ns=released_ns)
        log.debug(f"started container {self.id}")
        hooks = self.config.get("hooks", {}).get("poststart", [])
        if hooks:
            from . import hooks as hook_runner

            try:
                hook_runner.run(hooks, self.hook_state(Status.RUNNING), "poststart")
            except errdefs.Error:
                self.signal(signals.SIGKILL, all_processes=True)
                raise

    def signal(self, signum: int, *, all_processes: bool = False) -> None:
        status = self.status()
        if all_processes and status is Status.STOPPED:
            # runc signals what is left in the cgroup even once init is gone: the shim kills a
            # container's stragglers that way when an init without a pid namespace exits.
            if self.cgroup.exists():
                self.cgroup.signal_all(signum)
            return
        if not status.can_signal:
            raise errdefs.FailedPrecondition("container not running")
        if all_processes or (signum == signals.SIGKILL and not self.owns_pid_namespace()):
            # Without its own pid namespace, killing init would leave the rest running.
            self.cgroup.signal_all(signum)
        else:
            _signal_exact(self.pid, self.state["init_process_start"], signum)
        if status is Status.PAUSED and signum == signals.SIGKILL:
            # On cgroup v1 a frozen task dies only once thawed.
            self.cgroup.thaw()

    def pause(self) -> None:
        if not self.status().can_pause:
            raise errdefs.FailedPrecondition("container not running")
        self.cgroup.freeze()

    def resume(self) -> None:
        if not self.status().can_resume:
            raise errdefs.FailedPrecondition("container not paused")
        self.cgroup.thaw()

    def delete(self, *, force: bool, log) -> None:
        status = self.status()
        if not status.deletable_without_force and not force:
            raise errdefs.FailedPrecondition(f"cannot delete container {self.id} that is not stopped: {status.value}")
        if status is not Status.STOPPED:
            log.debug(f"deleting {status.value} container {self.id}: killing it first")
            self.signal(signals.SIGKILL, all_processes=not self.owns_pid_namespace())
            if not self.wait_until_stopped(timeout=10.0):
                raise errdefs.DeadlineExceeded(f"container {self.id} init (pid {self.pid}) did not die after SIGKILL")
        self.destroy(log)

    def wait_until_stopped(self, timeout: float) -> bool:
        """Whether init is gone (or never started) within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        delay = 0.001
        while self.init_alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        return True

    def destroy(self, log) -> None:
        """Remove what the container leaves once its processes are gone, then poststop hooks."""
        if self.cgroup.exists():
            # A container sharing the host pid namespace can leave orphans behind in its cgroup.
            if self.cgroup.pids():
                self.cgroup.signal_all(signals.SIGKILL)
            self.cgroup.destroy()
        remove_directory(self.directory)
        log.debug(f"removed container {self.id}")
        hooks = self.config.get("hooks", {}).get("poststop", [])
        if hooks:
            from . import hooks as hook_runner

            try:
                hook_runner.run(hooks, self.hook_state(Status.STOPPED), "poststop")
            except errdefs.Error as e:
                # The container is gone either way; runc also only warns here.
                log.warning(str(e))

    def hook_state(self, status: Status) -> dict:
        from . import hooks as hook_runner

        return hook_runner.state_for(self.id, status.value, self.pid, self.state["bundle"], self.config.get("annotations", {}))


def remove_directory(path: str) -> None:
    for name in os.listdir(path) if os.path.isdir(path) else ():
        os.unlink(os.path.join(path, name))
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _signal_exact(pid: int, start: int, signum: int) -> None:
    """Signal `pid` through a pidfd, only if it is still the container's init: a recycled
    pid can never receive the signal."""
    pidfd = _pidfd_of(pid, start)
    if pidfd is None:
        raise errdefs.FailedPrecondition("container not running")
    try:
        signals.pidfd_send_signal(pidfd, signum)
    finally:
        os.close(pidfd)


def _open_exec_fifo(path: str, pid: int, start: int) -> None:
    """Release the init blocked on the exec fifo (runc's handleFifo): open the read side
    without blocking, then wait for init's byte, or for init's death, never for ever.

    A short-lived program may have been released, run and exited before we look at the
    pid: a byte in the fifo means it started, whatever became of it since.
    """
    import select

    fifo = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    pidfd = _pidfd_of(pid, start)
    try:
        poller = select.poll()
        poller.register(fifo, select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        while True:
            ready = dict(poller.poll(None if pidfd is not None else 0))
            if fifo in ready:
                # Readable, or hung up: a writer came and went, with or without its byte.
                if os.read(fifo, 1):
                    break
                raise errdefs.FailedPrecondition("container init exited before it could start")
            if pidfd is None or pidfd in ready:
                if _read_now(fifo):
                    break
                raise errdefs.FailedPrecondition("cannot start a container that has stopped")
        os.unlink(path)
    finally:
        os.close(fifo)
        if pidfd is not None:
            os.close(pidfd)


def _pidfd_of(pid: int, start: int) -> int | None:
    """A pidfd for the container's init, or None if it is already gone (exited, or the pid
    reused). The pidfd is opened before the check, so it cannot name a later process."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    if not procfs.is_alive(pid, start):
        os.close(pidfd)
        return None
    return pidfd


def _read_now(fd: int) -> bytes:
    try:
        return os.read(fd, 1)
    except BlockingIOError:
        return b""


# --- creating -----------------------------------------------------------------------------
class CreateOptions(Record):
    bundle: str
    console_socket: str | None = None
    pid_file: str | None = None
    no_pivot: bool = False
    no_new_keyring: bool = False
    preserve_fds: int = 0
    systemd_cgroup: bool = False
    # A foreground `run -t` keeps the first end of this pair and gives the child the second,
    # instead of connecting to a console socket path.
    console_pair: tuple[socket.socket, socket.socket] | None = None


def create(root: str, container_id: str, opts: CreateOptions, log) -> Container:
    from .. import spec as specs

    validate_id(container_id)
    bundle = os.path.abspath(opts.bundle)
    # As in runc, relative paths in the config (mount sources) resolve against the bundle, here
    # and in the child, which inherits this working directory.
    os.chdir(bundle)
    with trace.span("load config"):
        config = specs.load(bundle)
    terminal = config["process"].get("terminal", False)
    if terminal and not (opts.console_socket or opts.console_pair):
        raise errdefs.InvalidArgument("cannot allocate tty if runc will detach without setting console socket")
    if opts.console_socket and not terminal:
        raise errdefs.InvalidArgument("cannot use console socket if runc will not detach or allocate tty")
    root_path = config["root"]["path"]
    rootfs = os.path.realpath(os.path.join(bundle, root_path))
    if not os.path.isdir(rootfs):
        raise errdefs.NotFound(f"rootfs ({rootfs}) does not exist")
    os.makedirs(root, mode=0o700, exist_ok=True)
    directory = os.path.join(root, container_id)
    try:
        os.mkdir(directory, 0o711)
    except FileExistsError:
        raise errdefs.AlreadyExists(f"container with id exists: {container_id}") from None
    container = Container(root, {
        "id": container_id,
        "init_process_pid": 0,
        "init_process_start": 0,
        "created": "",
        "bundle": bundle,
        "rootfs": rootfs,
        "owner": _owner_name(),
        "config": config,
    })
    launch = _Launch(container, creating=True)
    try:
        _create_init(container, opts, launch, log)
    except BaseException:
        launch.clean_up()
        raise
    if opts.pid_file:
        write_pid_file(opts.pid_file, launch.pid)
    log.debug(f"created container {container_id}: init pid {launch.pid}, cgroup {container.state['cgroup']}")
    return container


def _create_init(c: Container, opts: CreateOptions, launch: _Launch, log) -> None:
    from . import init, sync

    config = c.config
    plan_ns = namespaces.from_spec(config)
    with trace.span("cgroup"):
        manager = cgroups.new_manager(cgroups_path(config, opts.systemd_cgroup), c.id)
        manager.create()
    c.state["cgroup"] = manager.to_dict()
    c._cgroup = manager
    fifo_path = os.path.join(c.directory, EXEC_FIFO)
    os.mkfifo(fifo_path, 0o622)
    os.chmod(fifo_path, 0o622)  # mkfifo honours the umask
    parent_sock, child_sock = sync.pair()
    plan = init.Plan(
        container_id=c.id,
        bundle=c.state["bundle"],
        process=config["process"],
        namespaces=plan_ns,
        sync_socket=child_sock,
        spec=config,
        rootfs=c.state["rootfs"],
        no_pivot=opts.no_pivot,
        no_new_keyring=opts.no_new_keyring,
        exec_fifo_fd=os.open(fifo_path, os.O_PATH | os.O_CLOEXEC),
        preserve_fds=opts.preserve_fds,
        runtime_exe=_runtime_exe(),
    )
    with trace.span("prepare process"):
        prepare_process(plan, config, log)
    if "mount" in plan_ns:
        plan.cgroup_mounter = _cgroup_mounter(manager, "cgroup" in plan_ns, "user" in plan_ns)
    if any(config.get("hooks", {}).get(k) for k in ("createContainer", "startContainer")):
        from . import hooks

        plan.hooks = hooks
    console_conn = connect_console(plan, opts.console_socket, opts.console_pair)
    launch.fork(plan, parent_sock, console_conn)


def _owner_name() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def cgroups_path(config: dict, systemd_cgroup: bool) -> str:
    path = config.get("linux", {}).get("cgroupsPath", "")
    if systemd_cgroup and path.count(":") == 2:
        # "slice:prefix:name", as Docker and containerd write it for the systemd driver; with
        # plain cgroupfs we place it where systemd would have put the scope.
        slice_, prefix, name = path.split(":")
        return f"/{slice_ or 'system.slice'}/{prefix}-{name}.scope"
    return path


class _Launch:
    """One fork of a container process, for `create` (the init) or `exec`, and everything
    made on the way, so a failure can undo exactly that."""

    def __init__(self, container: Container, *, creating: bool):
        self.container = container
        self.creating = creating
        self.intermediate_pid = 0
        self.pid = 0

    def fork(self, plan: init.Plan, parent_sock: socket.socket, console_conn: socket.socket | None) -> None:
        from . import init, sync

        try:
            with trace.span("fork"):
                self.intermediate_pid = init.start(plan)
        finally:
            plan.sync_socket.close()
            if plan.exec_fifo_fd is not None:
                os.close(plan.exec_fifo_fd)
            if console_conn is not None:
                console_conn.close()
        self.container.cgroup.attach(self.intermediate_pid)
        sync.send(parent_sock, sync.GO)
        # The child's work: namespaces, rootfs, pivot_root, capabilities, seccomp, until ready.
        with parent_sock, trace.span("set up container"):
            self._converse(parent_sock, plan.process)

    def _converse(self, sock: socket.socket, process: dict) -> None:
        from . import sync

        c = self.container
        ready = False
        while True:
            message = sync.recv(sock)
            if message is None:
                if not ready:
                    raise errdefs.Internal("the container process exited before finishing its setup")
                return
            kind = message["type"]
            if kind == sync.ERROR:
                raise errdefs.from_kind(message["kind"], message["message"])
            if kind == sync.USERNS:
                write_id_maps(self.intermediate_pid, c.config["linux"])
                sync.send(sock, sync.USERNS_DONE)
            elif kind == sync.PID:
                self.pid = message["pid"]
                os.waitpid(self.intermediate_pid, 0)
                self.intermediate_pid = 0
                if self.creating:
                    c.state["init_process_pid"] = self.pid
                    c.state["init_process_start"] = procfs.start_time(self.pid) or 0
            elif kind == sync.HOOKS:
                resources = c.config.get("linux", {}).get("resources")
                if resources:
                    c.cgroup.set(effective_resources(resources))
                self._run_runtime_hooks()
                sync.send(sock, sync.HOOKS_DONE)
            elif kind == sync.READY:
                apply_process_limits(self.pid, process)
                if self.creating:
                    c.state["created"] = _now()
                    # Written before init may go on, so even a crashed create leaves a deletable container.
                    c.save()
                sync.send(sock, sync.RUN)
                ready = True

    def _run_runtime_hooks(self) -> None:
        hooks_config = self.container.config.get("hooks", {})
        to_run = [(k, hooks_config[k]) for k in ("prestart", "createRuntime") if hooks_config.get(k)]
        if not to_run:
            return
        from . import hooks

        state = self.container.hook_state(Status.CREATING)
        for kind, entries in to_run:
            hooks.run(entries, state, kind)

    def clean_up(self) -> None:
        for pid in (self.intermediate_pid, self.pid):
            if pid:
                try:
                    os.kill(pid, signals.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.intermediate_pid:
            try:
                os.waitpid(self.intermediate_pid, 0)
            except ChildProcessError:
                pass
        if not self.creating:
            return
        # A cgroup can be removed only once init, killed above, is gone (the state has had its
        # pid since the PID message).
        self.container.wait_until_stopped(timeout=5.0)
        if "cgroup" in self.container.state:
            self.container.cgroup.destroy()
        remove_directory(self.container.directory)


class ExecOptions(Record):
    console_socket: str | None = None
    pid_file: str | None = None
    preserve_fds: int = 0
    ignore_paused: bool = False
    console_pair: tuple[socket.socket, socket.socket] | None = None


def execute(c: Container, process: dict, opts: ExecOptions, log) -> int:
    """Start `process` inside the running container `c`; returns its pid."""
    from .. import spec as specs

    status = c.status()
    if status is Status.PAUSED and not opts.ignore_paused:
        raise errdefs.FailedPrecondition("cannot exec in a paused container (use --ignore-paused to override)")
    if not status.can_exec and status is not Status.PAUSED:
        raise errdefs.FailedPrecondition("cannot exec in a stopped container")
    if not process.get("args"):
        raise errdefs.InvalidArgument("process.args must name the program to run")
    if not os.path.isabs(process.get("cwd", "/")):
        raise errdefs.InvalidArgument(f"process.cwd must be an absolute path, not {process['cwd']!r}")
    specs.check_rlimits(process, "process")
    if process.get("terminal") and not (opts.console_socket or opts.console_pair):
        raise errdefs.InvalidArgument("cannot allocate tty if runc will detach without setting console socket")
    from . import init, sync

    parent_sock, child_sock = sync.pair()
    plan = init.Plan(
        container_id=c.id,
        bundle=c.state["bundle"],
        process=process,
        namespaces={kind: c.namespace_path(kind) for kind in namespaces.from_spec(c.config)},
        sync_socket=child_sock,
        preserve_fds=opts.preserve_fds,
        runtime_exe=_runtime_exe(),
    )
    launch = _Launch(c, creating=False)
    try:
        prepare_process(plan, c.config, log)
        console_conn = connect_console(plan, opts.console_socket, opts.console_pair)
        launch.fork(plan, parent_sock, console_conn)
    except BaseException:
        launch.clean_up()
        raise
    if opts.pid_file:
        write_pid_file(opts.pid_file, launch.pid)
    log.debug(f"exec in container {c.id}: pid {launch.pid}, args {process['args']}")
    return launch.pid


# Devices every container may use whatever its config says (runc's AllowedDevices): appended
# after the config's own rules, so a config's deny-all cannot break /dev/null or the pty.
DEFAULT_ALLOWED_DEVICES = (
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    *({"allow": True, "type": "c", "major": major, "minor": minor, "access": "rwm"}
      for major, minor in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2), (10, 200))),
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
)


def effective_resources(resources: dict) -> dict:
    if resources.get("devices") is None:
        return resources
    return {**resources, "devices": [*resources["devices"], *DEFAULT_ALLOWED_DEVICES]}


def _now() -> str:
    from ..log import rfc3339

    return rfc3339(time.time_ns(), nano=True)


def _runtime_exe() -> tuple[int, int]:
    st = os.stat("/proc/self/exe")
    return (st.st_dev, st.st_ino)


def prepare_process(plan: init.Plan, config: dict, log) -> None:
    """Work done in the parent, before the fork, that the child must not do itself: loading
    libseccomp and parsing capability names need the host's files."""
    from . import capabilities

    process = plan.process
    caps, unknown = capabilities.parse(process.get("capabilities", {}))
    for name in unknown:
        log.warning(f"ignoring unknown or unsupported capability {name!r}")
    plan.capabilities = caps
    seccomp_config = config.get("linux", {}).get("seccomp")
    if seccomp_config:
        from . import seccomp

        plan.seccomp = seccomp.prepare(seccomp_config)


def connect_console(plan: init.Plan, path: str | None,
                    pair: tuple[socket.socket, socket.socket] | None) -> socket.socket | None:
    """The socket the child sends the pty master on. Returns our copy, to close after the fork."""
    if not plan.process.get("terminal"):
        return None
    import socket

    from . import console  # noqa: F401 - loaded now: the child sets up the pty where the host's files are gone

    if pair is not None:
        plan.console_socket = pair[1]
        return pair[1]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError as e:
        conn.close()
        raise errdefs.Unavailable(f"cannot connect to console socket {path}: {e.strerror}") from None
    plan.console_socket = conn
    return conn


def write_id_maps(pid: int, linux: dict) -> None:
    for kind in ("uid", "gid"):
        lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux.get(f"{kind}Mappings", []))
        with open(f"/proc/{pid}/{kind}_map", "w") as f:
            f.write(lines)


def apply_process_limits(pid: int, process: dict) -> None:
    """rlimits and oom_score_adj, set from here because raising a hard limit or lowering the
    OOM score needs privileges the child may not have in its user namespace."""
    rlimits = process.get("rlimits", [])
    if rlimits:
        import resource

        from ..spec import RLIMITS

        for rl in rlimits:
            resource.prlimit(pid, RLIMITS[rl["type"]], (rl["soft"], rl["hard"]))
    if "oomScoreAdj" in process:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write(str(process["oomScoreAdj"]))


def write_pid_file(path: str, pid: int) -> None:
    """Atomically, as runc does: a reader never sees a half-written pid."""
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{name}")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def _cgroup_mounter(manager, own_cgroupns: bool, in_userns: bool):
    """How to mount the config's `cgroup` mount, given the host's hierarchies."""
    from . import syscalls as S

    def mount(root, dest: str, options) -> None:
        flags = options.flags & ~S.MS_RDONLY
        if cgroups.is_unified():
            root.mount("cgroup2", dest, "cgroup2", options.flags)
            return
        root.mount("tmpfs", dest, "tmpfs", S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC, "mode=755")
        for name, subsystems in cgroups.v1_hierarchies():
            target = f"{dest}/{name}"
            if own_cgroupns and not in_userns:
                # Inside its own cgroup namespace a fresh mount shows the container's cgroup as /.
                root.mount("cgroup", target, "cgroup", flags, subsystems)
            else:
                root.mount(manager.path_for(name), target, None, S.MS_BIND | S.MS_REC)
            if options.flags & S.MS_RDONLY:
                root.remount(target, S.MS_BIND | S.MS_REMOUNT | S.MS_RDONLY | flags)
        if options.flags & S.MS_RDONLY:
            root.remount(dest, S.MS_REMOUNT | S.MS_RDONLY | flags, "mode=755")

    return mount

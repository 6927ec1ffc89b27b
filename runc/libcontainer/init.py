"""The child side: everything between pyrunc's fork and the execve of the user's program.

pyrunc forks instead of re-executing itself (as runc does), so the child starts with the
parsed config, the prepared seccomp filter and every module it will need already loaded:
after pivot_root the host's Python library is out of reach, so nothing may be imported
below that point.

Two processes, as in runc's nsexec:
  intermediate  joins namespaces by path, unshares the new ones, forks the init and exits.
                A new pid (or time) namespace only applies to children, hence the extra fork.
  init          PID 1 of the new pid namespace: sets up the rootfs and the process, then
                (create) blocks on the exec fifo until `pyrunc start`, and execs.
Both are non-dumpable until the execve, so a process in the container cannot open
/proc/PID/exe and reach the host's Python interpreter (the CVE-2019-5736 class); the execve
itself refuses a program that resolves to that interpreter.
"""
import errno
import os
import signal
import socket
import stat

import errdefs

from . import namespaces, rootfs, sync
from . import syscalls as S
from ..log import describe
from ..record import Record


class Plan(Record):
    """What the child must do, decided by the parent before it forks."""

    container_id: str
    bundle: str
    process: dict
    namespaces: dict[str, str | None]  # kind -> path to join, or None for a new namespace
    sync_socket: socket.socket
    spec: dict | None = None  # the whole config for a new container; None for exec
    rootfs: str = ""
    no_pivot: bool = False
    no_new_keyring: bool = False
    exec_fifo_fd: int | None = None
    console_socket: socket.socket | None = None
    preserve_fds: int = 0
    seccomp: object | None = None  # a prepared seccomp.Filter
    capabilities: object | None = None  # a parsed capabilities set
    cgroup_mounter: object | None = None
    runtime_exe: tuple[int, int] = (0, 0)  # (st_dev, st_ino) of the interpreter running pyrunc
    hooks: object | None = None  # the hooks module, imported by the parent only when there are hooks

    @property
    def creates_container(self) -> bool:
        return self.spec is not None


def start(plan: Plan) -> int:
    """Fork the intermediate process; returns its pid in the parent."""
    pid = os.fork()
    if pid:
        return pid
    _run_child(_intermediate, plan)


def _run_child(body, plan: Plan):
    """Run a child's body; any failure goes to the parent as an ERROR message. Never returns:
    a forked child must not fall back into the parent's code."""
    status = 1
    try:
        body(plan)
        status = 0
    except BaseException as e:  # noqa: BLE001 - everything must reach the parent
        try:
            _report(plan.sync_socket, e)
        finally:
            os._exit(1)
    finally:
        os._exit(status)


def _report(sock: socket.socket, e: BaseException) -> None:
    message = describe(e)
    try:
        sync.send(sock, sync.ERROR, kind=errdefs.kind_of(e), message=message)
    except Exception as send_error:  # noqa: BLE001 - the last resort must not fail too
        os.write(2, f"pyrunc: {message} (and the parent could not be told: {send_error})\n".encode())


def _intermediate(plan: Plan) -> None:
    sc = S.linux
    sc.prctl(S.PR_SET_DUMPABLE, 0)
    sock = plan.sync_socket
    sync.expect(sock, sync.GO)
    _enter_namespaces(sc, plan)
    pid = os.fork()
    if pid == 0:
        _run_child(_init, plan)
    sync.send(sock, sync.PID, pid=pid)


def _enter_namespaces(sc, plan: Plan) -> None:
    to_join = {kind: path for kind, path in plan.namespaces.items() if path}
    # Open every path, and note which namespaces we are already in, before the first setns:
    # once in another mount namespace, paths (even /proc/self) resolve differently.
    fds = {kind: os.open(path, os.O_RDONLY | os.O_CLOEXEC) for kind, path in to_join.items()}
    try:
        joining = [kind for kind in namespaces.JOIN_ORDER if kind in fds and not _already_in(fds[kind], kind)]
        for kind in joining:
            sc.setns(fds[kind], namespaces.CLONE_FLAGS[kind])
    finally:
        for fd in fds.values():
            os.close(fd)
    new = {kind for kind, path in plan.namespaces.items() if path is None}
    if "user" in new:
        sc.unshare(namespaces.CLONE_FLAGS["user"])
        sync.send(plan.sync_socket, sync.USERNS)
        sync.expect(plan.sync_socket, sync.USERNS_DONE)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    flags = 0
    for kind in new - {"user"}:
        flags |= namespaces.CLONE_FLAGS[kind]
    if flags:
        sc.unshare(flags)
    offsets = (plan.spec or {}).get("linux", {}).get("timeOffsets")
    if "time" in new and offsets:
        # Must be written before the first process enters the new time namespace.
        with open("/proc/self/timens_offsets", "w") as f:
            for clock in ("monotonic", "boottime"):
                if clock in offsets:
                    f.write(f"{clock} {offsets[clock].get('secs', 0)} {offsets[clock].get('nanosecs', 0)}\n")


def _already_in(fd: int, kind: str) -> bool:
    # setns into one's own user namespace is EINVAL; for the others it is a no-op worth skipping.
    mine = os.stat(f"/proc/self/ns/{namespaces.PROC_NAMES[kind]}")
    theirs = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def _init(plan: Plan) -> None:
    sc = S.linux
    sock = plan.sync_socket
    process = plan.process
    os.setsid()
    if not plan.no_new_keyring:
        _join_session_keyring(sc, plan.container_id)
    if plan.creates_container:
        _prepare_rootfs(sc, plan)
    if process.get("terminal"):
        from . import console

        console.setup_in_container(sc, plan.console_socket, process.get("consoleSize"),
                                   own_console=plan.creates_container)
        plan.console_socket.close()
    if plan.creates_container:
        _configure_container(sc, plan.spec)
    if plan.creates_container or "umask" in process.get("user", {}):
        os.umask(process.get("user", {}).get("umask", 0o022))
    no_new_privileges = process.get("noNewPrivileges", False)
    if no_new_privileges:
        sc.prctl(S.PR_SET_NO_NEW_PRIVS, 1)
    sync.send(sock, sync.READY)
    sync.expect(sock, sync.RUN)
    if plan.seccomp is not None and not no_new_privileges:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it before the drop.
        plan.seccomp.load()
    env = _environment(process)
    _become_user(plan)
    _enter_cwd(process.get("cwd", "/"))
    program = _look_path(process["args"][0], env.get("PATH"), plan.runtime_exe)
    sock.close()
    if plan.exec_fifo_fd is not None:
        _wait_for_start(plan.exec_fifo_fd)
        _run_container_hooks(plan, "startContainer", "created")
    if plan.seccomp is not None and no_new_privileges:
        # As late as possible, so the filter constrains only the user's program.
        plan.seccomp.load()
    _exec(program, process["args"], env, plan.preserve_fds)


def _join_session_keyring(sc, container_id: str) -> None:
    try:
        sc.join_session_keyring(f"_ses.{container_id}")
    except OSError as e:
        # Kernels without keyrings, and seccomp profiles that deny keyctl, are fine.
        if e.errno not in (errno.ENOSYS, errno.EPERM):
            raise


def _prepare_rootfs(sc, plan: Plan) -> None:
    spec = plan.spec
    new_mount_ns = "mount" in plan.namespaces
    if new_mount_ns:
        rootfs.prepare_root(sc, plan.rootfs, spec.get("linux", {}).get("rootfsPropagation"))
        root = rootfs.Rootfs(sc, plan.rootfs)
        try:
            mounts = spec.get("mounts", [])
            rootfs.mount_all(root, mounts, cgroup_mounter=plan.cgroup_mounter)
            if not rootfs.binds_dev(mounts):
                rootfs.create_devices(root, spec.get("linux", {}).get("devices", []),
                                      bind_from_host="user" in plan.namespaces)
                rootfs.create_dev_symlinks(root)
        finally:
            root.close()
    sync.send(plan.sync_socket, sync.HOOKS)
    sync.expect(plan.sync_socket, sync.HOOKS_DONE)
    _run_container_hooks(plan, "createContainer", "creating")
    if not new_mount_ns:
        sc.chroot(plan.rootfs)
        os.chdir("/")
    elif plan.no_pivot:
        rootfs.move_root(sc, plan.rootfs)
    else:
        rootfs.pivot_root(sc, plan.rootfs)
    rootfs.reopen_dev_null()


def _run_container_hooks(plan: Plan, kind: str, status: str) -> None:
    entries = plan.spec.get("hooks", {}).get(kind, [])
    if entries:
        state = plan.hooks.state_for(plan.container_id, status, os.getpid(), plan.bundle,
                                     plan.spec.get("annotations", {}))
        plan.hooks.run(entries, state, kind)


def _configure_container(sc, spec: dict) -> None:
    linux = spec.get("linux", {})
    if "mount" in namespaces.from_spec(spec):
        rootfs.finalize(sc, spec)
    if spec.get("hostname"):
        sc.sethostname(spec["hostname"])
    if spec.get("domainname"):
        sc.setdomainname(spec["domainname"])
    for key, value in linux.get("sysctl", {}).items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    for path in linux.get("readonlyPaths", []):
        rootfs.readonly_path(sc, path)
    for path in linux.get("maskedPaths", []):
        rootfs.mask_path(sc, path)
    persona = linux.get("personality", {}).get("domain")
    if persona:
        sc.personality({"LINUX": 0x0000, "LINUX32": 0x0008}[persona])


def _environment(process: dict) -> dict[str, str]:
    env = {}
    for entry in process.get("env", []):
        key, sep, value = entry.partition("=")
        if sep:
            env[key] = value
    if "HOME" not in env:
        # As runc: the user's home from the container's /etc/passwd, else /.
        env["HOME"] = _home_of(process.get("user", {}).get("uid", 0))
    return env


def _home_of(uid: int) -> str:
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def _become_user(plan: Plan) -> None:
    """Drop the bounding set, switch uid/gid keeping capabilities across the switch, then set
    the process's capability sets (runc's finalizeNamespace order)."""
    from . import capabilities

    user = plan.process.get("user", {})
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    caps = plan.capabilities
    capabilities.drop_bounding(caps)
    capabilities.set_keep_caps(True)
    try:
        os.setgroups(user.get("additionalGids", []))
    except PermissionError:
        # A user namespace whose creator wrote "deny" to setgroups keeps its groups.
        with open("/proc/self/setgroups") as f:
            if f.read().strip() != "deny":
                raise
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    capabilities.set_keep_caps(False)
    capabilities.apply(caps)


def _enter_cwd(cwd: str) -> None:
    os.chdir(cwd)
    # A host directory fd leaked into the process (CVE-2024-21626) would show here as a cwd
    # outside the root, which the kernel reports as "(unreachable)...".
    if not os.getcwd().startswith("/"):
        raise PermissionError(f"current working directory {cwd!r} is outside the container's root")


def _look_path(name: str, path_env: str | None, runtime_exe: tuple[int, int]) -> str:
    """Resolve the program as Go's exec.LookPath does, so a missing or non-executable program
    fails `create` with runc's words (the layers above map them to exit codes 127 and 126)."""
    if "/" in name:
        candidates = [name]
    else:
        candidates = [os.path.join(d or ".", name) for d in (path_env or "").split(":")]
    for candidate in candidates:
        try:
            st = os.stat(candidate)
        except OSError as e:
            if "/" in name:
                raise errdefs.NotFound(f'exec: "{name}": stat {name}: {e.strerror.lower()}') from None
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
            _refuse_runtime_interpreter(candidate, runtime_exe)
            return candidate
        if "/" in name:
            raise errdefs.PermissionDenied(f'exec: "{name}": permission denied')
    raise errdefs.NotFound(f'exec: "{name}": executable file not found in $PATH')


def _refuse_runtime_interpreter(program: str, runtime_exe: tuple[int, int]) -> None:
    """Refuse to run the host's interpreter in the container: a program that is, or whose
    #! interpreter chain leads to, /proc/self/exe would otherwise let the container run (and
    then overwrite) the host's Python, as CVE-2019-5736 did with runc's binary."""
    path = program
    for _ in range(5):  # the kernel follows at most 4 levels of #! interpreters
        try:
            st = os.stat(path)
            with open(path, "rb") as f:
                head = f.read(256)
        except OSError:
            return
        if (st.st_dev, st.st_ino) == runtime_exe:
            raise errdefs.PermissionDenied(f'exec: "{program}": refusing to run the container runtime\'s own interpreter')
        if not head.startswith(b"#!"):
            return
        line = head[2:].split(b"\n", 1)[0].strip()
        if not line:
            return
        path = os.fsdecode(line.split()[0])


def _wait_for_start(fifo_fd: int) -> None:
    """Block until `pyrunc start` opens the exec fifo, then tell it we are going."""
    fd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)
    os.close(fifo_fd)


def _exec(program: str, args: list[str], env: dict[str, str], preserve_fds: int) -> None:
    first_closed = 3 + preserve_fds
    for fd in range(3, first_closed):
        os.set_inheritable(fd, True)
    # No host fd may reach the container (CVE-2024-21626 class): close all the rest.
    os.closerange(first_closed, 1 << 20)
    # Python ignores SIGPIPE and SIGXFSZ for itself; an ignored signal stays ignored across
    # execve, so give the program the defaults it expects.
    for signum in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(signum, signal.SIG_DFL)
    try:
        os.execve(program, args, env)
    except OSError as e:
        # The sync socket is closed by now; stderr is the container's.
        os.write(2, f"pyrunc: exec {program}: {e.strerror}\n".encode())
        os._exit(255)

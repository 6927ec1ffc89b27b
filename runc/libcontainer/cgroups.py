"""Cgroup managers: create a container's cgroup, move processes into it, apply the OCI
linux.resources limits, freeze, signal, report stats and remove it.

This follows runc 1.1's cgroupfs driver (systemd-managed cgroups are not supported). When
/sys/fs/cgroup is itself a cgroup2 mount the single unified hierarchy is used (V2Manager);
otherwise every mounted v1 hierarchy gets the container's directory (V1Manager), including
the named name=systemd one. On a hybrid host the extra cgroup2 mount at
/sys/fs/cgroup/unified is left alone, as runc's cgroupfs driver leaves it.

CGROUP_ROOT and PROC_SELF are read at call time, so tests can point discovery at a fake tree;
the managers themselves only ever touch the absolute directories they were built with.
"""
import errno
import os
import signal
import time

import errdefs

CGROUP_ROOT = "/sys/fs/cgroup"
PROC_SELF = "/proc/self"

# runc waits up to 1000 polls of 10 ms for a cgroup v2 freeze; use the same bound for v1.
FREEZE_TIMEOUT = 10.0

# A task still in TASK_NEW cannot be moved yet and the kernel says EINVAL; runc retries
# that (and only that) 5 times, 30 ms apart.
_ATTACH_TRIES = 5
_ATTACH_RETRY_DELAY = 0.03

# Tasks that were killed leave the cgroup only once fully reaped, so rmdir can be briefly
# EBUSY; runc retries 10 times from 1 ms, doubling (about one second in all).
_RMDIR_RETRIES = 10

_UINT64_MAX = 2**64 - 1

_BLKIO_THROTTLES = (
    ("throttleReadBpsDevice", "read_bps_device", "rbps"),
    ("throttleWriteBpsDevice", "write_bps_device", "wbps"),
    ("throttleReadIOPSDevice", "read_iops_device", "riops"),
    ("throttleWriteIOPSDevice", "write_iops_device", "wiops"),
)

# Which v1 blkio files feed which stats field, in runc's order of preference: the first
# group whose first file has data wins (bfq debug, bfq, cfq, then the throttle counters that
# every kernel has).
_BLKIO_STAT_GROUPS = (
    (
        ("blkio.bfq.sectors_recursive", "sectorsRecursive"),
        ("blkio.bfq.io_service_time_recursive", "ioServiceTimeRecursive"),
        ("blkio.bfq.io_wait_time_recursive", "ioWaitTimeRecursive"),
        ("blkio.bfq.io_merged_recursive", "ioMergedRecursive"),
        ("blkio.bfq.io_queued_recursive", "ioQueueRecursive"),
        ("blkio.bfq.time_recursive", "ioTimeRecursive"),
        ("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.sectors_recursive", "sectorsRecursive"),
        ("blkio.io_service_time_recursive", "ioServiceTimeRecursive"),
        ("blkio.io_wait_time_recursive", "ioWaitTimeRecursive"),
        ("blkio.io_merged_recursive", "ioMergedRecursive"),
        ("blkio.io_queued_recursive", "ioQueueRecursive"),
        ("blkio.time_recursive", "ioTimeRecursive"),
        ("blkio.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.throttle.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.throttle.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.throttle.io_serviced", "ioServicedRecursive"),
        ("blkio.throttle.io_service_bytes", "ioServiceBytesRecursive"),
    ),
)

_ERRNO_KINDS = {
    errno.ENOENT: errdefs.NotFound,
    errno.ENODEV: errdefs.NotFound,
    errno.ESRCH: errdefs.NotFound,
    errno.EINVAL: errdefs.InvalidArgument,
    errno.ERANGE: errdefs.InvalidArgument,
    errno.EBUSY: errdefs.FailedPrecondition,
    errno.ENOTEMPTY: errdefs.FailedPrecondition,
    errno.EPERM: errdefs.PermissionDenied,
    errno.EACCES: errdefs.PermissionDenied,
    errno.EROFS: errdefs.PermissionDenied,
    errno.ENOSPC: errdefs.ResourceExhausted,
    errno.EAGAIN: errdefs.ResourceExhausted,
}


# ---------------------------------------------------------------------------------------
# Discovery


def new_manager(cgroups_path: str, container_id: str) -> "Manager":
    """The manager for an OCI linux.cgroupsPath, with runc's cgroupfs rules: an absolute
    path is taken from each hierarchy's root, a relative one (an empty one means the
    container id) from the calling process's own cgroup in that hierarchy."""
    inner = _inner_path(cgroups_path, container_id)
    mounts = _cgroup_mounts()
    own = _own_cgroups()
    unified = _unified_mount(mounts)
    if unified is not None:
        mountpoint, mount_root = unified
        if "" not in own:
            raise errdefs.FailedPrecondition(f"{PROC_SELF}/cgroup has no cgroup v2 entry on a cgroup v2 host")
        return V2Manager(mountpoint, _resolve(mountpoint, mount_root, own[""], inner))
    paths = {}
    for mountpoint, mount_root, controllers, own_path in _v1_mounts(mounts, own):
        for controller in controllers.split(","):
            # runc joins only the systemd named hierarchy; other named ones belong to
            # whoever created them.
            if not controller.startswith("name=") or controller == "name=systemd":
                paths[controller] = _resolve(mountpoint, mount_root, own_path, inner)
    if "devices" not in paths:
        # As in runc: without the devices controller the container could open any device.
        raise errdefs.FailedPrecondition(
            "the devices cgroup controller is not mounted; refusing to run a container without device restrictions"
        )
    return V1Manager(paths)


def load_manager(saved: dict) -> "Manager":
    """Rebuild a manager from what its to_dict() returned."""
    try:
        if saved["version"] == 1:
            return V1Manager(dict(saved["paths"]))
        if saved["version"] == 2:
            return V2Manager(saved["mountpoint"], saved["path"])
    except (KeyError, TypeError, ValueError):
        pass
    raise errdefs.InvalidArgument(f"not a saved cgroup manager: {saved!r}")


def is_unified() -> bool:
    """Whether CGROUP_ROOT is itself a cgroup2 mount: a cgroup v2 host (not a hybrid one)."""
    return _unified_mount(_cgroup_mounts()) is not None


def v1_hierarchies() -> list[tuple[str, str]]:
    """The v1 hierarchies the calling process is in, for building a container's
    /sys/fs/cgroup: (directory name under CGROUP_ROOT, options to mount it again), such as
    ("memory", "memory"), ("cpu,cpuacct", "cpu,cpuacct"), ("systemd", "name=systemd").
    A hybrid host's cgroup2 "unified" mount is not listed: runc gives containers only the
    v1 hierarchies."""
    mounts = _cgroup_mounts()
    return [(os.path.basename(m[0]), m[2]) for m in _v1_mounts(mounts, _own_cgroups())]


def _unified_mount(mounts) -> tuple[str, str] | None:
    """(mountpoint, mount root) of the cgroup2 mount at CGROUP_ROOT, if that is what is there."""
    at_root = [m for m in mounts if m[0] == CGROUP_ROOT]
    if at_root and at_root[-1][2] == "cgroup2":
        return at_root[-1][0], at_root[-1][1]
    return None


def _inner_path(cgroups_path: str, container_id: str) -> str:
    """The cleaned cgroup path: absolute ("/a/b") or relative to the own cgroup ("a/b")."""
    if not cgroups_path.startswith("/") and cgroups_path.count(":") == 2:
        raise errdefs.InvalidArgument(
            f"cgroupsPath {cgroups_path!r} is in systemd's slice:prefix:name form, which is not supported:"
            " pyrunc manages cgroupfs directly, give a path instead"
        )
    if not cgroups_path:
        if not container_id:
            raise errdefs.InvalidArgument("an empty cgroupsPath needs a container id to name the cgroup")
        cgroups_path = container_id
    # Cleaned lexically under a virtual root, as runc does, so ".." cannot climb out of the
    # hierarchy (absolute) or out of the own cgroup (relative).
    cleaned = os.path.normpath("/" + cgroups_path.lstrip("/"))
    if cleaned == "/":
        raise errdefs.InvalidArgument(f"cgroupsPath {cgroups_path!r} names no cgroup below its parent")
    return cleaned if cgroups_path.startswith("/") else cleaned[1:]


def _resolve(mountpoint: str, mount_root: str, own_path: str, inner: str) -> str:
    if inner.startswith("/"):
        return mountpoint + inner
    # /proc/self/cgroup paths are relative to the hierarchy's real root; a mount of a
    # subtree (nested containers) shows them below its own root.
    own_dir = os.path.normpath(os.path.join(mountpoint, os.path.relpath(own_path, mount_root)))
    return f"{own_dir}/{inner}"


def _cgroup_mounts() -> list[tuple[str, str, str, str]]:
    """(mountpoint, mount root, fs type, super options) of every cgroup, cgroup2 and
    CGROUP_ROOT mount, in mount order (a later mount on the same point hides earlier ones)."""
    mounts = []
    for line in _read(f"{PROC_SELF}/mountinfo").splitlines():
        fields = line.split()
        separator = fields.index("-")
        mountpoint, fstype = _unescape(fields[4]), fields[separator + 1]
        if fstype in ("cgroup", "cgroup2") or mountpoint == CGROUP_ROOT:
            mounts.append((mountpoint, _unescape(fields[3]), fstype, fields[separator + 3]))
    return mounts


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (\\040 for a space)."""
    head, *escaped = field.split("\\")
    return head + "".join(chr(int(part[:3], 8)) + part[3:] for part in escaped)


def _own_cgroups() -> dict[str, str]:
    """The calling process's cgroup path per controller list ("cpu,cpuacct",
    "name=systemd"), and under "" in the unified hierarchy."""
    own = {}
    for line in _read(f"{PROC_SELF}/cgroup").splitlines():
        hierarchy_id, controllers, path = line.split(":", 2)
        own["" if hierarchy_id == "0" else controllers] = path
    return own


def _v1_mounts(mounts, own: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(mountpoint, mount root, controllers, own cgroup path) of each mounted v1 hierarchy
    the calling process belongs to."""
    found = []
    for controllers, own_path in own.items():
        if not controllers:
            continue
        wanted = controllers.split(",")
        for mountpoint, mount_root, fstype, options in mounts:
            if fstype == "cgroup" and all(c in options.split(",") for c in wanted):
                found.append((mountpoint, mount_root, controllers, own_path))
                break
    return found


# ---------------------------------------------------------------------------------------
# Files


def _os_error(code: int, message: str) -> errdefs.Error:
    return _ERRNO_KINDS.get(code, errdefs.Unknown)(f"{message}: {os.strerror(code)}")


def _write_errno(path: str, value: str) -> int:
    """Write value with a single write(2), as cgroupfs expects; the errno, or 0."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as err:
        return err.errno
    try:
        os.write(fd, value.encode())
    except OSError as err:
        return err.errno
    finally:
        os.close(fd)
    return 0


def _write(path: str, value: str) -> None:
    code = _write_errno(path, value)
    if code:
        raise _os_error(code, f"cannot write {value!r} to {path}")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as err:
        raise _os_error(err.errno, f"cannot read {path}") from None


def _read_optional(path: str) -> str | None:
    """The file's text, or None when it does not exist (an absent controller or feature)."""
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.ENODEV):
            return None
        raise _os_error(err.errno, f"cannot read {path}") from None


def _parse_uint(text: str) -> int:
    text = text.strip()
    return _UINT64_MAX if text == "max" else int(text)


def _read_uint(path: str, missing: int = 0) -> int:
    text = _read_optional(path)
    return missing if text is None else _parse_uint(text)


def _flat_keyed(text: str | None) -> dict[str, int]:
    """A "key value" per line file (memory.stat, cpu.stat, memory.events...)."""
    values = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if value:
            values[key] = int(value)
    return values


def _limit_str(value: int) -> str:
    """An OCI limit for a cgroup file that spells "no limit" as max: -1 (or any negative)."""
    return "max" if value < 0 else str(value)


def _mkdir(path: str, created: list[str]) -> None:
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        return
    except OSError as err:
        raise _os_error(err.errno, f"cannot create cgroup {path}") from None
    created.append(path)


def _make_dirs(path: str, created: list[str]) -> None:
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        _mkdir(directory, created)


def _remove_created(created: list[str]) -> None:
    for directory in reversed(created):
        try:
            os.rmdir(directory)
        except OSError:
            pass


def _rmdir(path: str) -> None:
    delay = 0.001
    for _ in range(_RMDIR_RETRIES):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as err:
            if err.errno != errno.EBUSY:
                raise _os_error(err.errno, f"cannot remove cgroup {path}") from None
        time.sleep(delay)
        delay *= 2
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise _os_error(err.errno, f"cannot remove cgroup {path} (processes still in it?)") from None


def _remove_cgroup(path: str) -> None:
    """Remove a cgroup and every cgroup below it, deepest first; a missing one is fine."""
    try:
        os.rmdir(path)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass  # child cgroups, or tasks still exiting: handled below
    try:
        with os.scandir(path) as entries:
            children = [entry.path for entry in entries if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    for child in children:
        _remove_cgroup(child)
    _rmdir(path)


def _procs_below(path: str) -> list[int]:
    pids = []
    pending = [path]
    while pending:
        directory = pending.pop()
        procs = _read_optional(f"{directory}/cgroup.procs")
        if procs is None:
            continue  # removed while walking
        pids.extend(int(pid) for pid in procs.split())
        try:
            with os.scandir(directory) as entries:
                pending.extend(entry.path for entry in entries if entry.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            pass
    return pids


def _attach(directory: str, pid: int) -> None:
    path = f"{directory}/cgroup.procs"
    for attempt in range(_ATTACH_TRIES):
        code = _write_errno(path, str(pid))
        if code != errno.EINVAL or attempt == _ATTACH_TRIES - 1:
            break
        time.sleep(_ATTACH_RETRY_DELAY)
    if code:
        raise _os_error(code, f"cannot move process {pid} into cgroup {directory}")


def _enable_controllers(directory: str, controllers: list[str]) -> None:
    path = f"{directory}/cgroup.subtree_control"
    if _write_errno(path, " ".join("+" + c for c in controllers)):
        # One controller that cannot be enabled fails the whole write: enable the others one
        # by one and leave the missing ones for set() to report when a limit needs them.
        for controller in controllers:
            _write_errno(path, "+" + controller)


def _device_rule(rule: dict) -> str:
    kind = rule.get("type") or "a"
    major = rule.get("major")
    minor = rule.get("minor")
    major = "*" if major is None or major < 0 else major
    minor = "*" if minor is None or minor < 0 else minor
    return f"{kind} {major}:{minor} {rule.get('access') or 'rwm'}"


def _without_zeros(fields: dict, *kept: str) -> dict:
    """The fields as runc's events JSON prints them: zero and empty values are left out
    (Go's omitempty) except for the fields listed in kept."""
    return {key: value for key, value in fields.items() if value or key in kept}


def _blkio_entries(text: str) -> list[dict]:
    entries = []
    for line in text.splitlines():
        fields = line.replace(":", " ").split()
        if len(fields) < 3:
            continue  # the "Total N" line
        op, value = (fields[2], fields[3]) if len(fields) == 4 else ("", fields[2])
        entries.append(_without_zeros({"major": int(fields[0]), "minor": int(fields[1]), "op": op, "value": int(value)}))
    return entries


def _hugetlb_sizes(directory: str, suffix: str) -> list[str]:
    """The huge page sizes ("2MB", "1GB") the cgroup has files for."""
    sizes = []
    for name in os.listdir(directory):
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "hugetlb" and parts[2] == suffix:
            sizes.append(parts[1])
    return sorted(sizes)


def _wait_until(predicate, timeout: float, interval: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


# ---------------------------------------------------------------------------------------
# Managers


class Manager:
    """One container's cgroup; V1Manager and V2Manager say what differs between versions."""

    def to_dict(self) -> dict:
        """What load_manager() needs to rebuild this manager (JSON-safe)."""
        raise NotImplementedError

    def create(self) -> None:
        """Make the cgroup; an existing one is reused unless it holds processes or is frozen."""
        raise NotImplementedError

    def attach(self, pid: int) -> None:
        """Move the process into the cgroup."""
        raise NotImplementedError

    def set(self, resources: dict) -> None:
        """Apply OCI linux.resources (the config.json dict)."""
        raise NotImplementedError

    def pids(self) -> list[int]:
        """Every process in the cgroup and the cgroups below it."""
        raise NotImplementedError

    def freeze(self) -> None:
        """Freeze every process and wait until they are all frozen."""
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def is_frozen(self) -> bool:
        raise NotImplementedError

    def stats(self) -> dict:
        """The "data" object of runc's `events --stats`, for the controllers available."""
        raise NotImplementedError

    def oom_kill_count(self) -> int:
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    def destroy(self) -> None:
        """Remove the cgroup and any below it; its parents stay, since other containers may
        share them. A cgroup already gone is fine."""
        raise NotImplementedError

    def signal_all(self, sig: int) -> None:
        """Send sig to every process in the cgroup and below. Frozen first so nothing can
        fork its way out of the list, and thawed after (a frozen task only acts on SIGKILL
        once thawed); a cgroup that was already frozen stays frozen unless sig is SIGKILL."""
        was_frozen = self.is_frozen()
        try:
            self.freeze()
            frozen = True
        except errdefs.Error:
            frozen = False  # as runc: no (working) freezer only makes the race possible
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if frozen and (not was_frozen or sig == signal.SIGKILL):
                self.thaw()

    def _refuse_reuse(self, name: str) -> None:
        """runc will not start a container in a cgroup that is in use or frozen."""
        if not self.exists():
            return
        pids = self.pids()
        if pids:
            raise errdefs.FailedPrecondition(f"cgroup {name} already holds {len(pids)} process(es)")
        if self.is_frozen():
            raise errdefs.FailedPrecondition(f"cgroup {name} is frozen")


class V1Manager(Manager):
    """The container's directory in each v1 hierarchy, keyed by controller ("memory",
    "name=systemd"); controllers mounted together share a directory."""

    def __init__(self, paths: dict[str, str]):
        if not paths:
            raise errdefs.InvalidArgument("a cgroup v1 manager needs at least one hierarchy")
        self.paths = paths

    def to_dict(self) -> dict:
        return {"version": 1, "paths": dict(self.paths)}

    def _dirs(self) -> list[str]:
        return list(dict.fromkeys(self.paths.values()))

    def _dir(self, controller: str, resource: str) -> str:
        try:
            return self.paths[controller]
        except KeyError:
            raise errdefs.FailedPrecondition(
                f"{resource} needs the {controller} cgroup controller, which is not mounted on this host"
            ) from None

    def path_for(self, hierarchy: str) -> str:
        """The container's directory in the hierarchy that v1_hierarchies() calls
        hierarchy: what a container sharing the host's cgroup namespace gets bind-mounted
        as /sys/fs/cgroup/<hierarchy>."""
        prefix = f"{CGROUP_ROOT}/{hierarchy}/"
        for path in self.paths.values():
            if path.startswith(prefix):
                return path
        raise errdefs.NotFound(f"the container has no cgroup in the {hierarchy} hierarchy")

    def _pids_dir(self) -> str:
        # Every hierarchy holds the same processes; the freezer one is what freeze() acts on.
        return self.paths.get("freezer") or self.paths.get("devices") or self._dirs()[0]

    def exists(self) -> bool:
        return any(os.path.isdir(directory) for directory in self._dirs())

    def create(self) -> None:
        """Make the directories; a new cpuset cgroup gets its parent's cpus and mems, since
        the kernel refuses tasks into an empty cpuset."""
        self._refuse_reuse(self._pids_dir())
        created = []
        try:
            for directory in self._dirs():
                _make_dirs(directory, created)
            if "cpuset" in self.paths:
                self._fill_cpuset(self.paths["cpuset"])
        except BaseException:
            _remove_created(created)
            raise

    @staticmethod
    def _fill_cpuset(path: str) -> None:
        empty = []
        while not (_read(f"{path}/cpuset.cpus").strip() and _read(f"{path}/cpuset.mems").strip()):
            empty.append(path)
            path = os.path.dirname(path)
        for directory in reversed(empty):
            parent = os.path.dirname(directory)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not _read(f"{directory}/{name}").strip():
                    _write(f"{directory}/{name}", _read(f"{parent}/{name}").strip())

    def attach(self, pid: int) -> None:
        for directory in self._dirs():
            _attach(directory, pid)

    def set(self, resources: dict) -> None:
        """Apply OCI linux.resources. Values of 0 (or absent) leave a limit alone, -1 lifts
        it. Device rules are written only when resources has a "devices" key: everything is
        denied, then the rules are written in order (runc's default allowed devices are the
        caller's to append, as runc's spec conversion does)."""
        cpu = resources.get("cpu") or {}
        self._set_cpuset(cpu)
        if "devices" in resources:
            self._set_devices(resources["devices"] or [])
        self._set_memory(resources.get("memory") or {})
        self._set_cpu(cpu)
        self._set_pids(resources.get("pids") or {})
        self._set_blkio(resources.get("blockIO") or {})
        for limit in resources.get("hugepageLimits") or []:
            directory = self._dir("hugetlb", "hugepageLimits")
            _write(f"{directory}/hugetlb.{limit['pageSize']}.limit_in_bytes", str(limit["limit"]))

    def _set_cpuset(self, cpu: dict) -> None:
        for key in ("cpus", "mems"):
            if cpu.get(key):
                _write(f"{self._dir('cpuset', 'cpu.' + key)}/cpuset.{key}", cpu[key])

    def _set_devices(self, rules: list[dict]) -> None:
        directory = self._dir("devices", "devices")
        _write(f"{directory}/devices.deny", "a")
        for rule in rules:
            _write(f"{directory}/devices.{'allow' if rule.get('allow') else 'deny'}", _device_rule(rule))

    def _set_memory(self, memory: dict) -> None:
        limit = memory.get("limit") or 0
        swap = memory.get("swap") or 0
        reservation = memory.get("reservation") or 0
        swappiness = memory.get("swappiness")
        if swappiness == -1:
            swappiness = None  # how some tools spell "unset"
        if not (limit or swap or reservation or memory.get("disableOOMKiller") or swappiness is not None):
            return
        directory = self._dir("memory", "memory")
        if limit or swap:
            # Lifting the memory limit lifts the memory+swap one too, when swap is accounted.
            if limit == -1 and not swap and os.path.exists(f"{directory}/memory.memsw.limit_in_bytes"):
                swap = -1
            # The kernel keeps memsw >= memory at every step, so a growing memsw goes first.
            swap_first = limit and swap and (swap == -1 or _read_uint(f"{directory}/memory.limit_in_bytes") < swap)
            if swap_first:
                _write(f"{directory}/memory.memsw.limit_in_bytes", str(swap))
            if limit:
                self._set_memory_limit(directory, limit)
            if swap and not swap_first:
                _write(f"{directory}/memory.memsw.limit_in_bytes", str(swap))
        if reservation:
            _write(f"{directory}/memory.soft_limit_in_bytes", str(reservation))
        if memory.get("disableOOMKiller"):
            _write(f"{directory}/memory.oom_control", "1")
        if swappiness is not None:
            if not 0 <= swappiness <= 100:
                raise errdefs.InvalidArgument(f"memory.swappiness {swappiness} is outside 0-100")
            _write(f"{directory}/memory.swappiness", str(swappiness))

    @staticmethod
    def _set_memory_limit(directory: str, limit: int) -> None:
        code = _write_errno(f"{directory}/memory.limit_in_bytes", str(limit))
        if code == errno.EBUSY:
            usage = _read_uint(f"{directory}/memory.usage_in_bytes")
            peak = _read_uint(f"{directory}/memory.max_usage_in_bytes")
            raise errdefs.FailedPrecondition(
                f"cannot set the memory limit to {limit}: the cgroup uses {usage} bytes (peak {peak})"
            )
        if code:
            raise _os_error(code, f"cannot write {limit} to {directory}/memory.limit_in_bytes")

    def _set_cpu(self, cpu: dict) -> None:
        shares = cpu.get("shares") or 0
        quota = cpu.get("quota") or 0
        period = cpu.get("period") or 0
        if shares:
            directory = self._dir("cpu", "cpu.shares")
            _write(f"{directory}/cpu.shares", str(shares))
            # The kernel clamps shares to [2, 262144] silently; say so instead.
            actual = _read_uint(f"{directory}/cpu.shares")
            if actual != shares:
                bound = "maximum" if shares > actual else "minimum"
                raise errdefs.InvalidArgument(f"cpu.shares {shares} is out of range: the {bound} allowed is {actual}")
        if not (quota or period):
            return
        directory = self._dir("cpu", "cpu.quota/cpu.period")
        deferred_period = False
        if period:
            code = _write_errno(f"{directory}/cpu.cfs_period_us", str(period))
            # A shorter period can break the parent's quota ratio with the old quota (EINVAL)
            # until the new quota is in: retry it after.
            if code == errno.EINVAL and quota:
                deferred_period = True
            elif code:
                raise _os_error(code, f"cannot write {period} to {directory}/cpu.cfs_period_us")
        if quota:
            _write(f"{directory}/cpu.cfs_quota_us", str(quota))
        if deferred_period:
            _write(f"{directory}/cpu.cfs_period_us", str(period))

    def _set_pids(self, pids: dict) -> None:
        if pids.get("limit"):
            _write(f"{self._dir('pids', 'pids.limit')}/pids.max", _limit_str(pids["limit"]))

    def _set_blkio(self, blkio: dict) -> None:
        if not any(blkio.get(key) for key in ("weight", "leafWeight", "weightDevice", *(t[0] for t in _BLKIO_THROTTLES))):
            return
        directory = self._dir("blkio", "blockIO")
        # Kernels without CFQ (5.0+) only have the BFQ scheduler's weight files.
        prefix = "blkio" if os.path.exists(f"{directory}/blkio.weight") else "blkio.bfq"
        if blkio.get("weight"):
            _write(f"{directory}/{prefix}.weight", str(blkio["weight"]))
        if blkio.get("leafWeight"):
            _write(f"{directory}/blkio.leaf_weight", str(blkio["leafWeight"]))
        for device in blkio.get("weightDevice") or []:
            if device.get("weight"):
                _write(f"{directory}/{prefix}.weight_device", f"{device['major']}:{device['minor']} {device['weight']}")
            if device.get("leafWeight"):
                _write(
                    f"{directory}/blkio.leaf_weight_device",
                    f"{device['major']}:{device['minor']} {device['leafWeight']}",
                )
        for key, name, _ in _BLKIO_THROTTLES:
            for device in blkio.get(key) or []:
                _write(f"{directory}/blkio.throttle.{name}", f"{device['major']}:{device['minor']} {device['rate']}")

    def pids(self) -> list[int]:
        return _procs_below(self._pids_dir())

    def freeze(self) -> None:
        """Freeze and wait until every task is frozen. While tasks keep forking a v1 cgroup
        can stay FREEZING; like runc, rewrite FROZEN and now and then thaw for a moment,
        and give up (thawed) after FREEZE_TIMEOUT."""
        state_file = f"{self._dir('freezer', 'freeze')}/freezer.state"
        deadline = time.monotonic() + FREEZE_TIMEOUT
        attempt = 0
        while True:
            attempt += 1
            _write(state_file, "FROZEN")
            state = _read(state_file).strip()
            if state == "FROZEN":
                return
            if state != "FREEZING":
                raise errdefs.Internal(f"unexpected {state_file} {state!r} while freezing")
            if time.monotonic() >= deadline:
                _write(state_file, "THAWED")
                raise errdefs.DeadlineExceeded(f"cgroup {os.path.dirname(state_file)} did not freeze in {FREEZE_TIMEOUT} s")
            if attempt % 50 == 0:
                _write(state_file, "THAWED")
                time.sleep(0.01)
            else:
                time.sleep(0.001)

    def thaw(self) -> None:
        _write(f"{self._dir('freezer', 'thaw')}/freezer.state", "THAWED")

    def is_frozen(self) -> bool:
        """Frozen by freeze(), not merely through a frozen ancestor."""
        directory = self.paths.get("freezer")
        if directory is None:
            return False
        # FREEZING is a transition: wait for where it lands, as runc does.
        deadline = time.monotonic() + FREEZE_TIMEOUT
        while (state := (_read_optional(f"{directory}/freezer.state") or "").strip()) == "FREEZING":
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        if state != "FROZEN":
            return False
        return (_read_optional(f"{directory}/freezer.self_freezing") or "1").strip() == "1"

    def stats(self) -> dict:
        """The "data" of runc's `events --stats` for the controllers mounted here."""
        if not self.exists():
            raise errdefs.NotFound(f"cgroup {self._pids_dir()} does not exist")
        result = {}
        cpu, cpuacct = self.paths.get("cpu"), self.paths.get("cpuacct")
        if cpu or cpuacct:
            result["cpu"] = {
                "usage": self._cpu_usage(cpuacct) if cpuacct else {"kernel": 0, "user": 0},
                "throttling": self._throttling(cpu) if cpu else {},
            }
        if "memory" in self.paths:
            result["memory"] = self._memory_stats(self.paths["memory"])
        if "pids" in self.paths:
            directory = self.paths["pids"]
            limit = _read_uint(f"{directory}/pids.max")
            result["pids"] = _without_zeros(
                {"current": _read_uint(f"{directory}/pids.current"), "limit": 0 if limit == _UINT64_MAX else limit}
            )
        if "blkio" in self.paths:
            result["blkio"] = self._blkio_stats(self.paths["blkio"])
        if "hugetlb" in self.paths:
            directory = self.paths["hugetlb"]
            result["hugetlb"] = {
                size: _without_zeros(
                    {
                        "usage": _read_uint(f"{directory}/hugetlb.{size}.usage_in_bytes"),
                        "max": _read_uint(f"{directory}/hugetlb.{size}.max_usage_in_bytes"),
                        "failcnt": _read_uint(f"{directory}/hugetlb.{size}.failcnt"),
                    },
                    "failcnt",
                )
                for size in _hugetlb_sizes(directory, "limit_in_bytes")
            }
        return result

    @staticmethod
    def _cpu_usage(directory: str) -> dict:
        ticks = _flat_keyed(_read_optional(f"{directory}/cpuacct.stat"))
        per_second = os.sysconf("SC_CLK_TCK")
        kernel_percpu, user_percpu = [], []
        # "cpu user system" header, then one line per cpu, in nanoseconds.
        for line in (_read_optional(f"{directory}/cpuacct.usage_all") or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) == 3:
                user_percpu.append(int(fields[1]))
                kernel_percpu.append(int(fields[2]))
        return _without_zeros(
            {
                "total": _read_uint(f"{directory}/cpuacct.usage"),
                "percpu": [int(v) for v in (_read_optional(f"{directory}/cpuacct.usage_percpu") or "").split()],
                "percpu_kernel": kernel_percpu,
                "percpu_user": user_percpu,
                "kernel": ticks.get("system", 0) * 1_000_000_000 // per_second,
                "user": ticks.get("user", 0) * 1_000_000_000 // per_second,
            },
            "kernel",
            "user",
        )

    @staticmethod
    def _throttling(directory: str) -> dict:
        stat = _flat_keyed(_read_optional(f"{directory}/cpu.stat"))
        return _without_zeros(
            {
                "periods": stat.get("nr_periods", 0),
                "throttledPeriods": stat.get("nr_throttled", 0),
                "throttledTime": stat.get("throttled_time", 0),
            }
        )

    @staticmethod
    def _memory_stats(directory: str) -> dict:
        raw = _flat_keyed(_read_optional(f"{directory}/memory.stat"))

        def entry(prefix: str) -> dict:
            return _without_zeros(
                {
                    "limit": _read_uint(f"{directory}/{prefix}.limit_in_bytes"),
                    "usage": _read_uint(f"{directory}/{prefix}.usage_in_bytes"),
                    "max": _read_uint(f"{directory}/{prefix}.max_usage_in_bytes"),
                    "failcnt": _read_uint(f"{directory}/{prefix}.failcnt"),
                },
                "limit",
                "failcnt",
            )

        return _without_zeros(
            {
                "cache": raw.get("cache", 0),
                "usage": entry("memory"),
                "swap": entry("memory.memsw"),
                "kernel": entry("memory.kmem"),
                "kernelTCP": entry("memory.kmem.tcp"),
                "raw": raw,
            },
            "usage",
            "swap",
            "kernel",
            "kernelTCP",
        )

    @staticmethod
    def _blkio_stats(directory: str) -> dict:
        for group in _BLKIO_STAT_GROUPS:
            first = _read_optional(f"{directory}/{group[0][0]}")
            if not first:
                continue
            stats = {}
            for name, field in group:
                text = _read_optional(f"{directory}/{name}")
                if text:
                    stats[field] = _blkio_entries(text)
            return _without_zeros(stats)
        return {}

    def oom_kill_count(self) -> int:
        """OOM kills in the cgroup; 0 without the memory controller (nothing can be
        OOM-killed for a limit that does not exist)."""
        directory = self.paths.get("memory")
        if directory is None:
            return 0
        return _flat_keyed(_read(f"{directory}/memory.oom_control")).get("oom_kill", 0)

    def destroy(self) -> None:
        """In every hierarchy; one failing does not stop the others."""
        errors = []
        for directory in self._dirs():
            try:
                _remove_cgroup(directory)
            except errdefs.Error as err:
                errors.append(err)
        if errors:
            raise type(errors[0])("; ".join(str(err) for err in errors))


class V2Manager(Manager):
    """The container's directory path in the cgroup2 hierarchy mounted at mountpoint."""

    def __init__(self, mountpoint: str, path: str):
        mountpoint, path = os.path.normpath(mountpoint), os.path.normpath(path)
        if not path.startswith(mountpoint + "/"):
            raise errdefs.InvalidArgument(f"cgroup {path} is not below the cgroup2 mount {mountpoint}")
        self.mountpoint = mountpoint
        self.path = path

    def to_dict(self) -> dict:
        return {"version": 2, "mountpoint": self.mountpoint, "path": self.path}

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def create(self) -> None:
        """Make the directory and its missing parents, enabling every controller the
        hierarchy offers in the root's and each ancestor's cgroup.subtree_control, as runc
        does; a controller that cannot be enabled surfaces only if set() needs it."""
        self._refuse_reuse(self.path)
        controllers = _read(f"{self.mountpoint}/cgroup.controllers").split()
        created = []
        try:
            current = self.mountpoint
            for name in os.path.relpath(self.path, self.mountpoint).split("/"):
                if controllers:
                    _enable_controllers(current, controllers)
                current = f"{current}/{name}"
                _mkdir(current, created)
        except BaseException:
            _remove_created(created)
            raise

    def attach(self, pid: int) -> None:
        _attach(self.path, pid)

    def set(self, resources: dict) -> None:
        """Apply OCI linux.resources, converted as runc converts them for cgroup v2: cpu
        shares to cpu.weight, quota/period to cpu.max, memory.swap (memory+swap) to
        memory.swap.max (swap alone), reservation to memory.low, blkio weight to
        io.bfq.weight or, scaled, io.weight. Ignored like runc: memory swappiness,
        disableOOMKiller and kernel limits. Device rules are not enforced: cgroup v2 needs
        an eBPF device program for them, which pyrunc does not build."""
        available = set(_read(f"{self.path}/cgroup.controllers").split())

        def require(controller: str, resource: str) -> None:
            if controller not in available:
                raise errdefs.FailedPrecondition(
                    f"{resource} needs the {controller} cgroup controller, which is not enabled for {self.path}"
                )

        cpu = resources.get("cpu") or {}
        pids_limit = (resources.get("pids") or {}).get("limit")
        if pids_limit:
            require("pids", "pids.limit")
            _write(f"{self.path}/pids.max", _limit_str(pids_limit))
        self._set_memory(resources.get("memory") or {}, require)
        self._set_io(resources.get("blockIO") or {}, require)
        self._set_cpu(cpu, require)
        for key in ("cpus", "mems"):
            if cpu.get(key):
                require("cpuset", "cpu." + key)
                _write(f"{self.path}/cpuset.{key}", cpu[key])
        for limit in resources.get("hugepageLimits") or []:
            require("hugetlb", "hugepageLimits")
            _write(f"{self.path}/hugetlb.{limit['pageSize']}.max", str(limit["limit"]))

    def _set_memory(self, memory: dict, require) -> None:
        limit = memory.get("limit") or 0
        swap = memory.get("swap") or 0
        reservation = memory.get("reservation") or 0
        if not (limit or swap or reservation):
            return
        require("memory", "memory")
        swap_max = _v2_swap(swap, limit)
        if swap_max:
            code = _write_errno(f"{self.path}/memory.swap.max", swap_max)
            # Without swap accounting there is no file, and "no limit" or "no swap" hold anyway.
            if code and not (code == errno.ENOENT and swap_max in ("max", "0")):
                raise _os_error(code, f"cannot write {swap_max!r} to {self.path}/memory.swap.max")
        if limit:
            _write(f"{self.path}/memory.max", _limit_str(limit))
        if reservation:
            _write(f"{self.path}/memory.low", _limit_str(reservation))

    def _set_io(self, blkio: dict, require) -> None:
        throttles = [(name, device) for key, _, name in _BLKIO_THROTTLES for device in blkio.get(key) or []]
        if not (blkio.get("weight") or throttles):
            return
        require("io", "blockIO")
        weight = blkio.get("weight")
        if weight:
            code = _write_errno(f"{self.path}/io.bfq.weight", str(weight))
            if code == errno.ENOENT:
                # No BFQ: io.weight's 1-10000 scale, mapped linearly from blkio's 10-1000.
                _write(f"{self.path}/io.weight", str(1 + (weight - 10) * 9999 // 990))
            elif code:
                raise _os_error(code, f"cannot write {weight} to {self.path}/io.bfq.weight")
        for name, device in throttles:
            _write(f"{self.path}/io.max", f"{device['major']}:{device['minor']} {name}={device['rate']}")

    def _set_cpu(self, cpu: dict, require) -> None:
        shares = cpu.get("shares") or 0
        quota = cpu.get("quota") or 0
        period = cpu.get("period") or 0
        if shares:
            require("cpu", "cpu.shares")
            # runc 1.1's linear map of shares [2, 262144] onto weight [1, 10000].
            _write(f"{self.path}/cpu.weight", str(1 + (shares - 2) * 9999 // 262142))
        if quota or period:
            require("cpu", "cpu.quota/cpu.period")
            _write(f"{self.path}/cpu.max", f"{quota if quota > 0 else 'max'} {period or 100000}")

    def pids(self) -> list[int]:
        return _procs_below(self.path)

    def freeze(self) -> None:
        code = _write_errno(f"{self.path}/cgroup.freeze", "1")
        if code == errno.ENOENT and self.exists():
            raise errdefs.FailedPrecondition(f"{self.path} has no cgroup.freeze: the kernel is older than 5.2")
        if code:
            raise _os_error(code, f"cannot freeze cgroup {self.path}")
        if not _wait_until(self._events_frozen, FREEZE_TIMEOUT, 0.01):
            _write(f"{self.path}/cgroup.freeze", "0")
            raise errdefs.DeadlineExceeded(f"cgroup {self.path} did not freeze in {FREEZE_TIMEOUT} s")

    def _events_frozen(self) -> bool:
        return _flat_keyed(_read(f"{self.path}/cgroup.events")).get("frozen") == 1

    def thaw(self) -> None:
        _write(f"{self.path}/cgroup.freeze", "0")

    def is_frozen(self) -> bool:
        """Frozen by freeze() (cgroup.freeze is 1) and every task actually stopped."""
        state = _read_optional(f"{self.path}/cgroup.freeze")
        if state is None or state.strip() != "1":
            return False
        return _wait_until(self._events_frozen, FREEZE_TIMEOUT, 0.01)

    def signal_all(self, sig: int) -> None:
        # cgroup.kill (Linux 5.14) kills the whole subtree atomically, no freezing needed.
        if sig == signal.SIGKILL and os.path.exists(f"{self.path}/cgroup.kill"):
            _write(f"{self.path}/cgroup.kill", "1")
            return
        super().signal_all(sig)

    def stats(self) -> dict:
        """The "data" of runc's `events --stats`. cpu.stat and cgroup.procs are core files,
        so cpu and pids are always there; memory, blkio and hugetlb only with their
        controller. As in runc, swap is reported as memory+swap, like v1."""
        if not self.exists():
            raise errdefs.NotFound(f"cgroup {self.path} does not exist")
        cpu_stat = _flat_keyed(_read_optional(f"{self.path}/cpu.stat"))
        result = {
            "cpu": {
                "usage": _without_zeros(
                    {
                        "total": cpu_stat.get("usage_usec", 0) * 1000,
                        "kernel": cpu_stat.get("system_usec", 0) * 1000,
                        "user": cpu_stat.get("user_usec", 0) * 1000,
                    },
                    "kernel",
                    "user",
                ),
                "throttling": _without_zeros(
                    {
                        "periods": cpu_stat.get("nr_periods", 0),
                        "throttledPeriods": cpu_stat.get("nr_throttled", 0),
                        "throttledTime": cpu_stat.get("throttled_usec", 0) * 1000,
                    }
                ),
            },
            "pids": self._pids_stats(),
        }
        memory_stat = _read_optional(f"{self.path}/memory.stat")
        if memory_stat is not None:
            result["memory"] = self._memory_stats(_flat_keyed(memory_stat))
        io_stat = _read_optional(f"{self.path}/io.stat")
        if io_stat is not None:
            result["blkio"] = _io_stats(io_stat)
        sizes = _hugetlb_sizes(self.path, "max")
        if sizes:
            result["hugetlb"] = {
                size: _without_zeros(
                    {
                        "usage": _read_uint(f"{self.path}/hugetlb.{size}.current"),
                        "failcnt": _flat_keyed(_read_optional(f"{self.path}/hugetlb.{size}.events")).get("max", 0),
                    },
                    "failcnt",
                )
                for size in sizes
            }
        return result

    def _pids_stats(self) -> dict:
        current = _read_optional(f"{self.path}/pids.current")
        if current is None:
            # Without the pids controller runc counts the cgroup's own processes.
            procs = _read(f"{self.path}/cgroup.procs")
            return _without_zeros({"current": len(procs.split())})
        limit = _read_uint(f"{self.path}/pids.max")
        return _without_zeros({"current": int(current), "limit": 0 if limit == _UINT64_MAX else limit})

    def _memory_stats(self, raw: dict[str, int]) -> dict:
        usage = _read_uint(f"{self.path}/memory.current")
        limit = _read_uint(f"{self.path}/memory.max", missing=_UINT64_MAX)
        swap_usage = _read_uint(f"{self.path}/memory.swap.current")
        swap_limit = _read_uint(f"{self.path}/memory.swap.max")
        if swap_limit != _UINT64_MAX:
            swap_limit = min(swap_limit + limit, _UINT64_MAX)
        return _without_zeros(
            {
                "cache": raw.get("file", 0),
                "usage": _without_zeros({"limit": limit, "usage": usage, "failcnt": 0}, "limit", "failcnt"),
                "swap": _without_zeros(
                    {"limit": swap_limit, "usage": swap_usage + usage, "failcnt": 0}, "limit", "failcnt"
                ),
                "kernel": {"limit": 0, "failcnt": 0},
                "kernelTCP": {"limit": 0, "failcnt": 0},
                "raw": raw,
            },
            "usage",
            "swap",
            "kernel",
            "kernelTCP",
        )

    def oom_kill_count(self) -> int:
        """OOM kills in the cgroup; 0 without the memory controller."""
        return _flat_keyed(_read_optional(f"{self.path}/memory.events")).get("oom_kill", 0)

    def destroy(self) -> None:
        _remove_cgroup(self.path)


def _v2_swap(swap: int, limit: int) -> str:
    """memory.swap.max for OCI's memory+swap total, "" to leave it alone."""
    if limit == -1 and swap == 0:
        return "max"  # an unlimited memory with unset swap means both unlimited, as on v1
    if swap in (0, -1):
        return "max" if swap == -1 else ""
    if limit in (0, -1):
        raise errdefs.InvalidArgument("memory.swap needs a memory.limit on cgroup v2")
    if limit < 0:
        raise errdefs.InvalidArgument(f"memory.limit {limit} is invalid")
    if swap < limit:
        raise errdefs.InvalidArgument(f"memory.swap {swap} (memory+swap) is below memory.limit {limit}")
    return str(swap - limit)


def _io_stats(text: str) -> dict:
    """io.stat mapped onto v1's layout, as runc does: bytes and operations, read and write."""
    fields = {
        "rbytes": ("ioServiceBytesRecursive", "Read"),
        "wbytes": ("ioServiceBytesRecursive", "Write"),
        "rios": ("ioServicedRecursive", "Read"),
        "wios": ("ioServicedRecursive", "Write"),
    }
    stats = {"ioServiceBytesRecursive": [], "ioServicedRecursive": []}
    for line in text.splitlines():
        device, *counters = line.split()
        major, _, minor = device.partition(":")
        for counter in counters:
            key, _, value = counter.partition("=")
            if key in fields:
                table, op = fields[key]
                stats[table].append(
                    _without_zeros({"major": int(major), "minor": int(minor), "op": op, "value": int(value)})
                )
    return _without_zeros(stats)

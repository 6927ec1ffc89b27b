"""The OCI runtime spec of a container, from its image's config and the create request, as
moby builds it (daemon/oci_linux.go, oci/defaults.go): Docker's default mounts, namespaces,
capabilities, masked and read-only paths, device rules and seccomp filter; then what
Config/HostConfig ask for (user, env, cwd, binds, volumes, tmpfs, resources, privileged...).

Written here rather than borrowed from pyrunc's `spec` command: pydockerd imports no layer
below containerd's client.
"""
from __future__ import annotations

import functools
import os
import signal

import errdefs

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# moby's oci/caps/defaults.go
DEFAULT_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
]
# Every capability of a 6.x kernel, in number order (what --privileged and "ALL" mean).
ALL_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
# moby's oci/defaults.go
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
# The device cgroup rules every container gets (moby's oci.DefaultLinuxSpec + devices).
DEFAULT_DEVICE_RULES = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},   # /dev/zero
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},   # /dev/null
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},   # /dev/urandom
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},   # /dev/random
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},   # /dev/tty
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},   # /dev/console
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},   # /dev/full
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},   # /dev/ptmx
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},             # /dev/pts/*
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},  # /dev/net/tun
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},  # /dev/fuse
]
# The syscalls Docker's default seccomp profile refuses a container without the matching
# capability (docs: "Significant syscalls blocked by the default profile"). Docker's profile is
# an allow list; this is the same effect written as a deny list: EPERM for these.
SECCOMP_BLOCKED = [
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "finit_module", "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount", "move_pages",
    "name_to_handle_at", "nfsservctl", "open_by_handle_at", "perf_event_open", "pivot_root",
    "process_vm_readv", "process_vm_writev", "ptrace", "query_module", "quotactl", "reboot", "request_key",
    "set_mempolicy", "setns", "settimeofday", "swapon", "swapoff", "sysfs", "_sysctl", "umount2", "unshare",
    "uselib", "userfaultfd", "ustat", "vm86", "vm86old", "fsopen", "fsconfig", "fsmount", "fspick",
    "open_tree", "move_mount", "mount_setattr",
]
# What each capability unblocks in Docker's profile.
SECCOMP_CAPABILITY_SYSCALLS = {
    "CAP_SYS_ADMIN": {"bpf", "clock_settime", "lookup_dcookie", "mount", "name_to_handle_at", "perf_event_open",
                      "quotactl", "setns", "swapon", "swapoff", "umount2", "unshare", "fsopen", "fsconfig",
                      "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr", "pivot_root"},
    "CAP_SYS_BOOT": {"reboot"},
    "CAP_SYS_CHROOT": set(),
    "CAP_SYS_MODULE": {"delete_module", "init_module", "finit_module"},
    "CAP_SYS_PACCT": {"acct"},
    "CAP_SYS_PTRACE": {"kcmp", "process_vm_readv", "process_vm_writev", "ptrace"},
    "CAP_SYS_RAWIO": {"iopl", "ioperm"},
    "CAP_SYS_TIME": {"settimeofday", "clock_adjtime", "clock_settime"},
    "CAP_SYS_NICE": {"get_mempolicy", "mbind", "set_mempolicy", "move_pages"},
    "CAP_DAC_READ_SEARCH": {"open_by_handle_at"},
    "CAP_BPF": {"bpf"},
    "CAP_PERFMON": {"perf_event_open"},
}


# --- users ---------------------------------------------------------------------------------

class RootfsFiles:
    """Reads files of a container's root filesystem from its snapshot's mounts, without
    mounting them: an overlay's upper directory first, then its lower ones, top down."""

    def __init__(self, mounts: list[dict]):
        self.layers: list[str] = []
        for mount in mounts:
            options = mount.get("options") or []
            if mount.get("type") == "overlay":
                upper = [o.split("=", 1)[1] for o in options if o.startswith("upperdir=")]
                lower = [o.split("=", 1)[1] for o in options if o.startswith("lowerdir=")]
                self.layers += upper + (lower[0].split(":") if lower else [])
            elif mount.get("source"):
                self.layers.append(mount["source"])

    def read(self, path: str) -> str | None:
        relative = path.lstrip("/")
        for layer in self.layers:
            candidate = os.path.join(layer, relative)
            try:
                with open(candidate, encoding="utf-8", errors="replace") as f:
                    return f.read()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue
            except OSError:
                return None
        return None


def _entries(text: str | None) -> list[list[str]]:
    return [line.split(":") for line in (text or "").splitlines() if line and not line.startswith("#")]


def resolve_user(user: str, files: RootfsFiles, extra_groups: list[str] | None = None) -> dict:
    """`name`, `uid`, `name:group` or `uid:gid` as the OCI user: the uid, the gid (the
    passwd entry's unless given) and the groups listing the user (moby's getUser)."""
    name, _, group = (user or "").partition(":")
    passwd = _entries(files.read("/etc/passwd"))
    groups = _entries(files.read("/etc/group"))
    uid, gid, username = 0, 0, "root"
    if name:
        entry = next((e for e in passwd if len(e) >= 4 and e[0] == name), None)
        if entry is None and name.isdigit():
            entry = next((e for e in passwd if len(e) >= 4 and e[2] == name), None)
            uid, gid, username = int(name), 0, ""
        if entry is not None:
            uid, gid, username = _number(entry[2]), _number(entry[3]), entry[0]
        elif not name.isdigit():
            raise errdefs.InvalidArgument(
                f"unable to find user {name}: no matching entries in passwd file")
    else:
        entry = next((e for e in passwd if len(e) >= 4 and e[2] == "0"), None)
        if entry is not None:
            gid, username = _number(entry[3]), entry[0]
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            entry = next((e for e in groups if len(e) >= 3 and e[0] == group), None)
            if entry is None:
                raise errdefs.InvalidArgument(f"unable to find group {group}: no matching entries in group file")
            gid = _number(entry[2])
    additional = []
    if not group:
        # runc's GetExecUser: the groups listing the user, and explicitly the primary group
        for entry in groups:
            if len(entry) >= 3 and (_number(entry[2]) == gid or
                                    (username and len(entry) >= 4 and username in entry[3].split(","))):
                number = _number(entry[2])
                if number not in additional:
                    additional.append(number)
    for extra in extra_groups or []:
        if extra.isdigit():
            additional.append(int(extra))
        else:
            entry = next((e for e in groups if len(e) >= 3 and e[0] == extra), None)
            if entry is None:
                raise errdefs.InvalidArgument(f"unable to find group {extra}")
            additional.append(_number(entry[2]))
    spec_user = {"uid": uid, "gid": gid}
    if additional:
        spec_user["additionalGids"] = additional
    return spec_user


def _number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def home_of(uid: int, files: RootfsFiles) -> str:
    for entry in _entries(files.read("/etc/passwd")):
        if len(entry) >= 6 and entry[2] == str(uid):
            return entry[5] or "/"
    return "/"


# --- env, capabilities, signals --------------------------------------------------------------

def merge_env(*lists: list[str] | None) -> list[str]:
    """Later values replace earlier ones of the same name, keeping the first position (moby's
    ReplaceOrAppendEnvValues)."""
    result: list[str] = []
    index: dict[str, int] = {}
    for values in lists:
        for item in values or []:
            key = item.split("=", 1)[0]
            if key in index:
                result[index[key]] = item
            else:
                index[key] = len(result)
                result.append(item)
    return result


def _cap_name(name: str) -> str:
    name = name.strip().upper()
    return name if name.startswith("CAP_") or name == "ALL" else f"CAP_{name}"


@functools.cache
def _bounding_capabilities() -> list[str]:
    """ALL_CAPABILITIES less those outside pydockerd's own bounding set: in a sandbox that
    withholds one (CAP_SYS_RESOURCE, say), "all" must not ask the runtime for what no process
    here can hold, or every privileged container would fail in capset."""
    with open("/proc/self/status") as status:
        mask = int(next(line for line in status if line.startswith("CapBnd:")).split()[1], 16)
    return [name for number, name in enumerate(ALL_CAPABILITIES) if mask >> number & 1]


def capabilities(cap_add: list[str] | None, cap_drop: list[str] | None, privileged: bool) -> list[str]:
    if privileged:
        return _bounding_capabilities()
    adds = [_cap_name(c) for c in cap_add or []]
    drops = [_cap_name(c) for c in cap_drop or []]
    for name in adds + drops:
        if name != "ALL" and name not in ALL_CAPABILITIES:
            raise errdefs.InvalidArgument(f"unknown capability: {name!r}")
    caps = _bounding_capabilities() if "ALL" in adds else list(DEFAULT_CAPABILITIES)
    if "ALL" in drops:
        caps = []
    else:
        caps = [c for c in caps if c not in drops]
    for name in adds:
        if name != "ALL" and name not in caps and name not in drops:
            caps.append(name)
    return caps


def parse_signal(value: str | int | None, default: int = signal.SIGKILL) -> int:
    """A signal by number or name, any case, with or without SIG (moby's signal.ParseSignal)."""
    if value is None or value == "":
        return default
    text = str(value).strip()
    if text.isdigit():
        number = int(text)
        if number <= 0 or number > 64:
            raise errdefs.InvalidArgument(f"Invalid signal: {value}")
        return number
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
        base = signal.SIGRTMIN if name.startswith("SIGRTMIN") else signal.SIGRTMAX
        rest = name[8:]
        try:
            return int(base) + (int(rest) if rest else 0)
        except ValueError:
            raise errdefs.InvalidArgument(f"Invalid signal: {value}") from None
    try:
        return int(getattr(signal.Signals, name))
    except AttributeError:
        raise errdefs.InvalidArgument(f"Invalid signal: {value}") from None


# --- mounts ----------------------------------------------------------------------------------

_PROPAGATIONS = {"private", "rprivate", "shared", "rshared", "slave", "rslave"}


def parse_bind(spec: str) -> tuple[str, str, list[str]]:
    """`src:dst[:opts]` as (source, destination, options); a source without a leading / is a
    volume name."""
    parts = spec.split(":")
    if len(parts) == 2:
        source, destination, options = parts[0], parts[1], []
    elif len(parts) == 3:
        source, destination, options = parts[0], parts[1], [o for o in parts[2].split(",") if o]
    else:
        raise errdefs.InvalidArgument(f"invalid volume specification: '{spec}'")
    if not source or not destination.startswith("/"):
        raise errdefs.InvalidArgument(f"invalid volume specification: '{spec}'")
    for option in options:
        if option not in ("ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated") \
                and option not in _PROPAGATIONS:
            raise errdefs.InvalidArgument(f"invalid mode: {option}")
    return source, os.path.normpath(destination), options


def bind_mount(source: str, destination: str, read_only: bool, propagation: str = "rprivate") -> dict:
    return {"destination": destination, "type": "bind", "source": source,
            "options": ["rbind", propagation, "ro" if read_only else "rw"]}


def tmpfs_mount(destination: str, options: str) -> dict:
    opts = ["nosuid", "nodev", "noexec"]
    for option in (o for o in (options or "").split(",") if o):
        if option in ("exec", "suid", "dev"):
            opts = [o for o in opts if o != "no" + option]
        elif option not in opts:
            opts.append(option)
    return {"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": opts}


def default_mounts(privileged: bool) -> list[dict]:
    sys_options = ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"]
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755",
                                                                                 "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "rw" if privileged else "ro"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
    ]


def seccomp_profile(caps: list[str]) -> dict:
    allowed = set()
    for cap in caps:
        allowed |= SECCOMP_CAPABILITY_SYSCALLS.get(cap, set())
    blocked = [name for name in SECCOMP_BLOCKED if name not in allowed]
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": blocked, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}


# --- the spec --------------------------------------------------------------------------------

def build(*, container_id: str, config: dict, host_config: dict, args: list[str], user: dict, hostname: str,
          mounts: list[dict], cgroups_path: str, host_network: bool, init_binary: str | None = None,
          default_ulimits: dict[str, dict] | None = None) -> dict:
    """The whole spec. config/host_config are the container's (image defaults merged in);
    mounts are the binds, volumes, tmpfs and /etc files, already resolved; default_ulimits
    (daemon.json's, by name) apply to the resources the container sets no ulimit for."""
    privileged = bool(host_config.get("Privileged"))
    caps = capabilities(host_config.get("CapAdd"), host_config.get("CapDrop"), privileged)
    env = merge_env([DEFAULT_PATH], [f"HOSTNAME={hostname}"], ["TERM=xterm"] if config.get("Tty") else [],
                    config.get("Env"))
    if init_binary:
        args = ["/sbin/docker-init", "--", *args]
    process = {
        "terminal": bool(config.get("Tty")),
        "user": user,
        "args": args,
        "env": env,
        "cwd": config.get("WorkingDir") or "/",
        "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted")},
        "noNewPrivileges": any(o in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true")
                               for o in host_config.get("SecurityOpt") or []),
        "oomScoreAdj": int(host_config.get("OomScoreAdj") or 0),
    }
    console = host_config.get("ConsoleSize") or [0, 0]
    if config.get("Tty") and len(console) == 2 and console[0] and console[1]:
        process["consoleSize"] = {"height": int(console[0]), "width": int(console[1])}
    ulimits = host_config.get("Ulimits") or []
    named = {str(ulimit.get("Name", "")) for ulimit in ulimits}
    ulimits = [*ulimits, *(limit for name, limit in (default_ulimits or {}).items() if name not in named)]
    rlimits = []
    for ulimit in ulimits:
        rlimits.append({"type": "RLIMIT_" + str(ulimit.get("Name", "")).upper(), "hard": int(ulimit.get("Hard", 0)),
                        "soft": int(ulimit.get("Soft", 0))})
    if rlimits:
        process["rlimits"] = rlimits

    all_mounts = default_mounts(privileged)
    taken = {m["destination"] for m in mounts}
    all_mounts = [m for m in all_mounts if m["destination"] not in taken] + mounts
    if init_binary:
        all_mounts.append(bind_mount(init_binary, "/sbin/docker-init", True))

    namespaces = [{"type": t} for t in ("mount", "uts", "pid", "ipc", "cgroup")]
    if not host_network:
        namespaces.insert(1, {"type": "network"})
    linux = {
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path,
        "resources": resources(host_config, privileged),
    }
    if not privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
        if not any(o in ("seccomp=unconfined", "seccomp:unconfined") for o in host_config.get("SecurityOpt") or []):
            linux["seccomp"] = seccomp_profile(caps)
    sysctls = host_config.get("Sysctls") or {}
    if sysctls:
        linux["sysctl"] = dict(sysctls)
    return {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": "rootfs", "readonly": bool(host_config.get("ReadonlyRootfs"))},
        "hostname": hostname,
        "mounts": all_mounts,
        "annotations": {"io.pydocker.container.id": container_id},
        "linux": linux,
    }


def resources(host_config: dict, privileged: bool) -> dict:
    result: dict = {"devices": [{"allow": True, "access": "rwm"}] if privileged else list(DEFAULT_DEVICE_RULES)}
    memory = int(host_config.get("Memory") or 0)
    if memory:
        if memory < 6 * 1024 * 1024:
            raise errdefs.InvalidArgument("Minimum memory limit allowed is 6MB")
        result["memory"] = {"limit": memory}
        swap = int(host_config.get("MemorySwap") or 0)
        if swap > 0:
            result["memory"]["swap"] = swap
    cpu: dict = {}
    nano = int(host_config.get("NanoCpus") or 0)
    if nano:
        if nano < 0 or nano > os.cpu_count() * 1_000_000_000:
            raise errdefs.InvalidArgument(
                f"Range of CPUs is from 0.01 to {os.cpu_count()}.00, as there are only {os.cpu_count()} CPUs available")
        cpu["period"] = 100000
        cpu["quota"] = nano * 100000 // 1_000_000_000
    if host_config.get("CpuQuota"):
        cpu["quota"] = int(host_config["CpuQuota"])
        cpu["period"] = int(host_config.get("CpuPeriod") or 100000)
    if host_config.get("CpuShares"):
        cpu["shares"] = int(host_config["CpuShares"])
    if host_config.get("CpusetCpus"):
        cpu["cpus"] = host_config["CpusetCpus"]
    if cpu:
        result["cpu"] = cpu
    pids = host_config.get("PidsLimit")
    if pids and int(pids) > 0:
        result["pids"] = {"limit": int(pids)}
    return result

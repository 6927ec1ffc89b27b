"""Namespace kinds: OCI names, clone flags, /proc/PID/ns names, and the order to join them."""
from . import syscalls

CLONE_FLAGS = {
    "user": syscalls.CLONE_NEWUSER,
    "ipc": syscalls.CLONE_NEWIPC,
    "uts": syscalls.CLONE_NEWUTS,
    "network": syscalls.CLONE_NEWNET,
    "pid": syscalls.CLONE_NEWPID,
    "mount": syscalls.CLONE_NEWNS,
    "cgroup": syscalls.CLONE_NEWCGROUP,
    "time": syscalls.CLONE_NEWTIME,
}

PROC_NAMES = {
    "user": "user",
    "ipc": "ipc",
    "uts": "uts",
    "network": "net",
    "pid": "pid",
    "mount": "mnt",
    "cgroup": "cgroup",
    "time": "time",
}

# The user namespace comes first: it decides the privileges every later setns or unshare is
# checked against. The mount namespace comes late because joining it changes what paths mean,
# which is also why every path is opened before the first setns.
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "mount", "cgroup", "time")


def proc_path(pid: int, kind: str) -> str:
    return f"/proc/{pid}/ns/{PROC_NAMES[kind]}"


def from_spec(spec: dict) -> dict[str, str | None]:
    """{kind: path to join, or None for a new namespace} from config.json's linux.namespaces."""
    return {ns["type"]: ns.get("path") or None for ns in spec.get("linux", {}).get("namespaces", [])}

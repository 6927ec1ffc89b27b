"""Namespace kinds: OCI names, clone flags, /proc/PID/ns names, and the order to join them."""
# The clone(2) flag of each kind, written out here so that reading them (state, kill, delete)
# does not load syscalls and ctypes.
CLONE_FLAGS = {
    "user": 0x10000000,
    "ipc": 0x08000000,
    "uts": 0x04000000,
    "network": 0x40000000,
    "pid": 0x20000000,
    "mount": 0x00020000,
    "cgroup": 0x02000000,
    "time": 0x00000080,
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

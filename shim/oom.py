"""Telling containerd when the kernel's OOM killer struck inside a container (/tasks/oom).

On cgroup v1 the memory controller signals an eventfd registered through
cgroup.event_control for memory.oom_control; the shim watches it in its IO loop. The eventfd
fires as the OOM killer starts (its kill counter may not have moved yet) and also when the
cgroup is removed, which is told apart by the cgroup being gone. (cgroup v2 reports through
memory.events, which this shim does not watch yet.)
"""
import os


def memory_cgroup_of(pid: int) -> str | None:
    """The v1 memory cgroup directory of a process, or None (no v1 memory controller)."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "memory" in controllers.split(","):
                directory = f"/sys/fs/cgroup/memory{path}"
                return directory if os.path.isdir(directory) else None
    return None


def watch(pid: int, loop, on_oom) -> None:
    """Call on_oom() from the IO loop each time the OOM killer kills in pid's cgroup."""
    directory = memory_cgroup_of(pid)
    if directory is None:
        return
    event = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
    control = os.open(os.path.join(directory, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
    with open(os.path.join(directory, "cgroup.event_control"), "w") as f:
        f.write(f"{event} {control}")

    def ready() -> None:
        try:
            os.eventfd_read(event)
        except BlockingIOError:
            return
        if os.path.isdir(directory):
            on_oom()

    loop.watch(event, ready)

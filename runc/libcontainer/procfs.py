"""What /proc says about a process: whether it still runs, and whether it is the one we started."""


def stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat from field 3 (state) on, or None if there is no such process.

    The command name (field 2) may hold spaces and parentheses, so split after the last ')'.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw[raw.rindex(b")") + 2:].decode().split()


def start_time(pid: int) -> int | None:
    """Start time in clock ticks since boot (field 22): with the pid it names a process uniquely."""
    fields = stat_fields(pid)
    return None if fields is None else int(fields[19])


def is_alive(pid: int, expected_start: int) -> bool:
    """True if `pid` is still the process that started at `expected_start` and is not a zombie.

    A recycled pid has another start time; a zombie has exited and only waits to be reaped,
    so both count as gone.
    """
    if pid <= 0:
        return False
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X") and int(fields[19]) == expected_start

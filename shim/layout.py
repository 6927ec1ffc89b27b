"""The files the shim keeps in a task's bundle, named here once.

Beside containerd's config.json, rootfs/ and `log` FIFO:

    shim.pid      the shim's pid, written by `shim start`
    runtime.json  the runtime's binary and root, for `shim delete` after the shim died
    log.json      the runtime's JSON log, where its errors are read
    init.pid      the container's init, as the runtime wrote it
    init.exit     the init's exit, recorded before anybody is told of it
    exec-<id>.pid, exec-<id>.process.json
                  an exec'd process's pid and spec: prefixed, so that no exec id ("init",
                  "shim") names one of the files above
"""
import json
import os

SHIM_PID = "shim.pid"
RUNTIME = "runtime.json"
RUNTIME_LOG = "log.json"
INIT_PID = "init.pid"
INIT_EXIT = "init.exit"


def exec_file(exec_id: str, suffix: str) -> str:
    return f"exec-{exec_id}.{suffix}"


def read_pid(path: str) -> int:
    with open(path) as f:
        return int(f.read().strip())


def write_init_exit(bundle: str, pid: int, exit_status: int, exited_at: float) -> None:
    """Atomically: `shim delete` reads it whenever the shim dies."""
    path = os.path.join(bundle, INIT_EXIT)
    with open(f"{path}.tmp", "w") as f:
        json.dump({"pid": pid, "exit_status": exit_status, "exited_at": exited_at}, f)
    os.rename(f"{path}.tmp", path)


def read_init_exit(bundle: str) -> dict | None:
    """{pid, exit_status, exited_at} as the shim recorded them, or None if it never did."""
    try:
        with open(os.path.join(bundle, INIT_EXIT)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None

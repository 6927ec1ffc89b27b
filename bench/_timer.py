"""The timer: runs one command per request and says how long it took, nothing else.

bench/runtime.py starts one of these per mount namespace it measures in (the host's, and
for crun on a hybrid cgroup host a private one prepared by `unshare`), so that whatever it
takes to get into that namespace is paid once, when the timer starts, and never inside a
timed span. Every runtime is timed by the same code: CLOCK_MONOTONIC read just before
posix_spawn and just after wait4 returns (waiting on a pidfd first, for a deadline).

Protocol, one JSON object per line. Request on stdin:
    {"argv": [absolute path, args...], "stdout": path|null, "stderr": path|null, "timeout": s}
Reply on stdout:
    {"t0": monotonic ns at spawn, "wall_ns": ns, "status": exit code (128+N for signal N),
     "cpu_ns": user+sys CPU of the command and the children it reaped, "timed_out": bool}
A command still running after "timeout" seconds is killed (SIGKILL) and reported as timed out.
An empty line, or end of input, ends the timer.

Deliberately standalone (no imports from the project): it runs as a script, and the less it
loads the less it disturbs the machine between measurements.
"""
import json
import os
import select
import signal
import sys
import time


def _open_action(fd: int, path: str | None, flags: int) -> tuple:
    return (os.POSIX_SPAWN_OPEN, fd, path or os.devnull, flags, 0o600)


def run(request: dict) -> dict:
    argv = request["argv"]
    actions = [
        _open_action(0, None, os.O_RDONLY),
        _open_action(1, request.get("stdout"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        _open_action(2, request.get("stderr"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ]
    env = os.environ.copy()
    t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions, setsigdef=(signal.SIGINT,))
    # A pidfd to wait with a deadline: a runtime that hangs must not hang the benchmark.
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    timed_out = not poller.poll(int(request.get("timeout", 60) * 1000))
    if timed_out:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    _, wait_status, usage = os.wait4(pid, 0)
    t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    os.close(pidfd)
    code = os.waitstatus_to_exitcode(wait_status)
    return {
        "t0": t0,
        "wall_ns": t1 - t0,
        "status": 128 - code if code < 0 else code,
        "cpu_ns": round((usage.ru_utime + usage.ru_stime) * 1e9),
        "timed_out": timed_out,
    }


def main() -> int:
    # A ^C in the terminal reaches the whole process group: the benchmark cleans up through
    # this timer, so it must outlive the signal (the command it runs gets the default back).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Tell the parent we are up (and, for the private namespace, that the set-up worked).
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        try:
            reply = run(json.loads(line))
        except OSError as e:
            reply = {"error": f"{e.strerror}: {e.filename}" if e.filename else str(e)}
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

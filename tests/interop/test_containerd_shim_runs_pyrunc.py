"""The real containerd and its containerd-shim-runc-v2 drive pyrunc in place of runc.

The image comes from the session's local registry through `ctr images pull`, so this also
proves the registry fixture serves what real clients expect.
"""
import json
import time

import pexpect
import pytest

from tests.fixtures.upstream import PYRUNC

pytestmark = [pytest.mark.root, pytest.mark.interop]


@pytest.fixture(scope="module")
def image(containerd, registry):
    ref = f"{registry.host}/library/busybox:latest"
    containerd.ctr("images", "pull", "--plain-http", ref)
    return ref


def run_args(containerd, *extra):
    return ["run", "--runc-binary", PYRUNC, "--runc-root", str(containerd.runc_root),
            "--fifo-dir", str(containerd.fifo_dir), *extra]


def test_ctr_run_exit_status_and_output(containerd, image):
    done = containerd.ctr(*run_args(containerd, "--rm", image, "ctr-exit", "sh", "-c", "echo hello from pyrunc; exit 7"),
                          check=False)
    assert done.stdout == "hello from pyrunc\n"
    assert done.returncode == 7


def test_ctr_detached_task_lifecycle(containerd, image):
    containerd.ctr(*run_args(containerd, "-d", image, "ctr-task", "sleep", "300"))
    try:
        tasks = containerd.ctr("tasks", "ls").stdout
        assert "ctr-task" in tasks and "RUNNING" in tasks
        # The shim ran pyrunc: its state lives under the --runc-root we gave.
        state = json.loads((containerd.runc_root / containerd.namespace / "ctr-task" / "state.json").read_text())
        assert state["id"] == "ctr-task"
        done = containerd.ctr("tasks", "exec", "--fifo-dir", str(containerd.fifo_dir), "--exec-id", "probe", "ctr-task",
                              "sh", "-c", "echo exec-ok; hostname")
        assert done.stdout.splitlines()[0] == "exec-ok"
        pids = containerd.ctr("tasks", "ps", "ctr-task").stdout
        assert str(state["init_process_pid"]) in pids
        containerd.ctr("tasks", "pause", "ctr-task")
        assert "PAUSED" in containerd.ctr("tasks", "ls").stdout
        containerd.ctr("tasks", "resume", "ctr-task")
        assert "RUNNING" in containerd.ctr("tasks", "ls").stdout
        containerd.ctr("tasks", "kill", "--signal", "SIGKILL", "ctr-task")
        deadline = time.monotonic() + 10
        while "STOPPED" not in containerd.ctr("tasks", "ls").stdout:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        containerd.ctr("tasks", "delete", "--force", "ctr-task", check=False)
        containerd.ctr("containers", "delete", "ctr-task", check=False)
    assert not (containerd.runc_root / containerd.namespace / "ctr-task").exists()


# ctr resizes the pty only after the task started: wait for its resize to land.
# (busybox's stty prints nothing, successfully, while the size is 0x0.)
RESIZED_SIZE = "tty; for i in 1 2 3 4 5 6 7 8 9 10; do s=$(stty size); [ -n \"$s\" ] && break; sleep 1; done; echo size=$s"


def test_ctr_run_with_a_terminal(containerd, image):
    child = pexpect.spawn("ctr", ["--address", str(containerd.address), "--namespace", containerd.namespace,
                                  *run_args(containerd, "--rm", "-t", image, "ctr-tty", "sh", "-c", RESIZED_SIZE + "; exit 3")],
                          dimensions=(24, 80), timeout=60)
    try:
        child.expect("/dev/pts/0")
        child.expect("size=24 80")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 3

"""The real containerd 1.6 runs containers through our shim: runtime io.containerd.pydocker.v1
makes it start containerd-shim-pydocker-v1, which runs pyrunc. Swap (b) of the issue."""
import time

import pexpect
import pytest

from tests.fixtures.bundle import VENV_BIN

pytestmark = [pytest.mark.root, pytest.mark.interop]

RUNTIME = "io.containerd.pydocker.v1"


@pytest.fixture(scope="module")
def image(containerd, registry):
    ref = f"{registry.host}/library/busybox:latest"
    containerd.ctr("images", "pull", "--plain-http", ref)
    return ref


@pytest.fixture(scope="module", autouse=True)
def stop_fork_servers(containerd):
    yield
    # The shims' fork server outlives containerd by design; this test run stops it.
    for pid_file in (containerd.address.parent / "s").glob("forkserver-*.sock.pid"):
        import os
        import signal

        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass


def test_run_exit_code_and_output(containerd, image):
    done = containerd.ctr("run", "--rm", "--runtime", RUNTIME, "--fifo-dir", str(containerd.fifo_dir), image, "ours-exit",
                          "sh", "-c", "echo hello through our shim; exit 7", check=False)
    assert done.stdout == "hello through our shim\n", done.stderr
    assert done.returncode == 7


def test_task_lifecycle_with_exec(containerd, image):
    containerd.ctr("run", "-d", "--runtime", RUNTIME, "--fifo-dir", str(containerd.fifo_dir), image, "ours-task",
                   "sleep", "300")
    try:
        tasks = containerd.ctr("tasks", "ls").stdout
        assert "ours-task" in tasks and "RUNNING" in tasks
        done = containerd.ctr("tasks", "exec", "--fifo-dir", str(containerd.fifo_dir), "--exec-id", "probe", "ours-task",
                              "sh", "-c", "echo exec-ok")
        assert done.stdout == "exec-ok\n"
        containerd.ctr("tasks", "pause", "ours-task")
        assert "PAUSED" in containerd.ctr("tasks", "ls").stdout
        containerd.ctr("tasks", "resume", "ours-task")
        containerd.ctr("tasks", "kill", "--signal", "SIGKILL", "ours-task")
        deadline = time.monotonic() + 15
        while "STOPPED" not in containerd.ctr("tasks", "ls").stdout:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        containerd.ctr("tasks", "delete", "--force", "ours-task", check=False)
        containerd.ctr("containers", "delete", "ours-task", check=False)


def test_terminal(containerd, image):
    child = pexpect.spawn("ctr", ["--address", str(containerd.address), "--namespace", containerd.namespace, "run", "--rm",
                                  "-t", "--runtime", RUNTIME, "--fifo-dir", str(containerd.fifo_dir), image, "ours-tty",
                                  "sh", "-c", "tty; exit 3"], dimensions=(24, 80), timeout=60)
    try:
        child.expect("/dev/pts/0")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 3

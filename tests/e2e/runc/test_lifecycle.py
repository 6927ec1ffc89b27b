"""create -> start -> state -> kill -> delete, with the status re-derived at every step."""
import json
import os
import signal
import time

import pytest

from tests.fixtures.polling import wait_for_file
from tests.fixtures.processes import wait_until_gone

pytestmark = pytest.mark.root


def create(runtime, bundle, *extra):
    runtime("create", "--bundle", str(bundle.path), *extra, bundle.id)


def test_state_transitions(runtime, bundle, tmp_path):
    bundle.sh("echo started > /tmp/started; exec sleep 60")
    pid_file = tmp_path / "init.pid"
    create(runtime, bundle, "--pid-file", str(pid_file))
    state = runtime.state(bundle.id)
    pid = int(pid_file.read_text())
    assert state["status"] == "created"
    assert state["pid"] == pid
    assert state["id"] == bundle.id
    assert state["bundle"] == str(bundle.path)
    assert state["rootfs"] == str(bundle.rootfs)
    assert state["ociVersion"] and state["created"].endswith("Z")
    # Nothing of the user program has run yet: init waits on the exec fifo.
    assert not (bundle.rootfs / "tmp/started").exists()
    assert (runtime.root / bundle.id / "exec.fifo").exists()
    assert open(f"/proc/{pid}/cmdline").read().startswith("/")  # still pyrunc's interpreter

    runtime("start", bundle.id)
    assert runtime.state(bundle.id)["status"] == "running"
    assert not (runtime.root / bundle.id / "exec.fifo").exists()
    assert wait_for_file(bundle.rootfs / "tmp/started", "\n") == "started\n"

    runtime("kill", bundle.id, "KILL")
    assert runtime.wait_for_status(bundle.id, "stopped") == "stopped"
    assert runtime.state(bundle.id)["pid"] == 0
    runtime("delete", bundle.id)
    assert runtime.container_ids() == []
    assert not os.path.exists(f"/sys/fs/cgroup/memory{bundle.config['linux']['cgroupsPath']}")


def test_state_reports_the_annotations(runtime, bundle):
    bundle.config["annotations"] = {"org.example.team": "runtime"}
    bundle.sh("sleep 60")
    create(runtime, bundle)
    assert runtime.state(bundle.id)["annotations"] == {"org.example.team": "runtime"}


def test_start_twice_and_after_stop(runtime, bundle):
    bundle.sh("sleep 60")
    create(runtime, bundle)
    runtime("start", bundle.id)
    done = runtime("start", bundle.id, check=False)
    assert done.returncode == 1 and "cannot start an already running container" in done.stderr
    runtime("kill", bundle.id, "9")
    assert runtime.wait_for_status(bundle.id, "stopped") == "stopped"
    done = runtime("start", bundle.id, check=False)
    assert done.returncode == 1 and "cannot start a container that has stopped" in done.stderr


@pytest.mark.pyrunc_only
def test_create_refuses_an_existing_id(runtime, bundle):
    bundle.sh("sleep 60")
    create(runtime, bundle)
    done = runtime("create", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 1 and "container with id exists" in done.stderr


def test_invalid_ids_never_become_paths(runtime, bundle):
    for bad in ("../escape", "a/b", "..", "with space"):
        done = runtime("create", "--bundle", str(bundle.path), bad, check=False)
        assert done.returncode == 1 and "invalid container ID format" in done.stderr
    assert not (runtime.root.parent / "escape").exists()


def test_kill_signals(runtime, bundle):
    # PID 1 of a pid namespace ignores signals it has no handler for: trap the ones we send.
    bundle.sh("trap 'echo got-usr1 > /tmp/usr1' USR1; trap 'exit 0' TERM; touch /tmp/ready; "
              "while :; do sleep 0.05; done")
    create(runtime, bundle)
    runtime("start", bundle.id)
    wait_for_file(bundle.rootfs / "tmp/ready")  # its traps are set
    runtime("kill", bundle.id, "SIGUSR1")
    assert wait_for_file(bundle.rootfs / "tmp/usr1", "\n") == "got-usr1\n"
    assert runtime.state(bundle.id)["status"] == "running"
    runtime("kill", bundle.id)  # SIGTERM by default
    assert runtime.wait_for_status(bundle.id, "stopped") == "stopped"
    done = runtime("kill", bundle.id, "KILL", check=False)
    assert done.returncode == 1 and "container not running" in done.stderr
    done = runtime("kill", bundle.id, "NOSUCHSIGNAL", check=False)
    assert done.returncode == 1 and "unknown signal" in done.stderr


def test_kill_all(runtime, bundle):
    bundle.sh("sleep 100 & sleep 100 & wait")
    create(runtime, bundle)
    runtime("start", bundle.id)
    deadline = time.monotonic() + 10
    while len(pids := json.loads(runtime("ps", "--format", "json", bundle.id).stdout)) < 3:
        assert time.monotonic() < deadline, pids
        time.sleep(0.02)
    assert len(pids) == 3
    runtime("kill", "--all", bundle.id, "KILL")
    assert runtime.wait_for_status(bundle.id, "stopped") == "stopped"
    for pid in pids:
        wait_until_gone(pid)


def test_delete_running_needs_force(runtime, bundle):
    bundle.sh("sleep 60")
    create(runtime, bundle)
    runtime("start", bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    done = runtime("delete", bundle.id, check=False)
    assert done.returncode == 1 and "that is not stopped: running" in done.stderr
    runtime("delete", "--force", bundle.id)
    assert runtime.container_ids() == []
    wait_until_gone(pid, what="the init of a force-deleted container")


def test_delete_created_container_without_force(runtime, bundle):
    create(runtime, bundle)
    pid = runtime.state(bundle.id)["pid"]
    runtime("delete", bundle.id)
    assert runtime.container_ids() == []
    wait_until_gone(pid, what="the init of a deleted container")


def test_delete_of_unknown_container(runtime):
    done = runtime("delete", "nope", check=False)
    assert done.returncode == 1 and "does not exist" in done.stderr
    assert runtime("delete", "--force", "nope", check=False).returncode == 0


def test_status_survives_pid_reuse_check(runtime, bundle):
    """A stopped container whose pid was recycled must not look alive: the start time is checked."""
    bundle.sh("sleep 60")
    create(runtime, bundle)
    state_file = runtime.root / bundle.id / "state.json"
    real = state_file.read_text()
    state = json.loads(real)
    state["init_process_pid"] = os.getpid()  # alive, but started at another time
    state_file.write_text(json.dumps(state))
    try:
        assert runtime.state(bundle.id)["status"] == "stopped"
        done = runtime("kill", bundle.id, "KILL", check=False)
        assert done.returncode == 1 and "container not running" in done.stderr
        os.kill(os.getpid(), 0)  # and we are still here
    finally:
        state_file.write_text(real)  # so the real init is found and deleted


def test_list(runtime, bundle):
    bundle.sh("sleep 60")
    assert json.loads(runtime("list", "--format", "json").stdout) is None
    create(runtime, bundle)
    listed = json.loads(runtime("list", "--format", "json").stdout)
    assert [c["id"] for c in listed] == [bundle.id]
    assert listed[0]["status"] == "created"
    table = runtime("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert table[1].split()[:3] == [bundle.id, str(listed[0]["pid"]), "created"]
    assert runtime("list", "-q").stdout == f"{bundle.id}\n"


def test_ps(runtime, bundle):
    bundle.sh("sleep 60")
    create(runtime, bundle)
    runtime("start", bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    assert json.loads(runtime("ps", "--format", "json", bundle.id).stdout) == [pid]
    table = runtime("ps", bundle.id).stdout.splitlines()
    assert table[0].split()[:2] == ["UID", "PID"]
    assert [int(line.split()[1]) for line in table[1:]] == [pid]


def test_pause_and_resume(runtime, bundle):
    bundle.sh("i=0; while :; do i=$((i+1)); echo $i > /tmp/tick; sleep 0.01; done")
    create(runtime, bundle)
    runtime("start", bundle.id)
    wait_for_file(bundle.rootfs / "tmp/tick")
    runtime("pause", bundle.id)
    assert runtime.state(bundle.id)["status"] == "paused"
    frozen = (bundle.rootfs / "tmp/tick").read_text()
    time.sleep(0.3)
    assert (bundle.rootfs / "tmp/tick").read_text() == frozen
    done = runtime("pause", bundle.id, check=False)
    assert done.returncode == 1 and "container not running" in done.stderr
    runtime("resume", bundle.id)
    assert runtime.state(bundle.id)["status"] == "running"
    deadline = time.monotonic() + 10
    while (bundle.rootfs / "tmp/tick").read_text() == frozen:
        assert time.monotonic() < deadline, "the container did not run again after resume"
        time.sleep(0.02)
    done = runtime("resume", bundle.id, check=False)
    assert done.returncode == 1 and "container not paused" in done.stderr


def test_kill_of_a_paused_container(runtime, bundle):
    bundle.sh("sleep 60")
    create(runtime, bundle)
    runtime("start", bundle.id)
    runtime("pause", bundle.id)
    runtime("kill", bundle.id, "KILL")
    assert runtime.wait_for_status(bundle.id, "stopped") == "stopped"


def run_with_fd(runtime, fd: int, path, *args):
    """Run the runtime with `fd` open on `path`, set up by a shell so ours stay untouched."""
    import subprocess

    return subprocess.run(["sh", "-c", f'exec "$0" "$@" {fd}>>"$TARGET"', *runtime.argv(*args)],
                          env={**os.environ, "TARGET": str(path)}, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=60)


def test_preserve_fds(runtime, bundle, tmp_path):
    passed = tmp_path / "passed"
    bundle.sh("echo through-fd-3 >&3; ls /proc/self/fd | sort -n | tr '\\n' ' '")
    done = run_with_fd(runtime, 3, passed, "run", "--preserve-fds", "1", "--bundle", str(bundle.path), bundle.id)
    assert done.returncode == 0, done.stderr
    assert passed.read_text() == "through-fd-3\n"
    assert done.stdout.split() == ["0", "1", "2", "3", "4"]  # 4: the directory ls reads


def test_host_fds_do_not_reach_the_container(runtime, bundle, tmp_path):
    """A caller's stray inheritable fd (here 5, not passed with --preserve-fds) is closed."""
    bundle.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '")
    done = run_with_fd(runtime, 5, tmp_path / "stray", "run", "--bundle", str(bundle.path), bundle.id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1", "2", "3"]


def test_signals_are_forwarded_by_foreground_run(runtime, bundle):
    import subprocess

    bundle.sh("trap 'exit 42' TERM; touch /tmp/ready; while :; do sleep 0.05; done")
    proc = subprocess.Popen(runtime.argv("run", "--bundle", str(bundle.path), bundle.id),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert runtime.wait_for_status(bundle.id, "running") == "running"
        wait_for_file(bundle.rootfs / "tmp/ready")  # its trap is set
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 42
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_kill_all_reaches_stragglers_after_init_exits(runtime, bundle):
    """Without a pid namespace, the container's other processes outlive its init; --all
    still signals them (the shim relies on it)."""
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    bundle.sh("sleep 300 & echo $! > /tmp/straggler; exit 0")
    create(runtime, bundle)
    runtime("start", bundle.id)
    assert runtime.wait_for_status(bundle.id, "stopped") == "stopped"
    straggler = int((bundle.rootfs / "tmp/straggler").read_text())
    assert os.path.exists(f"/proc/{straggler}")
    runtime("kill", "--all", bundle.id, "KILL")
    wait_until_gone(straggler, what="the straggler")
    done = runtime("kill", bundle.id, "KILL", check=False)
    assert done.returncode == 1 and "container not running" in done.stderr
    runtime("delete", bundle.id)

"""exec: a new process inside a running container, in its namespaces, cgroup and root."""
import json
import os

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def running(runtime, bundle):
    bundle.sh("sleep 300")
    runtime("run", "-d", "--bundle", str(bundle.path), bundle.id)
    return bundle


def test_exec_joins_the_containers_namespaces(runtime, running):
    init_pid = runtime.state(running.id)["pid"]
    done = runtime("exec", running.id, "sh", "-c", "hostname; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt")
    lines = done.stdout.split()
    assert lines[0] == running.id
    assert lines[1] == os.readlink(f"/proc/{init_pid}/ns/pid")
    assert lines[2] == os.readlink(f"/proc/{init_pid}/ns/mnt")


def test_exec_sees_the_containers_root_and_cgroup(runtime, running):
    (running.rootfs / "marker").write_text("inside\n")
    done = runtime("exec", running.id, "sh", "-c", "cat /marker; cat /proc/self/cgroup | grep memory")
    assert done.stdout.splitlines()[0] == "inside"
    # The container's own cgroup namespace: its cgroup is its root.
    assert done.stdout.splitlines()[1].endswith(":memory:/")


def test_exec_exit_status_and_stdio(runtime, running):
    assert runtime("exec", running.id, "sh", "-c", "exit 3", check=False).returncode == 3
    done = runtime("exec", running.id, "sh", "-c", "read l; echo got:$l; echo e >&2", input="x\n")
    assert (done.stdout, done.stderr) == ("got:x\n", "e\n")


@pytest.mark.pyrunc_only
def test_exec_options(runtime, running):
    done = runtime("exec", "--cwd", "/tmp", "-e", "A=1", "-u", "1000:1000", "--cap", "CAP_SYS_ADMIN",
                   running.id, "sh", "-c", "pwd; echo $A; id -u; id -g; grep CapEff /proc/self/status")
    lines = done.stdout.splitlines()
    assert lines[:4] == ["/tmp", "1", "1000", "1000"]
    assert int(lines[4].split()[1], 16) & (1 << 21)  # CAP_SYS_ADMIN, raised as an ambient capability


def test_exec_process_file(runtime, running, tmp_path):
    process = {"args": ["sh", "-c", "echo from-file; echo $X"], "cwd": "/", "env": ["X=y", "PATH=/bin:/usr/bin"],
               "user": {"uid": 0, "gid": 0}}
    path = tmp_path / "process.json"
    path.write_text(json.dumps(process))
    assert runtime("exec", "--process", str(path), running.id).stdout == "from-file\ny\n"


def test_exec_detached_with_pid_file(runtime, running, tmp_path):
    pid_file = tmp_path / "exec.pid"
    runtime("exec", "-d", "--pid-file", str(pid_file), running.id, "sleep", "30")
    pid = int(pid_file.read_text())
    assert open(f"/proc/{pid}/cmdline").read().split("\0")[:2] == ["sleep", "30"]
    assert pid in json.loads(runtime("ps", "--format", "json", running.id).stdout)


def test_exec_failures_exit_255(runtime, running):
    done = runtime("exec", running.id, "/no/such/program", check=False)
    assert done.returncode == 255
    assert "no such file or directory" in done.stderr
    done = runtime("exec", running.id, "no-such-program", check=False)
    assert done.returncode == 255 and "executable file not found" in done.stderr


@pytest.mark.pyrunc_only
def test_exec_refuses_an_unknown_rlimit(runtime, running, tmp_path):
    process = {"args": ["true"], "cwd": "/", "rlimits": [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]}
    path = tmp_path / "process.json"
    path.write_text(json.dumps(process))
    done = runtime("exec", "--process", str(path), running.id, check=False)
    assert done.returncode == 255 and "process.rlimits[0].type: unknown rlimit type 'RLIMIT_FOO'" in done.stderr


def test_exec_refused_in_stopped_and_paused_containers(runtime, running):
    runtime("pause", running.id)
    done = runtime("exec", running.id, "true", check=False)
    assert done.returncode == 255 and "paused" in done.stderr
    runtime("resume", running.id)
    runtime("kill", running.id, "KILL")
    assert runtime.wait_for_status(running.id, "stopped") == "stopped"
    done = runtime("exec", running.id, "true", check=False)
    assert done.returncode == 255 and "stopped" in done.stderr


@pytest.mark.pyrunc_only
def test_exec_cannot_reach_the_host_interpreter(runtime, running):
    """CVE-2019-5736 class: the runtime's own interpreter, reached through /proc/self/exe,
    must never be what runs in the container."""
    (running.rootfs / "evil").write_text("#!/proc/self/exe\nprint('escaped')\n")
    (running.rootfs / "evil").chmod(0o755)
    done = runtime("exec", running.id, "/evil", check=False)
    assert done.returncode == 255
    assert "refusing to run the container runtime's own interpreter" in done.stderr
    done = runtime("exec", running.id, "/proc/self/exe", "-c", "print('escaped')", check=False)
    assert done.returncode == 255 and "escaped" not in done.stdout

"""`run` in the foreground: the container's status becomes ours, its stdio is ours, and it is
deleted when it exits."""
import pytest

pytestmark = pytest.mark.root


def test_exit_status_zero(runtime, bundle):
    done = runtime("run", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 0, done.stderr
    assert runtime.container_ids() == []


def test_exit_status_is_the_containers(runtime, bundle):
    bundle.sh("exit 7")
    assert runtime("run", "--bundle", str(bundle.path), bundle.id, check=False).returncode == 7


def test_killed_by_signal_is_128_plus_signal(runtime, bundle):
    # PID 1 of a pid namespace is immune to its own SIGKILL: share the host's for this one.
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    bundle.sh("kill -KILL $$")
    assert runtime("run", "--bundle", str(bundle.path), bundle.id, check=False).returncode == 137


def test_stdio_is_inherited(runtime, bundle):
    bundle.sh("read line; echo out:$line; echo err >&2")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id, input="hello\n")
    assert done.stdout == "out:hello\n"
    assert done.stderr == "err\n"


def test_keep_leaves_a_stopped_container(runtime, bundle):
    runtime("run", "--keep", "--bundle", str(bundle.path), bundle.id)
    assert runtime.state(bundle.id)["status"] == "stopped"
    runtime("delete", bundle.id)
    assert runtime.container_ids() == []


def test_detached_run_keeps_running(runtime, bundle):
    bundle.sh("sleep 60")
    runtime("run", "-d", "--bundle", str(bundle.path), bundle.id, stdin=None)
    assert runtime.state(bundle.id)["status"] == "running"
    runtime("delete", "--force", bundle.id)
    assert runtime.container_ids() == []


@pytest.mark.pyrunc_only
def test_missing_program_fails_at_create_time(runtime, bundle):
    bundle.set_args("/bin/no-such-program")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 1
    assert 'exec: "/bin/no-such-program": stat /bin/no-such-program: no such file or directory' in done.stderr
    assert runtime.container_ids() == []
    bundle.set_args("no-such-program")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id, check=False)
    assert "executable file not found in $PATH" in done.stderr


@pytest.mark.pyrunc_only
def test_non_executable_program_is_permission_denied(runtime, bundle):
    bundle.set_args("/etc/passwd")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 1
    assert 'exec: "/etc/passwd": permission denied' in done.stderr

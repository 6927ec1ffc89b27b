"""The real Docker (Debian's dockerd 20.10, driven by the Docker 28 CLI) runs containers with
pyrunc as an added runtime: `docker run --runtime pyrunc`."""
import pexpect
import pytest

pytestmark = [pytest.mark.root, pytest.mark.interop]


@pytest.fixture(scope="module")
def image(docker_daemon, registry):
    ref = f"{registry.host}/library/busybox:latest"
    docker_daemon("pull", ref)
    return ref


def test_runtime_is_registered(docker_daemon):
    assert "pyrunc" in docker_daemon("info", "--format", "{{json .Runtimes}}").stdout


def test_exit_status(docker_daemon, image):
    done = docker_daemon("run", "--rm", "--runtime", "pyrunc", "--network", "none", image, "sh", "-c", "exit 7", check=False)
    assert done.returncode == 7, done.stderr


def test_docker_default_seccomp_profile_and_capabilities_load(docker_daemon, image):
    done = docker_daemon("run", "--rm", "--runtime", "pyrunc", "--network", "none", image,
                         "sh", "-c", "grep -E '^(Seccomp|CapEff|NoNewPrivs):' /proc/self/status; hostname")
    fields = dict(line.split(":\t") for line in done.stdout.splitlines()[:3])
    assert fields["Seccomp"] == "2"
    assert int(fields["CapEff"], 16) == 0x00000000a80425fb


def test_detached_run_exec_stop(docker_daemon, image):
    docker_daemon("run", "-d", "--name", "long", "--runtime", "pyrunc", "--network", "none", image, "sleep", "300")
    try:
        assert docker_daemon("exec", "long", "sh", "-c", "echo exec-ok").stdout == "exec-ok\n"
        assert docker_daemon("inspect", "-f", "{{.State.Running}}", "long").stdout.strip() == "true"
        # sleep, as PID 1, ignores SIGTERM: docker stop escalates to SIGKILL.
        docker_daemon("stop", "-t", "1", "long")
        assert docker_daemon("inspect", "-f", "{{.State.ExitCode}}", "long").stdout.strip() == "137"
    finally:
        docker_daemon("rm", "-f", "long", check=False)


def test_missing_program_is_127(docker_daemon, image):
    done = docker_daemon("run", "--rm", "--runtime", "pyrunc", "--network", "none", image, "/no/such/program", check=False)
    assert done.returncode == 127, done.stderr


def test_interactive_terminal(docker_daemon, image):
    child = pexpect.spawn("docker", ["run", "--rm", "-it", "--runtime", "pyrunc", "--network", "none", image, "sh"],
                          env={"DOCKER_HOST": docker_daemon.host, "PATH": "/usr/local/bin:/usr/bin:/bin"},
                          dimensions=(30, 100), timeout=60)
    try:
        child.expect("# ")
        child.sendline("stty size; exit 4")
        child.expect("30 100")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 4

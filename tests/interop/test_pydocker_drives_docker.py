"""pydocker is a client for any Engine API: against the real Docker daemon (Debian's dockerd on
a private containerd) its core commands give what the real Docker CLI gives on the same
daemon, output and exit codes alike."""
import subprocess

import pytest

from tests.fixtures.client import PYDOCKER, without_times
from tests.fixtures.pydockerd import DOCKER

pytestmark = [pytest.mark.root, pytest.mark.interop]


@pytest.fixture(scope="module")
def image(docker_daemon, registry):
    ref = f"{registry.host}/library/busybox:latest"
    docker_daemon("pull", "-q", ref)
    return ref


def client(program: str, docker_daemon, *args, input=None):
    return subprocess.run([program, *args], env={"DOCKER_HOST": docker_daemon.host, "PATH": "/usr/bin:/bin"},
                          input=input, stdin=None if input is not None else subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)


def pydocker(docker_daemon, *args, input=None):
    return client(PYDOCKER, docker_daemon, *args, input=input)


def same(docker_daemon, *args, input=None):
    docker = client(DOCKER, docker_daemon, *args, input=input)
    ours = pydocker(docker_daemon, *args, input=input)
    # pydocker names itself where docker says "docker:" or "Run 'docker run --help'"
    assert (ours.returncode, without_times(ours.stdout), ours.stderr.replace("pydocker", "docker")) == \
        (docker.returncode, without_times(docker.stdout), docker.stderr), f"pydocker {' '.join(args)}"
    return ours


@pytest.fixture
def cleanup(docker_daemon):
    yield
    ids = docker_daemon("ps", "-aq").stdout.split()
    if ids:
        docker_daemon("rm", "-f", *ids)


def test_version_server_section_and_info(docker_daemon):
    ours = pydocker(docker_daemon, "version", "--format", "{{json .Server}}")
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == docker_daemon("version", "--format", "{{json .Server}}").stdout
    same(docker_daemon, "info", "--format", "{{.Driver}} {{.CgroupVersion}} {{.OSType}}")


def test_run_exit_codes_and_output(docker_daemon, image, cleanup):
    same(docker_daemon, "run", "--rm", "--network", "none", image, "echo", "hello from docker.io")
    same(docker_daemon, "run", "--rm", "--network", "none", image, "sh", "-c", "echo out; echo err >&2; exit 3")
    same(docker_daemon, "run", "--rm", "-i", "--network", "none", image, "cat", input="piped\n")
    same(docker_daemon, "run", "--rm", "--network", "none", image, "/no/such/binary")


def test_lifecycle_ps_logs_exec_inspect(docker_daemon, image, cleanup):
    started = pydocker(docker_daemon, "run", "-d", "--name", "sleeper", "--network", "none", image,
                       "sh", "-c", "echo started; exec sleep 300")
    assert started.returncode == 0, started.stderr
    container_id = started.stdout.strip()
    assert docker_daemon("inspect", "--format", "{{.Id}} {{.State.Running}}", "sleeper").stdout.split() == \
        [container_id, "true"]
    same(docker_daemon, "ps")
    same(docker_daemon, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Command}} {{.Status}}")
    same(docker_daemon, "logs", "sleeper")
    same(docker_daemon, "exec", "sleeper", "sh", "-c", "echo $((6 * 7)); exit 4")
    same(docker_daemon, "inspect", "--format", "{{.Name}} {{.Config.Cmd}} {{.HostConfig.NetworkMode}}", "sleeper")
    same(docker_daemon, "top", "sleeper", "-o", "args")
    assert pydocker(docker_daemon, "stop", "-t", "1", "sleeper").stdout == "sleeper\n"
    same(docker_daemon, "wait", "sleeper")
    same(docker_daemon, "ps", "-a", "--format", "{{.Names}} {{.State}}")
    assert pydocker(docker_daemon, "rm", "sleeper").stdout == "sleeper\n"
    same(docker_daemon, "inspect", "sleeper")


def test_images_tag_rmi(docker_daemon, image):
    same(docker_daemon, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    assert pydocker(docker_daemon, "tag", image, "made-by-us:tag").returncode == 0
    assert docker_daemon("images", "-q", "made-by-us:tag").stdout.strip() == \
        docker_daemon("images", "-q", image).stdout.strip()
    same(docker_daemon, "image", "inspect", "--format", "{{.Id}} {{.RepoTags}}", "made-by-us:tag")
    removed = pydocker(docker_daemon, "rmi", "made-by-us:tag")
    assert removed.stdout == "Untagged: made-by-us:tag\n", removed.stderr
    same(docker_daemon, "rmi", "made-by-us:tag")

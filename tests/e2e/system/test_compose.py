"""docker-compose.yml (issue 7): the stack's own daemons as two services on a Docker host.

First docker-compose 1.29 (Debian's) validates the file and shows what the services share.
Then the stack runs for real on Debian's dockerd, privately (its own containerd, root, sockets
and cgroup parent, no bridge): the image is built FROM a Debian 12 made by debootstrap
(debian:bookworm cannot be pulled without the internet) and the project is installed from the
session's wheelhouse, served on loopback. A container started through the published API socket
survives `docker-compose restart pydockerd`; `down` then leaves nothing behind.

The tests run in file order and share the stack, as an administrator's session would.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runc.libcontainer.capabilities import NAMES as CAPABILITY_NAMES
from tests.fixtures.bundle import VENV_BIN
from tests.fixtures.nspawn import REPOSITORY, unmount_below
from tests.fixtures.polling import accepts_connections, wait_until
from tests.fixtures.upstream import Docker, running_dockerd

pytestmark = pytest.mark.root

COMPOSE_FILE = REPOSITORY / "docker-compose.yml"
SERVICES = ("pycontainerd", "pydockerd")
BASE_IMAGE = "pydocker-compose-base:bookworm"
# What the compose file says when PYDOCKER_RUN is not set.
DEFAULT_RUN_DIRECTORY = "/run/pydocker-compose"
TICKER = "ticker"
TICK_COMMAND = "while true; do echo tick; sleep 0.2; done"
BUILD_TIMEOUT = 300
# A privileged container asks runc for every capability dockerd knows; where this machine's own
# bounding set lacks one (sandboxes may withhold CAP_SYS_RESOURCE), runc fails: "unable to apply
# caps". The test's dockerd runs runc through this, which takes those out of the container's
# sets and changes nothing else.
WITHIN_BOUNDS_RUNC = '''#!{python}
"""runc, with the capabilities this machine withholds taken out of the container's."""
import json
import os
import sys

WITHHELD = {withheld!r}


def drop_withheld(path, process_of):
    with open(path) as file:
        document = json.load(file)
    sets = process_of(document).get("capabilities") or {{}}
    for kind, names in sets.items():
        sets[kind] = [name for name in names if name not in WITHHELD]
    with open(path, "w") as file:
        json.dump(document, file)


arguments = sys.argv[1:]
if "--bundle" in arguments:  # create: the container's config.json
    drop_withheld(os.path.join(arguments[arguments.index("--bundle") + 1], "config.json"), lambda spec: spec["process"])
if "--process" in arguments:  # exec: the process's own json
    drop_withheld(arguments[arguments.index("--process") + 1], lambda process: process)
os.execv({runc!r}, [{runc!r}, *arguments])
'''


def withheld_capabilities() -> list[str]:
    """The capabilities the kernel has that this process's bounding set lacks."""
    status = Path("/proc/self/status").read_text().splitlines()
    bounding = int(next(line for line in status if line.startswith("CapBnd:")).split()[1], 16)
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    return [name for number, name in enumerate(CAPABILITY_NAMES[:last + 1]) if not bounding >> number & 1]


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail("docker-compose is not installed: Debian's docker-compose (1.29) validates and runs docker-compose.yml")
    return found


def compose_environment(config_directory: Path, **variables: str) -> dict[str, str]:
    """docker-compose reads the build arguments and paths from its environment: the host's own
    (PIP_*, DOCKER_*) must not reach it."""
    return {"PATH": os.environ["PATH"], "DOCKER_CONFIG": str(config_directory), **variables}


def yaml_to_json(text: str) -> dict:
    """Parsed by docker-compose's own interpreter (Debian's python3), which has PyYAML."""
    interpreter = Path(docker_compose()).read_text().splitlines()[0].removeprefix("#!")
    done = subprocess.run([interpreter, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
                          input=text, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def mounts(service: dict) -> dict[str, tuple[str, str]]:
    """A service's volumes as `docker-compose config` writes them: target -> (source, mode)."""
    parsed = (volume.split(":") for volume in service["volumes"])
    return {target: (source, mode) for source, target, mode in parsed}


def test_config_validates_two_services_sharing_the_state_they_pass_by_path(tmp_path):
    # A DOCKER_HOST where no daemon listens: config must never need one.
    environment = compose_environment(tmp_path, DOCKER_HOST=f"unix://{tmp_path}/no-daemon.sock")
    done = subprocess.run([docker_compose(), "-f", str(COMPOSE_FILE), "config"], env=environment,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    config = yaml_to_json(done.stdout)
    services = config["services"]
    assert sorted(services) == sorted(SERVICES)
    assert sorted(config["volumes"]) == ["pycontainerd-data", "pydocker-data"]
    pycontainerd, pydockerd = services["pycontainerd"], services["pydockerd"]
    assert pycontainerd["image"] == pydockerd["image"]
    assert pycontainerd["build"]["context"] == pydockerd["build"]["context"] == str(REPOSITORY)
    assert all(service["privileged"] and service["network_mode"] == "host"
               and service["restart"] == "unless-stopped" for service in services.values())
    assert pycontainerd["init"] is True
    assert pydockerd["pid"] == "service:pycontainerd"
    assert list(pydockerd["depends_on"]) == ["pycontainerd"]

    in_pycontainerd, in_pydockerd = mounts(pycontainerd), mounts(pydockerd)
    # The shim's rootfs mounts go out to the host's directory, and come in to pydockerd.
    assert in_pycontainerd["/run/pycontainerd"] == (f"{DEFAULT_RUN_DIRECTORY}/pycontainerd", "rshared")
    assert in_pydockerd["/run/pycontainerd"] == (f"{DEFAULT_RUN_DIRECTORY}/pycontainerd", "rslave")
    for target in ("/run/pydocker", "/var/lib/pydocker", "/var/lib/pycontainerd"):
        assert in_pycontainerd[target] == in_pydockerd[target], target
    assert in_pycontainerd["/var/lib/pydocker"][0] == "pydocker-data"
    assert in_pycontainerd["/var/lib/pycontainerd"][0] == "pycontainerd-data"
    # The API socket, in a directory of its own published to the host.
    assert in_pydockerd["/run/pydocker-api"] == (f"{DEFAULT_RUN_DIRECTORY}/api", "rw")
    assert "/run/pydocker-api" not in in_pycontainerd
    assert pydockerd["command"][:3] == ["pydockerd", "-H", "unix:///run/pydocker-api/pydocker.sock"]
    assert pydockerd["environment"]["DOCKER_HOST"] == "unix:///run/pydocker-api/pydocker.sock"


# --- the stack, for real ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker_host(tmp_path_factory, containerd) -> Iterator[Docker]:
    """Debian's dockerd on the private containerd, as the docker_daemon fixture runs it, with a
    default runtime that keeps privileged containers within the machine's capabilities. Its
    host-network containers make it bind the host's network namespace in its exec root, which
    it leaves mounted when it exits."""
    work = tmp_path_factory.mktemp("docker-host")
    runtime = work / "runc-within-bounds"
    runtime.write_text(WITHIN_BOUNDS_RUNC.format(python=sys.executable, withheld=withheld_capabilities(),
                                                 runc=shutil.which("runc")))
    runtime.chmod(0o755)
    try:
        with running_dockerd(work, containerd, {"runtimes": {"within-bounds": {"path": str(runtime)}},
                                                "default-runtime": "within-bounds"}) as docker:
            yield docker
    finally:
        unmount_below(work)


@pytest.fixture(scope="module")
def base_image(docker_host, debian_rootfs) -> Iterator[str]:
    """The session's debootstrapped Debian 12 as an image, the Dockerfile's BASE_IMAGE. Its apt
    sources name the archive this host uses, which the build's apt-get update reaches."""
    tar = subprocess.Popen(["tar", "--create", "--one-file-system", "--directory", str(debian_rootfs), "."],
                           stdout=subprocess.PIPE)
    try:
        docker_host("import", "-", BASE_IMAGE, stdin=tar.stdout)
    finally:
        tar.stdout.close()
        assert tar.wait() == 0
    try:
        yield BASE_IMAGE
    finally:
        docker_host("rmi", BASE_IMAGE)


@pytest.fixture(scope="module")
def wheel_index(wheelhouse) -> Iterator[str]:
    """The session's wheelhouse over HTTP on loopback, for pip's --find-links: the build runs on
    the host's network, and no file of the host reaches it but the build context."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(wheelhouse))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def run_directory(tmp_path_factory) -> Iterator[Path]:
    """PYDOCKER_RUN: on a shared mount, as systemd makes every mount on a Docker host; this
    host's / is private, and Docker refuses an rshared bind from a private mount."""
    directory = tmp_path_factory.mktemp("compose-run")
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(directory)], check=True)
        yield directory
    finally:
        subprocess.run(["umount", "--recursive", "--lazy", str(directory)], check=True)


@dataclass
class Stack:
    docker: Docker  # the Docker host's daemon
    project: str
    environment: dict[str, str]  # docker-compose's
    socket: Path  # pydockerd's API socket, published to the host

    def compose(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run([docker_compose(), "-f", str(COMPOSE_FILE), "-p", self.project, *args],
                              env=self.environment, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"docker-compose {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        return done

    def pydocker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """The client on the host, through the published socket."""
        done = subprocess.run([str(VENV_BIN / "pydocker"), *args], capture_output=True, text=True, timeout=120,
                              env={**self.environment, "DOCKER_HOST": f"unix://{self.socket}"},
                              stdin=subprocess.DEVNULL)
        assert not check or done.returncode == 0, f"pydocker {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        return done

    def service_init(self, service: str) -> int:
        """The host PID of a service's init."""
        container = self.compose("ps", "-q", service).stdout.strip()
        return int(self.docker("inspect", "--format", "{{.State.Pid}}", container).stdout)

    def wait_for_api(self) -> None:
        wait_until(lambda: accepts_connections(self.socket), timeout=60, what="pydockerd's API socket")


@pytest.fixture(scope="module")
def stack(docker_host, base_image, wheel_index, run_directory, tmp_path_factory) -> Iterator[Stack]:
    """docker-compose build and up, with the session's Debian as the base and its wheelhouse as
    pip's only index; at the end, whatever the tests left is taken down."""
    environment = compose_environment(
        tmp_path_factory.mktemp("docker-config"), DOCKER_HOST=docker_host.host, BASE_IMAGE=base_image,
        PIP_NO_INDEX="1", PIP_FIND_LINKS=wheel_index, PYDOCKER_RUN=str(run_directory))
    served = Stack(docker_host, f"pydocker-test-{secrets.token_hex(4)}", environment, run_directory / "api" / "pydocker.sock")
    try:
        # The one image both services run, built once: the source tree may change between two
        # builds, and the second image would leave the first untagged.
        served.compose("build", "--force-rm", "pycontainerd", timeout=BUILD_TIMEOUT)
        served.compose("up", "--detach", "--no-build")
        served.wait_for_api()
        yield served
    finally:
        # Containers first, so that their shims unmount their root filesystems.
        if accepts_connections(served.socket):
            leftovers = served.pydocker("ps", "--all", "--quiet").stdout.split()
            if leftovers:
                served.pydocker("rm", "--force", *leftovers, check=False)
        served.compose("down", "--volumes", "--rmi", "all", "--remove-orphans")


def container_identity(stack: Stack, name: str) -> tuple[int, str]:
    """The container's init as pydockerd reports it, checked against /proc of pycontainerd's
    pid namespace (through its init's root): (pid, start time since boot), which a container
    started again under the same PID would not keep."""
    state = json.loads(stack.pydocker("inspect", "--format", "{{json .State}}", name).stdout)
    assert state["Running"], state
    stat = Path(f"/proc/{stack.service_init('pycontainerd')}/root/proc/{state['Pid']}/stat").read_text()
    return state["Pid"], stat.rsplit(")", 1)[1].split()[19]


def ticks(stack: Stack) -> int:
    return stack.pydocker("logs", TICKER).stdout.count("tick\n")


def wait_for_more_ticks(stack: Stack, seen: int) -> None:
    """The container still writes, and the logger in pycontainerd's service still writes its
    log where pydockerd reads it."""
    wait_until(lambda: ticks(stack) > seen, timeout=30, what=f"{TICKER} to log more than {seen} ticks")


@pytest.fixture(scope="module")
def ticker(stack, busybox_docker_archive) -> tuple[int, str]:
    """A container that keeps printing, started through the published socket; its identity."""
    stack.pydocker("load", "--input", str(busybox_docker_archive))
    stack.pydocker("run", "--detach", "--name", TICKER, "busybox", "sh", "-c", TICK_COMMAND)
    return container_identity(stack, TICKER)


def test_a_container_runs_through_the_published_socket(stack, ticker):
    wait_for_more_ticks(stack, 0)
    assert stack.pydocker("ps", "--format", "{{.Names}} {{.Image}}").stdout == f"{TICKER} busybox\n"


def mount_points(pid: int | str) -> list[str]:
    return [line.split()[4] for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()]


def test_the_shims_rootfs_mount_reaches_pydockerd_through_the_host(stack, ticker, run_directory):
    container = stack.pydocker("inspect", "--format", "{{.Id}}", TICKER).stdout.strip()
    bundle = Path("io.containerd.runtime.v2.task") / "moby" / container

    assert str(run_directory / "pycontainerd" / bundle / "rootfs") in mount_points("self")
    assert f"/run/pycontainerd/{bundle}/rootfs" in mount_points(stack.service_init("pydockerd"))
    # docker cp works in that mount: a tar of the file, named as in the container.
    assert stack.pydocker("cp", f"{TICKER}:/etc/passwd", "-").stdout.startswith("passwd\0")


def test_system_layers_in_pydockerds_service_sees_the_whole_stack(stack, ticker):
    # pydockerd's service shares pycontainerd's pid namespace, and its client finds the socket.
    layers = stack.compose("exec", "-T", "pydockerd", "pydocker", "system", "layers").stdout

    names = [line.lstrip(" |`-").split("  ")[0] for line in layers.splitlines()[1:]]
    assert {"pydockerd", "pycontainerd", "shim", "container", "logger"} <= set(names), layers
    assert f"{TICKER} (" in layers and " down " not in layers, layers


def test_restart_of_pydockerd_keeps_the_container_running(stack, ticker):
    pydockerd = stack.service_init("pydockerd")
    seen = ticks(stack)

    stack.compose("restart", "pydockerd")

    stack.wait_for_api()
    assert stack.service_init("pydockerd") != pydockerd
    assert container_identity(stack, TICKER) == ticker
    assert stack.pydocker("ps", "--format", "{{.Names}} {{.Status}}").stdout.startswith(f"{TICKER} Up ")
    wait_for_more_ticks(stack, seen)
    assert stack.pydocker("exec", TICKER, "echo", "exec after restart").stdout == "exec after restart\n"


def test_down_leaves_nothing_behind(stack, run_directory, docker_host):
    stack.pydocker("rm", "--force", TICKER)
    stack.pydocker("rmi", "busybox")

    stack.compose("down", "--volumes", "--rmi", "all")

    assert docker_host("ps", "--all", "--quiet").stdout == ""
    assert docker_host("volume", "ls", "--quiet").stdout == ""
    assert docker_host("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == f"{BASE_IMAGE}\n"
    assert [point for point in mount_points("self") if point.startswith(f"{run_directory}/")] == []
    cgroups = [directory for hierarchy in Path("/sys/fs/cgroup").iterdir()
               for directory in (hierarchy / docker_host.cgroup_parent).glob("*") if directory.is_dir()]
    assert cgroups == []

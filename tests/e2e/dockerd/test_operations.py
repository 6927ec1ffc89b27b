"""The daemons' side of operations, on a stack of this module's own (started as systemd
would: a NOTIFY_SOCKET for each daemon, daemon.json with log options, default ulimits, the
socket's group and TLS, a TCP listener beside the unix socket):

- READY=1 once each daemon serves, STOPPING=1 on SIGTERM, RELOADING=1 ... READY=1 on SIGHUP;
- SIGHUP reloads daemon.json: /info shows a new mirror while a `docker events` stream, a
  `docker logs -f` and a running container carry on; a broken daemon.json keeps the old
  configuration and the log names the key;
- json-file rotation (max-size, max-file, the daemon's log-opts merged under a container's),
  `docker logs` reading every rotated file in order; log-driver none; default-ulimits;
- TLS: the real Docker CLI with --tlsverify and a client certificate talks to pydockerd on
  127.0.0.1, without one (or with one from another CA) it is refused; pydocker likewise.
"""
from __future__ import annotations

import grp
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.fixtures.bundle import VENV_BIN
from tests.fixtures.certs import make_certs
from tests.fixtures.polling import wait_until
from tests.fixtures.pydockerd import DOCKER, PYCONTAINERD, PyDocker

pytestmark = pytest.mark.root

PYDOCKER = str(VENV_BIN / "pydocker")
SOCKET_GROUP = grp.getgrgid(1)  # "daemon" on Debian: any group but root's own shows the change
ULIMITS = {"nofile": {"Name": "nofile", "Hard": 4321, "Soft": 1234}}


class NotifySocket:
    """What a service manager listens on: a unix datagram socket."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.received: list[str] = []

    def wait_for(self, line: str, timeout: float = 30) -> None:
        """Until a datagram with that line arrives (the ones before it are kept in received)."""
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                raise AssertionError(f"no {line} on {self.address}; got {self.received}") from None
            self.received.append(message)
            if line in message.split("\n"):
                return

    def close(self) -> None:
        self.sock.close()
        if not self.address.startswith("@"):
            os.unlink(self.address)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack(PyDocker):
    """The fixture's stack, with each daemon's NOTIFY_SOCKET set as it starts."""

    notify: str = ""

    @property
    def environment(self) -> dict[str, str]:
        return super().environment | ({"NOTIFY_SOCKET": self.notify} if self.notify else {})


@pytest.fixture(scope="module")
def stack(cgroup_parent, registry):
    work = Path(tempfile.mkdtemp(prefix="pydocker-ops-"))
    certs = make_certs(work / "certs")
    stack = Stack(work, cgroup_parent, registry.host)
    stack.certs = certs
    stack.mirror = f"http://{registry.host}"
    stack.tcp = f"tcp://127.0.0.1:{free_port()}"
    stack.daemon_json = {"registry-mirrors": [stack.mirror], "insecure-registries": [registry.host],
                         "log-opts": {"max-file": "4"}, "default-ulimits": ULIMITS, "group": SOCKET_GROUP.gr_name,
                         "tlsverify": True, "tlscacert": str(certs.ca), "tlscert": str(certs.server_cert),
                         "tlskey": str(certs.server_key)}
    stack.config_file.write_text(json.dumps(stack.daemon_json))
    stack.arguments = ["-H", stack.tcp]
    stack.containerd_notify = NotifySocket(str(work / "containerd-notify"))
    stack.dockerd_notify = NotifySocket(str(work / "dockerd-notify"))
    try:
        stack.notify = stack.containerd_notify.address
        stack.start_containerd()
        stack.containerd_notify.wait_for("READY=1")
        stack.notify = stack.dockerd_notify.address
        stack.start()
        stack.dockerd_notify.wait_for("READY=1")
        stack.docker("pull", "-q", "busybox")
        yield stack
    finally:
        problems = stack.shut_down()
        print(f"--- pydockerd log ---\n{stack.log_tail(20000)}")
        stack.containerd_notify.close()
        stack.dockerd_notify.close()
        shutil.rmtree(work, ignore_errors=True)
    assert problems == [], "\n".join(problems)


@pytest.fixture
def ops(stack):
    """The stack, its daemon.json as the module set it, every container removed after the test."""
    yield stack
    stack.config_file.write_text(json.dumps(stack.daemon_json))
    if not stack.running:
        stack.start()
    sighup_and_wait(stack)  # what a test reloaded is undone
    stack.remove_everything()
    assert stack.container_leftovers() == []


def info(stack) -> dict:
    return json.loads(stack.docker("info", "--format", "{{json .}}").stdout)


def sighup_and_wait(stack) -> None:
    stack.dockerd_notify.received.clear()
    stack.process.send_signal(signal.SIGHUP)
    stack.dockerd_notify.wait_for("RELOADING=1")
    stack.dockerd_notify.wait_for("READY=1")


# --- the service manager's notifications --------------------------------------------------

def test_pycontainerd_notifies_ready_and_stopping_on_an_abstract_socket():
    notify = NotifySocket(f"@pydocker-test-notify-{os.getpid()}")
    work = Path(tempfile.mkdtemp(prefix="pydocker-pcd-"))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")} | {"NOTIFY_SOCKET": notify.address}
    process = subprocess.Popen([PYCONTAINERD, "--address", str(work / "c.sock"), "--root", str(work / "root"),
                                "--state", str(work / "state")], env=environment, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        notify.wait_for("READY=1")
        assert (work / "c.sock").exists()  # ready means serving
        process.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        notify.close()
        shutil.rmtree(work, ignore_errors=True)


def test_pydockerd_notifies_stopping_then_ready_again(ops):
    ops.dockerd_notify.received.clear()
    assert ops.stop() == 0
    ops.dockerd_notify.wait_for("STOPPING=1")
    ops.start()
    ops.dockerd_notify.wait_for("READY=1")
    assert ops.raw("GET", "/_ping")[0] == 200


# --- SIGHUP ------------------------------------------------------------------------------

def test_sighup_reloads_mirrors_and_keeps_streams_and_containers(ops):
    ops.docker("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
               "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done")
    events = subprocess.Popen([DOCKER, "events", "--format", "{{.Action}} {{.Actor.Attributes.name}}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ops.environment)
    follower = subprocess.Popen([DOCKER, "logs", "-f", "ticker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=ops.environment)
    try:
        assert follower.stdout.readline().startswith("tick-")
        mirror = "http://mirror.invalid:5000"
        ops.config_file.write_text(json.dumps({**ops.daemon_json, "registry-mirrors": [mirror, ops.mirror],
                                               "log-level": "warn", "log-opts": {"max-file": "5"}}))
        sighup_and_wait(ops)
        assert info(ops)["RegistryConfig"]["Mirrors"] == [mirror, ops.mirror]
        log = ops.log_tail(20000)
        assert "reloaded registry-mirrors" in log and "reloaded log-level" in log
        assert "log-opts changed in" in log and "takes effect when pydockerd restarts" in log
        # the streams and the container carried on through the reload
        ops.docker("run", "--rm", "--name", "after-reload", "busybox", "true")
        deadline = time.monotonic() + 30
        seen = []
        while "destroy after-reload" not in seen and time.monotonic() < deadline:
            seen.append(events.stdout.readline().strip())
        assert "start after-reload" in seen and "destroy after-reload" in seen
        numbers = [int(follower.stdout.readline().strip().split("-")[1]) for _ in range(3)]
        assert numbers == sorted(numbers) and ops.inspect("ticker")["State"]["Running"]
        assert events.poll() is None and follower.poll() is None
    finally:
        events.kill()
        follower.kill()
        events.wait()
        follower.wait()


def test_a_broken_daemon_json_on_reload_keeps_the_configuration(ops):
    before = info(ops)["RegistryConfig"]["Mirrors"]
    for text, key in [('{"registry-mirrors": "http://one-string"}', "registry-mirrors must be a list of strings"),
                      ('{"registry-mirrors": [], "log-opts": {"max-file": "none"}}', "log-opts"),
                      ('{"registry-mirrors": [], "no-such-key": 1}', "no-such-key")]:
        ops.config_file.write_text(text)
        sighup_and_wait(ops)
        log = ops.log_tail(20000)
        assert "reloading the configuration failed, the configuration in use stays" in log and key in log
        assert info(ops)["RegistryConfig"]["Mirrors"] == before
    ops.docker("run", "--rm", "busybox", "true")  # and it serves as before


# --- logs ----------------------------------------------------------------------------------

def json_logs(ops, container: str) -> list[Path]:
    path = Path(ops.inspect(container)["LogPath"])
    return sorted(path.parent.glob(path.name + "*"))


def test_json_file_rotation_and_logs_read_every_file_in_order(ops):
    script = "i=0; while [ $i -lt 25 ]; do echo line-$i-padded-to-make-the-entry-longer; i=$((i+1)); done"
    ops.docker("run", "--name", "rotated", "--log-opt", "max-size=1k", "busybox", "sh", "-c", script)
    # the daemon's log-opts (max-file 4) merge under the container's own, as Docker's do
    assert ops.inspect("rotated")["HostConfig"]["LogConfig"] == {"Type": "json-file",
                                                                 "Config": {"max-file": "4", "max-size": "1k"}}
    files = json_logs(ops, "rotated")
    names = sorted(p.name.rsplit("json.log", 1)[1] for p in files)
    assert names == ["", ".1", ".2"], names
    for path in files:
        assert path.stat().st_size <= 1000 + 200  # rotated once full: one entry may go past
    expected = [f"line-{i}-padded-to-make-the-entry-longer" for i in range(25)]
    assert ops.docker("logs", "rotated").stdout.splitlines() == expected
    assert ops.docker("logs", "--tail", "5", "rotated").stdout.splitlines() == expected[-5:]


def test_rotation_drops_the_oldest_file_and_follow_crosses_rotations(ops):
    script = ("i=0; while [ $i -lt 300 ]; do echo entry-$i; i=$((i+1)); "
              "[ $((i % 50)) = 0 ] && sleep 0.3; done")
    ops.docker("run", "-d", "--name", "busy", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox",
               "sh", "-c", script)
    follower = ops.docker("logs", "-f", "busy", timeout=60)  # from the first line to the container's end
    followed = follower.stdout.splitlines()
    assert followed[-1] == "entry-299" and followed == sorted(followed, key=lambda l: int(l.split("-")[1]))
    assert len(followed) == len(set(followed))
    names = sorted(p.name.rsplit("json.log", 1)[1] for p in json_logs(ops, "busy"))
    assert names == ["", ".1", ".2"], names
    kept = ops.docker("logs", "busy").stdout.splitlines()
    first = int(kept[0].split("-")[1])
    assert first > 0 and kept == [f"entry-{i}" for i in range(first, 300)]


def test_log_driver_none(ops):
    ops.docker("run", "--name", "silent", "--log-driver", "none", "busybox", "echo", "unseen")
    assert ops.inspect("silent")["HostConfig"]["LogConfig"] == {"Type": "none", "Config": {}}
    assert json_logs(ops, "silent") == []
    failed = ops.docker("logs", "silent", check=False)
    assert failed.returncode != 0
    assert "configured logging driver does not support reading" in failed.stderr
    bad = ops.docker("run", "--log-driver", "syslog", "busybox", "true", check=False)
    assert "logger: no log driver named 'syslog' is registered" in bad.stderr
    bad = ops.docker("run", "--log-opt", "max-size=huge", "busybox", "true", check=False)
    assert "invalid size: 'huge'" in bad.stderr


def test_daemon_default_log_driver_none_and_live_restore_false_after_a_restart(ops):
    ops.config_file.write_text(json.dumps({**ops.daemon_json, "log-driver": "none", "log-opts": {},
                                           "live-restore": False}))
    assert ops.stop() == 0
    ops.start()
    try:
        assert "live-restore is always on in pydockerd" in ops.log_tail(20000)
        assert info(ops)["LoggingDriver"] == "none"
        ops.docker("run", "--name", "quiet", "busybox", "echo", "unseen")
        assert ops.inspect("quiet")["HostConfig"]["LogConfig"]["Type"] == "none"
        assert "does not support reading" in ops.docker("logs", "quiet", check=False).stderr
        ops.docker("run", "--name", "loud", "--log-driver", "json-file", "busybox", "echo", "seen")
        assert ops.docker("logs", "loud").stdout == "seen\n"
    finally:
        ops.config_file.write_text(json.dumps(ops.daemon_json))
        assert ops.stop() == 0
        ops.start()


# --- ulimits, the socket -----------------------------------------------------------------

def test_default_ulimits_apply_where_the_container_sets_none(ops):
    assert ops.docker("run", "--rm", "busybox", "sh", "-c", "ulimit -Sn; ulimit -Hn").stdout.split() == ["1234", "4321"]
    own = ops.docker("run", "--rm", "--ulimit", "nofile=100:200", "busybox", "sh", "-c", "ulimit -Sn; ulimit -Hn")
    assert own.stdout.split() == ["100", "200"]


def test_the_unix_socket_belongs_to_the_group(ops):
    mode = os.stat(ops.socket)
    assert mode.st_gid == SOCKET_GROUP.gr_gid and mode.st_uid == 0
    assert stat.S_IMODE(mode.st_mode) == 0o660


# --- TLS -----------------------------------------------------------------------------------

def tls_docker(ops, *args: str, cert=None, key=None, env=None) -> subprocess.CompletedProcess:
    flags = ["-H", ops.tcp, "--tlsverify", "--tlscacert", str(ops.certs.ca)]
    if cert:
        flags += ["--tlscert", str(cert), "--tlskey", str(key)]
    environment = {k: v for k, v in ops.environment.items() if k != "DOCKER_HOST"} | (env or {})
    return subprocess.run([DOCKER, *flags, *args], capture_output=True, text=True, env=environment, timeout=60)


def test_docker_cli_over_tls_with_a_client_certificate(ops):
    version = tls_docker(ops, "version", "--format", "{{.Server.Version}}", cert=ops.certs.client_cert,
                         key=ops.certs.client_key)
    assert version.returncode == 0, version.stderr
    run = tls_docker(ops, "run", "--rm", "busybox", "echo", "over tls", cert=ops.certs.client_cert,
                     key=ops.certs.client_key)
    assert (run.returncode, run.stdout) == (0, "over tls\n"), run.stderr
    piped = subprocess.run([DOCKER, "-H", ops.tcp, "--tlsverify", "--tlscacert", str(ops.certs.ca), "--tlscert",
                            str(ops.certs.client_cert), "--tlskey", str(ops.certs.client_key), "run", "--rm", "-i",
                            "busybox", "cat"], input="through stdin\n", capture_output=True, text=True,
                           env={k: v for k, v in ops.environment.items() if k != "DOCKER_HOST"}, timeout=60)
    assert (piped.returncode, piped.stdout) == (0, "through stdin\n"), piped.stderr


def test_docker_cli_over_tls_from_docker_cert_path(ops, tmp_path):
    for name, source in (("ca.pem", ops.certs.ca), ("cert.pem", ops.certs.client_cert),
                         ("key.pem", ops.certs.client_key)):
        shutil.copy(source, tmp_path / name)
    environment = {k: v for k, v in ops.environment.items() if k != "DOCKER_HOST"} | {
        "DOCKER_HOST": ops.tcp, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    for client in (DOCKER, PYDOCKER):
        ps = subprocess.run([client, "ps", "-a"], capture_output=True, text=True, env=environment, timeout=60)
        assert ps.returncode == 0 and ps.stdout.startswith("CONTAINER ID"), (client, ps.stderr)


def test_without_a_trusted_client_certificate_tls_is_refused(ops):
    for cert, key in ((None, None), (ops.certs.stranger_cert, ops.certs.stranger_key)):
        refused = tls_docker(ops, "version", cert=cert, key=key)
        # TLS 1.3: the client learns of the refusal as the connection's end
        assert refused.returncode != 0 and "Server:" not in refused.stdout
        assert "error during connect" in refused.stderr, refused.stderr
    plain = subprocess.run([DOCKER, "-H", ops.tcp, "version"], capture_output=True, text=True,
                           env={k: v for k, v in ops.environment.items() if k != "DOCKER_HOST"}, timeout=60)
    assert plain.returncode != 0


def test_pydocker_over_tls(ops):
    flags = ["-H", ops.tcp, "--tlsverify", "--tlscacert", str(ops.certs.ca), "--tlscert", str(ops.certs.client_cert),
             "--tlskey", str(ops.certs.client_key)]
    environment = {k: v for k, v in ops.environment.items() if k != "DOCKER_HOST"}
    ps = subprocess.run([PYDOCKER, *flags, "ps"], capture_output=True, text=True, env=environment, timeout=60)
    assert ps.returncode == 0 and ps.stdout.startswith("CONTAINER ID"), ps.stderr
    run = subprocess.run([PYDOCKER, *flags, "run", "--rm", "busybox", "echo", "pydocker over tls"],
                         capture_output=True, text=True, env=environment, timeout=60, stdin=subprocess.DEVNULL)
    assert (run.returncode, run.stdout) == (0, "pydocker over tls\n"), run.stderr
    without = subprocess.run([PYDOCKER, "-H", ops.tcp, "--tlsverify", "--tlscacert", str(ops.certs.ca), "ps"],
                             capture_output=True, text=True, env=environment, timeout=60)
    assert without.returncode != 0

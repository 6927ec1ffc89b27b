"""run, create, start -a, exec and attach: pydocker against the real Docker CLI on the same
pydockerd. Output, stderr (pydocker names itself where docker does) and exit codes are
compared; the create requests themselves are compared byte for byte through a recording
socket in front of pydockerd; what the container saw is asserted from inside it."""
from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from tests.fixtures.client import PYDOCKER, both
from tests.fixtures.pydockerd import DOCKER
from tests.fixtures.polling import wait_until

pytestmark = pytest.mark.root

_LOGRUS_TIME = re.compile(r'^time="[^"]+" ', re.MULTILINE)


def as_docker(text: str) -> str:
    """pydocker's stderr as docker words it: the program's own name, and no log times."""
    return _LOGRUS_TIME.sub('time="T" ', text.replace("pydocker", "docker"))


_RACY_WAIT_LOG = re.compile(r'^time=".*Error waiting for container.*\n', re.MULTILINE)


def alike(stack, *args, input=None, racy_log=False):
    """The same command through both CLIs: exit code, stdout and stderr compared. With
    racy_log, the Docker CLI's log of the wait's error is left out: whether it comes
    depends on which of its goroutines is first (pydocker, having none, never says it)."""
    docker, ours = both(stack, *args, input=input)
    theirs = _RACY_WAIT_LOG.sub("", docker.stderr) if racy_log else docker.stderr
    assert (ours.returncode, ours.stdout, as_docker(ours.stderr)) == \
        (docker.returncode, docker.stdout, as_docker(theirs))
    return ours


def pydocker(stack, *args, input=None) -> subprocess.CompletedProcess:
    return subprocess.run([PYDOCKER, *args], input=input, capture_output=True, text=True, env=stack.environment,
                          timeout=120)


def names(stack) -> list[str]:
    return stack.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()


# output and exit codes

def test_run_prints_the_output_and_exits_with_the_container(stack):
    alike(stack, "run", "busybox", "echo", "hi")
    ours = alike(stack, "run", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (ours.returncode, ours.stdout, ours.stderr) == (3, "out\n", "err\n")
    alike(stack, "run", "-a", "stderr", "busybox", "sh", "-c", "echo out; echo err >&2")
    alike(stack, "run", "-t", "busybox", "sh", "-c", "echo tty; echo err >&2")  # one raw stream, \r\n


def test_run_rm_leaves_nothing(stack):
    before = names(stack)
    ours = alike(stack, "run", "--rm", "busybox", "sh", "-c", "echo bye; exit 2")
    assert (ours.returncode, ours.stdout) == (2, "bye\n")
    assert names(stack) == before


def test_run_detached_prints_the_full_id(stack):
    ours = pydocker(stack, "run", "-d", "--name", "bg", "busybox", "sh", "-c", "exit 4")
    assert ours.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}\n", ours.stdout)
    assert stack.inspect("bg")["Id"] == ours.stdout.strip()
    assert stack.docker("wait", "bg").stdout == "4\n"
    alike(stack, "run", "-d", "-a", "stdout", "busybox", "true")  # conflicting options, said as docker says it


def test_stdin_through_run_i(stack):
    ours = alike(stack, "run", "-i", "busybox", "cat", input="hi\nthere\n")
    assert ours.stdout == "hi\nthere\n"
    ours = alike(stack, "run", "-i", "--rm", "busybox", "sh", "-c", "wc -l; exit 5", input="a\nb\nc\n")
    assert (ours.returncode, ours.stdout.strip()) == (5, "3")
    ours = subprocess.run(f"echo hi | {PYDOCKER} run -i busybox cat", shell=True, capture_output=True, text=True,
                          env=stack.environment, timeout=60)
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, "hi\n", "")
    alike(stack, "run", "busybox", "cat", input="not attached\n")  # without -i, stdin is not the container's


def test_tty_without_a_terminal(stack):
    ours = alike(stack, "run", "-it", "busybox", "true")
    assert (ours.returncode, ours.stderr) == (1, "the input device is not a TTY\n")
    alike(stack, "run", "-t", "busybox", "echo", "hi")
    raw = subprocess.run([PYDOCKER, "run", "-t", "busybox", "echo", "hi"], capture_output=True, env=stack.environment)
    assert (raw.returncode, raw.stdout) == (0, b"hi\r\n")  # the container's terminal, as it wrote it


# exit codes 125, 126, 127

def test_commands_that_cannot_run(stack):
    for args in (["busybox", "nosuchcommand"], ["busybox", "/etc"], ["busybox", "/etc/passwd"]):
        ours = alike(stack, "run", *args, racy_log=True)
        assert ours.returncode == (127 if args[1] == "nosuchcommand" else 126)
    ours = alike(stack, "run", "--rm", "busybox", "nosuchcommand")  # waits for the removal: the log is always there
    assert ours.returncode == 127 and "Error waiting for container" in ours.stderr


def test_daemon_and_usage_errors_are_125(stack):
    stack.docker("create", "--name", "taken", "busybox")
    for args in (["--name", "taken", "busybox"], ["--restart", "bogus", "busybox"], ["-m", "1x", "busybox"],
                 ["--restart", "always", "--rm", "busybox"], ["--bogus", "busybox"], ["-p", "abc", "busybox"],
                 ["nosuchrepo/nosuchimage:1"], ["--pull", "never", "nosuchimage:1"]):
        assert alike(stack, "run", *args).returncode == 125
    assert alike(stack, "run").returncode == 1
    assert alike(stack, "run", "-h").returncode == 125  # -h is --hostname here, not help
    assert alike(stack, "create", "--name", "taken", "busybox").returncode == 1


def test_a_missing_image_is_pulled(stack):
    stack.docker("rmi", "busybox")
    docker = stack.docker("run", "--rm", "busybox", "echo", "pulled")
    stack.docker("rmi", "busybox")
    ours = pydocker(stack, "run", "--rm", "busybox", "echo", "pulled")
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, docker.stdout, docker.stderr)
    assert ours.stderr.startswith("Unable to find image 'busybox:latest' locally\n"
                                  "latest: Pulling from library/busybox\n")
    stack.docker("rmi", "busybox")
    ours = pydocker(stack, "create", "-q", "--name", "quiet", "busybox")
    assert (ours.returncode, ours.stderr) == (0, "") and re.fullmatch(r"[0-9a-f]{64}\n", ours.stdout)


# what the container gets

def test_environment_workdir_and_user(stack, tmp_path):
    env_file = tmp_path / "env.list"
    env_file.write_text("FROM_FILE=1\n# comment\nSPACED= kept \n")
    script = 'echo "$FROM_FILE|$SPACED|$A|$B"; pwd; id'
    ours = alike(stack, "run", "--env-file", str(env_file), "-e", "A=a", "-e", "B", "-w", "/tmp", "-u", "1:2",
                 "busybox", "sh", "-c", script)
    assert ours.stdout == "1| kept |a|\n/tmp\nuid=1 gid=2\n"


def test_binds_volumes_and_tmpfs(stack, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "file").write_text("from the host\n")
    ours = alike(stack, "run", "--rm", "-v", f"{shared}:/h:ro", "-v", "named:/data", "--tmpfs", "/scratch:size=1m",
                 "busybox", "sh", "-c", "cat /h/file; touch /h/x 2>&1; echo kept > /data/v; "
                 "grep -c ' /scratch tmpfs ' /proc/mounts")
    assert ours.stdout == "from the host\ntouch: /h/x: Read-only file system\n1\n"
    ours = pydocker(stack, "run", "--rm", "-v", "named:/data", "busybox", "cat", "/data/v")
    assert (ours.returncode, ours.stdout) == (0, "kept\n")


def test_mount_flags_reach_the_daemon_as_dockers_do(stack, tmp_path):
    (tmp_path / "file").write_text("from the host\n")
    for spec in (f"type=bind,src={tmp_path},dst=/m,readonly", "type=volume,source=other,target=/m",
                 "type=tmpfs,destination=/m,tmpfs-size=1m"):
        alike(stack, "run", "--rm", "--mount", spec, "busybox", "sh", "-c", "ls /m; grep ' /m ' /proc/mounts")


def test_mount_flags_are_mounted(stack, tmp_path):
    (tmp_path / "file").write_text("from the host\n")
    ours = alike(stack, "run", "--rm", "--mount", f"type=bind,src={tmp_path},dst=/m,readonly", "busybox",
                 "sh", "-c", "cat /m/file; touch /m/file")
    assert (ours.returncode, ours.stdout) == (1, "from the host\n")
    assert "Read-only file system" in ours.stderr
    pydocker(stack, "run", "--rm", "--mount", "type=volume,src=kept,dst=/v", "busybox", "sh", "-c", "echo 42 > /v/n")
    ours = alike(stack, "run", "--rm", "-v", "kept:/again", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m", "busybox",
                 "sh", "-c", "cat /again/n; grep ' /t ' /proc/mounts | cut -d' ' -f1,3")
    assert ours.stdout == "42\ntmpfs tmpfs\n"
    ours = alike(stack, "run", "--rm", "--mount", f"type=bind,src={tmp_path}/absent,dst=/m", "busybox", "true")
    assert ours.returncode == 125 and "bind source path does not exist" in ours.stderr
    stack.docker("volume", "rm", "kept")


def test_privileged_holds_every_capability_the_daemon_holds(stack):
    with open(f"/proc/{stack.process.pid}/status") as status:
        bounding = next(line for line in status if line.startswith("CapBnd:")).split()[1]
    ours = alike(stack, "run", "--rm", "--privileged", "busybox", "grep", "CapEff", "/proc/self/status")
    assert ours.stdout.split() == ["CapEff:", bounding]


def test_read_only_root_and_dropped_capabilities(stack):
    ours = alike(stack, "run", "--read-only", "busybox", "touch", "/x")
    assert (ours.returncode, ours.stderr) == (1, "touch: /x: Read-only file system\n")
    ours = alike(stack, "run", "--cap-drop", "CHOWN", "busybox", "chown", "1", "/tmp")
    assert ours.returncode == 1 and "Operation not permitted" in ours.stderr
    assert alike(stack, "run", "busybox", "chown", "1", "/tmp").returncode == 0  # CHOWN is there by default


def test_entrypoint_hostname_and_init(stack):
    assert alike(stack, "run", "--entrypoint", "echo", "busybox", "from", "echo").stdout == "from echo\n"
    assert alike(stack, "run", "--entrypoint=", "busybox", "echo", "cleared").stdout == "cleared\n"
    assert alike(stack, "run", "-h", "box.example", "busybox", "hostname").stdout == "box.example\n"
    assert alike(stack, "run", "--init", "busybox", "sh", "-c", "echo $$").stdout != "1\n"


FLAG_SETS = [
    ["-h", "box", "-l", "tier=front", "-l", "bare", "-e", "A=1", "-w", "/tmp", "-u", "nobody"],
    ["-m", "64m", "--memory-swap", "-1", "--cpus", "1.5", "--pids-limit", "50", "-c", "512", "--shm-size", "8m"],
    ["-p", "8080:80", "-p", "127.0.0.1:9000-9001:9000-9001/udp", "-p", "53", "--expose", "7000-7001", "-P"],
    ["--restart", "on-failure:3", "--stop-signal", "USR1", "--stop-timeout", "5", "--init", "--read-only"],
    ["--cap-add", "net_admin", "--cap-drop", "all", "--privileged", "--network", "none", "--entrypoint", "/bin/sh"],
    ["-v", "/tmp:/h:ro", "-v", "/anonymous", "--tmpfs", "/run:size=1m",
     "--mount", "type=volume,src=vol,dst=/v,volume-nocopy", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m"],
    ["-i", "-t", "--rm", "-a", "stdin", "-a", "STDOUT", "--entrypoint="],
]


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda flags: flags[0] + flags[2])
def test_inspect_of_what_each_created(stack, flags):
    docker = stack.docker("create", "--name", "by-docker", *flags, "busybox", "sh", "-c", "true").stdout.strip()
    ours = pydocker(stack, "create", "--name", "by-pydocker", *flags, "busybox", "sh", "-c", "true")
    assert ours.returncode == 0, ours.stderr
    theirs, mine = stack.inspect(docker), stack.inspect(ours.stdout.strip())
    for document in (theirs, mine):
        if document["Config"]["Hostname"] == document["Id"][:12]:
            document["Config"]["Hostname"] = "<id>"
    assert (mine["Config"], mine["HostConfig"]) == (theirs["Config"], theirs["HostConfig"])
    assert [(m["Type"], m["Destination"], m["RW"]) for m in mine["Mounts"]] == \
        [(m["Type"], m["Destination"], m["RW"]) for m in theirs["Mounts"]]


class Recorder:
    """A unix socket in front of pydockerd that keeps what each client sends."""

    def __init__(self, target: Path):
        self.directory = Path(tempfile.mkdtemp(prefix="pd-rec-"))
        self.path = self.directory / "s"
        self.target = str(target)
        self.sent: list[bytearray] = []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(self.path))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            record = bytearray()
            self.sent.append(record)
            threading.Thread(target=self._pipe, args=(client, upstream, record), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, None), daemon=True).start()

    @staticmethod
    def _pipe(source, sink, record) -> None:
        try:
            while data := source.recv(65536):
                if record is not None:
                    record += data
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def create_bodies(self) -> list[bytes]:
        bodies = []
        for record in self.sent:
            start = bytes(record).find(b"POST /v1.50/containers/create")
            if start >= 0:
                head, _, rest = bytes(record[start:]).partition(b"\r\n\r\n")
                length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
                bodies.append(rest[:length])
        self.sent.clear()
        return bodies

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def recorder(stack):
    recording = Recorder(stack.socket)
    yield recording
    recording.close()


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda flags: flags[0] + flags[2])
def test_the_create_request_is_the_docker_clis(stack, recorder, flags):
    env = stack.environment | {"DOCKER_HOST": f"unix://{recorder.path}"}
    for cli in (DOCKER, PYDOCKER):
        subprocess.run([cli, "create", *flags, "busybox", "sh", "-c", "true"], env=env, capture_output=True,
                       check=True, timeout=60)
    docker_body, our_body = recorder.create_bodies()
    assert our_body == docker_body


# create and start -a

def test_create_then_start_attached(stack):
    for name, cli in (("d1", DOCKER), ("p1", PYDOCKER)):
        subprocess.run([cli, "create", "--name", name, "busybox", "sh", "-c", "echo o; echo e >&2; exit 4"],
                       env=stack.environment, check=True, capture_output=True)
    docker, ours = stack.docker("start", "-a", "d1", check=False), pydocker(stack, "start", "-a", "p1")
    assert (ours.returncode, ours.stdout, ours.stderr) == (docker.returncode, docker.stdout, docker.stderr) == \
        (4, "o\n", "e\n")
    for name in ("d2", "p2"):
        stack.docker("create", "-i", "--name", name, "busybox", "sh", "-c", "cat; exit 6")
    docker = stack.docker("start", "-ai", "d2", input="piped\n", check=False)
    ours = pydocker(stack, "start", "-ai", "p2", input="piped\n")
    assert (ours.returncode, ours.stdout, ours.stderr) == (docker.returncode, docker.stdout, docker.stderr) == \
        (6, "piped\n", "")
    alike(stack, "start", "-a", "d1", "p1")
    alike(stack, "start", "-a", "nosuch")
    stack.docker("create", "--name", "nocmd", "busybox", "nosuchcommand")
    alike(stack, "start", "-a", "nocmd", racy_log=True)


# exec

def test_exec(stack):
    stack.docker("run", "-d", "--name", "box", "busybox", "sleep", "300")
    assert alike(stack, "exec", "box", "sh", "-c", "echo out; echo err >&2; exit 4").returncode == 4
    assert alike(stack, "exec", "-e", "A=1", "-w", "/tmp", "-u", "1", "box", "sh", "-c",
                 "echo $A; pwd; id -u").stdout == "1\n/tmp\n1\n"
    assert alike(stack, "exec", "box", "nosuchcommand").returncode == 127
    assert alike(stack, "exec", "box", "/etc").returncode == 126
    assert alike(stack, "exec", "-i", "box", "cat", input="piped\n").stdout == "piped\n"
    assert alike(stack, "exec", "box", "cat", input="not attached\n").stdout == ""
    assert alike(stack, "exec", "-t", "box", "echo", "tty").stdout == "tty\n"  # \r\n, read as text
    assert alike(stack, "exec", "-it", "box", "true").returncode == 1
    ours = alike(stack, "exec", "-d", "box", "sh", "-c", "echo detached > /tmp/d")
    assert (ours.returncode, ours.stdout) == (0, "")
    wait_until(lambda: stack.docker("exec", "box", "cat", "/tmp/d", check=False).stdout == "detached\n")
    stack.docker("create", "--name", "idle", "busybox")
    for args in (["idle", "true"], ["nosuch", "true"], ["box"]):
        assert alike(stack, "exec", *args).returncode == 1


# attach and signals

def test_attach_to_a_running_container(stack):
    for name in ("da", "pa"):
        stack.docker("run", "-d", "--name", name, "busybox", "sh", "-c",
                     "sleep 2; echo late; echo err >&2; exit 6")
    docker, ours = stack.docker("attach", "da", check=False), pydocker(stack, "attach", "pa")
    assert (ours.returncode, ours.stdout, ours.stderr) == (docker.returncode, docker.stdout, docker.stderr) == \
        (6, "late\n", "err\n")
    alike(stack, "attach", "nosuch")
    alike(stack, "attach", "pa")  # stopped now
    stack.docker("run", "-d", "--name", "held", "busybox", "sleep", "300")
    stack.docker("pause", "held")
    alike(stack, "attach", "held")
    stack.docker("unpause", "held")


@pytest.mark.parametrize("cli", [DOCKER, PYDOCKER])
def test_signals_reach_the_container(stack, cli):
    script = 'trap "echo got TERM; exit 4" TERM; echo ready; while true; do sleep 0.1; done'
    process = subprocess.Popen([cli, "run", "--rm", "busybox", "sh", "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=stack.environment)
    try:
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (process.returncode, stdout, stderr) == (4, "got TERM\n", "")


@pytest.mark.parametrize("cli", [DOCKER, PYDOCKER])
def test_without_sig_proxy_the_third_interrupt_ends_the_cli(stack, cli):
    process = subprocess.Popen([cli, "run", "--name", "stays", "--sig-proxy=false", "busybox", "sh", "-c",
                                "echo ready; sleep 300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=stack.environment)
    try:
        assert process.stdout.readline() == "ready\n"
        for signum in (signal.SIGINT, signal.SIGTERM):
            process.send_signal(signum)
            with pytest.raises(subprocess.TimeoutExpired):
                process.wait(0.5)  # a bounded wait for something that must not happen
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (process.returncode, stdout, stderr) == (1, "", "\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n")
    assert stack.inspect("stays")["State"]["Running"]

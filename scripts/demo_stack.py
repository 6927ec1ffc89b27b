"""The demo's first act: the whole stack, driven by the real Docker CLI.

A local registry (Debian's docker-registry on 127.0.0.1, seeded with a busybox image built here
from busybox-static) stands in for Docker Hub as pydockerd's registry mirror. pycontainerd and
pydockerd start with private directories; busybox is pulled and run; a container that keeps
printing survives a kill -9 of pydockerd, a container that exits while pydockerd is down is
found with its exit code, and no line of output is lost. Every claim is checked.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.busybox import make_rootfs  # noqa: E402  (the image the tests use)
from tests.fixtures.images import build_oci_layout  # noqa: E402
from tests.fixtures.polling import accepts_connections  # noqa: E402
from tests.fixtures.registry import serve_registry  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
DOCKER_CLI = "/usr/local/bin/docker"
CGROUP_PARENT = "/pydocker-demo-stack"


class DemoFailed(Exception):
    pass


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def check(claim: str, holds: bool) -> None:
    print(f"   {'ok' if holds else 'FAILED'}: {claim}", flush=True)
    if not holds:
        raise DemoFailed(claim)


class Stack:
    def __init__(self, work: Path):
        self.work = work
        self.containerd_socket = work / "pycontainerd.sock"
        self.docker_socket = work / "docker.sock"
        self.containerd: subprocess.Popen | None = None
        self.dockerd: subprocess.Popen | None = None
        (work / "cli").mkdir()

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        print(f"$ {' '.join(Path(command[0]).name if i == 0 else a for i, a in enumerate(command))} &", flush=True)
        with open(self.work / f"{name}.log", "a") as log:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)

    def _wait(self, path: Path, process: subprocess.Popen, name: str) -> None:
        deadline = time.monotonic() + 30
        while not accepts_connections(path):
            if process.poll() is not None or time.monotonic() > deadline:
                raise DemoFailed(f"{name} did not start: {(self.work / f'{name}.log').read_text()[-2000:]}")
            time.sleep(0.02)

    def start_containerd(self) -> None:
        self.containerd = self._spawn("pycontainerd", [
            str(VENV_BIN / "pycontainerd"), "--address", str(self.containerd_socket),
            "--root", str(self.work / "pycontainerd-root"), "--state", str(self.work / "pycontainerd-state")])
        self._wait(self.containerd_socket, self.containerd, "pycontainerd")

    def start_dockerd(self, mirror: str) -> None:
        config = self.work / "daemon.json"
        config.write_text(json.dumps({"registry-mirrors": [f"http://{mirror}"], "insecure-registries": [mirror]}))
        self.dockerd = self._spawn("pydockerd", [
            str(VENV_BIN / "pydockerd"), "-H", f"unix://{self.docker_socket}", "--containerd", str(self.containerd_socket),
            "--data-root", str(self.work / "data"), "--exec-root", str(self.work / "exec"),
            "--cgroup-parent", CGROUP_PARENT, "--config-file", str(config)])
        self._wait(self.docker_socket, self.dockerd, "pydockerd")

    def kill9_dockerd(self) -> None:
        print(f"$ kill -9 {self.dockerd.pid}    # pydockerd", flush=True)
        self.dockerd.send_signal(signal.SIGKILL)
        self.dockerd.wait()

    def docker(self, *args: str, check_status: bool = True, show: bool = True) -> str:
        if show:
            print(f"$ docker {' '.join(args)}", flush=True)
        env = {**os.environ, "DOCKER_HOST": f"unix://{self.docker_socket}", "DOCKER_CONFIG": str(self.work / "cli")}
        done = subprocess.run([DOCKER_CLI, *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=120)
        if show and (done.stdout or done.stderr):
            print((done.stdout + done.stderr).rstrip("\n"), flush=True)
        if check_status and done.returncode != 0:
            raise DemoFailed(f"docker {args[0]} exited {done.returncode}")
        return done.stdout

    def stop(self) -> None:
        if self.dockerd is not None and self.dockerd.poll() is None:
            leftover = self.docker("ps", "-aq", check_status=False, show=False).split()
            if leftover:
                self.docker("rm", "-f", *leftover, check_status=False, show=False)
        for process in (self.dockerd, self.containerd):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        # The shims' fork server would exit by itself once idle; the demo leaves nothing behind.
        for pid_file in (self.work / "s").glob("forkserver-*.sock.pid"):
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def run(work: Path) -> None:
    stack = Stack(work)
    try:
        say("A local registry stands in for Docker Hub: busybox, built here, pushed to it with skopeo")
        image = build_oci_layout(work / "image", [make_rootfs(work / "rootfs")])
        (work / "registry").mkdir()
        with serve_registry(work / "registry") as registry:
            registry.push(image, "library/busybox:latest")
            check(f"the registry on {registry.host} serves library/busybox:latest",
                  registry.get("/v2/library/busybox/tags/list").status == 200)
            act(stack, registry.host)
    finally:
        stack.stop()
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            leftover = hierarchy / CGROUP_PARENT.lstrip("/")
            if leftover.is_dir() and not leftover.is_symlink():
                leftover.rmdir()


def act(stack: Stack, mirror: str) -> None:
    say("Start the daemons: pycontainerd, then pydockerd with the local registry as its docker.io mirror")
    stack.start_containerd()
    stack.start_dockerd(mirror)
    version = stack.docker("version", "--format", "{{.Server.Version}} {{range .Server.Components}}{{.Name}} {{end}}")
    check("the real Docker CLI talks to pydockerd, which names pycontainerd and pyrunc below it",
          "pycontainerd" in version and "pyrunc" in version)

    say("Pull busybox (docker.io, through the mirror) and run it")
    pulled = stack.docker("pull", "busybox")
    check("pulled: docker.io/library/busybox:latest", "Downloaded newer image for busybox:latest" in pulled)
    check("docker run --rm busybox echo prints its line",
          stack.docker("run", "--rm", "busybox", "echo", "hello from a container") == "hello from a container\n")

    say("A container that keeps printing, and one that will exit while pydockerd is down")
    stack.docker("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                 "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done")
    stack.docker("run", "-d", "--name", "shortlived", "busybox", "sh", "-c", "sleep 2; echo bye; exit 3")
    ticker_pid = int(stack.docker("inspect", "--format", "{{.State.Pid}}", "ticker"))
    ticker_id = stack.docker("inspect", "--format", "{{.Id}}", "ticker").strip()
    ticker_log = stack.work / "data" / "containers" / ticker_id / f"{ticker_id}-json.log"
    check(f"ticker runs as host pid {ticker_pid}", _alive(ticker_pid))

    say("kill -9 pydockerd")
    stack.kill9_dockerd()
    lines_at_kill = ticker_log.read_text().count("\n")
    time.sleep(3)
    check("pydockerd is gone, ticker still runs (its parent is its shim, not pydockerd)", _alive(ticker_pid))
    lines_now = ticker_log.read_text().count("\n")
    check(f"ticker keeps logging with pydockerd down: {lines_now - lines_at_kill} lines more in its json log "
          "(written by the logger its shim started)", lines_now > lines_at_kill)

    say("Start pydockerd again: it finds its containers (live restore)")
    stack.start_dockerd(mirror)
    listed = stack.docker("ps", "--format", "{{.Names}} {{.Status}}")
    check("docker ps lists ticker, still up", any(line.startswith("ticker Up") for line in listed.splitlines()))
    check("it is the same process", int(stack.docker("inspect", "--format", "{{.State.Pid}}", "ticker")) == ticker_pid)
    code = stack.docker("inspect", "--format", "{{.State.ExitCode}} {{.State.Status}}", "shortlived").split()
    check("shortlived exited while pydockerd was down: its exit code 3 is known", code == ["3", "exited"])
    check("and what it printed meanwhile is in docker logs", stack.docker("logs", "shortlived") == "bye\n")
    ticks = [int(line.split()[1]) for line in stack.docker("logs", "ticker", show=False).splitlines()]
    check(f"docker logs ticker has every line, none missing across the restart ({len(ticks)} lines)",
          ticks == list(range(1, len(ticks) + 1)) and len(ticks) >= lines_now)
    stack.docker("rm", "-f", "ticker", "shortlived")

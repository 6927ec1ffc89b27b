"""The demo's first act: the whole stack, driven by pydocker (and the real Docker CLI once).

A local registry (Debian's docker-registry on 127.0.0.1, seeded with hello-world and busybox
images built here from busybox-static) stands in for Docker Hub as pydockerd's registry
mirror. pycontainerd and pydockerd start with private directories; `pydocker run hello-world`
pulls through the mirror; a container that keeps printing survives a kill -9 of pydockerd, a
container that exits while pydockerd is down is found with its exit code, no line of output
is lost, and `pydocker system layers` shows the process tree before and after. Every claim is
checked.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.busybox import BUSYBOX, make_rootfs  # noqa: E402  (the image the tests use)
from tests.fixtures.images import build_oci_layout  # noqa: E402
from tests.fixtures.polling import accepts_connections  # noqa: E402
from tests.fixtures.registry import serve_registry  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
DOCKER_CLI = "/usr/local/bin/docker"
CGROUP_PARENT = "/pydocker-demo-stack"
HELLO = """#!/bin/busybox sh
echo
echo "Hello from pydocker!"
echo "This message shows that your installation appears to be working correctly."
echo
echo "To print it, the layers of the stack took these steps:"
echo " 1. The pydocker client asked pydockerd, over the Engine API, to run hello-world."
echo " 2. pydockerd had pycontainerd pull the image through the registry mirror."
echo " 3. pycontainerd started a shim for the container; the shim ran pyrunc, which made the"
echo "    container (namespaces, cgroups, pivot_root) and exited, leaving the shim its parent."
echo " 4. The shim's logger wrote this output, and pydockerd streamed it to your terminal."
echo
"""


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

    def pydocker(self, *args: str, check_status: bool = True, show: bool = True, program: str = "pydocker") -> str:
        if show:
            print(f"$ {program} {' '.join(args)}", flush=True)
        env = {**os.environ, "DOCKER_HOST": f"unix://{self.docker_socket}", "DOCKER_CONFIG": str(self.work / "cli")}
        executable = DOCKER_CLI if program == "docker" else str(VENV_BIN / "pydocker")
        done = subprocess.run([executable, *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=120)
        if show and (done.stdout or done.stderr):
            print((done.stdout + done.stderr).rstrip("\n"), flush=True)
        if check_status and done.returncode != 0:
            raise DemoFailed(f"{program} {args[0]} exited {done.returncode}")
        return done.stdout

    def docker(self, *args: str) -> str:
        return self.pydocker(*args, program="docker")

    def stop(self) -> None:
        if self.dockerd is not None and self.dockerd.poll() is None:
            leftover = self.pydocker("ps", "-aq", check_status=False, show=False).split()
            if leftover:
                self.pydocker("rm", "-f", *leftover, check_status=False, show=False)
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


def _hello_rootfs(dest: Path) -> Path:
    """hello-world's filesystem: /hello, run by the one busybox binary beside it."""
    (dest / "bin").mkdir(parents=True)
    shutil.copyfile(BUSYBOX, dest / "bin" / "busybox")
    (dest / "bin" / "busybox").chmod(0o755)
    (dest / "hello").write_text(HELLO)
    (dest / "hello").chmod(0o755)
    return dest


def _layer_row(layers: str, key: int | str) -> str:
    """The row of `system layers` for a pid, or the one whose layer is named key."""
    for row in layers.splitlines():
        cells = row.lstrip(" |`-").split()
        if cells and (cells[0] == key or (isinstance(key, int) and cells[1:2] == [str(key)])):
            return row
    return ""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def run(work: Path) -> None:
    stack = Stack(work)
    try:
        say("A local registry stands in for Docker Hub: hello-world and busybox, built here, pushed to it")
        busybox = build_oci_layout(work / "image", [make_rootfs(work / "rootfs")])
        hello = build_oci_layout(work / "hello-image", [_hello_rootfs(work / "hello")], cmd=("/hello",))
        (work / "registry").mkdir()
        with serve_registry(work / "registry") as registry:
            registry.push(busybox, "library/busybox:latest")
            registry.push(hello, "library/hello-world:latest")
            for name in ("busybox", "hello-world"):
                check(f"the registry on {registry.host} serves library/{name}:latest",
                      registry.get(f"/v2/library/{name}/tags/list").status == 200)
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
    version = stack.pydocker("version", "--format", "{{.Server.Version}} {{json .Server.Components}}")
    check("pydocker talks to pydockerd, which names pycontainerd and pyrunc below it",
          "pycontainerd" in version and "pyrunc" in version)

    say("pydocker run hello-world: not here yet, so pulled from docker.io through the mirror")
    hello = stack.pydocker("run", "hello-world")
    check("hello-world ran and printed its greeting", "Hello from pydocker!" in hello)
    check("the real Docker CLI drives the same pydockerd", "hello-world" in stack.docker("images"))
    stack.pydocker("pull", "busybox")

    say("A container that keeps printing, and one that will exit while pydockerd is down")
    stack.pydocker("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                   "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done")
    stack.pydocker("run", "-d", "--name", "shortlived", "busybox", "sh", "-c", "sleep 2; echo bye; exit 3")
    ticker_pid = int(stack.pydocker("inspect", "--format", "{{.State.Pid}}", "ticker"))
    ticker_id = stack.pydocker("inspect", "--format", "{{.Id}}", "ticker").strip()
    ticker_log = stack.work / "data" / "containers" / ticker_id / f"{ticker_id}-json.log"
    check(f"ticker runs as host pid {ticker_pid}", _alive(ticker_pid))
    check("pydocker system layers shows ticker as a container under its shim",
          "ticker" in _layer_row(stack.pydocker("system", "layers"), ticker_pid))

    say("kill -9 pydockerd")
    stack.kill9_dockerd()
    lines_at_kill = ticker_log.read_text().count("\n")
    time.sleep(3)
    check("pydockerd is gone, ticker still runs (its parent is its shim, not pydockerd)", _alive(ticker_pid))
    lines_now = ticker_log.read_text().count("\n")
    check(f"ticker keeps logging with pydockerd down: {lines_now - lines_at_kill} lines more in its json log "
          "(written by the logger its shim started)", lines_now > lines_at_kill)
    layers = stack.pydocker("system", "layers")
    check("pydocker system layers says pydockerd is down and still shows ticker",
          " down " in _layer_row(layers, "pydockerd") and "container" in _layer_row(layers, ticker_pid))

    say("Start pydockerd again: it finds its containers (live restore)")
    stack.start_dockerd(mirror)
    listed = stack.pydocker("ps", "--format", "{{.Names}} {{.Status}}")
    check("pydocker ps lists ticker, still up", any(line.startswith("ticker Up") for line in listed.splitlines()))
    check("it is the same process", int(stack.pydocker("inspect", "--format", "{{.State.Pid}}", "ticker")) == ticker_pid)
    code = stack.pydocker("inspect", "--format", "{{.State.ExitCode}} {{.State.Status}}", "shortlived").split()
    check("shortlived exited while pydockerd was down: its exit code 3 is known", code == ["3", "exited"])
    check("and what it printed meanwhile is in pydocker logs", stack.pydocker("logs", "shortlived") == "bye\n")
    ticks = [int(line.split()[1]) for line in stack.pydocker("logs", "ticker", show=False).splitlines()]
    check(f"pydocker logs ticker has every line, none missing across the restart ({len(ticks)} lines)",
          ticks == list(range(1, len(ticks) + 1)) and len(ticks) >= lines_now)
    layers = stack.pydocker("system", "layers")
    check("the layer tree again: a new pydockerd, the same container",
          f" {stack.dockerd.pid} " in _layer_row(layers, "pydockerd") and "ticker" in _layer_row(layers, ticker_pid))
    stack.pydocker("rm", "-f", "ticker", "shortlived")

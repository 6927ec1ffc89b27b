"""bench/shim: the container-management layer, pycontainerd + our shim against containerd + its runc shim.

    .venv/bin/python -m bench.shim [--runs N] [--idle N] [--restarts N] [--json]

Three figures, each measured for both stacks in the same run, through the same Python gRPC
client speaking containerd's v1 API:
  latency    one task's life: Containers.Create, Tasks.Create, Start, Wait, Delete,
             Containers.Delete, for a busybox `true` (median of --runs, interleaved)
  memory     RSS and PSS per shim with --idle containers running `sleep` at once (PSS counts
             shared pages once across the processes sharing them: the cost of one more shim)
  reconnect  kill -9 of the daemon with --idle tasks running, start it again, time until
             Tasks.List answers with all of them (median of --restarts)
Both stacks run the same runtime underneath: pyrunc for ours, Debian's runc for containerd's
(what each stack ships). Run as root; everything made is removed at the end.
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from protos import containers_pb2, containers_pb2_grpc, runc_options_pb2, tasks_pb2, tasks_pb2_grpc  # noqa: E402
from protos import typeurl  # noqa: E402
from tests.fixtures.bundle import bundle_config  # noqa: E402
from tests.fixtures.busybox import make_rootfs  # noqa: E402
from tests.fixtures.polling import accepts_connections  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
NAMESPACE = "bench"
SPEC_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
APT_PACKAGES = {"containerd": "containerd", "runc": "runc", "containerd-shim-runc-v2": "containerd"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_references() -> None:
    install_missing(APT_PACKAGES)


def install_missing(packages_of_commands: dict[str, str]) -> None:
    """apt-get install the package of each command not on the PATH: a benchmark installs the
    references it measures."""
    missing = sorted({pkg for cmd, pkg in packages_of_commands.items() if shutil.which(cmd) is None})
    if missing:
        log(f"bench: installing {' '.join(missing)} with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, stdout=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env, check=True, stdout=sys.stderr)


class Stack:
    """One daemon (pycontainerd or containerd) with private directories, and its client."""

    def __init__(self, name: str, work: Path, rootfs: Path, cgroup_parent: str):
        self.name = name
        self.work = work
        self.rootfs = rootfs
        self.cgroup_parent = cgroup_parent
        self.address = work / "d.sock"
        self.process: subprocess.Popen | None = None
        self.channel = None

    # what differs between the two stacks
    runtime = ""

    def command(self) -> list[str]:
        raise NotImplementedError

    def runtime_options(self):
        return None

    def shim_pids(self) -> list[int]:
        raise NotImplementedError

    # the rest is common
    def start(self) -> None:
        log_file = open(self.work / "daemon.log", "a")
        env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
        self.process = subprocess.Popen(self.command(), stdout=log_file, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        log_file.close()
        deadline = time.monotonic() + 30
        while not accepts_connections(self.address):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start: {(self.work / 'daemon.log').read_text()[-2000:]}")
            time.sleep(0.01)
        self.channel = grpc.insecure_channel(f"unix://{self.address}")
        self.containers = containers_pb2_grpc.ContainersStub(self.channel)
        self.tasks = tasks_pb2_grpc.TasksStub(self.channel)

    def kill9(self) -> None:
        self.channel.close()
        self.process.kill()
        self.process.wait()

    def remove_all(self) -> None:
        """Whatever a failed run left: every task killed and deleted, every container deleted."""
        for task in self.tasks.List(tasks_pb2.ListTasksRequest(), metadata=self._md(), timeout=10).tasks:
            try:
                self.remove(task.id, kill=True)
            except grpc.RpcError as e:
                log(f"bench: {self.name}: could not remove {task.id}: {e.details()}")
        for container in self.containers.List(containers_pb2.ListContainersRequest(), metadata=self._md()).containers:
            self.containers.Delete(containers_pb2.DeleteContainerRequest(id=container.id), metadata=self._md())

    def stop(self) -> None:
        if self.channel is not None and self.process.poll() is None:
            self.remove_all()
        if self.channel is not None:
            self.channel.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _md(self):
        return (("containerd-namespace", NAMESPACE),)

    def create(self, container_id: str, args: list[str]) -> None:
        spec = bundle_config(args, hostname=container_id, cgroups_path=f"{self.cgroup_parent}/{self.name}-{container_id}",
                             readonly_root=True)
        container = containers_pb2.Container(id=container_id)
        container.runtime.name = self.runtime
        options = self.runtime_options()
        if options is not None:
            container.runtime.options.CopyFrom(typeurl.pack(options))
        container.spec.type_url = SPEC_URL
        container.spec.value = json.dumps(spec).encode()
        self.containers.Create(containers_pb2.CreateContainerRequest(container=container), metadata=self._md())
        request = tasks_pb2.CreateTaskRequest(container_id=container_id)
        request.rootfs.add(type="bind", source=str(self.rootfs), options=["rbind", "ro"])
        self.tasks.Create(request, metadata=self._md())
        self.tasks.Start(tasks_pb2.StartRequest(container_id=container_id), metadata=self._md())

    def remove(self, container_id: str, kill: bool) -> None:
        if kill:
            try:
                self.tasks.Kill(tasks_pb2.KillRequest(container_id=container_id, signal=9), metadata=self._md())
            except grpc.RpcError:
                pass
            self.tasks.Wait(tasks_pb2.WaitRequest(container_id=container_id), metadata=self._md(), timeout=30)
        self.tasks.Delete(tasks_pb2.DeleteTaskRequest(container_id=container_id), metadata=self._md())
        self.containers.Delete(containers_pb2.DeleteContainerRequest(id=container_id), metadata=self._md())

    def one_task(self, container_id: str) -> float:
        begin = time.monotonic_ns()
        self.create(container_id, ["true"])
        self.tasks.Wait(tasks_pb2.WaitRequest(container_id=container_id), metadata=self._md(), timeout=30)
        self.remove(container_id, kill=False)
        return (time.monotonic_ns() - begin) / 1e6

    def listed(self) -> int:
        return len(self.tasks.List(tasks_pb2.ListTasksRequest(), metadata=self._md(), timeout=5).tasks)


class Ours(Stack):
    runtime = "io.containerd.pydocker.v1"

    def command(self) -> list[str]:
        return [str(VENV_BIN / "pycontainerd"), "--address", str(self.address), "--root", str(self.work / "root"),
                "--state", str(self.work / "state")]

    def shim_pids(self) -> list[int]:
        return [int(p.read_text()) for p in (self.work / "state").glob(f"io.containerd.runtime.v2.task/{NAMESPACE}/*/shim.pid")]

    def fork_server_pids(self) -> list[int]:
        return [int(p.read_text()) for p in (self.work / "s").glob("forkserver-*.sock.pid")]


class Theirs(Stack):
    runtime = "io.containerd.runc.v2"

    def command(self) -> list[str]:
        config = self.work / "config.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{self.work}/root"\nstate = "{self.work}/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.address}"\n[ttrpc]\n  address = "{self.address}.ttrpc"\n'
            '[debug]\n  address = ""\n[metrics]\n  address = ""\n')
        return ["containerd", "--config", str(config)]

    def runtime_options(self):
        return runc_options_pb2.Options(binary_name=shutil.which("runc"), root=str(self.work / "runc"))

    def shim_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"containerd-shim-runc-v2") and str(self.address).encode() in argv:
                pids.append(int(entry.name))
        return pids


def memory(pid: int) -> dict:
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("Rss", "Pss", "Private_Dirty"):
                values[key] = int(line.split()[1])
    return values


def measure(stacks: list[Stack], runs: int, idle: int, restarts: int) -> dict:
    report = {"latency_ms": {}, "memory_kib": {}, "reconnect_ms": {}}
    latencies = {s.name: [] for s in stacks}
    for round_number in range(runs + 2):
        for stack in stacks if round_number % 2 == 0 else reversed(stacks):
            ms = stack.one_task(f"lat{round_number}")
            if round_number >= 2:  # the first two rounds warm up (the fork server, page cache)
                latencies[stack.name].append(ms)
    for stack in stacks:
        values = latencies[stack.name]
        report["latency_ms"][stack.name] = {"median": statistics.median(values), "p90": _p90(values), "min": min(values)}
    for stack in stacks:
        ids = [f"idle{i}" for i in range(idle)]
        for container_id in ids:
            stack.create(container_id, ["sleep", "3600"])
        time.sleep(1)
        pids = stack.shim_pids()
        if len(pids) != idle:
            raise RuntimeError(f"{stack.name}: found {len(pids)} shims for {idle} containers")
        samples = [memory(pid) for pid in pids]
        entry = {key: statistics.mean(s[key] for s in samples) for key in samples[0]}
        if isinstance(stack, Ours):
            servers = [memory(pid) for pid in stack.fork_server_pids()]
            entry["fork_server_pss"] = sum(s["Pss"] for s in servers)
            entry["Pss_with_fork_server"] = entry["Pss"] + entry["fork_server_pss"] / idle
        report["memory_kib"][stack.name] = entry
        times = []
        for _ in range(restarts):
            stack.kill9()
            begin = time.monotonic_ns()
            stack.start()
            while True:
                try:
                    if stack.listed() == idle:
                        break
                except grpc.RpcError:
                    pass
                time.sleep(0.005)
            times.append((time.monotonic_ns() - begin) / 1e6)
        report["reconnect_ms"][stack.name] = {"median": statistics.median(times), "min": min(times)}
        for container_id in ids:
            stack.remove(container_id, kill=True)
    return report


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def print_report(report: dict, idle: int) -> None:
    ours, theirs = "pycontainerd+pyshim", "containerd+runc-shim"
    lat = report["latency_ms"]
    print(f"task create+start+wait+delete of `true` (ms):  ours median {lat[ours]['median']:.1f} p90 {lat[ours]['p90']:.1f}"
          f"   theirs median {lat[theirs]['median']:.1f} p90 {lat[theirs]['p90']:.1f}"
          f"   ratio {lat[ours]['median'] / lat[theirs]['median']:.2f}x")
    mem = report["memory_kib"]
    print(f"per shim with {idle} idle containers (KiB):")
    for name in (ours, theirs):
        m = mem[name]
        extra = f"  (+ fork server share: {m['Pss_with_fork_server']:.0f})" if "Pss_with_fork_server" in m else ""
        print(f"  {name:<22} RSS {m['Rss']:8.0f}   PSS {m['Pss']:8.0f}{extra}   private dirty {m['Private_Dirty']:8.0f}")
    ours_pss = mem[ours].get("Pss_with_fork_server", mem[ours]["Pss"])
    print(f"  PSS ratio {ours_pss / mem[theirs]['Pss']:.2f}x (target <= 1.0)")
    rec = report["reconnect_ms"]
    print(f"kill -9 of the daemon to Tasks.List with all {idle} tasks (ms): ours {rec[ours]['median']:.0f}"
          f"   theirs {rec[theirs]['median']:.0f}   ratio {rec[ours]['median'] / rec[theirs]['median']:.2f}x (target <= 0.5)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--idle", type=int, default=50)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        log("bench.shim: run as root")
        return 1
    ensure_references()
    subprocess.run([str(VENV_BIN / "python"), "-m", "compileall", "-q", "runc", "shim", "protos", "errdefs", "containerd"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    top = Path(tempfile.mkdtemp(prefix="pydocker-bench-"))
    cgroup_parent = f"/pydocker-bench-{secrets.token_hex(4)}"
    rootfs = make_rootfs(top / "rootfs")
    stacks = []
    try:
        for cls, name in ((Ours, "pycontainerd+pyshim"), (Theirs, "containerd+runc-shim")):
            work = top / cls.__name__.lower()
            work.mkdir()
            stack = cls(name, work, rootfs, cgroup_parent)
            stack.start()
            stacks.append(stack)
        report = measure(stacks, opts.runs, opts.idle, opts.restarts)
    finally:
        for stack in stacks:
            stack.stop()
            if isinstance(stack, Ours):
                for pid in stack.fork_server_pids():
                    os.kill(pid, signal.SIGTERM)
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            leftover = hierarchy / cgroup_parent.lstrip("/")
            if leftover.is_dir():
                for directory in sorted(leftover.rglob("*"), key=lambda p: -len(p.parts)):
                    if directory.is_dir():
                        directory.rmdir()
                leftover.rmdir()
        shutil.rmtree(top, ignore_errors=True)
    if opts.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report, opts.idle)
    return 0


if __name__ == "__main__":
    sys.exit(main())

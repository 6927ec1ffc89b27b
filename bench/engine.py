"""bench/engine: the whole engine, pydockerd + pycontainerd against Debian's dockerd + containerd.

    .venv/bin/python -m bench.engine [--runs N] [--containers N] [--restore N] [--log-lines N] [--json]

Both engines run side by side with private roots and sockets and no networking (dockerd with
--bridge=none --iptables=false, live restore on), each with the runtime it ships, and both are
driven by the same real Docker CLI (/usr/local/bin/docker) through DOCKER_HOST. The busybox
image reaches both the same way: `docker load` of the test fixture's docker archive.

  run          `docker run --rm busybox true`: median wall time of --runs, interleaved, and
               the daemons' CPU time per run (user+sys of the daemon processes, over all runs)
  sequential   --containers `docker run -d busybox sleep` one after another: total wall time
  ps           `docker ps` with those containers running: median of 5
  rss          the daemons' RSS with those containers idle
  concurrent   --containers `docker run -d` started at once: wall time until all returned
  restore      with --restore containers running: kill -9 of the API daemon, start it again,
               time until `docker ps` lists them all (median of 3)
  logs         `docker logs` of a container that printed --log-lines lines: median of 3

Run as root; it installs docker.io and containerd with apt-get if missing and removes
everything it made at the end.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.shim import install_missing, log  # noqa: E402
from tests.fixtures.busybox import make_rootfs  # noqa: E402
from tests.fixtures.images import build_oci_layout, write_docker_archive  # noqa: E402
from tests.fixtures.polling import accepts_connections  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
DOCKER_CLI = "/usr/local/bin/docker"
APT_PACKAGES = {"dockerd": "docker.io", "containerd": "containerd", "runc": "runc"}
IMAGE = "busybox:latest"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Engine:
    """A containerd-like daemon and a dockerd-like daemon on top, with private directories."""

    name = ""

    def __init__(self, work: Path, cgroup_parent: str):
        self.work = work
        self.cgroup_parent = cgroup_parent
        self.socket = work / "docker.sock"
        self.containerd_socket = work / "containerd.sock"
        self.containerd: subprocess.Popen | None = None
        self.api: subprocess.Popen | None = None

    def containerd_command(self) -> list[str]:
        raise NotImplementedError

    def api_command(self) -> list[str]:
        raise NotImplementedError

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen:
        env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
        with open(self.work / log_name, "a") as out:
            return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)

    def _wait_for(self, path: Path, process: subprocess.Popen, log_name: str) -> None:
        deadline = time.monotonic() + 60
        while not accepts_connections(path):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {log_name} did not start:\n{(self.work / log_name).read_text()[-3000:]}")
            time.sleep(0.01)

    def start(self) -> None:
        self.containerd = self._spawn(self.containerd_command(), "containerd.log")
        self._wait_for(self.containerd_socket, self.containerd, "containerd.log")
        self.start_api()

    def start_api(self) -> None:
        self.api = self._spawn(self.api_command(), "api.log")
        self._wait_for(self.socket, self.api, "api.log")

    def kill9_api(self) -> None:
        self.api.kill()
        self.api.wait()
        self.socket.unlink(missing_ok=True)

    def daemon_pids(self) -> list[int]:
        return [self.api.pid, self.containerd.pid]

    def docker(self, *args: str, check: bool = True, stdout=subprocess.DEVNULL) -> subprocess.CompletedProcess:
        env = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_CONFIG": str(self.work / "cli-config")}
        done = subprocess.run([DOCKER_CLI, *args], env=env, stdout=stdout, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True, timeout=300)
        if check and done.returncode != 0:
            raise RuntimeError(f"{self.name}: docker {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
        return done

    def stop(self) -> None:
        for process in (self.api, self.containerd):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


class Docker(Engine):
    name = "docker.io"

    def containerd_command(self) -> list[str]:
        config = self.work / "containerd.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{self.work}/containerd-root"\nstate = "{self.work}/containerd-state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.containerd_socket}"\n[ttrpc]\n  address = "{self.containerd_socket}.ttrpc"\n'
            '[debug]\n  address = ""\n[metrics]\n  address = ""\n')
        return ["containerd", "--config", str(config)]

    def api_command(self) -> list[str]:
        return ["dockerd", "--containerd", str(self.containerd_socket), "--data-root", str(self.work / "data"),
                "--exec-root", str(self.work / "exec"), "--pidfile", str(self.work / "dockerd.pid"),
                "-H", f"unix://{self.socket}", "--bridge=none", "--iptables=false", "--ip6tables=false",
                "--ip-masq=false", "--ip-forward=false", "--live-restore",
                "--cgroup-parent", f"{self.cgroup_parent}/docker", "--storage-driver", "overlay2",
                "--config-file", str(self._empty_config())]

    def _empty_config(self) -> Path:
        path = self.work / "daemon.json"
        path.write_text("{}")
        return path


class Ours(Engine):
    name = "pydockerd"

    def stop(self) -> None:
        super().stop()
        # The shims' fork server would exit by itself once idle; the benchmark leaves nothing behind.
        for pid_file in (self.work / "s").glob("forkserver-*.sock.pid"):
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass

    def containerd_command(self) -> list[str]:
        return [str(VENV_BIN / "pycontainerd"), "--address", str(self.containerd_socket),
                "--root", str(self.work / "containerd-root"), "--state", str(self.work / "containerd-state")]

    def api_command(self) -> list[str]:
        config = self.work / "daemon.json"
        config.write_text("{}")
        return [str(VENV_BIN / "pydockerd"), "--containerd", str(self.containerd_socket),
                "--data-root", str(self.work / "data"), "--exec-root", str(self.work / "exec"),
                "--pidfile", str(self.work / "pydockerd.pid"), "-H", f"unix://{self.socket}",
                "--cgroup-parent", f"{self.cgroup_parent}/pydockerd", "--config-file", str(config)]


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def measure(engines: list[Engine], runs: int, containers: int, restore: int, log_lines: int) -> dict:
    report: dict = {name: {} for name in (e.name for e in engines)}

    # run --rm, interleaved; the daemons' CPU over all the runs
    walls = {e.name: [] for e in engines}
    cpu_before = {e.name: sum(_cpu_seconds(p) for p in e.daemon_pids()) for e in engines}
    for round_number in range(runs + 2):
        for engine in engines if round_number % 2 == 0 else reversed(engines):
            begin = time.monotonic()
            engine.docker("run", "--rm", IMAGE, "true")
            if round_number >= 2:
                walls[engine.name].append(time.monotonic() - begin)
    for engine in engines:
        cpu = sum(_cpu_seconds(p) for p in engine.daemon_pids()) - cpu_before[engine.name]
        report[engine.name]["run_ms"] = _median_ms(walls[engine.name])
        report[engine.name]["daemon_cpu_ms_per_run"] = cpu / (runs + 2) * 1000
        log(f"bench: run --rm: {engine.name} {report[engine.name]['run_ms']:.0f} ms")

    for engine in engines:
        entry = report[engine.name]
        begin = time.monotonic()
        for number in range(containers):
            engine.docker("run", "-d", "--name", f"idle{number}", IMAGE, "sleep", "3600")
        entry["sequential_s"] = time.monotonic() - begin
        ps_times = []
        for _ in range(5):
            begin = time.monotonic()
            listed = engine.docker("ps", "-q", stdout=subprocess.PIPE).stdout.split()
            ps_times.append(time.monotonic() - begin)
            if len(listed) != containers:
                raise RuntimeError(f"{engine.name}: docker ps listed {len(listed)} of {containers}")
        entry["ps_ms"] = _median_ms(ps_times)
        time.sleep(1)
        entry["daemons_rss_mib"] = sum(_rss_kib(p) for p in engine.daemon_pids()) / 1024
        engine.docker("rm", "-f", *[f"idle{number}" for number in range(containers)])

        begin = time.monotonic()
        with ThreadPoolExecutor(containers) as pool:
            list(pool.map(lambda n: engine.docker("run", "-d", "--name", f"burst{n}", IMAGE, "sleep", "3600"),
                          range(containers)))
        entry["concurrent_s"] = time.monotonic() - begin
        engine.docker("rm", "-f", *[f"burst{number}" for number in range(containers)])

        for number in range(restore):
            engine.docker("run", "-d", "--name", f"kept{number}", IMAGE, "sleep", "3600")
        restore_times = []
        for _ in range(3):
            engine.kill9_api()
            begin = time.monotonic()
            engine.start_api()
            while True:
                listed = engine.docker("ps", "-q", check=False, stdout=subprocess.PIPE)
                if listed.returncode == 0 and len(listed.stdout.split()) == restore:
                    break
                time.sleep(0.005)
            restore_times.append(time.monotonic() - begin)
        entry["restore_ms"] = _median_ms(restore_times)
        engine.docker("rm", "-f", *[f"kept{number}" for number in range(restore)])

        engine.docker("run", "--name", "chatty", IMAGE, "seq", str(log_lines))
        log_times = []
        for _ in range(3):
            begin = time.monotonic()
            printed = engine.docker("logs", "chatty", stdout=subprocess.PIPE).stdout
            log_times.append(time.monotonic() - begin)
            if printed.count("\n") != log_lines:
                raise RuntimeError(f"{engine.name}: docker logs printed {printed.count(chr(10))} of {log_lines} lines")
        entry["logs_ms"] = _median_ms(log_times)
        engine.docker("rm", "-f", "chatty")
        log(f"bench: {engine.name}: {entry}")
    return report


FIGURES = (("run_ms", "run --rm busybox true (ms, median)", 0.7), ("daemon_cpu_ms_per_run", "daemon CPU per run (ms)", None),
           ("sequential_s", "{n} x run -d, one after another (s)", None), ("concurrent_s", "{n} x run -d at once (s)", None),
           ("ps_ms", "ps with {n} running (ms)", None), ("restore_ms", "kill -9, restart, ps lists {r} (ms)", None),
           ("logs_ms", "logs of {l} lines (ms)", None), ("daemons_rss_mib", "daemons' RSS with {n} idle (MiB)", None))


def print_report(report: dict, containers: int, restore: int, log_lines: int) -> None:
    ours, theirs = report["pydockerd"], report["docker.io"]
    print(f"{'':<44} {'pydockerd':>12} {'docker.io':>12} {'ratio':>8}")
    for key, label, target in FIGURES:
        text = label.format(n=containers, r=restore, l=log_lines)
        ratio = ours[key] / theirs[key] if theirs[key] else float("nan")
        note = f"   target <= {target}" if target else ""
        print(f"{text:<44} {ours[key]:>12.1f} {theirs[key]:>12.1f} {ratio:>7.2f}x{note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--restore", type=int, default=20)
    parser.add_argument("--log-lines", type=int, default=100_000)
    parser.add_argument("--only", choices=["docker.io", "pydockerd"], help="measure one engine (no ratios)")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        log("bench.engine: run as root")
        return 1
    install_missing(APT_PACKAGES)
    # As scripts/install.sh does: with PYTHONDONTWRITEBYTECODE set, a source edited since the
    # install would be compiled again at every daemon start (and the restart figure with it).
    subprocess.run([str(VENV_BIN / "python"), "-m", "compileall", "-q", "-j", "0", "protos", "errdefs", "runc", "shim",
                    "containerd", "dockerd"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    top = Path(tempfile.mkdtemp(prefix="pydocker-bench-"))
    cgroup_parent = f"/pydocker-bench-{secrets.token_hex(4)}"
    engines: list[Engine] = []
    try:
        archive = write_docker_archive(build_oci_layout(top / "image", [make_rootfs(top / "rootfs")]),
                                       top / "busybox.tar", IMAGE)
        for cls in (Ours, Docker):
            if opts.only and cls.name != opts.only:
                continue
            work = top / cls.__name__.lower()
            work.mkdir()
            (work / "cli-config").mkdir()
            engine = cls(work, cgroup_parent)
            engines.append(engine)
            engine.start()
            engine.docker("load", "-i", str(archive))
        report = measure(engines, opts.runs, opts.containers, opts.restore, opts.log_lines)
    finally:
        tear_down(engines, cgroup_parent, top)
    if opts.json:
        print(json.dumps(report, indent=2))
    elif len(engines) == 2:
        print_report(report, opts.containers, opts.restore, opts.log_lines)
    else:
        print(json.dumps(report, indent=2))
    return 0


def tear_down(engines: list[Engine], cgroup_parent: str, top: Path) -> None:
    """Everything a benchmark made: containers, daemons, cgroups, mounts, files."""
    for engine in engines:
        if engine.api is not None and engine.api.poll() is None:
            leftover = engine.docker("ps", "-aq", check=False, stdout=subprocess.PIPE).stdout.split()
            if leftover:
                engine.docker("rm", "-f", *leftover, check=False)
        engine.stop()
    _remove_cgroup_tree(cgroup_parent)
    _unmount_under(top)
    shutil.rmtree(top, ignore_errors=True)


def _unmount_under(top: Path) -> None:
    """dockerd bind-mounts its data root onto itself to make it shared, and undoes that only
    on a clean shutdown after the start that made it: a kill -9 and restart leave it behind."""
    mount_points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mount_point in sorted((m for m in mount_points if m.startswith(f"{top}/")), key=len, reverse=True):
        subprocess.run(["umount", mount_point], check=False)


def _remove_cgroup_tree(name: str) -> None:
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        leftover = hierarchy / name.lstrip("/")
        if leftover.is_dir() and not leftover.is_symlink():
            for directory in sorted(leftover.rglob("*"), key=lambda p: -len(p.parts)):
                if directory.is_dir():
                    directory.rmdir()
            leftover.rmdir()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())

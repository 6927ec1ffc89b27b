"""bench/runtime: how long one `run` of a container takes, pyrunc against runc and crun.

    .venv/bin/python -m bench.runtime [--runs N] [--warmup N] [--gap MS[,MS...]] [--json]
                                      [--profile] [--control]

Each sample is the wall time of `<runtime> --root <private root> run --bundle <bundle> <id>`
for a busybox bundle whose process is `true`: create, start, wait for the exit, delete, all
in one command. The three runtimes run the same config, interleaved round-robin (the first
runtime of each round rotates) so the machine's noise falls on all of them alike, after
warm-up rounds that are not counted. The figure to read is the ratio of the medians.
There are two passes by default: one with 100 ms of idle time before each sample, and one
back to back. The first cgroup v1 attach after a quiet spell waits for the kernel, and only
the idle pass makes every runtime wait alike (README).

See bench/README.md for the method, and for the cgroup workaround crun needs on a hybrid host.
Run as root; everything made (bundles, runtime roots, cgroups) is removed at the end.
"""
import argparse
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYRUNC = REPO / ".venv" / "bin" / "pyrunc"
TIMER = Path(__file__).resolve().parent / "_timer.py"
PROBE = Path(__file__).resolve().parent / "_pyrunc_probe.py"
CGROUP_ROOT = Path("/sys/fs/cgroup")
SEARCH_PATH = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The references and what the bundle needs, as Debian packages: command -> package.
APT_PACKAGES = {"runc": "runc", "crun": "crun", "busybox": "busybox-static", "unshare": "util-linux"}

# crun 1.8 refuses any ociVersion without "1.0" in it ("unknown version specified"), and
# `pyrunc spec` writes 1.2.0. All three get what runc 1.1's own `runc spec` writes.
OCI_VERSION = "1.0.2-dev"

RUNTIME_ORDER = ("pyrunc", "runc", "crun")


class BenchError(Exception):
    pass


class RunFailed(BenchError):
    """One run exited with the wrong status: recorded and retried, up to a limit."""


# --- set-up -------------------------------------------------------------------------------
def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def which(command: str) -> str | None:
    return shutil.which(command, path=SEARCH_PATH)


def ensure_references() -> None:
    """Install runc, crun (and busybox, unshare) from Debian if a command is missing."""
    missing = sorted({package for command, package in APT_PACKAGES.items() if not which(command)})
    if not missing:
        return
    log(f"bench: installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]):
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=sys.stderr)
        if done.returncode != 0:
            raise BenchError(f"{' '.join(argv)} failed with status {done.returncode}")
    still = [command for command in APT_PACKAGES if not which(command)]
    if still:
        raise BenchError(f"still missing after apt-get install: {', '.join(still)}")


def pyrunc_interpreter() -> str:
    """The Python that runs .venv/bin/pyrunc, from its #! line."""
    if not PYRUNC.exists():
        raise BenchError(f"{PYRUNC} is missing: run scripts/install.sh first")
    first = PYRUNC.read_text().splitlines()[0]
    if not first.startswith("#!"):
        raise BenchError(f"{PYRUNC} has no #! line")
    return first[2:].strip().split()[0]


def compile_pyrunc(interpreter: str) -> None:
    """This environment may set PYTHONDONTWRITEBYTECODE: without .pyc files every pyrunc
    start would compile its sources again, and we would measure the compiler."""
    done = subprocess.run([interpreter, "-m", "compileall", "-q", "runc", "errdefs"], cwd=REPO,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise BenchError(f"compileall of runc/ and errdefs/ failed with status {done.returncode}")


def cgroup_layout() -> tuple[str, str | None]:
    """("unified" | "hybrid" | "legacy", the cgroup2 mount point of a hybrid host)."""
    v1 = False
    v2: list[str] = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mountpoint, fstype = fields[4], fields[fields.index("-") + 1]
            if fstype == "cgroup2" and mountpoint == str(CGROUP_ROOT):
                return "unified", None
            if fstype == "cgroup2" and mountpoint.startswith(f"{CGROUP_ROOT}/"):
                v2.append(mountpoint)
            elif fstype == "cgroup" and mountpoint.startswith(f"{CGROUP_ROOT}/"):
                v1 = True
    if v1 and v2:
        return "hybrid", v2[0]
    return "legacy", None


def source_state() -> str:
    """Which pyrunc was measured: the commit, and whether runc/ or errdefs/ differ from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "runc", "errdefs"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit}{' + uncommitted changes in runc/ or errdefs/' if dirty else ''}"


def first_line(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "?"


# --- timers ---------------------------------------------------------------------------------
class Timer:
    """A running bench/_timer.py, possibly behind a wrapper that changes its mount namespace."""

    def __init__(self, label: str, interpreter: str, wrapper: list[str], workdir: Path):
        self.label = label
        self.wrapper = wrapper
        self._stderr_path = workdir / f"timer-{label}.stderr"
        self.pending = False  # a request sent whose reply is not read yet (interrupted by a signal)
        with open(self._stderr_path, "w") as err:
            self.proc = subprocess.Popen([*wrapper, interpreter, str(TIMER)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise BenchError(f"timer {label!r} did not start ({' '.join(wrapper)}): {self._stderr_path.read_text().strip()}")

    def run(self, argv: list[str], stdout: Path | None = None, stderr: Path | None = None,
            timeout: float = 60) -> dict:
        request = {"argv": argv, "stdout": stdout and str(stdout), "stderr": stderr and str(stderr), "timeout": timeout}
        self.drain()
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        self.pending = True
        line = self.proc.stdout.readline()
        self.pending = False
        if not line:
            raise BenchError(f"timer {self.label!r} died: {self._stderr_path.read_text().strip()}")
        reply = json.loads(line)
        if "error" in reply:
            raise BenchError(f"timer {self.label!r} could not run {argv[0]}: {reply['error']}")
        if reply["timed_out"]:
            raise BenchError(f"{' '.join(argv)} did not finish within {timeout:g} s (killed)")
        return reply

    def drain(self) -> None:
        """Wait for the command in flight, if a signal interrupted us while it ran (the timer
        kills it at its deadline), so that clean-up never races it."""
        if self.pending:
            self.proc.stdout.readline()
            self.pending = False

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # our own child, by its Popen handle
                self.proc.wait()


# --- runtimes and bundles ---------------------------------------------------------------------
def base_config(args: list[str]) -> dict:
    """The tests' bundle config, with an ociVersion crun accepts."""
    from tests.fixtures.bundle import bundle_config

    config = bundle_config(args)
    config["ociVersion"] = OCI_VERSION
    return config


@dataclass
class Runtime:
    name: str
    binary: str
    timer: Timer
    root: Path
    bundle: Path
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # runs that exited with the wrong status

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--root", str(self.root), *args]


class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.interpreter = pyrunc_interpreter()
        self.workdir = Path(tempfile.mkdtemp(prefix="pydocker-bench-"))
        self.cgroup_parent = f"/pydocker-bench-{secrets.token_hex(4)}"
        self.timers: dict[str, Timer] = {}
        self.runtimes: dict[str, Runtime] = {}
        self.layout, self.unified_mount = cgroup_layout()
        self.config = base_config(["true"])
        self.gap = opts.gaps[0]  # of the pass being measured
        self.checks: dict[str, str] = {}

    # set-up
    def start(self) -> None:
        from tests.fixtures.busybox import make_rootfs

        self.timers["host"] = Timer("host", self.interpreter, [], self.workdir)
        crun_timer = self.timers["host"]
        if self.layout == "hybrid":
            # crun 1.8 sees the cgroup2 mount of a hybrid host and insists on cgroup v2 ("cgroups in
            # hybrid mode not supported, drop all controllers from cgroupv2"). Without that mount it
            # takes its cgroup v1 path. The unmount is private to this namespace: the host keeps it.
            crun_timer = self.timers["crun-ns"] = Timer("crun-ns", self.interpreter, self.crun_wrapper(), self.workdir)
        binaries = {"pyrunc": str(PYRUNC), "runc": which("runc"), "crun": which("crun")}
        timers = {"pyrunc": self.timers["host"], "runc": self.timers["host"], "crun": crun_timer}
        names = list(RUNTIME_ORDER)
        if self.opts.control and "crun-ns" in self.timers:
            names.append("runc@crun-ns")
            binaries["runc@crun-ns"] = binaries["runc"]
            timers["runc@crun-ns"] = self.timers["crun-ns"]
        for name in names:
            directory = self.workdir / name.replace("@", "-")
            bundle = directory / "bundle"
            bundle.mkdir(parents=True)
            make_rootfs(bundle / "rootfs")
            self.runtimes[name] = Runtime(name, binaries[name], timers[name], directory / "root", bundle)

    def crun_wrapper(self) -> list[str]:
        return [which("unshare"), "--mount", "--propagation", "private", "sh", "-c",
                'umount "$0" && exec "$@"', self.unified_mount]

    # one sample
    def run_once(self, rt: Runtime, config: dict, tag: str, expect_status: int = 0) -> tuple[dict, str]:
        container_id = f"{rt.name.replace('@', '-')}-{tag}-{secrets.token_hex(3)}"
        config["hostname"] = container_id
        config["linux"]["cgroupsPath"] = f"{self.cgroup_parent}/{container_id}"
        (rt.bundle / "config.json").write_text(json.dumps(config, indent=1))
        out, err = self.workdir / "out", self.workdir / "err"
        pause(self.gap)
        reply = rt.timer.run(rt.argv("run", "--bundle", str(rt.bundle), container_id), out, err)
        if reply["status"] != expect_status:
            raise RunFailed(f"exited {reply['status']} (expected {expect_status}): {err.read_text().strip()}")
        if (rt.root / container_id).exists():
            raise BenchError(f"{rt.name} run {container_id} left its state directory behind")
        for hierarchy in self.hierarchies():
            leftover = hierarchy / self.cgroup_parent.lstrip("/") / container_id
            if leftover.is_dir():
                note = f"left its cgroup behind in {hierarchy}"
                if note not in rt.warnings:
                    rt.warnings.append(note)
        return reply, out.read_text()

    def verify(self, rt: Runtime) -> None:
        """Once per runtime: the container really runs, in the config's UTS namespace, and its
        exit status comes back."""
        token = f"pydocker-bench-{secrets.token_hex(4)}"
        config = base_config(["sh", "-c", f'echo "{token} $(hostname)"; exit 7'])
        reply, output = self.attempt(rt, config, "check", expect_status=7)
        words = output.split()
        if len(words) != 2 or words[0] != token or not words[1].startswith(f"{rt.name.replace('@', '-')}-check-"):
            raise BenchError(f"{rt.name}: the check container printed {output!r}, expected '{token} <its id>'")
        self.checks[rt.name] = output.strip()

    def attempt(self, rt: Runtime, config: dict, tag: str, expect_status: int = 0) -> tuple[dict, str]:
        """run_once, again (with a new id) if the run exits with the wrong status: a rare failure
        should not throw the whole measurement away, but each one is reported. Too many, or
        three in a row, end the benchmark."""
        limit = max(3, self.opts.runs // 10)
        for _ in range(3):
            try:
                return self.run_once(rt, config, tag, expect_status)
            except RunFailed as e:
                rt.failures.append(str(e))
                log(f"bench: {rt.name} run failed ({e}); retrying")
                if len(rt.failures) > limit:
                    raise BenchError(f"{rt.name}: {len(rt.failures)} failed runs, more than {limit}; last: {e}") from None
        raise BenchError(f"{rt.name}: 3 failed runs in a row; last: {rt.failures[-1]}")

    # the measurement
    def measure(self, gap: float) -> dict[str, list[dict]]:
        """One pass: warm-up rounds, then the timed rounds, each run `gap` ms after the last."""
        self.gap = gap
        if not self.checks:
            for rt in self.runtimes.values():
                self.verify(rt)
        order = list(self.runtimes.values())
        samples: dict[str, list[dict]] = {rt.name: [] for rt in order}
        total = self.opts.warmup + self.opts.runs
        for round_no in range(total):
            shift = round_no % len(order)
            for rt in order[shift:] + order[:shift]:
                warm = round_no < self.opts.warmup
                reply, _ = self.attempt(rt, self.config, f"w{round_no}" if warm else f"r{round_no}")
                if not warm:
                    samples[rt.name].append(reply)
            if (round_no + 1) % 10 == 0 or round_no + 1 == total:
                log(f"bench: --gap {gap:g}: round {round_no + 1}/{total}")
        return samples

    def floor_and_wrapper(self) -> dict:
        """What the timing itself costs, and what crun's namespace wrapper would add if it were
        timed: both measured, neither included in any runtime's figure."""
        host = self.timers["host"]
        result = {"timer_floor_ms": median_ms([host.run([which("true")])["wall_ns"] for _ in range(20)])}
        if "crun-ns" in self.timers:
            wrapper = self.crun_wrapper() + [which("true")]
            costs = [host.run(wrapper)["wall_ns"] for _ in range(20)]
            result["crun_wrapper_ms"] = median_ms(costs)
        return result

    # clean-up
    def hierarchies(self) -> list[Path]:
        found = [CGROUP_ROOT]
        found += [h for h in CGROUP_ROOT.iterdir() if h.is_dir() and not h.is_symlink()]
        return found

    def cleanup(self) -> list[str]:
        problems = []
        for timer in self.timers.values():
            timer.drain()
        for rt in self.runtimes.values():
            if rt.root.is_dir():
                for leftover in sorted(p.name for p in rt.root.iterdir()):
                    problems.append(f"{rt.name}: container {leftover} left behind, force-deleting it")
                    try:
                        rt.timer.run(rt.argv("delete", "--force", leftover))
                    except (BenchError, OSError) as e:
                        problems.append(f"{rt.name}: delete --force {leftover}: {e}")
        for timer in self.timers.values():
            timer.close()
        for hierarchy in self.hierarchies():
            parent = hierarchy / self.cgroup_parent.lstrip("/")
            if not parent.is_dir():
                continue
            for directory, subdirs, _ in os.walk(parent, topdown=False):
                for name in subdirs:
                    _rmdir(Path(directory) / name, problems)
            _rmdir(parent, problems)
        mounted = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                   if line.split()[4].startswith(str(self.workdir))]
        if mounted:
            problems.append(f"mounts left under {self.workdir}: {mounted}; not removing it")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return problems


def pause(gap_ms: float) -> None:
    """Idle before a sample, so that every run starts from the same quiet kernel (see --gap)."""
    if gap_ms > 0:
        time.sleep(gap_ms / 1000)


def _rmdir(path: Path, problems: list[str]) -> None:
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError as e:
        problems.append(f"cannot remove cgroup {path}: {e.strerror}")


# --- statistics ------------------------------------------------------------------------------
def median_ms(values_ns: list[int]) -> float:
    return statistics.median(values_ns) / 1e6


def summarize(samples: list[dict]) -> dict:
    wall = [s["wall_ns"] / 1e6 for s in samples]
    cpu = [s["cpu_ns"] / 1e6 for s in samples]
    return {
        "n": len(wall),
        "median_ms": statistics.median(wall),
        "mean_ms": statistics.fmean(wall),
        "p90_ms": statistics.quantiles(wall, n=10, method="inclusive")[8] if len(wall) > 1 else wall[0],
        "min_ms": min(wall),
        "max_ms": max(wall),
        "stdev_ms": statistics.stdev(wall) if len(wall) > 1 else 0.0,
        "cpu_median_ms": statistics.median(cpu),
        "samples_ms": [round(w, 3) for w in wall],
    }


# --- pyrunc's profile (--profile) ---------------------------------------------------------------
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")


def profile_pyrunc(bench: Bench, runs: int) -> dict:
    host = bench.timers["host"]
    interp = bench.interpreter
    result: dict = {"runs": runs, "gap_ms": bench.opts.gaps[0]}

    # 1. the interpreter alone
    result["python_c_pass_ms"] = median_ms([host.run([interp, "-c", "pass"])["wall_ns"] for _ in range(runs * 2)])
    result["python_IS_c_pass_ms"] = median_ms([host.run([interp, "-I", "-S", "-c", "pass"])["wall_ns"]
                                               for _ in range(runs * 2)])

    # 2. imports, from real runs under -X importtime
    per_module: dict[str, dict[str, list[int]]] = {}
    totals, walls = [], []
    err = bench.workdir / "importtime"
    for i in range(runs):
        reply = _pyrunc_variant(bench, f"imp{i}", [interp, "-X", "importtime", str(PYRUNC)], err)
        walls.append(reply["wall_ns"])
        total = 0
        for line in err.read_text().splitlines():
            m = IMPORT_LINE.match(line)
            if not m:
                continue
            self_us, cumulative_us, indent, name = int(m[1]), int(m[2]), len(m[3]), m[4]
            entry = per_module.setdefault(name, {"self": [], "cumulative": [], "depth": indent // 2})
            entry["self"].append(self_us)
            entry["cumulative"].append(cumulative_us)
            if indent == 0:
                total += cumulative_us
        totals.append(total)
    modules = {name: {"self_ms": statistics.median(v["self"]) / 1e3, "cumulative_ms": statistics.median(v["cumulative"]) / 1e3,
                      "top_level": v["depth"] == 0} for name, v in per_module.items()}
    result["imports"] = {
        "total_ms": statistics.median(totals) / 1e3,
        "module_count": len(modules),
        "run_wall_ms_under_importtime": median_ms(walls),
        "modules": modules,
    }

    # 3. phases, from pyrunc with timestamps (bench/_pyrunc_probe.py)
    runs_events = []
    for i in range(runs):
        events, reply = _probe_run(bench, f"ph{i}", "-")
        runs_events.append(_intervals(events, reply))
    result["phases"] = _merge_intervals(runs_events)

    # 4. cProfile of the pyrunc process, summed over the runs
    import pstats

    dumps = []
    for i in range(runs):
        dump = bench.workdir / f"cprofile-{i}"
        events, _ = _probe_run(bench, f"cp{i}", str(dump))
        dumps.append(str(dump))
    missing_pyc = sorted({line.split()[1] for line in events if line.split()[2:3] == ["nopyc"]})
    result["probe_missing"] = sorted({line.split()[1] for line in events if line.split()[2:3] == ["missing"]})
    stats = pstats.Stats(*dumps)
    rows = []
    for (filename, line, function), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        rows.append({"function": function, "where": f"{_short(filename)}:{line}", "ncalls": ncalls / runs,
                     "tottime_ms": tottime * 1e3 / runs, "cumtime_ms": cumtime * 1e3 / runs})
    own = [r for r in rows if r["where"].startswith(("runc/", "errdefs/")) and r["function"] != "<module>"]
    result["cprofile"] = {
        "by_tottime": sorted(rows, key=lambda r: -r["tottime_ms"])[:20],
        "by_cumtime": sorted(rows, key=lambda r: -r["cumtime_ms"])[:25],
        "pyrunc_functions_by_cumtime": sorted(own, key=lambda r: -r["cumtime_ms"])[:25],
        "modules_without_valid_pyc": missing_pyc,
    }
    return result


def _short(filename: str) -> str:
    for prefix in (str(REPO) + "/", sys.base_prefix + "/lib/python3", str(REPO / ".venv/lib") + "/"):
        if filename.startswith(prefix):
            return filename[len(prefix):] if prefix.endswith("/") else "stdlib" + filename[len(prefix) + 4:]
    return filename


def _pyrunc_variant(bench: Bench, tag: str, command: list[str], stderr: Path, before=None) -> dict:
    """`command --root R run --bundle B ID` (command: pyrunc run some other way), as run_once
    does it, retried like attempt() when it fails."""
    rt = bench.runtimes["pyrunc"]
    for _ in range(3):
        if before is not None:
            before()
        container_id = f"pyrunc-{tag}-{secrets.token_hex(3)}"
        bench.config["hostname"] = container_id
        bench.config["linux"]["cgroupsPath"] = f"{bench.cgroup_parent}/{container_id}"
        (rt.bundle / "config.json").write_text(json.dumps(bench.config, indent=1))
        pause(bench.opts.gaps[0])
        reply = bench.timers["host"].run([*command, *rt.argv("run", "--bundle", str(rt.bundle), container_id)[1:]],
                                         stderr=stderr)
        if reply["status"] == 0:
            return reply
        failure = f"exited {reply['status']} (expected 0): {stderr.read_text().strip()[-500:]}"
        rt.failures.append(f"(--profile) {failure}")
        log(f"bench: pyrunc profile run failed ({failure}); retrying")
    raise BenchError(f"pyrunc: 3 failed profile runs in a row; last: {failure}")


def _probe_run(bench: Bench, tag: str, cprofile: str) -> tuple[list[str], dict]:
    events_path = bench.workdir / f"events-{tag}"
    reply = _pyrunc_variant(bench, tag, [bench.interpreter, str(PROBE), str(events_path), cprofile, "--"],
                            bench.workdir / "probe.stderr", before=lambda: events_path.unlink(missing_ok=True))
    return events_path.read_text().splitlines(), reply


def _intervals(lines: list[str], reply: dict) -> list[dict]:
    """(process, label, start ms, duration ms, depth) relative to the spawn, from the probe's records."""
    t0 = reply["t0"]
    records = [line.split(" ") for line in lines]
    records = [(int(r[0]), " ".join(r[1:-2]), r[-2], int(r[-1])) for r in records if r[-2] in ("b", "e")]
    parent = next(pid for pid, label, _, _ in records if label == "run()")
    roles = {parent: "pyrunc"}
    for pid, label, _, _ in records:
        if pid not in roles:
            roles[pid] = "intermediate" if label.startswith("intermediate") else "init"
    open_at: dict[tuple[int, str], list[int]] = {}
    out = []
    for pid, label, edge, ns in records:
        if label.startswith("python up"):
            out.append({"process": "pyrunc", "label": label, "start": 0.0, "duration": (ns - t0) / 1e6, "pid": pid})
        elif edge == "b":
            open_at.setdefault((pid, label), []).append(ns)
        elif open_at.get((pid, label)):
            begin = open_at[(pid, label)].pop()
            out.append({"process": roles[pid], "label": label, "start": (begin - t0) / 1e6,
                        "duration": (ns - begin) / 1e6, "pid": pid})
    for (pid, label), begins in open_at.items():
        for begin in begins:  # never returned: execve or os._exit
            out.append({"process": roles[pid], "label": label, "start": (begin - t0) / 1e6, "duration": None, "pid": pid})
    main_end = max(i["start"] + i["duration"] for i in out if i["label"] == "run()")
    end = reply["wall_ns"] / 1e6
    out.append({"process": "pyrunc", "label": "exit after run() (flush and os._exit)", "start": main_end,
                "duration": end - main_end, "pid": parent})
    out.append({"process": "pyrunc", "label": "TOTAL (spawn to exit)", "start": 0.0, "duration": end, "pid": parent})
    for item in out:
        item["depth"] = sum(1 for other in out if other is not item and other["pid"] == item["pid"]
                            and other["duration"] is not None and not other["label"].startswith("TOTAL")
                            and other["start"] <= item["start"]
                            and (item["duration"] is None or item["start"] + item["duration"] <= other["start"] + other["duration"])
                            and (other["start"], -other["duration"]) < (item["start"], -(item["duration"] or 0)))
    return out


def _merge_intervals(runs: list[list[dict]]) -> list[dict]:
    keyed: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        for item in run:
            keyed.setdefault((item["process"], item["label"]), []).append(item)
    merged = []
    for (process, label), items in keyed.items():
        durations = [i["duration"] for i in items if i["duration"] is not None]
        merged.append({"process": process, "label": label, "depth": items[0]["depth"],
                       "start_ms": statistics.median(i["start"] for i in items),
                       "duration_ms": statistics.median(durations) if durations else None,
                       "count_per_run": len(items) / len(runs)})
    merged.sort(key=lambda m: (m["label"].startswith("TOTAL"), m["start_ms"], -(m["duration_ms"] or 0)))
    return merged


# --- output -------------------------------------------------------------------------------------
def print_report(report: dict) -> None:
    r = report
    print(f"bench/runtime: `<runtime> --root R run --bundle B ID`, busybox `true` "
          f"(create, start, wait, delete in one command)")
    print(f"{r['runs']} samples per runtime and pass after {r['warmup']} warm-up rounds, interleaved round-robin "
          f"(first runtime rotates each round); {r['host']['cpus']} CPUs, kernel {r['host']['kernel']}, "
          f"cgroup {r['host']['cgroup_layout']}")
    for one in r["passes"]:
        print()
        title = (f"quiet start: {one['gap_ms']:g} ms idle before each run" if one["gap_ms"] > 0
                 else "back to back: no idle time between runs")
        print(f"== {title} ==")
        print(f"{'runtime':<14}{'median':>9}{'mean':>9}{'p90':>9}{'min':>9}{'max':>9}{'cpu med':>10}   (ms)")
        for name, s in one["results"].items():
            print(f"{name:<14}{s['median_ms']:>9.2f}{s['mean_ms']:>9.2f}{s['p90_ms']:>9.2f}{s['min_ms']:>9.2f}"
                  f"{s['max_ms']:>9.2f}{s['cpu_median_ms']:>10.2f}")
        for name, ratio in one["ratios"].items():
            print(f"  {name:<12} {ratio:5.2f}x wall (median)   {one['cpu_ratios'][name]:5.2f}x cpu (median)")
    print()
    print("Ratios: 1.00 = as fast as the reference, higher = pyrunc slower.")
    print()
    print("How it was timed:")
    for line in r["method"]["notes"]:
        print(f"  - {line}")
    for name, warnings in r["warnings"].items():
        for warning in warnings:
            print(f"  ! {name}: {warning}")
    for name, failures in r["failures"].items():
        counts: dict[str, int] = {}
        for failure in failures:
            counts[failure] = counts.get(failure, 0) + 1
        print(f"  ! {name}: {len(failures)} run(s) failed and were run again with a new id (not in the figures):")
        for failure, count in counts.items():
            print(f"      {count} x {failure}")
    print()
    print("versions: " + "; ".join(f"{k}: {v}" for k, v in r["versions"].items()))
    if "profile" in r:
        print_profile(r["profile"])


def print_profile(p: dict) -> None:
    print()
    print(f"=== pyrunc profile (one `run`; medians of {p['runs']} runs each, {p['gap_ms']:g} ms idle before each) ===")
    print(f"interpreter start-up, nothing imported: `python -c pass` {p['python_c_pass_ms']:.2f} ms, "
          f"`python -I -S -c pass` {p['python_IS_c_pass_ms']:.2f} ms")
    imports = p["imports"]
    print(f"\nimports (python -X importtime, all imports of the process incl. lazy ones): "
          f"{imports['total_ms']:.2f} ms for {imports['module_count']} modules "
          f"(importtime's own overhead included; a run under it took {imports['run_wall_ms_under_importtime']:.1f} ms)")
    modules = imports["modules"]
    print("  top-level imports by cumulative time:")
    for name, m in sorted(((n, m) for n, m in modules.items() if m["top_level"]), key=lambda x: -x[1]["cumulative_ms"])[:12]:
        print(f"    {m['cumulative_ms']:7.2f} ms  {name}")
    print("  modules by own (self) time:")
    for name, m in sorted(modules.items(), key=lambda x: -x[1]["self_ms"])[:15]:
        print(f"    {m['self_ms']:7.2f} ms  {name}")
    print("\nphases (bench/_pyrunc_probe.py: pyrunc's functions wrapped with CLOCK_MONOTONIC stamps; "
          "t=0 at posix_spawn; nesting by indent):")
    print(f"  {'start':>8} {'took':>8}  process        phase")
    for ph in p["phases"]:
        took = f"{ph['duration_ms']:8.2f}" if ph["duration_ms"] is not None else "   (exec)"
        times = "" if ph["count_per_run"] == 1 else f"  [x{ph['count_per_run']:g} per run]"
        print(f"  {ph['start_ms']:8.2f} {took}  {ph['process']:<14} {'  ' * ph['depth']}{ph['label']}{times}")
    cp = p["cprofile"]
    print("\ncProfile of the pyrunc process (per run; cProfile slows Python code, read it for shares, not ms):")
    print("  by own time:")
    for row in cp["by_tottime"][:15]:
        print(f"    {row['tottime_ms']:7.2f} ms own {row['cumtime_ms']:8.2f} ms cum  {row['ncalls']:7.0f} calls  "
              f"{row['function']}  ({row['where']})")
    print("  by cumulative time:")
    for row in cp["by_cumtime"][:20]:
        print(f"    {row['cumtime_ms']:8.2f} ms cum {row['tottime_ms']:7.2f} ms own  {row['function']}  ({row['where']})")
    print("  pyrunc's own functions by cumulative time (module bodies left out):")
    for row in cp["pyrunc_functions_by_cumtime"][:20]:
        print(f"    {row['cumtime_ms']:8.2f} ms cum {row['tottime_ms']:7.2f} ms own  {row['function']}  ({row['where']})")
    if p["probe_missing"]:
        print(f"  ! the probe did not find (renamed in pyrunc? update bench/_pyrunc_probe.py): "
              f"{', '.join(p['probe_missing'])}")
    if cp["modules_without_valid_pyc"]:
        print(f"  ! modules loaded without a valid .pyc: {', '.join(cp['modules_without_valid_pyc'])}")
    else:
        print("  every module pyrunc loaded came from a valid .pyc")


# --- main ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.runtime", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="timed samples per runtime (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default %(default)s)")
    parser.add_argument("--gap", default="100,0", metavar="MS[,MS...]",
                        help="idle time before each sample, outside the timing; one measurement pass per value "
                             "(default %(default)s: a quiet start, then back to back; see bench/README.md)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (samples included)")
    parser.add_argument("--profile", action="store_true", help="also break down where pyrunc's time goes")
    parser.add_argument("--profile-runs", type=int, default=5, help="runs per --profile measurement (default %(default)s)")
    parser.add_argument("--control", action="store_true",
                        help="also time runc inside crun's private mount namespace (checks the namespace changes nothing)")
    opts = parser.parse_args(argv)
    try:
        opts.gaps = [float(g) for g in opts.gap.split(",")]
    except ValueError:
        parser.error(f"--gap: not a list of milliseconds: {opts.gap!r}")
    if opts.runs < 1 or opts.warmup < 0 or opts.profile_runs < 1 or min(opts.gaps) < 0:
        parser.error("--runs and --profile-runs must be at least 1, --warmup and --gap at least 0")
    if os.geteuid() != 0:
        log("bench.runtime: run as root (containers need namespaces, mounts and cgroups)")
        return 2
    # A SIGTERM must still clean up: turn it into an exception.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    try:
        ensure_references()
        compile_pyrunc(pyrunc_interpreter())
        bench = Bench(opts)
    except BenchError as e:
        log(f"bench.runtime: {e}")
        return 1
    problems: list[str] = []
    try:
        bench.start()
        passes = [(gap, bench.measure(gap)) for gap in opts.gaps]
        overhead = bench.floor_and_wrapper()
        report = build_report(bench, passes, overhead)
        if opts.profile:
            log("bench: profiling pyrunc")
            report["profile"] = profile_pyrunc(bench, opts.profile_runs)
    except BenchError as e:
        log(f"bench.runtime: {e}")
        return 1
    except KeyboardInterrupt:
        log("bench.runtime: interrupted")
        return 130
    finally:
        # Clean-up runs to its end: a second ^C or SIGTERM must not leave containers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        problems = bench.cleanup()
        for problem in problems:
            log(f"bench.runtime: clean-up: {problem}")
    report["cleanup_problems"] = problems
    if opts.json:
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        print_report(report)
    return 0


def summarize_pass(gap: float, samples: dict[str, list[dict]]) -> dict:
    results = {name: summarize(s) for name, s in samples.items()}
    refs = [ref for ref in ("runc", "crun") if ref in results]
    return {
        "gap_ms": gap,
        "results": results,
        "ratios": {f"pyrunc/{ref}": results["pyrunc"]["median_ms"] / results[ref]["median_ms"] for ref in refs},
        "cpu_ratios": {f"pyrunc/{ref}": results["pyrunc"]["cpu_median_ms"] / results[ref]["cpu_median_ms"]
                       for ref in refs},
    }


def build_report(bench: Bench, passes: list[tuple[float, dict[str, list[dict]]]], overhead: dict) -> dict:
    summaries = [summarize_pass(gap, samples) for gap, samples in passes]
    notes = [
        "each sample: CLOCK_MONOTONIC from just before posix_spawn of the runtime to just after wait4 "
        "returns, taken by bench/_timer.py; stdin /dev/null, stdout and stderr to files",
        f"measurement floor (the timer spawning /bin/true): {overhead['timer_floor_ms']:.2f} ms, "
        "included in every runtime's figure alike",
        "cpu med: user+sys CPU of the runtime and of the processes it reaped (wait4 rusage)",
        "why two passes: on cgroup v1 the first write to a cgroup.procs waits for the kernel (an RCU grace "
        "period of the cgroup threadgroup lock, 10-20 ms here) unless another attach happened a few ms before. "
        "After idle time every runtime waits. Back to back, runc and crun reach their attach soon enough after "
        "the previous run's to skip the wait, and pyrunc reaches its attach too late to. 'cpu med' leaves the "
        "wait out, so its ratio moves much less between the passes",
        f"same config.json for all: `pyrunc spec` defaults, terminal false, args [\"true\"], root read-write, "
        f"hostname and cgroupsPath {bench.cgroup_parent}/<id> per run, ociVersion {OCI_VERSION} "
        "(crun 1.8 refuses 1.2.0); each runtime has its own copy of the rootfs and its own --root",
        "every run's exit status is checked, and before timing each runtime ran a container printing a token "
        "and its hostname and exiting 7: output and status verified",
    ]
    if "crun-ns" in bench.timers:
        notes.append(
            f"cgroup v1 hybrid host: crun runs from a timer started once as `unshare --mount --propagation private "
            f"sh -c 'umount {bench.unified_mount} && exec <timer>'`, so crun sees cgroup v1 only; that wrapper is "
            f"paid once, not per sample (it would add {overhead['crun_wrapper_ms']:.2f} ms per run if it were)")
        if "runc@crun-ns" in summaries[0]["results"]:
            notes.append("runc@crun-ns: runc timed from crun's namespace, a control for the namespace's own effect")
    versions = {
        "pyrunc": first_line([str(PYRUNC), "--version"]),
        "runc": first_line([which("runc"), "--version"]),
        "crun": first_line([which("crun"), "--version"]),
        "python": platform.python_version(),
        "pyrunc source": source_state(),
    }
    return {
        "benchmark": "runtime",
        "runs": bench.opts.runs,
        "warmup": bench.opts.warmup,
        "host": {"cpus": os.cpu_count(), "kernel": platform.release(), "cgroup_layout": bench.layout},
        "versions": versions,
        "passes": summaries,
        # The first pass (the default's quiet start), for readers that want one figure.
        "gap_ms": summaries[0]["gap_ms"],
        "results": summaries[0]["results"],
        "ratios": summaries[0]["ratios"],
        "overhead": overhead,
        "checks": bench.checks,
        "warnings": {name: rt.warnings for name, rt in bench.runtimes.items() if rt.warnings},
        "failures": {name: rt.failures for name, rt in bench.runtimes.items() if rt.failures},
        "method": {"notes": notes},
    }


if __name__ == "__main__":
    sys.exit(main())

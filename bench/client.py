"""bench/client: pydocker's start-up against the real Docker CLI, on the same pydockerd.

    .venv/bin/python -m bench.client [--runs N] [--containers N] [--json]

One pydockerd + pycontainerd with private roots (as bench/engine starts them) and --containers
busybox containers running. For each command (`ps`, `ps -a --format ...`, `images`, `version`,
`inspect`, `logs`) the Docker CLI (Go, /usr/local/bin/docker) and `.venv/bin/pydocker` run in
turn --runs times; the report gives median wall times and pydocker/docker ratios. The target
is `ps` within 1.5x of docker's.

Run as root; it removes everything it made at the end.
"""
import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.engine import DOCKER_CLI, IMAGE, VENV_BIN, Ours, tear_down  # noqa: E402
from bench.shim import log  # noqa: E402
from tests.fixtures.busybox import make_rootfs  # noqa: E402
from tests.fixtures.images import build_oci_layout, write_docker_archive  # noqa: E402

COMMANDS = {
    "ps": ["ps"],
    "ps -a --format": ["ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}"],
    "images": ["images"],
    "version": ["version"],
    "inspect": ["inspect", "c0"],
    "logs": ["logs", "c0"],
}


def time_once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def measure(engine: Ours, runs: int) -> dict:
    env = {**os.environ, "DOCKER_HOST": f"unix://{engine.socket}", "DOCKER_CONFIG": str(engine.work / "cli-config")}
    clients = {"docker": [DOCKER_CLI], "pydocker": [str(VENV_BIN / "pydocker")]}
    report = {}
    for label, args in COMMANDS.items():
        samples = {name: [] for name in clients}
        for _ in range(2):  # warm the page cache and the .pyc files
            for argv in clients.values():
                time_once(argv + args, env)
        for _ in range(runs):
            for name, argv in clients.items():
                samples[name].append(time_once(argv + args, env))
        docker_ms = statistics.median(samples["docker"]) * 1000
        ours_ms = statistics.median(samples["pydocker"]) * 1000
        report[label] = {"docker_ms": round(docker_ms, 1), "pydocker_ms": round(ours_ms, 1),
                         "ratio": round(ours_ms / docker_ms, 2)}
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        log("bench.client: run as root")
        return 1
    subprocess.run([str(VENV_BIN / "python"), "-m", "compileall", "-q", "-j", "0", "client"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    top = Path(tempfile.mkdtemp(prefix="pydocker-bench-"))
    cgroup_parent = f"/pydocker-bench-{secrets.token_hex(4)}"
    engine = None
    try:
        archive = write_docker_archive(build_oci_layout(top / "image", [make_rootfs(top / "rootfs")]),
                                       top / "busybox.tar", IMAGE)
        work = top / "ours"
        (work / "cli-config").mkdir(parents=True)
        engine = Ours(work, cgroup_parent)
        engine.start()
        engine.docker("load", "-i", str(archive))
        for index in range(opts.containers):
            engine.docker("run", "-d", "--name", f"c{index}", IMAGE, "sh", "-c", "echo ready; exec sleep 3600")
        report = measure(engine, opts.runs)
    finally:
        tear_down([engine] if engine is not None else [], cgroup_parent, top)
    if opts.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'command':<16} {'docker':>10} {'pydocker':>10} {'ratio':>7}   ({opts.runs} runs, medians, "
          f"{opts.containers} containers running)")
    for label, row in report.items():
        print(f"{label:<16} {row['docker_ms']:>8.1f}ms {row['pydocker_ms']:>8.1f}ms {row['ratio']:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

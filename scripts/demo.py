"""The demo behind the README's first command: the whole stack surviving a kill -9 of pydockerd
(demo_stack.py), then a container's whole life through pyrunc alone.

Every claim it prints is checked against what the system says; the demo exits non-zero
at the first one that does not hold. It cleans up everything it made.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import demo_stack  # noqa: E402  (the first act: the whole stack)
from tests.fixtures.busybox import make_rootfs  # noqa: E402  (the same image the tests use)

PYRUNC = str(REPO / ".venv/bin/pyrunc")
CGROUP_PARENT = "/pydocker-demo"


class DemoFailed(Exception):
    pass


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def pyrunc(root: Path, *args: str, check: bool = True, output: Path | None = None) -> subprocess.CompletedProcess:
    """Run pyrunc, showing the command and what it printed. Its output goes to a file, not a
    pipe: `create` hands its stdout to the container, which outlives it."""
    print(f"$ pyrunc {' '.join(args)}", flush=True)
    with (open(output, "w+") if output else tempfile.TemporaryFile("w+")) as out:
        done = subprocess.run([PYRUNC, "--root", str(root), *args], stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, text=True)
        out.seek(0)
        done.stdout = out.read()
    if done.stdout:
        print(done.stdout.rstrip("\n"))
    if check and done.returncode != 0:
        raise DemoFailed(f"pyrunc {args[0]} exited {done.returncode}")
    return done


def check(claim: str, holds: bool) -> None:
    print(f"   {'ok' if holds else 'FAILED'}: {claim}", flush=True)
    if not holds:
        raise DemoFailed(claim)


def status(root: Path, container_id: str) -> dict:
    with tempfile.TemporaryFile("w+") as out:
        subprocess.run([PYRUNC, "--root", str(root), "state", container_id], stdout=out, check=True)
        out.seek(0)
        return json.load(out)


def main() -> int:
    if os.geteuid() != 0:
        print("demo: run as root", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="pydocker-demo-"))
    root = work / "state"
    bundle = work / "bundle"
    try:
        (work / "stack").mkdir()
        demo_stack.run(work / "stack")
        say("Second act: the bottom layer alone, a container's whole life through pyrunc")
        run_demo(root, bundle)
        print("\nThe demo ran to the end: every claim above was checked.")
        return 0
    except (DemoFailed, demo_stack.DemoFailed) as e:
        print(f"\ndemo failed: {e}", file=sys.stderr)
        return 1
    finally:
        for container_id in os.listdir(root) if root.is_dir() else ():
            subprocess.run([PYRUNC, "--root", str(root), "delete", "--force", container_id],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            leftover = hierarchy / CGROUP_PARENT.lstrip("/")
            if leftover.is_dir():
                leftover.rmdir()
        shutil.rmtree(work)


def run_demo(root: Path, bundle: Path) -> None:
    say("Build the busybox image's root filesystem (Debian's busybox-static) into an OCI bundle")
    bundle.mkdir()
    make_rootfs(bundle / "rootfs")
    pyrunc(root, "spec", "--bundle", str(bundle))
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sh", "-c", "echo hello from $(hostname), pid $$; exec sleep 300"]
    config["hostname"] = "demo"
    config["linux"]["cgroupsPath"] = f"{CGROUP_PARENT}/demo"
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    check("config.json written", (bundle / "config.json").exists())

    say("create: namespaces, pivot_root into the rootfs, cgroups; init waits on the exec fifo")
    container_output = bundle.parent / "demo.out"
    pyrunc(root, "create", "--bundle", str(bundle), "demo", output=container_output)
    state = status(root, "demo")
    init_pid = state["pid"]
    check(f"status is created and init is pid {init_pid} on the host", state["status"] == "created")
    check("the exec fifo holds it back", (root / "demo/exec.fifo").exists())

    say("start: release init; it execs the user's program")
    pyrunc(root, "start", "demo")
    check("status is running", status(root, "demo")["status"] == "running")
    deadline = time.monotonic() + 5
    while not container_output.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    printed = container_output.read_text().strip()
    print(f"   the container printed (on the stdout pyrunc create handed it): {printed}")
    check("it runs as pid 1 of its own pid namespace, with its own hostname", printed == "hello from demo, pid 1")

    say("exec: a second process joins the container's namespaces and cgroup")
    out = pyrunc(root, "exec", "demo", "sh", "-c", "echo pid $$ in $(hostname); ps -o pid,comm").stdout
    check("inside, init is pid 1 and the host's processes are invisible", " 1 sleep" in out or "1 sleep" in out)
    pids = json.loads(pyrunc(root, "ps", "--format", "json", "demo").stdout)
    check(f"its cgroup holds init ({init_pid})", init_pid in pids)

    say("pause and resume: the cgroup freezer")
    pyrunc(root, "pause", "demo")
    check("status is paused", status(root, "demo")["status"] == "paused")
    pyrunc(root, "resume", "demo")
    check("status is running again", status(root, "demo")["status"] == "running")

    say("kill and delete")
    pyrunc(root, "kill", "demo", "KILL")
    deadline = time.monotonic() + 5
    while status(root, "demo")["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.02)
    check("status is stopped", status(root, "demo")["status"] == "stopped")
    pyrunc(root, "delete", "demo")
    check("nothing is left of it", not (root / "demo").exists())

    say("run: create + start + wait + delete; pyrunc exits with the container's status")
    config["process"]["args"] = ["sh", "-c", "echo exiting with 7; exit 7"]
    (bundle / "config.json").write_text(json.dumps(config))
    done = pyrunc(root, "run", "--bundle", str(bundle), "demo-run", check=False)
    check("exit status 7", done.returncode == 7)


if __name__ == "__main__":
    sys.exit(main())

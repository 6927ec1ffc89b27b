"""Cgroup limits, enforced on real processes; statistics and OOM events; live updates."""
import json
import subprocess
import time

import pytest

pytestmark = pytest.mark.root

MiB = 1024 * 1024


def test_memory_hog_is_oom_killed(runtime, bundle):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 32 * MiB, "swap": 32 * MiB}}
    # dd, as the container's init, keeps a 128 MiB block in memory: four times the limit.
    bundle.set_args("dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 137, (done.stdout, done.stderr)


def test_limits_are_visible_inside(runtime, bundle):
    bundle.config["linux"]["resources"] = {
        "memory": {"limit": 64 * MiB},
        "pids": {"limit": 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
    }
    bundle.sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
              "/sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    assert done.stdout.split() == [str(64 * MiB), "20", "512", "50000"]


def test_pids_limit_stops_forks(runtime, bundle):
    bundle.config["linux"]["resources"] = {"pids": {"limit": 5}}
    # The shell is 1 of the 5: the fifth sleep cannot be forked, and the shell gives up there.
    bundle.sh("for i in 1 2 3 4 5 6 7; do sleep 3 & echo started $i; done")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.stdout.splitlines() == [f"started {i}" for i in (1, 2, 3, 4)]
    assert "can't fork" in done.stderr


def test_devices_cgroup_denies_unlisted_devices(runtime, bundle):
    # The deny-all of `pyrunc spec` plus the default allow list: /dev/null works, a new
    # /dev/sda-like node (8:0) cannot be opened even by root.
    bundle.sh("echo ok > /dev/null && echo null-ok; mknod /tmp/disk b 8 0 && (head -c1 /tmp/disk >/dev/null 2>&1 || echo disk-denied)")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    assert done.stdout.split() == ["null-ok", "disk-denied"]


def test_events_stats_and_update(runtime, bundle):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 * MiB}}
    bundle.sh("sleep 300")
    runtime("run", "-d", "--bundle", str(bundle.path), bundle.id)
    event = json.loads(runtime("events", "--stats", bundle.id).stdout)
    assert event["type"] == "stats" and event["id"] == bundle.id
    assert event["data"]["memory"]["usage"]["limit"] == 64 * MiB
    assert event["data"]["pids"]["current"] == 1
    assert event["data"]["cpu"]["usage"]["total"] > 0

    runtime("update", "--resources", "-", bundle.id, input=json.dumps({"memory": {"limit": 96 * MiB}, "pids": {"limit": 9}}))
    event = json.loads(runtime("events", "--stats", bundle.id).stdout)
    assert event["data"]["memory"]["usage"]["limit"] == 96 * MiB
    assert event["data"]["pids"]["limit"] == 9
    done = runtime("update", "--resources", "-", bundle.id, input='{"memory": {"limit": "lots"}}', check=False)
    assert done.returncode == 1 and "memory.limit" in done.stderr


def test_events_reports_oom(runtime, bundle):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 32 * MiB, "swap": 32 * MiB}}
    bundle.sh("sleep 1; dd if=/dev/zero of=/dev/null bs=128M count=1; sleep 300")
    runtime("run", "-d", "--bundle", str(bundle.path), bundle.id)
    events = subprocess.Popen(runtime.argv("events", "--interval", "10s", bundle.id),
                              stdout=subprocess.PIPE, text=True)
    try:
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = events.stdout.readline()
            if not line:
                break
            seen.append(json.loads(line))
            if seen[-1]["type"] == "oom":
                break
        assert {"type": "oom", "id": bundle.id} in seen, seen
    finally:
        events.kill()
        events.wait()

"""Cgroup managers on this machine's real cgroupfs: the v1 hierarchies (when the host has
them) and a cgroup2 mount (the hybrid host's /sys/fs/cgroup/unified, or /sys/fs/cgroup on a
pure v2 host). Every cgroup is named pydocker-test-<random> and removed in a finally block,
together with the process the test started and any controller the test enabled at a root."""
import os
import signal
import subprocess
import time

import pytest

import errdefs
from runc.libcontainer import cgroups

pytestmark = pytest.mark.root

MIB = 1 << 20


def cgroup2_mount():
    """The cgroup2 mountpoint to test against, or None."""
    with open("/proc/self/mounts") as mounts:
        cgroup2 = {line.split()[1] for line in mounts if line.split()[2] == "cgroup2"}
    for candidate in (cgroups.CGROUP_ROOT, f"{cgroups.CGROUP_ROOT}/unified"):
        if candidate in cgroup2:
            return candidate
    return None


def read(path):
    with open(path) as file:
        return file.read().strip()


def wait_for_exec(pid, name):
    deadline = time.monotonic() + 10
    while read(f"/proc/{pid}/comm") != name:
        assert time.monotonic() < deadline, f"process {pid} never became {name}"
        time.sleep(0.01)


def stop(process):
    if process is not None and process.poll() is None:
        process.kill()
    if process is not None:
        process.wait(timeout=10)


def remove_parents(directories):
    for directory in directories:
        try:
            os.rmdir(os.path.dirname(directory))
        except FileNotFoundError:
            pass


@pytest.fixture
def name():
    return f"pydocker-test-{os.urandom(4).hex()}"


def test_v1_lifecycle(name):
    if cgroup2_mount() == cgroups.CGROUP_ROOT:
        pytest.skip("this host has no cgroup v1 hierarchies")
    manager = cgroups.new_manager(f"/{name}/c1", "ignored")
    assert isinstance(manager, cgroups.V1Manager)
    directories = set(manager.paths.values())
    process = None
    try:
        manager.create()
        assert all(os.path.isdir(directory) for directory in directories)

        # Moved before it execs, so what exec allocates is charged to the new cgroup.
        process = subprocess.Popen(["sh", "-c", "read line; exec sleep 60"], stdin=subprocess.PIPE)
        manager.attach(process.pid)
        process.stdin.write(b"go\n")
        process.stdin.close()
        wait_for_exec(process.pid, "sleep")
        for directory in directories:
            assert str(process.pid) in read(f"{directory}/cgroup.procs").split()
        with pytest.raises(errdefs.FailedPrecondition):
            cgroups.new_manager(f"/{name}/c1", "ignored").create()

        manager.set(
            {
                "memory": {"limit": 64 * MIB, "reservation": 32 * MIB},
                "pids": {"limit": 10},
                "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0"},
                "devices": [
                    {"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 136, "access": "rw"},
                ],
            }
        )
        memory, pids, cpu = manager.paths["memory"], manager.paths["pids"], manager.paths["cpu"]
        assert int(read(f"{memory}/memory.limit_in_bytes")) == 64 * MIB
        assert int(read(f"{memory}/memory.soft_limit_in_bytes")) == 32 * MIB
        assert read(f"{pids}/pids.max") == "10"
        assert read(f"{cpu}/cpu.shares") == "512"
        assert read(f"{cpu}/cpu.cfs_quota_us") == "20000"
        assert read(f"{manager.paths['cpuset']}/cpuset.cpus") == "0"
        assert read(f"{manager.paths['devices']}/devices.list").splitlines() == ["c 1:3 rwm", "c 136:* rw"]

        assert manager.pids() == [process.pid]
        stats = manager.stats()
        assert stats["pids"] == {"current": 1, "limit": 10}
        assert stats["memory"]["usage"]["usage"] > 0
        assert stats["memory"]["usage"]["limit"] == 64 * MIB
        assert stats["cpu"]["usage"]["total"] > 0
        assert manager.oom_kill_count() == 0

        manager.freeze()
        assert read(f"{manager.paths['freezer']}/freezer.state") == "FROZEN"
        assert manager.is_frozen()
        manager.thaw()
        assert read(f"{manager.paths['freezer']}/freezer.state") == "THAWED"
        assert not manager.is_frozen()

        manager.signal_all(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        assert not manager.is_frozen()

        manager.destroy()
        assert not manager.exists()
    finally:
        if manager.is_frozen():
            manager.thaw()
        stop(process)
        manager.destroy()
        remove_parents(directories)
    assert not any(os.path.exists(os.path.dirname(directory)) for directory in directories)


def test_v2_lifecycle_on_a_cgroup2_mount(name, monkeypatch):
    mount = cgroup2_mount()
    if mount is None:
        pytest.skip("this host has no cgroup2 mount")
    subtree_control = f"{mount}/cgroup.subtree_control"
    enabled_before = read(subtree_control).split()
    manager = cgroups.V2Manager(mount, f"{mount}/{name}/c1")
    process = None
    try:
        manager.create()
        assert manager.exists()
        # Every controller the hierarchy offers reaches the container, as with runc.
        assert read(f"{manager.path}/cgroup.controllers").split() == read(f"{mount}/cgroup.controllers").split()

        process = subprocess.Popen(["sleep", "60"])
        manager.attach(process.pid)
        assert manager.pids() == [process.pid]
        assert manager.stats()["pids"]["current"] == 1

        manager.freeze()
        assert "frozen 1" in read(f"{manager.path}/cgroup.events").splitlines()
        assert manager.is_frozen()
        manager.thaw()
        assert "frozen 0" in read(f"{manager.path}/cgroup.events").splitlines()
        assert not manager.is_frozen()

        if not os.path.exists(f"{manager.path}/cgroup.kill"):
            pytest.skip("the kernel has no cgroup.kill (Linux 5.14+)")
        monkeypatch.setattr(os, "kill", lambda pid, sig: pytest.fail("SIGKILL sent process by process"))
        manager.signal_all(signal.SIGKILL)
        monkeypatch.undo()
        assert process.wait(timeout=10) == -signal.SIGKILL

        manager.destroy()
        assert not manager.exists()
    finally:
        monkeypatch.undo()
        if manager.is_frozen():
            manager.thaw()
        stop(process)
        manager.destroy()
        remove_parents([manager.path])
        for controller in set(read(subtree_control).split()) - set(enabled_before):
            with open(subtree_control, "w") as file:
                file.write(f"-{controller}")
    assert not os.path.exists(os.path.dirname(manager.path))
    assert read(subtree_control).split() == enabled_before

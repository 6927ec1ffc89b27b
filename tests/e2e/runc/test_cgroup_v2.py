"""pyrunc on a cgroup v2 host. This machine is a v1 hybrid, so the test makes a mount
namespace where /sys/fs/cgroup is the cgroup2 hierarchy, as a pure v2 host has it, and
runs pyrunc there. That hierarchy has no controllers enabled here, so limits are not
exercised (the unit tests check what set() writes); placement, the container's own cgroup2
mount, the freezer and kill-all are."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.bundle import Runtime

pytestmark = [pytest.mark.root, pytest.mark.pyrunc_only]

UNIFIED = Path("/sys/fs/cgroup/unified")


@pytest.fixture
def v2_runtime(runtime, tmp_path):
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         "mount -t cgroup2 cgroup2 /sys/fs/cgroup && echo ready && exec sleep 600"],
        stdout=subprocess.PIPE, text=True)
    root_controllers = (UNIFIED / "cgroup.subtree_control").read_text()
    try:
        assert holder.stdout.readline() == "ready\n"
        wrapper = tmp_path / "pyrunc-v2"
        wrapper.write_text(f'#!/bin/sh\nexec nsenter -t {holder.pid} -m -- {runtime.binary} "$@"\n')
        wrapper.chmod(0o755)
        v2 = Runtime(binary=str(wrapper), root=runtime.root)
        yield v2
        for container_id in v2.container_ids():
            v2("delete", "--force", container_id, check=False)
    finally:
        holder.kill()
        holder.wait()
        # Creating a v2 cgroup enables every available controller down the tree, the root included.
        for controller in set((UNIFIED / "cgroup.subtree_control").read_text().split()) - set(root_controllers.split()):
            (UNIFIED / "cgroup.subtree_control").write_text(f"-{controller}")


def test_container_lives_in_the_v2_hierarchy(v2_runtime, bundle):
    bundle.sh("grep ^0:: /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1; "
              "sleep 300")
    out = bundle.path / "out"
    with open(out, "w") as stdout:
        v2_runtime("run", "-d", "--bundle", str(bundle.path), bundle.id, stdout=stdout, stderr=subprocess.STDOUT)
    host_dir = UNIFIED / bundle.config["linux"]["cgroupsPath"].lstrip("/")
    pid = v2_runtime.state(bundle.id)["pid"]
    assert (host_dir / "cgroup.procs").read_text().split() == [str(pid)]
    deadline = time.monotonic() + 5
    while len(out.read_text().split()) < 2:
        assert time.monotonic() < deadline, out.read_text()
        time.sleep(0.02)
    # Its own cgroup namespace and a cgroup2 mount of its own.
    assert out.read_text().split()[:2] == ["0::/", "cgroup2"]

    v2_runtime("pause", bundle.id)
    assert v2_runtime.state(bundle.id)["status"] == "paused"
    assert "frozen 1" in (host_dir / "cgroup.events").read_text()
    v2_runtime("resume", bundle.id)
    assert v2_runtime.state(bundle.id)["status"] == "running"

    v2_runtime("exec", "-d", bundle.id, "sleep", "300")
    assert len((host_dir / "cgroup.procs").read_text().split()) == 2
    v2_runtime("kill", "--all", bundle.id, "KILL")
    assert v2_runtime.wait_for_status(bundle.id, "stopped") == "stopped"
    v2_runtime("delete", bundle.id)
    assert not host_dir.exists()
    assert not os.path.exists(v2_runtime.root / bundle.id)

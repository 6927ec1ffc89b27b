"""User namespaces with id maps, joining namespaces by path, and time namespaces."""
import os
import subprocess

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def reachable_bundle(bundle, tmp_path_factory):
    """The bundle moved where the container's mapped root can reach it (pytest's temporary
    directories are 0700 root)."""
    import shutil
    import tempfile

    home = tempfile.mkdtemp(prefix="pydocker-test-userns-")
    os.chmod(home, 0o711)
    shutil.move(str(bundle.path), home)
    bundle.path = type(bundle.path)(home) / bundle.path.name
    yield bundle
    shutil.rmtree(home)


def test_user_namespace_maps_root(runtime, reachable_bundle):
    bundle = reachable_bundle
    config = bundle.config
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # devpts wants its gid mapped; 5 is inside the map, so keep it.
    bundle.sh("id -u; cat /proc/self/uid_map; ls -ln /dev/null | awk '{print $3}'; touch /tmp/x && stat -c %u /tmp/x")
    # The rootfs must belong to the mapped root for the container to write to it.
    subprocess.run(["chown", "-R", "100000:100000", str(bundle.rootfs)], check=True)
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    lines = done.stdout.split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]
    assert lines[3] == "0"
    assert os.stat(bundle.rootfs / "tmp/x").st_uid == 100000


def test_join_network_namespace_by_path(runtime, bundle, tmp_path):
    holder = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    try:
        for _ in range(100):
            if os.readlink(f"/proc/{holder.pid}/ns/net") != os.readlink("/proc/self/ns/net"):
                break
            import time
            time.sleep(0.01)
        path = f"/proc/{holder.pid}/ns/net"
        for ns in bundle.config["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = path
        bundle.sh("readlink /proc/self/ns/net")
        done = runtime("run", "--bundle", str(bundle.path), bundle.id)
        assert done.stdout.strip() == os.readlink(path)
    finally:
        holder.kill()
        holder.wait()


def test_host_pid_namespace_when_none_is_asked(runtime, bundle):
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    bundle.sh("readlink /proc/self/ns/pid")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    assert done.stdout.strip() == os.readlink("/proc/self/ns/pid")


@pytest.mark.pyrunc_only
def test_time_namespace_offsets(runtime, bundle):
    bundle.config["linux"]["namespaces"].append({"type": "time"})
    bundle.config["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0}}
    bundle.sh("cut -d. -f1 /proc/uptime")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])
    assert int(done.stdout) >= 86400 * 365 + int(host_uptime) - 5

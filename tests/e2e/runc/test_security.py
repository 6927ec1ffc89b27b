"""A hostile image and a hostile container must not reach the host."""
import json
import os
import subprocess

import pytest

pytestmark = pytest.mark.root


def test_symlinked_mount_target_stays_inside_the_rootfs(runtime, bundle, tmp_path):
    """The image makes the mount destination a symlink to a host path: the mount must land
    inside the rootfs, never on the host."""
    host_dir = tmp_path / "host-target"
    host_dir.mkdir()
    (bundle.rootfs / "escape").symlink_to(str(host_dir))
    source = tmp_path / "data"
    source.mkdir()
    (source / "file").write_text("data\n")
    bundle.config["mounts"].append({"destination": "/escape", "type": "bind", "source": str(source), "options": ["bind"]})
    bundle.sh("cat /escape/file")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id, check=False)
    # Resolved inside the rootfs, the symlink's target is <rootfs>/<host_dir>: created there.
    assert done.returncode == 0, done.stderr
    assert done.stdout == "data\n"
    assert list(host_dir.iterdir()) == []
    assert (bundle.rootfs / str(host_dir).lstrip("/")).is_dir()


def test_dotdot_mount_target_stays_inside(runtime, bundle, tmp_path):
    source = tmp_path / "data"
    source.mkdir()
    bundle.config["mounts"].append({"destination": "/../../../../tmp/pydocker-test-escape", "type": "bind",
                                    "source": str(source), "options": ["bind"]})
    bundle.sh("ls -d /tmp/pydocker-test-escape")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    assert done.stdout == "/tmp/pydocker-test-escape\n"
    assert not os.path.exists("/tmp/pydocker-test-escape")


@pytest.mark.pyrunc_only
def test_proc_mount_on_a_symlink_is_refused(runtime, bundle):
    (bundle.rootfs / "proc").rmdir()
    (bundle.rootfs / "proc").symlink_to("/tmp")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 1 and "symlink" in done.stderr
    assert runtime.container_ids() == []


def test_init_is_not_dumpable_until_exec(runtime, bundle):
    """While pyrunc's interpreter runs inside the container's namespaces, its /proc/PID/exe
    must not be openable by the container (CVE-2019-5736 class)."""
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.sh("true")
    runtime("create", "--bundle", str(bundle.path), bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    status = open(f"/proc/{pid}/status").read()
    # A non-dumpable process's /proc entries belong to root, not to the process's own user.
    assert os.stat(f"/proc/{pid}/fd").st_uid == 0
    probe = subprocess.run(["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "cat", f"/proc/{pid}/exe"],
                           capture_output=True)
    assert probe.returncode != 0 and b"Permission denied" in probe.stderr
    assert "Uid:\t1000" in status  # it already runs as the container's user


def test_container_cannot_see_host_processes(runtime, bundle):
    bundle.sh("ls /proc | grep -c '^[0-9]'")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    assert int(done.stdout) <= 3


def test_no_pivot(runtime, bundle):
    bundle.sh("cat /proc/self/mountinfo | wc -l; ls /")
    done = runtime("run", "--no-pivot", "--bundle", str(bundle.path), bundle.id)
    assert "bin" in done.stdout.split()


@pytest.mark.pyrunc_only
def test_log_file_records_errors_as_json(runtime, bundle, tmp_path):
    log = tmp_path / "log.json"
    bundle.set_args("/nope")
    done = runtime("--log", str(log), "--log-format", "json", "run", "--bundle", str(bundle.path), bundle.id,
                   check=False)
    assert done.returncode == 1
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "/nope" in entry["msg"] and entry["time"].endswith("Z")
    assert entry["kind"] == "NotFound"


@pytest.mark.pyrunc_only
def test_debug_log(runtime, bundle, tmp_path):
    log = tmp_path / "debug.log"
    done = runtime("--log", str(log), "--debug", "run", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    assert f'level=debug msg="created container {bundle.id}: init pid' in text
    assert f'msg="started container {bundle.id}"' in text
    assert f'msg="removed container {bundle.id}"' in text

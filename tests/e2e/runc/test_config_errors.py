"""A bad config.json: a clear error naming the field, exit 1, and nothing left behind."""
import json
import os

import pytest

pytestmark = pytest.mark.root


def assert_nothing_left(runtime, bundle):
    assert runtime.container_ids() == []
    for controller in ("memory", "pids", "freezer", "cpu"):
        assert not os.path.exists(f"/sys/fs/cgroup/{controller}{bundle.config['linux']['cgroupsPath']}")


@pytest.mark.pyrunc_only
@pytest.mark.parametrize("edit,field", [
    (lambda c: c["process"].__setitem__("args", "sh"), "process.args"),
    (lambda c: c["process"].pop("cwd"), "process"),
    (lambda c: c["process"].__setitem__("cwd", "tmp"), "process.cwd"),
    (lambda c: c["linux"].__setitem__("namespaces", [{"type": "mount"}, {"type": "mount"}]), "linux.namespaces"),
    (lambda c: c["linux"].__setitem__("resources", {"memory": {"limit": "1g"}}), "linux.resources.memory.limit"),
    (lambda c: c.__setitem__("mounts", [{"destination": "relative/dir", "type": "tmpfs"}]), "mounts[0].destination"),
    (lambda c: c["linux"].__setitem__("seccomp", {"defaultAction": "SCMP_ACT_BOGUS"}), "linux.seccomp.defaultAction"),
    (lambda c: c["linux"].__setitem__("sysctl", {"vm.swappiness": "1"}), "linux.sysctl.vm.swappiness"),
    (lambda c: c["process"].__setitem__("rlimits", [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]),
     "process.rlimits[0].type"),
])
def test_bad_config_names_the_field(runtime, bundle, tmp_path, edit, field):
    edit(bundle.config)
    bundle.save()
    log = tmp_path / "log.json"
    done = runtime("--log", str(log), "--log-format", "json", "create", "--bundle", str(bundle.path), bundle.id,
                   check=False)
    assert done.returncode == 1
    assert field in done.stderr, done.stderr
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error" and field in last["msg"] and last["kind"] == "InvalidArgument"
    assert_nothing_left(runtime, bundle)


def test_unknown_rlimit_is_refused_before_any_hook_runs(runtime, bundle, tmp_path):
    ran = tmp_path / "prestart-ran"
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", f"touch {ran}"]}]}
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]
    bundle.save()
    done = runtime("create", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 1 and "RLIMIT_FOO" in done.stderr
    assert not ran.exists()
    assert_nothing_left(runtime, bundle)


@pytest.mark.pyrunc_only
def test_invalid_json(runtime, bundle):
    (bundle.path / "config.json").write_text("{ not json")
    done = runtime("create", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 1 and "invalid JSON" in done.stderr
    assert runtime.container_ids() == []


def test_failure_inside_init_cleans_up(runtime, bundle):
    bundle.config["mounts"].append({"destination": "/data", "type": "bind", "source": "/no/such/source", "options": ["bind"]})
    bundle.save()
    done = runtime("create", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 1 and "/no/such/source" in done.stderr
    assert_nothing_left(runtime, bundle)

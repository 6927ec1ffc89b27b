"""OCI hooks at each point of the lifecycle, and seccomp filters from config.json."""
import json

import pytest

pytestmark = pytest.mark.root


def recorder_hook(tmp_path, name):
    """A host-side hook that appends its name and the state it was given to a log."""
    log = tmp_path / "hooks.log"
    script = tmp_path / f"{name}.sh"
    script.write_text(f"#!/bin/sh\nstate=$(cat)\necho \"{name} $state\" >> {log}\n")
    script.chmod(0o755)
    return {"path": str(script), "args": [str(script)]}, log


@pytest.mark.pyrunc_only
def test_hooks_run_in_order_with_state(runtime, bundle, tmp_path):
    hooks = {}
    for kind in ("prestart", "createRuntime", "poststart", "poststop"):
        hooks[kind] = [recorder_hook(tmp_path, kind)[0]]
    log = tmp_path / "hooks.log"
    bundle.config["hooks"] = hooks
    bundle.sh("true")
    runtime("run", "--bundle", str(bundle.path), bundle.id)
    lines = log.read_text().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["prestart", "createRuntime", "poststart", "poststop"]
    states = [json.loads(line.split(" ", 1)[1]) for line in lines]
    assert states[0]["status"] == "creating" and states[0]["pid"] > 0 and states[0]["id"] == bundle.id
    assert states[2]["status"] == "running"
    assert states[3]["status"] == "stopped"
    assert all(s["bundle"] == str(bundle.path) for s in states)


def test_container_side_hooks_run_in_the_container(runtime, bundle, tmp_path):
    # createContainer runs in the container's mount namespace before pivot_root: a host path
    # works; startContainer runs after pivot_root: the path is the container's.
    host_log = tmp_path / "create.log"
    create_hook = tmp_path / "create.sh"
    create_hook.write_text(f"#!/bin/sh\ncat > {host_log}\n")
    create_hook.chmod(0o755)
    (bundle.rootfs / "start-hook").write_text("#!/bin/sh\necho start-hook-ran > /tmp/start-hook.out\n")
    (bundle.rootfs / "start-hook").chmod(0o755)
    bundle.config["hooks"] = {"createContainer": [{"path": str(create_hook)}],
                              "startContainer": [{"path": "/start-hook"}]}
    bundle.sh("cat /tmp/start-hook.out")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    assert done.stdout == "start-hook-ran\n"
    assert json.loads(host_log.read_text())["id"] == bundle.id


def test_container_side_hooks_see_the_annotations(runtime, bundle, tmp_path):
    host_state = tmp_path / "create-state.json"
    create_hook = tmp_path / "create.sh"
    create_hook.write_text(f"#!/bin/sh\ncat > {host_state}\n")
    create_hook.chmod(0o755)
    (bundle.rootfs / "start-hook").write_text("#!/bin/sh\ncat > /tmp/start-state.json\n")
    (bundle.rootfs / "start-hook").chmod(0o755)
    annotations = {"org.example.team": "runtime", "org.example.empty": ""}
    bundle.config["annotations"] = annotations
    bundle.config["hooks"] = {"createContainer": [{"path": str(create_hook)}],
                              "startContainer": [{"path": "/start-hook"}]}
    bundle.sh("cat /tmp/start-state.json")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    create_state = json.loads(host_state.read_text())
    start_state = json.loads(done.stdout)
    assert create_state["annotations"] == annotations and create_state["status"] == "creating"
    assert start_state["annotations"] == annotations and start_state["status"] == "created"
    assert start_state["id"] == bundle.id and start_state["pid"] > 0


@pytest.mark.pyrunc_only
def test_failing_prestart_hook_fails_create(runtime, bundle, tmp_path):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]}
    bundle.save()
    done = runtime("create", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 1 and "prestart hook" in done.stderr and "nope" in done.stderr
    assert runtime.container_ids() == []


def test_seccomp_errno_rule(runtime, bundle):
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }
    bundle.sh("grep Seccomp: /proc/self/status; mkdir /tmp/d 2>&1; ls /tmp")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    assert "Seccomp:\t2" in done.stdout
    assert "Operation not permitted" in done.stdout
    assert "d" not in done.stdout.split()


def test_seccomp_without_no_new_privileges(runtime, bundle):
    bundle.config["process"]["noNewPrivileges"] = False
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}],
    }
    bundle.sh("grep -E 'Seccomp:|NoNewPrivs' /proc/self/status; hostname other 2>&1; true")
    done = runtime("run", "--bundle", str(bundle.path), bundle.id)
    assert "NoNewPrivs:\t0" in done.stdout and "Seccomp:\t2" in done.stdout
    assert "Function not implemented" in done.stdout

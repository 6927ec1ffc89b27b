"""Containers through pydockerd, driven by the real Docker CLI, docker-py and raw HTTP: run,
create/start/stop/kill/rm, wait, logs, inspect, ps, exit codes, attach."""
from __future__ import annotations

import json
import re

import pytest

from tests.fixtures.polling import wait_until

pytestmark = pytest.mark.root


def test_run_rm_echo_prints_hi_and_leaves_nothing(pydocker, docker):
    result = docker("run", "--rm", "busybox", "echo", "hi")
    assert result.stdout == "hi\n"
    assert docker("ps", "-aq").stdout == ""


def test_run_prints_stdout_and_stderr(pydocker, docker):
    result = docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


@pytest.mark.parametrize("command, code", [
    (["true"], 0), (["sh", "-c", "exit 7"], 7), (["/etc/passwd"], 126), (["nonexistent-binary"], 127),
    # sh as pid 1 would ignore its own SIGKILL: under --init (tini) it is not pid 1
    (["--init", "sh", "-c", "kill -9 $$"], 137),
])
def test_exit_codes_through_docker_run(pydocker, docker, command, code):
    options = [c for c in command if c.startswith("--")]
    command = [c for c in command if not c.startswith("--")]
    result = docker("run", "--rm", *options, "busybox", *command, check=False)
    assert result.returncode == code, result.stderr
    assert docker("ps", "-aq").stdout == ""


def test_run_d_ps_logs_stop_rm(pydocker, docker):
    cid = docker("run", "-d", "--name", "web", "busybox", "sh", "-c",
                 "echo started; trap 'echo bye; exit 3' TERM; while true; do sleep 0.1; done").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    table = docker("ps").stdout.splitlines()
    assert table[0].split()[:2] == ["CONTAINER", "ID"]
    row = next(line for line in table[1:] if line.startswith(cid[:12]))
    assert row.rstrip().endswith("web") and "Up " in row
    wait_until(lambda: docker("logs", "web").stdout == "started\n", what="the log")
    docker("stop", "web")
    state = pydocker.inspect("web")["State"]
    assert (state["Status"], state["Running"], state["ExitCode"]) == ("exited", False, 3)
    assert docker("logs", "web").stdout == "started\nbye\n"
    assert "Exited (3)" in docker("ps", "-a").stdout
    assert docker("rm", "web").stdout.strip() == "web"
    assert docker("ps", "-aq").stdout == ""


def test_logs_follow_ends_when_the_container_stops(pydocker, docker):
    docker("run", "-d", "--name", "counter", "busybox", "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done")
    result = docker("logs", "-f", "counter")
    assert result.stdout == "1\n2\n3\n"
    assert docker("logs", "--tail", "1", "counter").stdout == "3\n"
    stamped = docker("logs", "-t", "counter").stdout.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z 1", stamped[0])


def test_wait_prints_the_exit_code(pydocker, docker):
    docker("run", "-d", "--name", "waiter", "busybox", "sh", "-c", "sleep 0.3; exit 5")
    assert docker("wait", "waiter").stdout.strip() == "5"


def test_inspect_fields_and_types(pydocker, docker):
    docker("create", "--name", "insp", "-e", "FOO=bar", "-w", "/tmp", "-l", "k=v", "busybox", "sleep", "1")
    info = pydocker.inspect("insp")
    assert re.fullmatch(r"[0-9a-f]{64}", info["Id"])
    assert info["Name"] == "/insp"
    assert info["Image"].startswith("sha256:")
    assert info["State"]["Status"] == "created"
    assert info["State"]["StartedAt"] == "0001-01-01T00:00:00Z"
    assert info["Config"]["Image"] == "busybox"
    assert "FOO=bar" in info["Config"]["Env"]
    assert info["Config"]["Labels"] == {"k": "v"}
    assert info["Config"]["Cmd"] == ["sleep", "1"]
    assert info["HostConfig"]["LogConfig"]["Type"] == "json-file"
    assert info["HostConfig"]["AutoRemove"] is False
    assert (info["Path"], info["Args"]) == ("sleep", ["1"])
    docker("start", "insp")
    info = pydocker.inspect("insp")
    assert info["State"]["Running"] is True and info["State"]["Pid"] > 0
    assert docker("wait", "insp").stdout.strip() == "0"


def test_container_sees_its_config(pydocker, docker):
    out = docker("run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-h", "myhost", "-u", "1000:1000", "busybox", "sh",
                 "-c", "echo $FOO; pwd; hostname; id -u; id -g; cat /etc/hostname").stdout.split()
    assert out == ["bar", "/tmp", "myhost", "1000", "1000", "myhost"]


def test_default_user_is_root_with_its_groups(pydocker, docker):
    assert docker("run", "--rm", "busybox", "id").stdout.strip() == "uid=0(root) gid=0(root) groups=0(root)"


def test_kill_and_rm_errors(pydocker, docker):
    docker("create", "--name", "idle", "busybox", "true")
    status, _, body = pydocker.raw("POST", "/v1.50/containers/idle/kill")
    assert status == 409 and "is not running" in json.loads(body)["message"]
    status, _, body = pydocker.raw("POST", "/v1.50/containers/nope/start")
    assert (status, json.loads(body)) == (404, {"message": "No such container: nope"})
    status, _, body = pydocker.raw("POST", "/v1.50/containers/create?name=idle", {"Image": "busybox"})
    assert status == 409 and 'The container name "/idle" is already in use' in json.loads(body)["message"]
    status, _, body = pydocker.raw("POST", "/v1.50/containers/create",
                                   {"Image": "busybox", "HostConfig": {"AutoRemove": True,
                                                                       "RestartPolicy": {"Name": "always"}}})
    assert status == 400
    docker("run", "-d", "--name", "busy", "busybox", "sleep", "60")
    status, _, body = pydocker.raw("DELETE", "/v1.50/containers/busy")
    assert status == 409 and "container is running" in json.loads(body)["message"]
    docker("kill", "-s", "hup", "busy")  # pid 1 without a handler: ignored, as in Docker
    assert pydocker.inspect("busy")["State"]["Running"] is True
    docker("kill", "busy")
    assert docker("wait", "busy").stdout.strip() == "137"
    docker("rm", "busy", "idle")


def test_ps_filters_and_status(pydocker, docker):
    docker("run", "-d", "--name", "one", "-l", "tier=a", "busybox", "sleep", "60")
    docker("run", "--name", "two", "busybox", "sh", "-c", "exit 2", check=False)
    assert docker("ps", "--format", "{{.Names}}").stdout.split() == ["one"]
    assert sorted(docker("ps", "-a", "--format", "{{.Names}}").stdout.split()) == ["one", "two"]
    assert docker("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}").stdout.split() == ["two"]
    assert docker("ps", "-a", "--filter", "exited=2", "--format", "{{.Names}}").stdout.split() == ["two"]
    assert docker("ps", "--filter", "label=tier=a", "--format", "{{.Names}}").stdout.split() == ["one"]
    assert docker("ps", "-a", "--filter", "name=tw", "--format", "{{.Status}}").stdout.startswith("Exited (2) ")
    assert docker("ps", "-a", "--filter", "ancestor=busybox", "-q").stdout.count("\n") == 2
    docker("rm", "-f", "one")


def test_docker_py_run_returns_the_output(pydocker, docker):
    client = pydocker.docker_py()
    assert client.containers.run("busybox", "echo hi", remove=True) == b"hi\n"
    container = client.containers.run("busybox", "sleep 60", detach=True)
    assert container.status in ("created", "running")
    container.reload()
    assert container.status == "running"
    container.kill()
    assert container.wait()["StatusCode"] == 137
    container.remove()


def test_auto_remove_after_a_failed_start(pydocker, docker):
    result = docker("run", "--rm", "busybox", "nonexistent-binary", check=False)
    assert result.returncode == 127
    assert docker("ps", "-aq").stdout == ""


def test_run_i_passes_stdin(pydocker, docker):
    assert docker("run", "--rm", "-i", "busybox", "cat", input="piped\n").stdout == "piped\n"


def test_binds_volumes_tmpfs_readonly_and_network(pydocker, docker, tmp_path):
    (tmp_path / "in").write_text("from the host\n")
    out = docker("run", "--rm", "-v", f"{tmp_path}:/host:ro", "-v", "named:/vol", "-v", "/anon", "--tmpfs", "/scratch",
                 "--read-only", "busybox", "sh", "-c",
                 "cat /host/in; touch /host/x 2>/dev/null || echo host-ro; echo kept > /vol/f; touch /anon/a && "
                 "echo anon-rw; touch /scratch/s && echo tmpfs-rw; touch /root/r 2>/dev/null || echo root-ro; "
                 "ls /sys/class/net").stdout.split("\n")
    assert out[:6] == ["from the host", "host-ro", "anon-rw", "tmpfs-rw", "root-ro", "lo"]
    assert docker("run", "--rm", "-v", "named:/vol", "busybox", "cat", "/vol/f").stdout == "kept\n"
    assert "named" in docker("volume", "ls", "-q").stdout.split()
    assert docker("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net").stdout.split() == ["lo"]

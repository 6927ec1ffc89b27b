"""Containers through pydockerd, continued: live restore after kill -9, exec (with and without
a terminal), run -it, restart policies, pause, rename, top and stats."""
from __future__ import annotations

import json
import time

import pexpect
import pytest

from tests.fixtures.polling import wait_until
from tests.fixtures.pydockerd import DOCKER

pytestmark = pytest.mark.root


def state(pydocker, ref) -> dict:
    return pydocker.inspect(ref)["State"]


def test_kill_9_pydockerd_with_20_containers_loses_nothing(pydocker, docker):
    for n in range(20):
        docker("run", "-d", "--name", f"live{n}", "busybox", "sh", "-c", "while true; do sleep 1; done")
    docker("run", "-d", "--name", "leaver", "busybox", "sh", "-c",
           "while [ ! -e /go ]; do sleep 0.05; done; for i in $(seq 1 1000); do echo line $i; done; exit 9")
    pids = {n: state(pydocker, f"live{n}")["Pid"] for n in range(20)}
    pydocker.kill9()
    # While pydockerd is down the leaver writes 1000 lines and exits.
    go = pydocker.data_root / "containers"
    leaver_id = next(p.name for p in go.iterdir() if json.loads((p / "config.v2.json").read_text())["Name"]
                     == "/leaver")
    record = json.loads((go / leaver_id / "config.v2.json").read_text())
    pid = record["State"]["Pid"]
    with open(f"/proc/{pid}/root/go", "w"):
        pass
    wait_until(lambda: not _alive(pid), what="the leaver to exit")
    pydocker.start()
    running = docker("ps", "--format", "{{.Names}}").stdout.split()
    assert sorted(running) == sorted(f"live{n}" for n in range(20))
    assert all(state(pydocker, f"live{n}")["Pid"] == pids[n] for n in range(20))
    leaver = state(pydocker, "leaver")
    assert (leaver["Status"], leaver["ExitCode"]) == ("exited", 9)
    out = docker("logs", "leaver").stdout.splitlines()
    assert out == [f"line {i}" for i in range(1, 1001)]
    # the restored containers are still driven as usual
    docker("stop", "-t", "1", "live0")
    assert state(pydocker, "live0")["Status"] == "exited"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_exec_runs_in_the_container_and_reports_its_exit_code(pydocker, docker):
    docker("run", "-d", "--name", "ex", "busybox", "sleep", "60")
    assert docker("exec", "ex", "hostname").stdout.strip() == docker("inspect", "-f", "{{.Id}}", "ex").stdout[:12]
    result = docker("exec", "ex", "sh", "-c", "echo out; echo err >&2; exit 4", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (4, "out\n", "err\n")
    assert docker("exec", "-e", "X=1", "-w", "/tmp", "-u", "1000", "ex", "sh", "-c", "echo $X $(pwd) $(id -u)").stdout \
        == "1 /tmp 1000\n"
    assert docker("exec", "-i", "ex", "cat", input="through stdin\n").stdout == "through stdin\n"
    assert docker("exec", "ex", "nonexistent-binary", check=False).returncode == 127
    docker("exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/d")
    wait_until(lambda: docker("exec", "ex", "cat", "/tmp/d", check=False).stdout == "detached\n", what="exec -d")
    client = pydocker.docker_py()
    container = client.containers.get("ex")
    assert container.exec_run("echo hi").output == b"hi\n"
    assert container.exec_run(["sh", "-c", "exit 3"]).exit_code == 3
    docker("rm", "-f", "ex")


def test_exec_it_and_run_it_under_a_terminal(pydocker, docker):
    docker("run", "-d", "--name", "tty", "busybox", "sleep", "60")
    child = pexpect.spawn(DOCKER, ["exec", "-it", "tty", "sh"], env=pydocker.environment, timeout=20,
                          encoding="utf-8")
    child.expect("# ")
    child.sendline("echo $((6*7))")
    child.expect("42")
    child.sendline("exit 5")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5
    child = pexpect.spawn(DOCKER, ["run", "--rm", "-it", "busybox", "sh"], env=pydocker.environment, timeout=20,
                          encoding="utf-8")
    child.expect("# ")
    child.sendline("tty; stty size")
    child.expect("/dev/pts/0")
    child.sendline("exit 3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    docker("rm", "-f", "tty")


def test_restart_policies(pydocker, docker):
    docker("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 1")
    wait_until(lambda: state(pydocker, "flaky")["Status"] == "exited" and
             json.loads(docker("inspect", "flaky").stdout)[0]["RestartCount"] == 2, what="two restarts")
    assert docker("logs", "flaky").stdout == "run\nrun\nrun\n"
    docker("run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 0")
    wait_until(lambda: json.loads(docker("inspect", "always").stdout)[0]["RestartCount"] >= 1, what="a restart")
    docker("stop", "-t", "1", "always")
    assert state(pydocker, "always")["Status"] == "exited"
    count = json.loads(docker("inspect", "always").stdout)[0]["RestartCount"]
    time.sleep(0.5)
    assert json.loads(docker("inspect", "always").stdout)[0]["RestartCount"] == count
    docker("rm", "-f", "flaky", "always")


def test_pause_unpause_rename_restart(pydocker, docker):
    docker("run", "-d", "--name", "pausable", "busybox", "sh", "-c", "while true; do date +%s%N > /tmp/t; sleep 0.05; done")
    docker("pause", "pausable")
    assert state(pydocker, "pausable")["Status"] == "paused"
    assert "(Paused)" in docker("ps").stdout
    status, _, body = pydocker.raw("POST", "/v1.50/containers/pausable/pause")
    assert status == 409 and "already paused" in json.loads(body)["message"]
    docker("unpause", "pausable")
    assert state(pydocker, "pausable")["Status"] == "running"
    docker("rename", "pausable", "renamed")
    assert docker("ps", "--format", "{{.Names}}").stdout.split() == ["renamed"]
    pid = state(pydocker, "renamed")["Pid"]
    docker("restart", "-t", "1", "renamed")
    after = state(pydocker, "renamed")
    assert after["Running"] and after["Pid"] != pid
    docker("rm", "-f", "renamed")


def test_top_and_stats(pydocker, docker):
    docker("run", "-d", "--name", "topped", "busybox", "sleep", "60")
    top = docker("top", "topped").stdout.splitlines()
    assert "PID" in top[0] and any("sleep 60" in line for line in top[1:])
    status, _, body = pydocker.raw("GET", "/v1.50/containers/topped/top")
    reply = json.loads(body)
    assert all(isinstance(cell, str) for row in reply["Processes"] for cell in row)
    stats = docker("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "topped").stdout.split()
    assert stats == ["topped", "1"]
    status, _, body = pydocker.raw("GET", "/v1.50/containers/topped/stats?stream=0")
    sample = json.loads(body)
    assert sample["memory_stats"]["usage"] > 0 and sample["pids_stats"]["current"] == 1
    assert sample["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    docker("rm", "-f", "topped")


def test_wait_removed_with_auto_remove_and_events(pydocker, docker):
    cid = docker("run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.3; exit 6").stdout.strip()
    status, _, body = pydocker.raw("POST", f"/v1.50/containers/{cid}/wait?condition=removed")
    assert (status, json.loads(body)) == (200, {"StatusCode": 6})
    status, _, _ = pydocker.raw("GET", f"/v1.50/containers/{cid}/json")
    assert status == 404
    until = int(time.time()) + 1  # the CLI's --until is whole seconds: past this one
    status, _, body = pydocker.raw("GET", f'/v1.50/events?since=0&until={until}&filters={{"container":["{cid}"]}}')
    events = [json.loads(line)["Action"] for line in body.splitlines()]
    assert events[:2] == ["create", "start"] and "die" in events and events[-1] == "destroy"

"""kill -9 of pydockerd (and of pycontainerd) in the middle of every operation loses nothing:
create, start, attach, logs -f, exec, pull and rm race a SIGKILL of pydockerd; afterwards
(once it is started again) every container is in a consistent state — what `docker ps -a`
and `inspect` say agrees with pycontainerd's containers, tasks and snapshots, the processes
and the cgroups — and everything can still be started, attached to and removed. Restart
policies apply to exits that happened while pydockerd was down, and a chatty container
never blocks nor loses a line while pycontainerd is down.

The races are real: the client runs in the background and pydockerd is killed after a delay
spread over how long the operation takes, a few times each."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from protos import containers_pb2, containers_pb2_grpc, snapshots_pb2, snapshots_pb2_grpc, tasks_pb2, tasks_pb2_grpc
from tests.fixtures.images import LAYERED_PROBE, LAYERED_VIEW
from tests.fixtures.polling import wait_until
from tests.fixtures.pydockerd import DOCKER

pytestmark = pytest.mark.root

NAMESPACE = (("containerd-namespace", "moby"),)
ITERATIONS = 8
_ID = re.compile(r"^[0-9a-f]{64}$")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def background(pydocker, *args: str) -> subprocess.Popen:
    return subprocess.Popen([DOCKER, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=pydocker.environment)


def delays(duration: float) -> list[float]:
    """ITERATIONS kill points: one at once, the others from 40% to a little past `duration`
    (what the operation takes when nothing interrupts it, the CLI's own start-up included),
    where the daemon is at work."""
    return [0.0] + [duration * (0.4 + 0.8 * n / (ITERATIONS - 2)) for n in range(ITERATIONS - 1)]


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def kill_after(pydocker, delay: float, client: subprocess.Popen) -> subprocess.CompletedProcess:
    """kill -9 pydockerd `delay` seconds into the client's request, start it again, and
    return what the client said (it may have finished or failed)."""
    time.sleep(delay)  # the race itself: no condition to wait for
    pydocker.kill9()
    out, err = client.communicate(timeout=60)
    pydocker.start()
    return subprocess.CompletedProcess(client.args, client.returncode, out.decode(), err.decode())


def write_into(pid: int, name: str) -> None:
    """Create a file in a running container's root (its scripts wait on them)."""
    Path(f"/proc/{pid}/root/{name}").touch()


# --- the truth below pydockerd -----------------------------------------------------------------

class Below:
    """What pycontainerd and the kernel hold for Docker's namespace."""

    def __init__(self, pydocker):
        self.pydocker = pydocker
        self.channel = grpc.insecure_channel(f"unix://{pydocker.containerd_socket}")

    def close(self):
        self.channel.close()

    def containers(self) -> set[str]:
        reply = containers_pb2_grpc.ContainersStub(self.channel).List(
            containers_pb2.ListContainersRequest(), metadata=NAMESPACE, timeout=30)
        return {c.id for c in reply.containers}

    def tasks(self) -> dict:
        reply = tasks_pb2_grpc.TasksStub(self.channel).List(tasks_pb2.ListTasksRequest(), metadata=NAMESPACE,
                                                            timeout=30)
        return {t.id: t for t in reply.tasks}

    def snapshots(self) -> set[str]:
        found = set()
        for reply in snapshots_pb2_grpc.SnapshotsStub(self.channel).List(
                snapshots_pb2.ListSnapshotsRequest(snapshotter="overlayfs"), metadata=NAMESPACE, timeout=30):
            found |= {info.name for info in reply.info if _ID.match(info.name)}
        return found

    def cgroups(self) -> set[str]:
        found = set()
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            parent = hierarchy / self.pydocker.cgroup_parent.lstrip("/")
            if parent.is_dir() and not parent.is_symlink():
                found |= {p.name for p in parent.iterdir() if p.is_dir() and _ID.match(p.name)}
        return found

    def records(self) -> set[str]:
        root = self.pydocker.data_root / "containers"
        return {p.name for p in root.iterdir() if _ID.match(p.name)} if root.exists() else set()


def assert_consistent(pydocker) -> dict[str, dict]:
    """Every container pydockerd lists agrees with what is below it, and nothing below it
    belongs to a container it does not list. Returns the inspections by name."""
    below = Below(pydocker)
    try:
        listed = set(pydocker.docker("ps", "-aq", "--no-trunc").stdout.split())
        inspected = {}
        tasks = below.tasks()
        for container_id in listed:
            data = pydocker.inspect(container_id)
            state = data["State"]
            name = data["Name"].lstrip("/")
            inspected[name] = data
            task = tasks.get(container_id)
            if state["Running"]:
                assert task is not None and task.pid == state["Pid"] and alive(state["Pid"]), \
                    f"{name} is 'running' with pid {state['Pid']} but its task is {task}"
            else:
                assert state["Status"] in ("created", "exited", "restarting"), f"{name}: {state}"
                assert isinstance(state["ExitCode"], int)
                if task is not None:
                    assert not alive(task.pid), f"{name} is {state['Status']} but its task runs: {task}"
        for what, ids in (("record", below.records()), ("containerd container", below.containers()),
                          ("task", set(tasks)), ("snapshot", below.snapshots()), ("cgroup", below.cgroups())):
            hidden = ids - listed
            assert not hidden, f"{what}s of containers nobody lists: {sorted(hidden)}"
        return inspected
    finally:
        below.close()


def assert_all_removable(pydocker) -> None:
    for container_id in pydocker.docker("ps", "-aq", "--no-trunc").stdout.split():
        pydocker.docker("rm", "-f", container_id)
    assert pydocker.docker("ps", "-aq").stdout == ""
    assert_consistent(pydocker)


# --- the cases ---------------------------------------------------------------------------------

def test_kill_9_during_create(pydocker, docker):
    duration = timed(lambda: docker("create", "--name", "probe", "busybox", "sleep", "600"))
    docker("rm", "probe")
    for n, delay in enumerate(delays(duration)):
        name = f"made{n}"
        said = kill_after(pydocker, delay, background(pydocker, "create", "--name", name, "busybox", "sleep", "600"))
        inspected = assert_consistent(pydocker)
        if said.returncode == 0:
            assert name in inspected, f"create said {said.stdout!r} but {name} is not listed"
        if name in inspected:  # whole: it starts
            assert inspected[name]["State"]["Status"] == "created"
            docker("start", name)
            assert pydocker.inspect(name)["State"]["Running"]
        else:  # or not at all: the name is free
            docker("create", "--name", name, "busybox", "sleep", "600")
            docker("start", name)
        assert_consistent(pydocker)
    assert_all_removable(pydocker)


# A container's first run exits at once; every later one runs on: `docker start` of an exited
# container takes the same path as of a created one, and the record's old state differs.
SECOND_RUN_STAYS = "[ -e /ran ] && exec sleep 600; touch /ran"


@pytest.mark.parametrize("first", ["created", "exited"])
def test_kill_9_during_start(pydocker, docker, first):
    command = ["sleep", "600"] if first == "created" else ["sh", "-c", SECOND_RUN_STAYS]

    def make(name: str) -> None:
        docker("create", "--name", name, "busybox", *command)
        if first == "exited":
            docker("start", "-a", name)
            assert pydocker.inspect(name)["State"]["Status"] == "exited"

    make("probe")
    duration = timed(lambda: docker("start", "probe"))
    docker("rm", "-f", "probe")
    for n, delay in enumerate(delays(duration)):
        name = f"st{n}"
        make(name)
        said = kill_after(pydocker, delay, background(pydocker, "start", name))
        state = assert_consistent(pydocker)[name]["State"]
        if said.returncode == 0:
            assert state["Running"], f"start succeeded but {name} is {state}"
        if not state["Running"]:
            assert state["Status"] == first
            docker("start", name)
        assert pydocker.inspect(name)["State"]["Running"]
        assert_consistent(pydocker)
        docker("rm", "-f", name)
        assert_consistent(pydocker)
    assert_all_removable(pydocker)


# Prints `count` numbered lines, then waits for /go, then prints "end" and exits 3.
def printer(count: int, pause: str = "0.01") -> str:
    return (f"i=0; while [ $i -lt {count} ]; do echo line $i; i=$((i+1)); sleep {pause}; done; "
            "while [ ! -e /go ]; do sleep 0.05; done; echo end; exit 3")


def printed(count: int) -> list[str]:
    return [f"line {i}" for i in range(count)] + ["end"]


def first_line(client: subprocess.Popen) -> str:
    """Block until the client printed its first line (the stream is flowing)."""
    return client.stdout.readline().decode()


@pytest.mark.parametrize("how", ["run", "attach"])
def test_kill_9_during_attach(pydocker, docker, how):
    if how == "run":
        client = background(pydocker, "run", "--name", "talker", "busybox", "sh", "-c", printer(200))
    else:
        docker("run", "-d", "--name", "talker", "busybox", "sh", "-c", printer(200))
        client = background(pydocker, "attach", "talker")
    assert first_line(client).startswith("line ")
    pid = pydocker.inspect("talker")["State"]["Pid"]
    pydocker.kill9()
    client.communicate(timeout=30)
    assert client.returncode != 0, "the client did not notice pydockerd's death"
    assert alive(pid), "the container died with pydockerd"
    pydocker.start()
    state = assert_consistent(pydocker)["talker"]["State"]
    assert state["Running"] and state["Pid"] == pid
    # attach again: what comes from now on reaches it, and the exit code too
    client = background(pydocker, "attach", "talker")
    wait_until(lambda: "line 199\n" in docker("logs", "talker").stdout, what="all 200 lines")
    wait_until(lambda: _attached(pydocker), what="the new attach")
    write_into(pid, "go")
    out, _ = client.communicate(timeout=30)
    assert client.returncode == 3
    assert out.decode().splitlines()[-1] == "end"
    assert docker("logs", "talker").stdout.splitlines() == printed(200)
    assert pydocker.inspect("talker")["State"]["ExitCode"] == 3
    assert_all_removable(pydocker)


def _attached(pydocker) -> bool:
    """An attach connection is open on pydockerd's socket (ss lists the hijacked stream)."""
    listing = subprocess.run(["ss", "-xp"], capture_output=True, text=True).stdout
    return sum(1 for line in listing.splitlines() if str(pydocker.socket) in line and "ESTAB" in line) >= 1


def test_kill_9_during_logs_follow(pydocker, docker):
    docker("run", "-d", "--name", "talker", "busybox", "sh", "-c", printer(200))
    pid = pydocker.inspect("talker")["State"]["Pid"]
    client = background(pydocker, "logs", "-f", "talker")
    assert first_line(client) == "line 0\n"
    pydocker.kill9()
    client.communicate(timeout=30)
    assert client.returncode != 0, "logs -f did not notice pydockerd's death"
    pydocker.start()
    assert assert_consistent(pydocker)["talker"]["State"]["Pid"] == pid
    client = background(pydocker, "logs", "-f", "talker")
    wait_until(lambda: "line 199\n" in docker("logs", "talker").stdout, what="all 200 lines")
    write_into(pid, "go")
    out, _ = client.communicate(timeout=30)
    assert client.returncode == 0
    assert out.decode().splitlines() == printed(200)
    assert docker("logs", "talker").stdout.splitlines() == printed(200)
    assert pydocker.inspect("talker")["State"]["ExitCode"] == 3
    assert_all_removable(pydocker)


@pytest.mark.parametrize("flags", [[], ["-i"], ["-t"]])
def test_kill_9_during_exec(pydocker, docker, flags):
    docker("run", "-d", "--name", "host", "busybox", "sleep", "600")
    pid = pydocker.inspect("host")["State"]["Pid"]
    client = background(pydocker, "exec", *flags, "host", "sh", "-c",
                        "i=0; while :; do echo exec $i; i=$((i+1)); sleep 0.01; done")
    if "-t" not in flags:  # the CLI asks for a terminal it does not have: no output to wait on
        assert first_line(client).startswith("exec 0")
    else:
        wait_until(lambda: len(subprocess.run(["pgrep", "-P", str(_shim_of(pid))], capture_output=True,
                                            text=True).stdout.split()) >= 2, what="the exec to start")
    pydocker.kill9()
    client.communicate(timeout=30)
    assert client.returncode != 0
    assert alive(pid)
    pydocker.start()
    state = assert_consistent(pydocker)["host"]["State"]
    assert state["Running"] and state["Pid"] == pid
    assert docker("exec", "host", "echo", "again").stdout == "again\n"
    assert docker("exec", "-i", "host", "cat", input="in\n").stdout == "in\n"
    assert_all_removable(pydocker)


def _shim_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(") ", 1)[1].split()[1])


def test_kill_9_during_pull(pydocker, docker, registry):
    pull = ("pull", "-q", "layered")

    def image_listed() -> bool:
        return docker("images", "-q", "layered").stdout.strip() != ""

    def forget():
        if image_listed():
            docker("rmi", "layered")

    forget()
    duration = timed(lambda: docker(*pull))
    forget()
    for delay in delays(duration):
        said = kill_after(pydocker, delay, background(pydocker, *pull))
        assert_consistent(pydocker)
        if said.returncode == 0:
            assert image_listed()
        if image_listed():  # listed means whole: it runs
            assert docker("run", "--rm", "layered", "sh", "-c", LAYERED_PROBE).stdout == LAYERED_VIEW
        docker(*pull)
        assert docker("run", "--rm", "layered", "sh", "-c", LAYERED_PROBE).stdout == LAYERED_VIEW
        forget()
    assert_all_removable(pydocker)


def test_kill_9_during_rm(pydocker, docker):
    docker("run", "-d", "--name", "probe", "busybox", "sleep", "600")
    duration = timed(lambda: docker("rm", "-f", "probe"))
    for n, delay in enumerate(delays(duration)):
        name = f"gone{n}"
        # restart always: once rm -f has killed it, no restart of pydockerd may bring it back
        docker("run", "-d", "--restart", "always", "--name", name, "busybox", "sleep", "600")
        container_id = pydocker.inspect(name)["Id"]
        pid = pydocker.inspect(name)["State"]["Pid"]
        said = kill_after(pydocker, delay, background(pydocker, "rm", "-f", name))
        inspected = assert_consistent(pydocker)
        if said.returncode == 0:
            assert name not in inspected
        if name in inspected:  # still listed: untouched or stopped, and removable
            state = inspected[name]["State"]
            assert not state["Running"] or state["Pid"] == pid, f"restarted by its policy: {state}"
            docker("rm", "-f", name)
            inspected = assert_consistent(pydocker)
        # fully gone: no process, and assert_consistent saw no task, snapshot, cgroup or record
        assert name not in inspected and not alive(pid)
        below = Below(pydocker)
        try:
            assert container_id not in below.containers() | below.snapshots() | below.cgroups() | below.records()
        finally:
            below.close()
        docker("create", "--name", name, "busybox", "true")  # the name is free
    assert_all_removable(pydocker)


# Each run waits for /go, takes it away (the next run waits again) and exits with $1.
RUN_ONCE_PER_GO = "echo run; while [ ! -e /go ]; do sleep 0.05; done; rm /go; exit $0"


def test_restart_policies_apply_to_exits_while_pydockerd_was_down(pydocker, docker):
    docker("run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", RUN_ONCE_PER_GO, "0")
    docker("run", "-d", "--name", "flaky", "--restart", "on-failure:3", "busybox", "sh", "-c", RUN_ONCE_PER_GO, "1")

    def running_again(name: str, old_pid: int, count: int) -> int:
        data = wait_until(lambda: (lambda d: d if d["State"]["Running"] and d["State"]["Pid"] != old_pid and
                                 d["RestartCount"] == count else None)(pydocker.inspect(name)),
                        what=f"{name} to run again with RestartCount {count}")
        return data["State"]["Pid"]

    flaky = pydocker.inspect("flaky")["State"]["Pid"]
    write_into(flaky, "go")  # one failure with pydockerd up
    flaky = running_again("flaky", flaky, 1)

    always = pydocker.inspect("always")["State"]["Pid"]
    pydocker.kill9()
    write_into(always, "go")
    write_into(flaky, "go")
    wait_until(lambda: not alive(always) and not alive(flaky), what="both to exit while pydockerd is down")
    pydocker.start()
    always = running_again("always", always, 1)
    flaky = running_again("flaky", flaky, 2)
    assert_consistent(pydocker)

    pydocker.kill9()  # a restart count written while it was down survives the next restart too
    pydocker.start()
    write_into(flaky, "go")
    flaky = running_again("flaky", flaky, 3)
    write_into(flaky, "go")  # the third retry was the last
    wait_until(lambda: pydocker.inspect("flaky")["State"]["Status"] == "exited", what="flaky to stay down")
    data = pydocker.inspect("flaky")
    assert (data["State"]["ExitCode"], data["RestartCount"]) == (1, 3)
    assert docker("logs", "flaky").stdout == "run\n" * 4
    assert docker("logs", "always").stdout == "run\n" * 2
    assert_consistent(pydocker)
    assert_all_removable(pydocker)


def test_kill_9_pycontainerd_while_a_chatty_container_runs(pydocker, docker):
    docker("run", "-d", "--name", "chatty", "busybox", "sh", "-c",
           "i=0; while [ ! -e /stop ]; do echo $i; i=$((i+1)); done; echo $i; exit 5")
    docker("run", "-d", "--name", "leaver", "busybox", "sh", "-c",
           "while [ ! -e /go ]; do sleep 0.05; done; echo bye; exit 7")
    chatty = pydocker.inspect("chatty")
    leaver = pydocker.inspect("leaver")
    log = Path(chatty["LogPath"])
    wait_until(lambda: log.stat().st_size > 0, what="chatty's first line")
    docker("create", "--name", "early", "busybox", "true")

    pydocker.containerd.send_signal(signal.SIGKILL)
    pydocker.containerd.wait(10)
    # while pycontainerd is down: the chatty container keeps going, the leaver exits
    size = log.stat().st_size
    wait_until(lambda: log.stat().st_size > size + 100_000, what="chatty to keep printing without pycontainerd")
    write_into(leaver["State"]["Pid"], "go")
    wait_until(lambda: not alive(leaver["State"]["Pid"]), what="the leaver to exit")
    assert "chatty" in docker("ps", "--format", "{{.Names}}").stdout  # pydockerd still answers
    assert docker("rm", "early", check=False).returncode != 0  # it cannot remove it now...
    pydocker.start_containerd()

    # pydockerd finds its way back: the exit it missed, and later exits through events again
    wait_until(lambda: pydocker.inspect("leaver")["State"]["Status"] == "exited", what="the leaver's exit")
    assert pydocker.inspect("leaver")["State"]["ExitCode"] == 7
    docker("rm", "early")  # ...but once pycontainerd is back (not "already in progress")
    assert docker("logs", "leaver").stdout == "bye\n"
    state = assert_consistent(pydocker)["chatty"]["State"]
    assert state["Running"] and state["Pid"] == chatty["State"]["Pid"]
    write_into(chatty["State"]["Pid"], "stop")
    assert docker("wait", "chatty").stdout.strip() == "5"
    out = docker("logs", "chatty").stdout.split("\n")
    assert out[-1] == ""
    numbers = [int(n) for n in out[:-1]]
    assert numbers == list(range(len(numbers))), "lines are missing or out of order"
    assert len(numbers) > 10_000
    docker("run", "--rm", "busybox", "true")  # and the stack works as before
    assert_all_removable(pydocker)

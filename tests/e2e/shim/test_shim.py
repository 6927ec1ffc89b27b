"""Our shim, driven over ttrpc exactly as containerd drives it: `start` from the bundle, then
containerd.task.v2.Task calls; its events arrive at a stand-in for containerd's ttrpc
Events service."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from protos import event_types_pb2, shim_pb2, ttrpc, ttrpc_events_pb2, typeurl
from tests.fixtures.bundle import VENV_BIN, Runtime, bundle_config
from tests.fixtures.polling import wait_for_file
from tests.fixtures.processes import wait_until_gone

pytestmark = pytest.mark.root

TASK = "containerd.task.v2.Task"
SHIM = str(VENV_BIN / "pycontainerd-shim")


class FakeContainerd:
    """containerd's side of the shim: the Events.Forward ttrpc service, recording envelopes."""

    def __init__(self, directory: Path):
        self.address = str(directory / "containerd.sock")
        self.events: list[tuple[str, object]] = []
        self.arrived = threading.Condition()
        self.server = ttrpc.Server()
        self.server.register("containerd.services.events.ttrpc.v1.Events", "Forward", self._forward,
                             ttrpc_events_pb2.ForwardRequest)
        self.server.start(ttrpc.listen(self.address + ".ttrpc"))

    def _forward(self, request, context):
        with self.arrived:
            self.events.append((request.envelope.topic, typeurl.unpack(request.envelope.event)))
            self.arrived.notify_all()

    def wait_for(self, topic: str, count: int = 1, timeout: float = 10):
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len([e for t, e in self.events if t == topic]) < count:
                assert self.arrived.wait(deadline - time.monotonic()), (topic, self.events)
        return [e for t, e in self.events if t == topic]

    def topics(self) -> list[str]:
        with self.arrived:
            return [t for t, _ in self.events]


@pytest.fixture
def daemon_dir():
    path = Path(tempfile.mkdtemp(prefix="pydocker-test-"))
    yield path
    for pid_file in list((path / "s").glob("forkserver-*.pid")) if (path / "s").is_dir() else []:
        _kill(int(pid_file.read_text()))
    shutil.rmtree(path)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def containerd(daemon_dir):
    fake = FakeContainerd(daemon_dir)
    yield fake
    fake.server.close()


class ShimTask:
    def __init__(self, daemon_dir: Path, containerd: FakeContainerd, bundle: Path, container_id: str):
        self.daemon_dir = daemon_dir
        self.containerd = containerd
        self.bundle = bundle
        self.id = container_id
        done = subprocess.run([SHIM, "-namespace", "testns", "-address", containerd.address, "-publish-binary", "/bin/true",
                               "-id", container_id, "start"], cwd=bundle, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "TTRPC_ADDRESS": containerd.address + ".ttrpc"})
        assert done.returncode == 0, done.stderr
        self.address = done.stdout.strip()
        assert self.address.startswith("unix:///")
        self.shim_pid = int((bundle / "shim.pid").read_text())
        self.client = ttrpc.Client(self.address.removeprefix("unix://"))
        self.task = self.client.stub(shim_pb2.DESCRIPTOR.services_by_name["Task"])

    def close(self):
        self.client.close()
        _kill(self.shim_pid)
        pyrunc = Runtime(str(VENV_BIN / "pyrunc"), self.daemon_dir / "pyrunc" / "testns")
        pyrunc("delete", "--force", self.id, check=False)


@pytest.fixture
def shim_task(daemon_dir, containerd, busybox_rootfs, cgroup_parent):
    tasks = []

    def make(args, terminal=False):
        container_id = f"t{len(tasks)}"
        bundle = daemon_dir / "bundles" / container_id
        bundle.mkdir(parents=True)
        shutil.copytree(busybox_rootfs, bundle / "rootfs", symlinks=True)
        config = bundle_config(args, cgroups_path=f"{cgroup_parent}/{container_id}", terminal=terminal)
        (bundle / "config.json").write_text(json.dumps(config))
        task = ShimTask(daemon_dir, containerd, bundle, container_id)
        tasks.append(task)
        return task

    yield make
    for task in tasks:
        task.close()


def fifo(directory: Path, name: str) -> Path:
    path = directory / name
    os.mkfifo(path)
    return path


def read_fifo(path: Path, fd_holder: list) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    fd_holder.append(fd)
    return fd


def drain(fd: int, until: bytes, timeout: float = 10) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while until not in data and time.monotonic() < deadline:
        try:
            data += os.read(fd, 4096)
        except BlockingIOError:
            time.sleep(0.01)
    return data


def test_lifecycle_exit_code_and_events(shim_task, containerd):
    t = shim_task(["sh", "-c", "echo out-line; echo err-line >&2; exit 7"])
    out, err = fifo(t.bundle, "stdout"), fifo(t.bundle, "stderr")
    fds = []
    out_fd, err_fd = read_fifo(out, fds), read_fifo(err, fds)
    try:
        created = t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle), stdout=str(out), stderr=str(err)))
        assert created.pid > 0
        state = t.task.State(shim_pb2.StateRequest(id=t.id))
        assert state.status == 1 and state.pid == created.pid and state.stdout == str(out)
        started = t.task.Start(shim_pb2.StartRequest(id=t.id))
        assert started.pid == created.pid
        waited = t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30)
        assert waited.exit_status == 7
        assert drain(out_fd, b"out-line\n") == b"out-line\n"
        assert drain(err_fd, b"err-line\n") == b"err-line\n"
        assert t.task.State(shim_pb2.StateRequest(id=t.id)).status == 3
        deleted = t.task.Delete(shim_pb2.DeleteRequest(id=t.id))
        assert deleted.exit_status == 7 and deleted.pid == created.pid
        exit_event = containerd.wait_for("/tasks/exit")[0]
        assert (exit_event.container_id, exit_event.id, exit_event.exit_status) == (t.id, t.id, 7)
        containerd.wait_for("/tasks/delete")
        assert containerd.topics() == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]
        assert json.loads((t.bundle / "init.exit").read_text())["exit_status"] == 7
        t.task.Shutdown(shim_pb2.ShutdownRequest(id=t.id))
        wait_until_gone(t.shim_pid, what="the shim told to shut down")
    finally:
        for fd in fds:
            os.close(fd)


def test_a_task_killed_before_start_announces_its_exit(shim_task, containerd):
    t = shim_task(["sleep", "300"])
    created = t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle)))
    t.task.Kill(shim_pb2.KillRequest(id=t.id, signal=9))
    assert t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30).exit_status == 137
    exit_event = containerd.wait_for("/tasks/exit")[0]
    assert (exit_event.id, exit_event.pid, exit_event.exit_status) == (t.id, created.pid, 137)
    assert containerd.topics() == ["/tasks/create", "/tasks/exit"]
    t.task.Delete(shim_pb2.DeleteRequest(id=t.id))


def test_the_shim_is_the_containers_parent_and_survives_its_starter(shim_task):
    t = shim_task(["sleep", "300"])
    created = t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle)))
    t.task.Start(shim_pb2.StartRequest(id=t.id))
    ppid = int(open(f"/proc/{created.pid}/stat").read().rsplit(")", 1)[1].split()[1])
    assert ppid == t.shim_pid
    # Its own session: not in the process group of whoever ran `start`.
    assert os.getsid(t.shim_pid) == t.shim_pid
    connect = t.task.Connect(shim_pb2.ConnectRequest(id=t.id))
    assert (connect.shim_pid, connect.task_pid) == (t.shim_pid, created.pid)
    t.task.Kill(shim_pb2.KillRequest(id=t.id, signal=9))
    assert t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30).exit_status == 137


def test_exec_exits_before_init(shim_task, containerd):
    t = shim_task(["sleep", "300"])
    t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle)))
    t.task.Start(shim_pb2.StartRequest(id=t.id))
    out = fifo(t.bundle, "exec-out")
    fds = []
    out_fd = read_fifo(out, fds)
    try:
        process = {"args": ["sh", "-c", "echo from-exec; sleep 300"], "cwd": "/", "env": ["PATH=/bin:/usr/bin"],
                   "user": {"uid": 0, "gid": 0}}
        spec = {"type_url": "types.containerd.io/opencontainers/runtime-spec/1/Process", "value": json.dumps(process).encode()}
        t.task.Exec(shim_pb2.ExecProcessRequest(id=t.id, exec_id="e1", stdout=str(out), spec=spec))
        started = t.task.Start(shim_pb2.StartRequest(id=t.id, exec_id="e1"))
        assert drain(out_fd, b"from-exec\n") == b"from-exec\n"
        assert t.task.State(shim_pb2.StateRequest(id=t.id, exec_id="e1")).pid == started.pid
        # Killing the init tears the pid namespace down: the exec dies too, and its exit comes first.
        t.task.Kill(shim_pb2.KillRequest(id=t.id, signal=9))
        assert t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30).exit_status == 137
        exits = containerd.wait_for("/tasks/exit", count=2)
        assert [e.id for e in exits] == ["e1", t.id]
        assert [p.name for p in t.bundle.glob("*.exit")] == ["init.exit"]  # an exec's exit is not kept
        t.task.Delete(shim_pb2.DeleteRequest(id=t.id, exec_id="e1"))
        t.task.Delete(shim_pb2.DeleteRequest(id=t.id))
    finally:
        for fd in fds:
            os.close(fd)


def test_exec_ids_cannot_name_the_shims_own_files(shim_task):
    t = shim_task(["sleep", "300"])
    created = t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle)))
    t.task.Start(shim_pb2.StartRequest(id=t.id))
    process = {"args": ["true"], "cwd": "/", "env": ["PATH=/bin:/usr/bin"], "user": {"uid": 0, "gid": 0}}
    spec = {"type_url": "types.containerd.io/opencontainers/runtime-spec/1/Process", "value": json.dumps(process).encode()}
    for exec_id in ("init", "shim"):
        t.task.Exec(shim_pb2.ExecProcessRequest(id=t.id, exec_id=exec_id, spec=spec))
        t.task.Start(shim_pb2.StartRequest(id=t.id, exec_id=exec_id))
        assert t.task.Wait(shim_pb2.WaitRequest(id=t.id, exec_id=exec_id), timeout=30).exit_status == 0
        t.task.Delete(shim_pb2.DeleteRequest(id=t.id, exec_id=exec_id))
    assert (t.bundle / "init.pid").read_text() == str(created.pid)
    assert (t.bundle / "shim.pid").read_text() == str(t.shim_pid)
    t.task.Kill(shim_pb2.KillRequest(id=t.id, signal=9))
    t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30)


def test_kill_pause_resume_pids_and_errors(shim_task):
    t = shim_task(["sleep", "300"])
    created = t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle)))
    t.task.Start(shim_pb2.StartRequest(id=t.id))
    assert [p.pid for p in t.task.Pids(shim_pb2.PidsRequest(id=t.id)).processes] == [created.pid]
    t.task.Pause(shim_pb2.PauseRequest(id=t.id))
    assert t.task.State(shim_pb2.StateRequest(id=t.id)).status == 4
    t.task.Resume(shim_pb2.ResumeRequest(id=t.id))
    with pytest.raises(ttrpc.RPCError) as info:
        t.task.Delete(shim_pb2.DeleteRequest(id=t.id))
    assert info.value.code == ttrpc.Code.FAILED_PRECONDITION
    with pytest.raises(ttrpc.RPCError) as info:
        t.task.State(shim_pb2.StateRequest(id=t.id, exec_id="nope"))
    assert info.value.code == ttrpc.Code.NOT_FOUND
    with pytest.raises(ttrpc.RPCError) as info:
        t.task.Checkpoint(shim_pb2.CheckpointTaskRequest(id=t.id, path=str(t.bundle / "checkpoint")))
    assert info.value.code == ttrpc.Code.UNIMPLEMENTED
    t.task.Kill(shim_pb2.KillRequest(id=t.id, signal=15))
    t.task.Kill(shim_pb2.KillRequest(id=t.id, signal=9))
    t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30)
    with pytest.raises(ttrpc.RPCError) as info:
        t.task.Kill(shim_pb2.KillRequest(id=t.id, signal=9))
    assert info.value.code == ttrpc.Code.NOT_FOUND
    t.task.Delete(shim_pb2.DeleteRequest(id=t.id))


def test_events_wait_for_containerd_to_come_back(shim_task, containerd, daemon_dir):
    """An exit while containerd is away is delivered once it listens again."""
    t = shim_task(["sh", "-c", "sleep 1; exit 3"])
    t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle)))
    containerd.wait_for("/tasks/create")
    # A graceful stop answers the Forward in flight; an abrupt one could lose that answer, and
    # the shim would then deliver the event again (at least once, as containerd's shim does).
    assert containerd.server.shutdown()
    os.unlink(containerd.address + ".ttrpc")
    t.task.Start(shim_pb2.StartRequest(id=t.id))
    assert t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30).exit_status == 3
    time.sleep(0.5)  # let the publisher's first attempts find nobody listening
    back = FakeContainerd(daemon_dir)
    try:
        exit_event = back.wait_for("/tasks/exit", timeout=15)[0]
        assert exit_event.exit_status == 3
        # Nothing lost, nothing repeated, nothing out of order across the gap.
        assert containerd.topics() + back.topics() == ["/tasks/create", "/tasks/start", "/tasks/exit"]
    finally:
        back.server.close()


def test_delete_after_a_dead_shim(shim_task):
    t = shim_task(["sleep", "300"])
    created = t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle)))
    t.task.Start(shim_pb2.StartRequest(id=t.id))
    t.client.close()
    os.kill(t.shim_pid, signal.SIGKILL)
    done = subprocess.run([SHIM, "-namespace", "testns", "-address", t.containerd.address, "-publish-binary", "/bin/true",
                           "-id", t.id, "-bundle", str(t.bundle), "delete"], cwd=t.bundle, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    response = shim_pb2.DeleteResponse.FromString(done.stdout)
    assert response.exit_status == 137
    wait_until_gone(created.pid, what="the init of a dead shim")


def test_file_uri_stdout_and_stdin_with_closeio(shim_task):
    t = shim_task(["sh", "-c", "while read line; do echo got:$line; done; echo eof"])
    log = t.bundle / "logs" / "out.log"
    stdin = fifo(t.bundle, "stdin")
    writer = os.open(stdin, os.O_RDWR)
    try:
        t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle), stdin=str(stdin),
                                                 stdout=f"file://{log}", stderr=f"file://{log}"))
        t.task.Start(shim_pb2.StartRequest(id=t.id))
        os.write(writer, b"one\ntwo\n")
        wait_for_file(log, "got:two")
        t.task.CloseIO(shim_pb2.CloseIORequest(id=t.id, stdin=True))
        assert t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30).exit_status == 0
        t.task.Delete(shim_pb2.DeleteRequest(id=t.id))
        assert log.read_text() == "got:one\ngot:two\neof\n"
    finally:
        os.close(writer)


def test_binary_uri_logging_program(shim_task, tmp_path):
    logger = tmp_path / "logger.sh"
    record = tmp_path / "logged"
    # containerd's protocol: stdout on fd 3, stderr on fd 4, fd 5 closed once ready.
    logger.write_text(f"#!/bin/sh\nexec 5>&-\necho \"$CONTAINER_NAMESPACE/$CONTAINER_ID $*\" > {record}\n"
                      f"cat <&3 >> {record}\n")
    logger.chmod(0o755)
    t = shim_task(["sh", "-c", "echo to-the-logger"])
    uri = f"binary://{logger}?tag=x"
    t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle), stdout=uri, stderr=uri))
    t.task.Start(shim_pb2.StartRequest(id=t.id))
    assert t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30).exit_status == 0
    t.task.Delete(shim_pb2.DeleteRequest(id=t.id))
    assert wait_for_file(record, "to-the-logger\n") == f"testns/{t.id} --tag=x\nto-the-logger\n"


def test_binary_uri_logging_program_with_stdin(shim_task, tmp_path):
    logger = tmp_path / "logger.sh"
    record = tmp_path / "logged"
    logger.write_text(f"#!/bin/sh\nexec 5>&-\ncat <&3 >> {record}\n")
    logger.chmod(0o755)
    t = shim_task(["sh", "-c", "read line; echo got:$line"])
    stdin = fifo(t.bundle, "stdin")
    writer = os.open(stdin, os.O_RDWR)
    try:
        uri = f"binary://{logger}"
        t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle), stdin=str(stdin), stdout=uri, stderr=uri))
        t.task.Start(shim_pb2.StartRequest(id=t.id))
        os.write(writer, b"one\n")
        assert t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30).exit_status == 0
        t.task.Delete(shim_pb2.DeleteRequest(id=t.id))
    finally:
        os.close(writer)
    assert wait_for_file(record, "got:one\n") == "got:one\n"


def test_terminal_and_resize(shim_task):
    t = shim_task(["sh", "-c", "stty size; read x; stty size"], terminal=True)
    out, stdin = fifo(t.bundle, "tty-out"), fifo(t.bundle, "tty-in")
    fds = []
    out_fd = read_fifo(out, fds)
    writer = os.open(stdin, os.O_RDWR)
    fds.append(writer)
    try:
        t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle), terminal=True, stdin=str(stdin),
                                                 stdout=str(out)))
        t.task.ResizePty(shim_pb2.ResizePtyRequest(id=t.id, width=100, height=30))
        t.task.Start(shim_pb2.StartRequest(id=t.id))
        assert b"30 100" in drain(out_fd, b"30 100")
        t.task.ResizePty(shim_pb2.ResizePtyRequest(id=t.id, width=120, height=40))
        os.write(writer, b"go\n")
        assert b"40 120" in drain(out_fd, b"40 120")
        assert t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30).exit_status == 0
        assert t.task.State(shim_pb2.StateRequest(id=t.id)).terminal
        t.task.Delete(shim_pb2.DeleteRequest(id=t.id))
    finally:
        for fd in fds:
            os.close(fd)


def test_oom_event(shim_task, containerd):
    t = shim_task(["sh", "-c", "sleep 1; dd if=/dev/zero of=/dev/null bs=128M count=1; sleep 300"])
    config = json.loads((t.bundle / "config.json").read_text())
    config["linux"]["resources"] = {"memory": {"limit": 32 * 1024 * 1024, "swap": 32 * 1024 * 1024}}
    (t.bundle / "config.json").write_text(json.dumps(config))
    t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle)))
    t.task.Start(shim_pb2.StartRequest(id=t.id))
    assert containerd.wait_for("/tasks/oom", timeout=20)[0].container_id == t.id
    t.task.Kill(shim_pb2.KillRequest(id=t.id, signal=9))
    t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30)
    t.task.Delete(shim_pb2.DeleteRequest(id=t.id))


def test_a_failed_create_answers_and_leaves_the_shim_serving(shim_task):
    """The init dies before pyrunc create returns: its exit is reaped while Create still waits
    for pyrunc's own exit, which must not deadlock the reaper."""
    t = shim_task(["/does/not/exist"])
    out = fifo(t.bundle, "out")
    holder = os.open(out, os.O_RDWR | os.O_NONBLOCK)
    try:
        with pytest.raises(ttrpc.RPCError) as info:
            t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle), stdout=str(out), stderr=str(out)),
                          timeout=20)
        assert info.value.code == ttrpc.Code.NOT_FOUND and "/does/not/exist" in info.value.message
        assert t.task.Connect(shim_pb2.ConnectRequest(id=t.id), timeout=5).task_pid == 0
    finally:
        os.close(holder)


def test_stats_are_cgroups_v1_metrics(shim_task):
    from protos import cgroups_metrics_pb2

    t = shim_task(["sleep", "300"])
    t.task.Create(shim_pb2.CreateTaskRequest(id=t.id, bundle=str(t.bundle)))
    t.task.Start(shim_pb2.StartRequest(id=t.id))
    stats = t.task.Stats(shim_pb2.StatsRequest(id=t.id)).stats
    assert stats.type_url == "io.containerd.cgroups.v1.Metrics"
    metrics = typeurl.unpack(stats, cgroups_metrics_pb2.Metrics)
    assert metrics.pids.current == 1
    assert metrics.memory.usage.usage > 0 and metrics.cpu.usage.total > 0
    t.task.Kill(shim_pb2.KillRequest(id=t.id, signal=9))
    t.task.Wait(shim_pb2.WaitRequest(id=t.id), timeout=30)

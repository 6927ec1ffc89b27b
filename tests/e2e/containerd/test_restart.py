"""pycontainerd killed with SIGKILL loses no task and no exit code; a killed shim is cleaned
up after (its container killed, exit 137 reported), and that survives a restart too."""
import os
import signal
import time

import grpc
import pytest

from protos import event_types_pb2, task_pb2, tasks_pb2, typeurl
from tests.fixtures.processes import processes_mentioning, wait_until_gone

pytestmark = pytest.mark.root

SIGKILLED = 128 + signal.SIGKILL
WAIT_FOR_FILE = "while [ ! -e /go ]; do sleep 0.05; done; exit {code}"


def shim_pid(pycontainerd, container_id: str) -> int:
    """The long-lived shim of a task: ours writes its pid to the bundle; containerd 1.6's runc
    shim is the process serving with this -id (not a start or delete action)."""
    pid_file = pycontainerd.bundle(container_id) / "shim.pid"
    if pid_file.exists():
        return int(pid_file.read_text())
    shims = [pid for pid, command_line in processes_mentioning(str(pycontainerd.address))
             if f"-id {container_id} " in f"{command_line} " and "containerd-shim-runc-v2" in command_line
             and not command_line.rstrip().endswith((" start", " delete"))]
    assert len(shims) == 1, shims
    return shims[0]


def states(pycontainerd) -> dict[str, tuple[int, int]]:
    return {t.id: (t.status, t.exit_status) for t in pycontainerd.tasks("List", tasks_pb2.ListTasksRequest()).tasks}


def test_kill_9_while_tasks_run_and_exit(pycontainerd):
    running = pycontainerd.run("sleep", "60")
    exits_while_down = pycontainerd.run("sh", "-c", WAIT_FOR_FILE.format(code=42))
    exited_before = pycontainerd.run("sh", "-c", "exit 5")
    assert pycontainerd.wait(exited_before.id) == 5
    created = pycontainerd.create_container("sh", "-c", "echo started after the restart")
    pycontainerd.create_task(created)
    loses_its_shim = pycontainerd.run("sleep", "60")
    pids = {t.id: t.pid for t in pycontainerd.tasks("List", tasks_pb2.ListTasksRequest()).tasks}

    pycontainerd.kill()
    (exits_while_down.rootfs / "go").touch()
    # Its exit must reach its shim while the daemon is down: its event would otherwise arrive
    # late, among the ones this test checks after the restart.
    wait_until_gone(pids[exits_while_down.id], reaped=True)
    os.kill(shim_pid(pycontainerd, loses_its_shim.id), signal.SIGKILL)
    pycontainerd.start()

    assert states(pycontainerd) == {
        running.id: (task_pb2.RUNNING, 0),
        exits_while_down.id: (task_pb2.STOPPED, 42),
        exited_before.id: (task_pb2.STOPPED, 5),
        created.id: (task_pb2.CREATED, 0),
        loses_its_shim.id: (task_pb2.STOPPED, SIGKILLED),
    }
    assert pycontainerd.get(running.id).pid == pids[running.id]
    wait_until_gone(pids[loses_its_shim.id])  # its shim's delete action killed it: nothing runs unsupervised
    for container, code in ((exits_while_down, 42), (exited_before, 5), (loses_its_shim, SIGKILLED)):
        assert pycontainerd.wait(container.id) == code
        assert pycontainerd.delete_task(container.id).exit_status == code
        assert not pycontainerd.bundle(container.id).exists()

    # The shims publish to the new daemon: events keep coming, in order. The exit that happened
    # while the daemon was down is still being retried by its shim and may land at any moment, so
    # only the two tasks under watch are listened to.
    events = pycontainerd.subscribe(*(f'topic~="^/tasks/",event.container_id=={c.id}' for c in (created, running)))
    pycontainerd.tasks("Start", tasks_pb2.StartRequest(container_id=created.id))
    assert pycontainerd.wait(created.id) == 0
    assert created.stdout.read() == "started after the restart\n"
    assert [e.topic for e in events.until("/tasks/exit")] == ["/tasks/start", "/tasks/exit"]
    pycontainerd.tasks("Kill", tasks_pb2.KillRequest(container_id=running.id, signal=signal.SIGKILL))
    assert pycontainerd.wait(running.id) == SIGKILLED
    exit_event = typeurl.unpack(events.until("/tasks/exit")[-1].event, event_types_pb2.TaskExit)
    assert (exit_event.container_id, exit_event.exit_status) == (running.id, SIGKILLED)


def test_a_killed_shim_is_cleaned_up_after(pycontainerd):
    events = pycontainerd.subscribe('topic~="^/tasks/"')
    container = pycontainerd.run("sleep", "60")
    init_pid = pycontainerd.get(container.id).pid
    # containerd's runc shim publishes /tasks/start after answering Start: wait for it, or it
    # may come among the events of the shim's death.
    events.until("/tasks/start")
    os.kill(shim_pid(pycontainerd, container.id), signal.SIGKILL)

    seen = events.until("/tasks/delete")
    assert [e.topic for e in seen] == ["/tasks/exit", "/tasks/delete"]
    exit_event = typeurl.unpack(seen[0].event, event_types_pb2.TaskExit)
    assert (exit_event.id, exit_event.pid, exit_event.exit_status) == (container.id, init_pid, SIGKILLED)
    wait_until_gone(init_pid)

    # The task's last word is kept until it is deleted, a restart included.
    pycontainerd.kill()
    pycontainerd.start()
    process = pycontainerd.get(container.id)
    assert (process.status, process.exit_status, process.pid) == (task_pb2.STOPPED, SIGKILLED, init_pid)
    assert pycontainerd.wait(container.id) == SIGKILLED
    with pytest.raises(grpc.RpcError) as raised:
        pycontainerd.tasks("Kill", tasks_pb2.KillRequest(container_id=container.id, signal=signal.SIGKILL))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert pycontainerd.bundle(container.id).exists()
    assert pycontainerd.delete_task(container.id).exit_status == SIGKILLED
    assert not pycontainerd.bundle(container.id).exists()


def test_sigterm_stops_the_daemon_and_leaves_the_tasks(pycontainerd):
    container = pycontainerd.run("sleep", "60")
    init_pid = pycontainerd.get(container.id).pid
    waiting = pycontainerd.tasks_stub.Wait.future(tasks_pb2.WaitRequest(container_id=container.id),
                                                  metadata=pycontainerd.metadata)
    started = time.monotonic()
    pycontainerd.stop()  # exits 0, or the fixture says why
    assert time.monotonic() - started < 10
    with pytest.raises(grpc.RpcError):
        waiting.result(10)
    assert os.path.exists(f"/proc/{init_pid}")
    pycontainerd.start()
    process = pycontainerd.get(container.id)
    assert (process.status, process.pid) == (task_pb2.RUNNING, init_pid)

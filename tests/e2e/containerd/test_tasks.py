"""Tasks through pycontainerd's Tasks API, run by the real containerd-shim-runc-v2 and runc:
output through a FIFO, exit codes, events in order, exec, kill, pause and resume, pids."""
import json
import signal

import grpc
import pytest
from google.protobuf import any_pb2

from protos import event_types_pb2, task_pb2, tasks_pb2, typeurl
from tests.fixtures.processes import processes_mentioning
from tests.fixtures.pycontainerd import NAMESPACE

pytestmark = pytest.mark.root

PROCESS_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process"


def process_spec(*args: str) -> any_pb2.Any:
    process = {"args": list(args), "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin:/sbin:/usr/bin"]}
    return any_pb2.Any(type_url=PROCESS_TYPE_URL, value=json.dumps(process).encode())


def exit_of(envelope) -> tuple[str, int]:
    event = typeurl.unpack(envelope.event, event_types_pb2.TaskExit)
    return event.id, event.exit_status


@pytest.mark.parametrize("code", [0, 7])
def test_output_exit_code_and_events_in_order(pycontainerd, code):
    container = pycontainerd.create_container("sh", "-c", f"echo hello from $(hostname); exit {code}")
    events = pycontainerd.subscribe(f'topic~="^/tasks/",namespace=={NAMESPACE}')
    pid = pycontainerd.create_task(container)
    assert pid > 0
    assert pycontainerd.get(container.id).status == task_pb2.CREATED
    assert pycontainerd.tasks("Start", tasks_pb2.StartRequest(container_id=container.id)).pid == pid
    assert pycontainerd.wait(container.id) == code
    stopped = pycontainerd.get(container.id)
    assert (stopped.id, stopped.status, stopped.exit_status) == (container.id, task_pb2.STOPPED, code)
    deleted = pycontainerd.delete_task(container.id)
    assert (deleted.exit_status, deleted.pid) == (code, pid)
    assert container.stdout.read() == f"hello from {container.id}\n"
    seen = events.until("/tasks/delete")
    assert [e.topic for e in seen] == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]
    exit_event = typeurl.unpack(seen[2].event, event_types_pb2.TaskExit)
    assert (exit_event.container_id, exit_event.pid, exit_event.exit_status) == (container.id, pid, code)
    assert not pycontainerd.bundle(container.id).exists()


def test_exec_output_and_exec_exits_before_init(pycontainerd):
    container = pycontainerd.run("sleep", "60")
    events = pycontainerd.subscribe('topic=="/tasks/exit"', 'topic~="^/tasks/exec-"')
    output = pycontainerd.fifo("probe-stdout")
    pycontainerd.tasks("Exec", tasks_pb2.ExecProcessRequest(
        container_id=container.id, exec_id="probe", spec=process_spec("sh", "-c", "echo exec in $(hostname); exit 3"),
        stdout=str(output.path), stderr=str(output.path)))
    exec_pid = pycontainerd.tasks("Start", tasks_pb2.StartRequest(container_id=container.id, exec_id="probe")).pid
    assert exec_pid > 0
    assert pycontainerd.wait(container.id, "probe") == 3
    assert pycontainerd.get(container.id, "probe").status == task_pb2.STOPPED
    deleted = pycontainerd.tasks("DeleteProcess", tasks_pb2.DeleteProcessRequest(container_id=container.id,
                                                                                 exec_id="probe"))
    assert (deleted.id, deleted.exit_status) == ("probe", 3)
    assert output.read() == f"exec in {container.id}\n"

    # Killing init takes a running exec with it; the exec's exit must be published first.
    pycontainerd.tasks("Exec", tasks_pb2.ExecProcessRequest(container_id=container.id, exec_id="long",
                                                            spec=process_spec("sleep", "60")))
    pycontainerd.tasks("Start", tasks_pb2.StartRequest(container_id=container.id, exec_id="long"))
    assert pycontainerd.get(container.id, "long").status == task_pb2.RUNNING
    pycontainerd.tasks("Kill", tasks_pb2.KillRequest(container_id=container.id, signal=signal.SIGKILL))
    assert pycontainerd.wait(container.id) == 128 + signal.SIGKILL
    seen = events.until("/tasks/exit")  # the probe's
    assert [e.topic for e in seen] == ["/tasks/exec-added", "/tasks/exec-started", "/tasks/exit"]
    assert exit_of(seen[-1]) == ("probe", 3)
    seen = events.until("/tasks/exit")
    assert exit_of(seen[-1]) == ("long", 128 + signal.SIGKILL)
    assert exit_of(events.next()) == (container.id, 128 + signal.SIGKILL)


def test_kill_pause_resume_and_pids(pycontainerd):
    container = pycontainerd.run("sleep", "60")
    events = pycontainerd.subscribe('topic=="/tasks/paused"', 'topic=="/tasks/resumed"')
    init = pycontainerd.get(container.id)
    assert init.status == task_pb2.RUNNING
    pids = pycontainerd.tasks("ListPids", tasks_pb2.ListPidsRequest(container_id=container.id)).processes
    assert [p.pid for p in pids] == [init.pid]

    pycontainerd.tasks("Pause", tasks_pb2.PauseTaskRequest(container_id=container.id))
    assert pycontainerd.get(container.id).status == task_pb2.PAUSED
    assert events.next().topic == "/tasks/paused"
    pycontainerd.tasks("Resume", tasks_pb2.ResumeTaskRequest(container_id=container.id))
    assert pycontainerd.get(container.id).status == task_pb2.RUNNING
    assert events.next().topic == "/tasks/resumed"

    listed = pycontainerd.tasks("List", tasks_pb2.ListTasksRequest()).tasks
    assert [(t.id, t.pid, t.status) for t in listed] == [(container.id, init.pid, task_pb2.RUNNING)]
    pycontainerd.tasks("Kill", tasks_pb2.KillRequest(container_id=container.id, signal=signal.SIGKILL))
    assert pycontainerd.wait(container.id) == 128 + signal.SIGKILL


def test_errors_carry_containerds_codes(pycontainerd):
    def code_of(method, request):
        with pytest.raises(grpc.RpcError) as raised:
            pycontainerd.tasks(method, request)
        return raised.value.code()

    assert code_of("Get", tasks_pb2.GetRequest(container_id="nothing")) == grpc.StatusCode.NOT_FOUND
    container = pycontainerd.create_container("sleep", "60")
    assert code_of("Get", tasks_pb2.GetRequest(container_id=container.id)) == grpc.StatusCode.NOT_FOUND
    pycontainerd.create_task(container)
    assert code_of("Create", tasks_pb2.CreateTaskRequest(container_id=container.id)) == grpc.StatusCode.ALREADY_EXISTS
    pycontainerd.tasks("Start", tasks_pb2.StartRequest(container_id=container.id))
    # The shim refuses to delete a running task (runc's shim says so with Unknown) and it stays.
    code_of("Delete", tasks_pb2.DeleteTaskRequest(container_id=container.id))
    assert code_of("Exec", tasks_pb2.ExecProcessRequest(container_id=container.id)) == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of("Checkpoint", tasks_pb2.CheckpointTaskRequest(container_id=container.id)) == \
        grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as raised:
        pycontainerd.tasks_stub.List(tasks_pb2.ListTasksRequest())  # no namespace
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert pycontainerd.get(container.id).status == task_pb2.RUNNING  # none of that disturbed it


def test_a_task_that_cannot_be_created_leaves_nothing_behind(pycontainerd):
    container = pycontainerd.create_container("/does/not/exist")
    with pytest.raises(grpc.RpcError) as raised:
        pycontainerd.create_task(container)
    assert "/does/not/exist" in raised.value.details()
    assert not pycontainerd.bundle(container.id).exists()
    assert processes_mentioning(f"-id {container.id}") == []
    assert pycontainerd.tasks("List", tasks_pb2.ListTasksRequest()).tasks == []

    with pytest.raises(grpc.RpcError) as raised:
        pycontainerd.tasks("Create", tasks_pb2.CreateTaskRequest(container_id="missing"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_stdin_close_io_update_and_metrics(pycontainerd):
    container = pycontainerd.create_container("cat")
    stdin = pycontainerd.fifo("cat-stdin")
    pycontainerd.create_task(container, stdin=stdin)
    pycontainerd.tasks("Start", tasks_pb2.StartRequest(container_id=container.id))

    resources = any_pb2.Any(type_url="types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
                             value=json.dumps({"pids": {"limit": 99}}).encode())
    pycontainerd.tasks("Update", tasks_pb2.UpdateTaskRequest(container_id=container.id, resources=resources))
    pids_cgroup = f"/sys/fs/cgroup/pids{pycontainerd.cgroup_parent}/{container.id}/pids.max"
    with open(pids_cgroup) as limit:
        assert limit.read() == "99\n"
    metrics = pycontainerd.tasks("Metrics", tasks_pb2.MetricsRequest(filters=[f"id=={container.id}"])).metrics
    assert [m.id for m in metrics] == [container.id]
    assert metrics[0].data.type_url.endswith("Metrics") and metrics[0].data.value
    assert pycontainerd.tasks("Metrics", tasks_pb2.MetricsRequest(filters=["id==another"])).metrics == []

    stdin.write("through stdin\n")
    stdin.close()
    pycontainerd.tasks("CloseIO", tasks_pb2.CloseIORequest(container_id=container.id, stdin=True))
    assert pycontainerd.wait(container.id) == 0
    pycontainerd.delete_task(container.id)
    assert container.stdout.read() == "through stdin\n"


def test_terminal_with_resize(pycontainerd):
    container = pycontainerd.create_container("sh", "-c", "read go; stty size; exit 4", terminal=True)
    stdin, output = pycontainerd.fifo(f"{container.id}-tty-in"), pycontainerd.fifo(f"{container.id}-tty-out")
    rootfs = pycontainerd.rootfs_mount(container)
    pycontainerd.tasks("Create", tasks_pb2.CreateTaskRequest(
        container_id=container.id, rootfs=[rootfs], terminal=True, stdin=str(stdin.path), stdout=str(output.path)))
    pycontainerd.tasks("Start", tasks_pb2.StartRequest(container_id=container.id))
    pycontainerd.tasks("ResizePty", tasks_pb2.ResizePtyRequest(container_id=container.id, width=132, height=43))
    stdin.write("go\n")
    assert pycontainerd.wait(container.id) == 4
    # A terminal echoes input and ends lines with \r\n.
    assert output.read().replace("\r\n", "\n").endswith("43 132\n")
    assert pycontainerd.get(container.id).terminal

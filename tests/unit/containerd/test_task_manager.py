"""The task manager against an in-process fake shim: what a task answers while its shim's
death is being cleaned up after, and after a deletion that could not remove the bundle. No
child processes: the shim's delete action is replaced by a function."""
import threading

import pytest
from google.protobuf import empty_pb2

import errdefs
from containerd.core.events import Exchange
from containerd.runtime import bundle as bundle_module
from containerd.runtime.bundle import ADDRESS, SHIM_BINARY_PATH, Bundle
from containerd.runtime.shim import ShimBinary
from containerd.runtime.tasks import TaskManager
from protos import shim_pb2, task_pb2, ttrpc

TASK_SERVICE = shim_pb2.DESCRIPTOR.services_by_name["Task"]
NAMESPACE, TASK_ID = "ns", "t1"
EXIT_STATUS = 3


class FakeShim:
    """A shim holding one task that has exited; Shutdown stops its server, as a shim exits."""

    def __init__(self, server: ttrpc.Server):
        self.server = server
        self.shut_down = False

    def Connect(self, request, context):
        return shim_pb2.ConnectResponse(shim_pid=1, task_pid=2)

    def State(self, request, context):
        return shim_pb2.StateResponse(id=request.id, pid=2, status=task_pb2.STOPPED, exit_status=EXIT_STATUS)

    def Delete(self, request, context):
        return shim_pb2.DeleteResponse(pid=2, exit_status=EXIT_STATUS)

    def Shutdown(self, request, context):
        # A handler may not stop its own server: it would wait for itself.
        self.shut_down = True
        threading.Thread(target=self.server.shutdown).start()
        return empty_pb2.Empty()


@pytest.fixture
def shim(tmp_path):
    server = ttrpc.Server()
    shim = FakeShim(server)
    server.register_service(TASK_SERVICE, shim)
    shim.address = f"unix://{tmp_path / 'shim.sock'}"
    server.start(ttrpc.listen(tmp_path / "shim.sock"))
    yield shim
    server.close()


@pytest.fixture
def exchange():
    return Exchange()


@pytest.fixture
def manager(tmp_path, monkeypatch, exchange):
    monkeypatch.setattr(bundle_module, "unmount_all", lambda target: None)  # nothing is mounted here
    manager = TaskManager(tmp_path / "tasks", exchange, grpc_address="unused", ttrpc_address="unused", debug=False)
    yield manager
    manager.close()


def left_bundle(tmp_path, shim_address: str | None, binary_path: str | None = "/nonexistent/shim") -> Bundle:
    """A task's bundle as a previous run of the daemon left it."""
    bundle = Bundle.create(tmp_path / "tasks", NAMESPACE, TASK_ID, b"{}")
    if shim_address is not None:
        bundle.write(ADDRESS, shim_address.encode())
    if binary_path is not None:
        bundle.write(SHIM_BINARY_PATH, binary_path.encode())
    return bundle


def state(manager: TaskManager) -> shim_pb2.StateResponse:
    return manager.get(NAMESPACE, TASK_ID).call("State", shim_pb2.StateRequest(id=TASK_ID), shim_pb2.StateResponse)


def state_or_error(manager: TaskManager) -> shim_pb2.StateResponse | Exception:
    # An error raised in the cleanup's thread would be lost: keep it to assert on.
    try:
        return state(manager)
    except Exception as exc:  # noqa: BLE001
        return exc


@pytest.fixture
def delete_action(monkeypatch):
    """Stands in for the shim's delete action; calls `during` while it runs."""

    class DeleteAction:
        during = None

        def __call__(self, binary, bundle_path, container_id):
            self.during()
            return shim_pb2.DeleteResponse(pid=2, exit_status=137)

    action = DeleteAction()
    monkeypatch.setattr(ShimBinary, "delete", lambda binary, *args: action(binary, *args))
    return action


def test_a_task_whose_shim_is_unreachable_is_unavailable_until_the_delete_action_answers(
        tmp_path, manager, delete_action):
    left_bundle(tmp_path, f"unix://{tmp_path / 'nobody-listens.sock'}")
    during = []
    delete_action.during = lambda: during.append(state_or_error(manager))
    manager.load_existing()
    assert [type(outcome) for outcome in during] == [errdefs.Unavailable]
    after = state(manager)
    assert (after.status, after.exit_status) == (task_pb2.STOPPED, 137)


def test_a_task_whose_shim_hung_up_is_unavailable_until_the_delete_action_answers(
        tmp_path, shim, manager, exchange, delete_action):
    left_bundle(tmp_path, shim.address)
    manager.load_existing()
    assert state(manager).exit_status == EXIT_STATUS
    exits = exchange.subscribe(['topic=="/tasks/exit"'])
    during = []
    delete_action.during = lambda: during.append(state_or_error(manager))
    manager.get(NAMESPACE, TASK_ID).call("Shutdown", shim_pb2.ShutdownRequest(id=TASK_ID), empty_pb2.Empty)
    next(iter(exits))  # published once the cleanup after the shim is done
    assert [type(outcome) for outcome in during] == [errdefs.Unavailable]
    assert state(manager).exit_status == 137


def test_a_task_whose_bundle_could_not_be_removed_answers_with_its_exit(tmp_path, shim, manager, monkeypatch):
    left_bundle(tmp_path, shim.address)
    manager.load_existing()
    remove = Bundle.remove

    def fail_once(bundle):
        monkeypatch.setattr(Bundle, "remove", remove)
        raise OSError("cannot remove the bundle")

    monkeypatch.setattr(Bundle, "remove", fail_once)
    with pytest.raises(OSError):
        manager.delete(NAMESPACE, TASK_ID)
    stopped = state(manager)
    assert (stopped.status, stopped.exit_status) == (task_pb2.STOPPED, EXIT_STATUS)
    assert manager.delete(NAMESPACE, TASK_ID).exit_status == EXIT_STATUS
    with pytest.raises(errdefs.NotFound):
        manager.get(NAMESPACE, TASK_ID)


def test_a_shim_started_for_a_task_never_created_is_told_to_exit(tmp_path, shim, manager):
    bundle = left_bundle(tmp_path, shim.address, binary_path=None)
    manager.load_existing()
    assert shim.shut_down
    assert not bundle.path.exists()
    assert manager.list(NAMESPACE) == []


def test_a_task_whose_shim_address_is_missing_is_taken_for_dead(tmp_path, manager, delete_action):
    left_bundle(tmp_path, None)
    delete_action.during = lambda: None
    manager.load_existing()
    assert state(manager).exit_status == 137

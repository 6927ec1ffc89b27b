"""The real ctr (containerd 1.6's client) drives pycontainerd."""
import queue
import subprocess
import threading

import pytest

from protos import tasks_pb2
from tests.fixtures.pycontainerd import NAMESPACE

pytestmark = [pytest.mark.root, pytest.mark.interop]

TERM_EXITS_3 = "trap 'exit 3' TERM; while :; do sleep 0.1; done"


def ctr(pycontainerd, *args: str) -> str:
    done = subprocess.run(["ctr", "--address", str(pycontainerd.address), "--namespace", NAMESPACE, *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"ctr {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done.stdout


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()[1:]]


def test_ctr_lists_and_kills(pycontainerd):
    container = pycontainerd.run("sh", "-c", TERM_EXITS_3)
    pid = pycontainerd.get(container.id).pid
    assert [NAMESPACE] in rows(ctr(pycontainerd, "namespaces", "ls"))
    assert rows(ctr(pycontainerd, "containers", "ls")) == [[container.id, "-", pycontainerd.runtime]]
    assert rows(ctr(pycontainerd, "tasks", "ls")) == [[container.id, str(pid), "RUNNING"]]
    ctr(pycontainerd, "tasks", "kill", container.id)  # SIGTERM by default
    assert pycontainerd.wait(container.id) == 3
    assert rows(ctr(pycontainerd, "tasks", "ls")) == [[container.id, str(pid), "STOPPED"]]
    ctr(pycontainerd, "tasks", "delete", container.id)
    ctr(pycontainerd, "containers", "delete", container.id)
    assert rows(ctr(pycontainerd, "containers", "ls")) == []


def test_ctr_events(pycontainerd):
    events = subprocess.Popen(["ctr", "--address", str(pycontainerd.address), "events"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in events.stdout], daemon=True)
    reader.start()
    try:
        # ctr subscribes some time after it starts: create containers until one is seen.
        for _ in range(50):
            first = pycontainerd.create_container("sh", "-c", "exit 4")
            try:
                line = lines.get(timeout=0.2)
                break
            except queue.Empty:
                continue
        else:
            raise AssertionError(f"ctr events printed nothing: {events.stderr.read() if events.poll() else ''}")
        assert f" {NAMESPACE} /containers/create " in line
        pycontainerd.create_task(first)
        pycontainerd.tasks("Start", tasks_pb2.StartRequest(container_id=first.id))
        assert pycontainerd.wait(first.id) == 4
        pycontainerd.delete_task(first.id)
        # Each line: date time zone UTC namespace topic event-as-JSON.
        printed = {}
        while "/tasks/delete" not in printed:
            _, _, _, _, namespace, topic, event = lines.get(timeout=15).split(maxsplit=6)
            if namespace == NAMESPACE and first.id in event:
                printed[topic] = event
        assert list(printed) == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]
        assert '"exit_status":4' in printed["/tasks/exit"]
    finally:
        events.terminate()
        events.wait(10)
        reader.join(10)

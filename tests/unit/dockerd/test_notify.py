"""The service manager's notifications: protos.sdnotify on a datagram socket (a path or the
abstract namespace), and pydockerd's server sending READY=1 once it serves, STOPPING=1 on
its way down, RELOADING=1 ... READY=1 around a reload."""
import asyncio
import json
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from dockerd.server import listeners, make_server
from protos.sdnotify import Notifier
from tests.unit.dockerd.engine_server import FakeDaemon


@pytest.fixture
def manager(tmp_path):
    """A datagram socket where the service manager would listen, and its address."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(10)
    yield sock, str(tmp_path / "notify")
    sock.close()


def test_ready_stopping_reloading(manager):
    sock, address = manager
    notifier = Notifier(address)
    assert notifier.ready() and sock.recv(4096) == b"READY=1"
    assert notifier.stopping() and sock.recv(4096) == b"STOPPING=1"
    assert notifier.reloading()
    reloading, monotonic = sock.recv(4096).decode().split("\n")
    assert reloading == "RELOADING=1"
    assert abs(int(monotonic.removeprefix("MONOTONIC_USEC=")) - time.monotonic_ns() // 1000) < 10_000_000


def test_the_abstract_namespace():
    name = f"pydocker-unit-notify-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(10)
        assert Notifier("@" + name).ready()
        assert sock.recv(4096) == b"READY=1"


def test_the_variable_is_taken_out_of_the_environment(monkeypatch, manager):
    sock, address = manager
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    notifier = Notifier.from_environment()
    assert "NOTIFY_SOCKET" not in os.environ  # what we start does not inherit it
    assert notifier.ready() and sock.recv(4096) == b"READY=1"


def test_nothing_without_a_socket(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier.from_environment().ready()
    assert not Notifier(str(tmp_path / "gone")).ready()  # a manager that went away is no error


@pytest.fixture
def log_levels():
    """The levels a reload sets (config.apply_log_levels), put back for the other tests."""
    loggers = [logging.getLogger(name) for name in ("", "uvicorn.error", "uvicorn.asgi", "uvicorn.access")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)


def test_the_server_notifies_ready_once_it_serves_and_stopping_on_its_way_down(manager, log_levels):
    sock, address = manager
    with tempfile.TemporaryDirectory(prefix="pydockerd-unit-") as directory:
        daemon = FakeDaemon(Path(directory))
        server = make_server(daemon, log_level="warning", notifier=Notifier(address))
        sockets = listeners.bind([f"unix://{directory}/d.sock"])
        thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=sockets)), daemon=True)
        thread.start()
        try:
            assert sock.recv(4096) == b"READY=1"
            assert server.started  # serving when READY=1 is sent
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(f"{directory}/d.sock")
                client.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert client.recv(4096).startswith(b"HTTP/1.1 200")
            daemon.config.config_file = f"{directory}/daemon.json"
            Path(daemon.config.config_file).write_text(json.dumps({"registry-mirrors": ["http://m"]}))
            server.reload()
            assert sock.recv(4096).startswith(b"RELOADING=1\n") and sock.recv(4096) == b"READY=1"
            assert daemon.config.registry_mirrors == ["http://m"]
        finally:
            server.should_exit = True
            thread.join(10)
            for listener in sockets:
                listener.close()
            daemon.channel.close()
            daemon.grpc_server.stop(None)
        assert sock.recv(4096) == b"STOPPING=1"

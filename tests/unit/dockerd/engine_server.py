"""pydockerd's server (uvicorn, our protocol, the app) on a private unix socket in a thread,
in front of a stand-in daemon: the HTTP layer under test without pycontainerd."""
from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from pathlib import Path

from concurrent import futures

import grpc

from dockerd.config import Config
from dockerd.daemon.events import EventBus
from dockerd.server import make_server
from dockerd.server.listeners import bind
from protos import version_pb2, version_pb2_grpc
from tests.fixtures.pydockerd import UnixHTTPConnection


class FakeVersion(version_pb2_grpc.VersionServicer):
    def Version(self, request, context):
        return version_pb2.VersionResponse(version="9.8.7", revision="fake-revision")


class FakeContainers:
    def counts(self) -> dict:
        return {"total": 3, "running": 1, "paused": 1, "stopped": 1}

    def summaries(self, size: bool = False) -> list:
        return []


class FakeImages:
    def count(self) -> int:
        return 2

    def summaries(self) -> list:
        return [{"Id": "sha256:" + "a" * 64, "Size": 10}, {"Id": "sha256:" + "b" * 64, "Size": 5}]


class FakeVolumes:
    def df(self) -> list:
        return [{"Name": "v", "UsageData": {"Size": -1, "RefCount": 0}}]


class FakeDaemon:
    """The services the system routes call, and a channel to a Version service only."""

    def __init__(self, root: Path):
        self.config = Config(data_root=str(root / "data"), exec_root=str(root / "exec"),
                             containerd=str(root / "containerd.sock"))
        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(2))
        version_pb2_grpc.add_VersionServicer_to_server(FakeVersion(), self.grpc_server)
        self.grpc_server.add_insecure_port(f"unix:{self.config.containerd}")
        self.grpc_server.start()
        self.channel = grpc.insecure_channel(f"unix://{self.config.containerd}")
        self.events = EventBus()
        self.containers = FakeContainers()
        self.images = FakeImages()
        self.volumes = FakeVolumes()


class EngineServer:
    """Start with `with EngineServer() as s:`; s.app is the FastAPI app (routes may be added
    before the first request), s.request(...) sends one request."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="pydockerd-unit-")
        root = Path(self._dir.name)
        self.path = str(root / "d.sock")
        self.daemon = FakeDaemon(root)
        self.server = make_server(self.daemon, log_level="warning")
        self.app = self.server.config.app
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.run(self.server.serve(sockets=self._sockets))

    def __enter__(self) -> EngineServer:
        self._sockets = bind([f"unix://{self.path}"])
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        for sock in self._sockets:
            sock.close()
        self.daemon.channel.close()
        self.daemon.grpc_server.stop(None)
        self._dir.cleanup()

    def connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(self.path)
        return sock

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, headers with lower-case names, body)."""
        connection = UnixHTTPConnection(self.path, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

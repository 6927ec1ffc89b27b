"""The daemon: plugins built in dependency order, then gRPC and ttrpc served on unix sockets.

Threads, not asyncio: grpcio's server runs each call in a thread of its pool (a Subscribe
stream or a Wait holds one for as long as it lasts, hence the pool's size), each shim
connection has the ttrpc client's reader thread, and one watcher thread watches all shims.
Calls into shims block; nothing here needs to be cooperative.
"""
from __future__ import annotations

import logging
import os
import socket
from concurrent import futures
from pathlib import Path

import grpc

import errdefs
from protos import ttrpc

from . import trace
from .builtins import PLUGINS
from .config import Config
from .registry import GRPC_PLUGIN, TTRPC_PLUGIN, InitContext, Plugins, dependency_order

log = logging.getLogger(__name__)

MAX_GRPC_WORKERS = 128  # concurrent calls, long-lived streams and Waits included
MAX_MESSAGE_SIZE = 16 << 20  # containerd's default for both directions
STOP_GRACE = 2.0  # seconds calls in progress get to finish at shutdown


class Server:
    def __init__(self, config: Config):
        self.config = config
        self.plugins = Plugins()
        self._grpc: grpc.Server | None = None
        self._ttrpc: ttrpc.Server | None = None
        self._sockets: list[str] = []  # the socket paths we made, to remove at the end

    def start(self) -> None:
        """Build every plugin, then listen. Raises (having undone what it did) if any of it fails."""
        for directory in (self.config.root, self.config.state):
            Path(directory).mkdir(mode=0o711, parents=True, exist_ok=True)
        try:
            for registration in dependency_order(PLUGINS):
                log.debug("loading plugin %s", registration.uri)
                self.plugins.add(registration, registration.init(InitContext(registration, self.config, self.plugins)))
            self._serve()
        except BaseException:
            self.stop()
            raise

    def _serve(self) -> None:
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=MAX_GRPC_WORKERS, thread_name_prefix="grpc"),
            interceptors=[trace.ServerInterceptor()],
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_SIZE),
                     ("grpc.max_send_message_length", MAX_MESSAGE_SIZE)])
        for _, service in self.plugins.of_type(GRPC_PLUGIN):
            service.register(self._grpc)
        self._ttrpc = ttrpc.Server(error_mapper=errdefs.status)
        for _, service in self.plugins.of_type(TTRPC_PLUGIN):
            service.register(self._ttrpc)

        _claim_socket_path(self.config.ttrpc_address)
        self._ttrpc.start(ttrpc.listen(self.config.ttrpc_address, mode=0o660))
        self._sockets.append(self.config.ttrpc_address)
        _claim_socket_path(self.config.address)
        try:
            self._grpc.add_insecure_port(f"unix:{self.config.address}")
        except RuntimeError as exc:
            raise errdefs.Unavailable(f"cannot listen on {self.config.address}: {exc}") from None
        self._sockets.append(self.config.address)
        os.chmod(self.config.address, 0o660)
        self._grpc.start()
        log.info("serving gRPC on %s and ttrpc on %s", self.config.address, self.config.ttrpc_address)

    def stop(self) -> None:
        """Stop serving and close every plugin, last built first. Shims and their containers
        are left running: the next start takes them back."""
        if self._grpc is not None:
            self._grpc.stop(STOP_GRACE).wait()
        if self._ttrpc is not None:
            self._ttrpc.close()
        for registration, instance in reversed(self.plugins.loaded):
            close = getattr(instance, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - the others still need closing
                    log.exception("closing plugin %s", registration.uri)
        for path in self._sockets:
            if os.path.exists(path):
                os.unlink(path)


def _claim_socket_path(path: str) -> None:
    """Make way for our socket at path: refuse if a daemon answers there, remove a stale one."""
    Path(path).parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    if not os.path.exists(path):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)
            return
    raise errdefs.Unavailable(f"{path} is in use by a running daemon")

"""Serving the Engine API: uvicorn on every `-H` listener, with its h11 protocol subclassed so
that attach and exec can hijack their connections (see hijack.py).

`run(config, daemon)` serves until SIGTERM or SIGINT, then stops: the listeners close,
requests in flight get a short grace, hijacked streams are cut (their containers keep
running: live restore), and it returns for the caller to stop the daemon.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import socket

import uvicorn

from ..config import Config
from . import hijack, listeners
from .protocol import protocol_class

# Streams (events, logs -f, stats) never end by themselves: how long shutdown lets them run.
GRACEFUL_SHUTDOWN = 2.0


class EngineServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, hijacked: hijack.Connections):
        super().__init__(config)
        self.hijacked = hijacked

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.hijacked.close()
        await super().shutdown(sockets)


def make_server(daemon, *, log_level: str = "info", access_log: bool = False) -> EngineServer:
    # Imported here: the routers register their hijack handlers from dockerd.server.hijack,
    # so the app must not be loaded while this package initialises.
    from ..api.app import create_app

    hijacked = hijack.Connections()
    config = uvicorn.Config(
        create_app(daemon),
        http=protocol_class(daemon, hijacked),
        ws="none",
        lifespan="off",
        server_header=False,  # Server: is Docker's, set by the app (clients parse it)
        proxy_headers=False,
        log_config=None,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
    return EngineServer(config, hijacked)


def run(config: Config, daemon, sockets: list[socket.socket], log_level: str = "info") -> None:
    """Serve on sockets until SIGTERM/SIGINT."""
    # uvicorn restores the handlers it found and raises the signal again once it has shut
    # down: with these, that second delivery does nothing and we return normally.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server = make_server(daemon, log_level=log_level, access_log=config.debug)
    logging.getLogger("pydockerd").info("API listening on %s", ", ".join(config.hosts))
    asyncio.run(server.serve(sockets=sockets))
    listeners.cleanup(config.hosts)

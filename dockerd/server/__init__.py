"""Serving the Engine API: uvicorn on every `-H` listener, with its h11 protocol subclassed so
that attach and exec can hijack their connections (see hijack.py); TCP listeners speak TLS
(tls.py), unix sockets do not.

`run(config, daemon, sockets)` serves until SIGTERM or SIGINT, then stops: the listeners close,
requests in flight get a short grace, hijacked streams are cut (their containers keep
running: live restore), and it returns for the caller to stop the daemon. SIGHUP reloads
daemon.json (config.reload) without dropping anything. The service manager hears READY=1
once the listeners serve, RELOADING=1 and READY=1 around a reload, STOPPING=1 at the end.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import socket
import ssl
import threading

import uvicorn

import errdefs
from protos.sdnotify import Notifier

from .. import config as config_module
from ..config import Config
from . import hijack, listeners
from .protocol import protocol_class
from .tls import TLSProtocol

log = logging.getLogger("pydockerd")

# Streams (events, logs -f, stats) never end by themselves: how long shutdown lets them run.
GRACEFUL_SHUTDOWN = 2.0


class EngineServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, hijacked: hijack.Connections, daemon_config: Config,
                 tls_context: ssl.SSLContext | None = None, notifier: Notifier | None = None):
        super().__init__(config)
        self.hijacked = hijacked
        self.daemon_config = daemon_config
        self.tls_context = tls_context
        self.notifier = notifier or Notifier(None)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn would give every socket the same TLS (config.ssl): it serves the plain ones,
        # we serve the TCP ones, each connection through our TLS protocol around uvicorn's.
        secured = [sock for sock in sockets or [] if self.tls_context is not None and listeners.is_tcp(sock)]
        await super().startup([sock for sock in sockets or [] if sock not in secured])
        loop = asyncio.get_running_loop()

        def protocol() -> asyncio.Protocol:
            return TLSProtocol(self.tls_context, self.config.http_protocol_class(
                config=self.config, server_state=self.server_state, app_state=self.lifespan.state))
        for sock in secured:
            self.servers.append(await loop.create_server(protocol, sock=sock, backlog=self.config.backlog))
        # Signals reach the main thread only (a test may serve from another one).
        if threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.notifier.ready()

    def reload(self) -> None:
        """Read daemon.json again; apply what may change live, keep the rest (and say so);
        on an error keep everything as it was."""
        config = self.daemon_config
        self.notifier.reloading()
        log.info("got SIGHUP: reloading the configuration from %s", config.config_file)
        try:
            changed, for_restart = config_module.reload(config)
        except errdefs.Error as e:
            log.error("reloading the configuration failed, the configuration in use stays: %s", e)
        else:
            config_module.apply_log_levels(config)
            for key in changed:
                value = getattr(config, config_module.KEYS[key][0])
                log.info("reloaded %s: %s", key, value)
            for key in for_restart:
                log.warning("%s changed in %s: it takes effect when pydockerd restarts", key, config.config_file)
            if not changed and not for_restart:
                log.info("the configuration is unchanged")
            if "live-restore" in changed and not config.live_restore:
                log.warning(config_module.LIVE_RESTORE_ALWAYS_ON)
        self.notifier.ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.notifier.stopping()
        await self.hijacked.close()
        await super().shutdown(sockets)


def make_server(daemon, *, log_level: str | None = None, tls_context: ssl.SSLContext | None = None,
                notifier: Notifier | None = None) -> EngineServer:
    """The server for daemon's API. Log levels are config.apply_log_levels's to set (they
    change on reload), unless a log_level is given (a test's server)."""
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
        access_log=True,  # its logger's level decides: shown in debug mode
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
    return EngineServer(config, hijacked, daemon.config, tls_context, notifier)


def run(config: Config, daemon, sockets: list[socket.socket], *, tls_context: ssl.SSLContext | None = None,
        notifier: Notifier | None = None) -> None:
    """Serve on sockets until SIGTERM/SIGINT."""
    # uvicorn restores the handlers it found and raises the signal again once it has shut
    # down: with these, that second delivery does nothing and we return normally.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server = make_server(daemon, tls_context=tls_context, notifier=notifier)
    log.info("API listening on %s", ", ".join(config.hosts))
    asyncio.run(server.serve(sockets=sockets))
    listeners.cleanup(config.hosts)

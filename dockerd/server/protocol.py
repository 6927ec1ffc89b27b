"""uvicorn's h11 protocol, taught to let go of `Upgrade: tcp` requests for the hijack routes.

Leans on uvicorn internals (`_get_upgrade`, `_should_upgrade`, `handle_websocket_upgrade`,
`self.conn`, `self.connections`), hence the exact uvicorn pin. Every other request, with
Upgrade headers or not, is plain HTTP for the FastAPI app.
"""
from __future__ import annotations

from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from . import hijack


class EngineProtocol(H11Protocol):
    daemon: Any = None  # set on the subclass a server makes, see protocol_class()
    hijacked: hijack.Connections

    def _should_upgrade(self) -> bool:
        upgrade = self._get_upgrade()
        if upgrade == b"tcp":
            return hijack.match(self.scope["method"], self.scope["path"]) is not None
        # Anything else we do not take over is served as plain HTTP, without uvicorn's warning.
        return upgrade == b"websocket" and super()._should_upgrade()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        if self._get_upgrade() != b"tcp":
            super().handle_websocket_upgrade(event)
            return
        # h11 has parsed the head; whatever followed it (some of the body, even input) is
        # still in its buffer. From here on the transport is ours.
        buffered, _ = self.conn.trailing_data
        self.connections.discard(self)
        conn = hijack.HijackedConnection(self.transport, buffered)
        self.transport.set_protocol(conn)
        self.transport.resume_reading()
        self.hijacked.start(conn, event.method.decode("ascii"), event.target.decode("latin-1"), event.headers,
                            self.daemon)


def protocol_class(daemon: Any, hijacked: hijack.Connections) -> type[EngineProtocol]:
    """The protocol uvicorn instantiates per connection, bound to this server's daemon."""
    return type("BoundEngineProtocol", (EngineProtocol,), {"daemon": daemon, "hijacked": hijacked})

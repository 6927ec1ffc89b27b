"""TLS on pydockerd's TCP listeners (dockerd's --tls, --tlsverify, --tlscacert, --tlscert,
--tlskey): unix sockets stay plain, as dockerd's do.

    context = server_context(config)        # errors name the flag and the file
    loop.create_server(lambda: TLSProtocol(context, app_protocol()), sock=tcp_socket)

asyncio's own TLS (create_server(ssl=...)) knows no half-close: it closes a connection as
soon as the client sends close_notify, and its transport cannot send ours. The Docker CLI
sends close_notify when its input ends (tls.Conn.CloseWrite), for `docker run` without -i
at once, and reads the output until the server's: on asyncio's TLS the output would be lost,
or end only when the hijacked connection times out. TLSProtocol does both half-closes.
"""
from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto

import errdefs

from ..config import Config


def server_context(config: Config) -> ssl.SSLContext:
    """The server's certificate and key; with --tlsverify, clients must present a certificate
    signed by the CA in --tlscacert (and only that CA is trusted)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # dockerd's floor
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(config.tlscert, config.tlskey)
    except (OSError, ssl.SSLError) as e:
        raise errdefs.InvalidArgument(f"invalid TLS configuration: tlscert {config.tlscert} or tlskey "
                                      f"{config.tlskey}: {e}") from None
    if config.verifies_clients:
        try:
            context.load_verify_locations(cafile=config.tlscacert)
        except (OSError, ssl.SSLError) as e:
            raise errdefs.InvalidArgument(f"invalid TLS configuration: tlscacert {config.tlscacert}: {e}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class TLSProtocol(sslproto.SSLProtocol):
    """asyncio's TLS protocol with half-closes, as on a plain socket: the client's close_notify
    ends only its direction when the protocol's eof_received() says to keep the connection
    (a hijacked attach does), and the transport's write_eof() sends our close_notify while the
    client's input still comes (a hijacked attach's end of output).

    Leans on asyncio.sslproto's internals (Python 3.11's): when the client's close_notify
    arrives, _do_read calls _call_eof_received and then _start_shutdown, the latter also
    on every read after it; the application's close() calls _start_shutdown after marking
    its transport closed; _get_app_transport makes the application's transport."""

    def __init__(self, context: ssl.SSLContext, app_protocol: asyncio.Protocol):
        super().__init__(asyncio.get_running_loop(), app_protocol, context, None, server_side=True)
        self._half_closed = False  # the client's direction ended and the protocol keeps ours

    def _get_app_transport(self):
        if self._app_transport is None:
            self._app_transport = _HalfClosingTransport(self._loop, self)
            self._app_transport_created = True
        return self._app_transport

    def _call_eof_received(self) -> None:
        if self._app_state != sslproto.AppProtocolState.STATE_CON_MADE:
            return
        self._app_state = sslproto.AppProtocolState.STATE_EOF
        try:
            self._half_closed = bool(self._app_protocol.eof_received())
        except Exception as e:
            self._fatal_error(e, "Error calling eof_received()")

    def _start_shutdown(self) -> None:
        if self._half_closed and not (self._app_transport is not None and self._app_transport._closed):
            return  # a read after the client's close_notify: our direction stays open
        super()._start_shutdown()

    def _write_eof(self) -> None:
        try:
            self._sslobj.unwrap()  # sends close_notify; the client's reply is read as any input
        except ssl.SSLError:
            pass  # wants the client's close_notify, which comes (or not) later
        self._process_outgoing()


class _HalfClosingTransport(sslproto._SSLProtocolTransport):
    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self._ssl_protocol._write_eof()

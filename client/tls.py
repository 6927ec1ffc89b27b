"""TLS to the daemon (--tls, --tlsverify, --tlscacert, --tlscert, --tlskey; DOCKER_TLS_VERIFY,
DOCKER_CERT_PATH), as the Docker CLI speaks it. Imported only by a command that uses TLS:
ssl costs more than `pydocker ps` may spend.

The connection is ssl's SSLObject over memory buffers rather than an ssl.SSLSocket, for two
things attach and exec need: shutdown(SHUT_WR) sends close_notify and the rest of the output
is still read (the Docker CLI's CloseWrite; SSLSocket drops its TLS state on shutdown), and
recv() hands over all that is already decrypted, so that select() on the socket never waits
on data sitting in a buffer.
"""
from __future__ import annotations

import socket
import ssl


class TLSError(Exception):
    pass


def context(ca: str, cert: str | None, key: str | None, verify: bool) -> ssl.SSLContext:
    """The client's context: the server checked against ca (with verify), our certificate
    shown if there is one. TLSError with the Docker CLI's words for a file it cannot use."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    if verify:
        try:
            tls.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as e:
            raise TLSError(f'could not read CA certificate "{ca}": {e}') from None
    else:
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    if cert or key:
        try:
            tls.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as e:
            raise TLSError(f"could not load X509 key pair ({cert}, {key}): {e}") from None
    return tls


class TLSSocket:
    """A connected socket, TLS from the handshake on; the calls api and streams make."""

    def __init__(self, sock: socket.socket, tls: ssl.SSLContext, server_hostname: str):
        self._sock = sock
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = tls.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)
        self._held = b""  # decrypted before our close_notify, not yet returned
        self._call(self._tls.do_handshake)

    def _call(self, operation, *args):
        while True:
            try:
                result = operation(*args)
            except ssl.SSLWantReadError:
                self._flush()
                data = self._sock.recv(65536)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
                continue
            self._flush()
            return result

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self._sock.sendall(data)

    def _decrypted(self) -> bytes:
        """What the buffers hold already, decrypted, without waiting for the socket."""
        data = b""
        while self._tls.pending() or self._incoming.pending:
            try:
                more = self._tls.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            if not more:
                break
            data += more
        return data

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self._call(self._tls.write, view):]

    def recv(self, size: int) -> bytes:
        if self._held:
            data, self._held = self._held, b""
            return data
        try:
            data = self._call(self._tls.read, size)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):  # the server's close_notify, or a bare close
            return b""
        return data + self._decrypted()

    def shutdown(self, how: int) -> None:
        """SHUT_WR: close_notify; the server's output still arrives."""
        self._held += self._decrypted()  # ssl's shutdown must find no output unread
        try:
            self._tls.unwrap()
        except ssl.SSLError:
            pass  # it waits for the server's close_notify, which comes with the end of the output
        self._flush()

    def fileno(self) -> int:
        return self._sock.fileno()

    def settimeout(self, timeout: float | None) -> None:
        self._sock.settimeout(timeout)

    def close(self) -> None:
        self._sock.close()

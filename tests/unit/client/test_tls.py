"""pydocker's TLS: the Docker CLI's flags and environment, and the connection's half-close
(close_notify sent, the server's reply still read) against a TLS server in a thread."""
import socket
import ssl
import threading

import pytest

from client import api
from client.__main__ import _split_globals
from client.tls import TLSError, TLSSocket, context
from tests.fixtures.certs import make_certs


def test_tls_flags_are_globals():
    assert _split_globals(["--tlsverify", "--tlscacert", "/ca.pem", "--tlscert=/c.pem", "--tlskey", "/k.pem",
                           "-H", "tcp://h:2376", "ps", "--tls"]) == (
        "tcp://h:2376", False, {"tlsverify": True, "tlscacert": "/ca.pem", "tlscert": "/c.pem", "tlskey": "/k.pem"},
        ["ps", "--tls"])
    assert _split_globals(["--tls=false", "ps"])[2] == {"tls": False}


def test_settings_from_flags_and_environment(tmp_path, monkeypatch):
    for name in ("DOCKER_TLS_VERIFY", "DOCKER_TLS", "DOCKER_CERT_PATH", "DOCKER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert api.TLS.from_flags({}) is None
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    (tmp_path / "cert.pem").write_text("")
    settings = api.TLS.from_flags({"tls": True})
    assert (settings.ca, settings.cert, settings.key, settings.verify) == (
        f"{tmp_path}/ca.pem", f"{tmp_path}/cert.pem", None, False)  # a default file only if it is there
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    settings = api.TLS.from_flags({"tlscacert": "/mine.pem"})
    assert settings.verify and settings.ca == "/mine.pem"


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(TLSError, match=f'could not read CA certificate "{tmp_path}/none.pem"'):
        context(str(tmp_path / "none.pem"), None, None, verify=True)
    certs = make_certs(tmp_path)
    with pytest.raises(TLSError, match="could not load X509 key pair"):
        context(str(certs.ca), str(certs.client_cert), str(tmp_path / "none.pem"), verify=True)


def test_half_close_sends_close_notify_and_the_reply_still_arrives(tmp_path):
    certs = make_certs(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certs.server_cert, certs.server_key)
    server_context.load_verify_locations(certs.ca)
    server_context.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    received = []

    def serve():
        raw, _ = listener.accept()
        with server_context.wrap_socket(raw, server_side=True) as conn:
            while data := conn.recv(65536):  # b"" at the client's close_notify
                received.append(data)
            conn.sendall(b"reply after your end, " * 1000)
            conn.unwrap()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = TLSSocket(socket.create_connection(listener.getsockname()),
                       context(str(certs.ca), str(certs.client_cert), str(certs.client_key), verify=True), "127.0.0.1")
    client.sendall(b"input")
    client.shutdown(socket.SHUT_WR)
    reply = b""
    while data := client.recv(65536):
        reply += data
    client.close()
    thread.join(10)
    listener.close()
    assert b"".join(received) == b"input" and reply == b"reply after your end, " * 1000

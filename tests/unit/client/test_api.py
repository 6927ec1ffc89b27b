"""The transport: a real unix socket served by a thread, no daemon: request line, chunked
replies, the daemon's error message and connection failures."""
from __future__ import annotations

import socket
import threading

import pytest

from client import api


def answer(server, reply: bytes, seen: list, api_version: str = "1.50") -> None:
    """Answer the version negotiation's /_ping, then one request with reply."""
    while True:
        connection, _ = server.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(4096)
        seen.append(data)
        if data.startswith(b"GET /_ping "):
            connection.sendall(f"HTTP/1.1 200 OK\r\nApi-Version: {api_version}\r\nContent-Length: 2\r\n\r\nOK".encode())
            connection.close()
            continue
        connection.sendall(reply)
        connection.close()
        server.close()
        return


def serve_once(path, reply: bytes, seen: list, api_version: str = "1.50"):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def handle():
        answer(server, reply, seen, api_version)

    thread = threading.Thread(target=handle, daemon=True)
    thread.start()
    return thread


def test_get_json_with_version_prefix_and_chunked_body(tmp_path):
    seen = []
    body = b'[{"Id":"x"}]'
    chunked = b"5\r\n" + body[:5] + b"\r\n" + f"{len(body) - 5:x}".encode() + b"\r\n" + body[5:] + b"\r\n0\r\n\r\n"
    thread = serve_once(tmp_path / "s", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked, seen)
    client = api.Client(f"unix://{tmp_path}/s")
    assert client.get_json("/containers/json", {"all": "1", "limit": None}) == [{"Id": "x"}]
    thread.join(5)
    assert seen[0].startswith(b"GET /_ping HTTP/1.1\r\n")
    assert seen[1].startswith(b"GET /v1.50/containers/json?all=1 HTTP/1.1\r\n")


def test_an_older_daemon_sets_the_version_and_docker_api_version_pins_it(tmp_path, monkeypatch):
    seen = []
    thread = serve_once(tmp_path / "s", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", seen, api_version="1.41")
    assert api.Client(f"unix://{tmp_path}/s").get_json("/info") == {}
    thread.join(5)
    assert seen[1].startswith(b"GET /v1.41/info HTTP/1.1\r\n")
    seen.clear()
    thread = serve_once(tmp_path / "t", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", seen, api_version="1.99")
    monkeypatch.setenv("DOCKER_API_VERSION", "1.44")
    assert api.Client(f"unix://{tmp_path}/t").get_json("/info") == {}
    thread.join(5)
    assert len(seen) == 1 and seen[0].startswith(b"GET /v1.44/info HTTP/1.1\r\n")


def test_daemon_error_carries_its_message(tmp_path):
    seen = []
    thread = serve_once(tmp_path / "s", b'HTTP/1.1 404 Not Found\r\nContent-Length: 39\r\n\r\n'
                        b'{"message":"No such container: nosuch"}', seen)
    with pytest.raises(api.APIError) as error:
        api.Client(f"unix://{tmp_path}/s").get_json("/containers/nosuch/json")
    thread.join(5)
    assert (error.value.status, error.value.message) == (404, "No such container: nosuch")


def test_cannot_connect_names_the_host(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    with pytest.raises(api.CannotConnect) as error:
        api.Client().get_json("/version")
    assert str(error.value) == (f"Cannot connect to the Docker daemon at unix://{tmp_path}/none.sock. "
                                "Is the docker daemon running?")
    monkeypatch.delenv("DOCKER_HOST")
    assert api.Client().host == "unix:///run/pydocker.sock"
    with pytest.raises(api.CannotConnect):
        api.Client("tcp://127.0.0.1:1").get_json("/version")


def test_ps_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys; from client.commands import load; load(['ps']); import client.api, client.formatting; "
            "print(' '.join(sorted(sys.modules)))")
    modules = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout.split())
    assert not modules & {"httpx", "rich", "http.client", "email", "asyncio", "ssl", "pydantic", "argparse",
                          "json", "re", "socket", "urllib.parse", "enum"}


@pytest.mark.parametrize("text", ['[{"Id":"x","N":[1,2.5,true,null],"S":"\\u00e9"}]', ' {"a": {}} ', '[]', '"s"', '12'])
def test_loads_matches_json(text):
    import json

    assert api.loads(text) == json.loads(text)
    assert api.loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize("text", ["", "{", '{"a":1} x', "nope"])
def test_loads_rejects_what_json_rejects(text):
    with pytest.raises(ValueError):
        api.loads(text)


def test_tcp_host(tmp_path):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    seen = []

    def handle():
        answer(server, b'HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{"Version":"x"}', seen)

    thread = threading.Thread(target=handle, daemon=True)
    thread.start()
    assert api.Client(f"tcp://127.0.0.1:{port}").get_json("/version") == {"Version": "x"}
    thread.join(5)
    assert seen[1].startswith(b"GET /v1.50/version HTTP/1.1\r\n")


def test_query_and_path_quoting():
    assert api.quote('{"status":{"exited":true}}') == "%7B%22status%22%3A%7B%22exited%22%3Atrue%7D%7D"
    assert api.q("localhost:5000/x/y:1") == "localhost:5000/x/y:1"
    assert api.q("a b#c") == "a%20b%23c"

"""Hijacked connections through the real server, against handlers registered here: the 101,
the body (Content-Length, some of it read along with the head), raw bytes both ways, the
client's half-close, an end without a reset, errors before the upgrade, and docker-py."""
import asyncio
import json
import socket
import threading

import docker
import pytest
from docker.utils.socket import consume_socket_output, demux_adaptor, frames_iter

from dockerd.api.streams import MULTIPLEXED_STREAM, RAW_STREAM, STDERR, STDOUT, frame
from dockerd.server import hijack

from .engine_server import EngineServer


@pytest.fixture(scope="module")
def served():
    with EngineServer() as server:
        yield server


@pytest.fixture
def registered():
    handlers = []

    def register(method, path, handler):
        hijack.route(method, path, handler)
        handlers.append(handler)

    yield register
    for handler in handlers:
        hijack.unroute(handler)


def _upgrade_request(path: str, body: bytes = b"", extra: bytes = b"") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: api.moby.localhost\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n").encode() + body + extra


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _read_to_end(sock: socket.socket, already: bytes = b"") -> bytes:
    """Everything until the server's end of stream; a reset fails the test."""
    data = already
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_echo_round_trip_with_body_input_and_half_close(served, registered):
    seen = {}

    async def echo(request: hijack.HijackRequest, conn: hijack.HijackedConnection) -> None:
        seen.update(params=request.params, stream=request.query.get("stream"), body=request.body,
                    version=request.api_version)
        await conn.upgrade(RAW_STREAM)
        await conn.write(b"body:" + request.body + b"\n")
        while data := await conn.read():
            await conn.write(data.upper())
        await conn.write(b"input ended\n")

    registered("POST", "/containers/{id}/attach", echo)
    with served.connect() as sock:
        # The body and the first input arrive with the head, as a fast client sends them.
        sock.sendall(_upgrade_request("/v1.50/containers/c1/attach?stream=1", b"hello", b"abc"))
        head, rest = _read_head(sock)
        lines = head.decode().split("\r\n")
        assert lines[0] == "HTTP/1.1 101 UPGRADED"
        assert f"Content-Type: {RAW_STREAM}" in lines
        assert "Connection: Upgrade" in lines and "Upgrade: tcp" in lines
        assert not any(line.lower().startswith(("content-length", "transfer-encoding")) for line in lines)
        sock.sendall(b"def")
        sock.shutdown(socket.SHUT_WR)
        output = _read_to_end(sock, rest)
    assert output == b"body:hello\nABCDEFinput ended\n"
    assert seen == {"params": {"id": "c1"}, "stream": "1", "body": b"hello", "version": "1.50"}


def test_output_continues_after_the_clients_half_close(served, registered):
    async def late_output(request, conn):
        await conn.upgrade(MULTIPLEXED_STREAM)
        assert await conn.read() == b""
        for n in range(3):
            await conn.write(frame(STDOUT, f"line {n}\n".encode()))

    registered("POST", "/exec/{id}/start", late_output)
    with served.connect() as sock:
        sock.sendall(_upgrade_request("/exec/e1/start"))
        sock.shutdown(socket.SHUT_WR)
        head, rest = _read_head(sock)
        assert head.startswith(b"HTTP/1.1 101 UPGRADED")
        output = _read_to_end(sock, rest)
    assert output == b"".join(frame(STDOUT, f"line {n}\n".encode()) for n in range(3))


def test_the_end_is_not_a_reset_even_with_unread_input(served, registered):
    async def ignores_input(request, conn):
        await conn.upgrade(RAW_STREAM)
        await conn.write(b"bye\n")

    registered("POST", "/exec/{id}/start", ignores_input)
    with served.connect() as sock:
        sock.sendall(_upgrade_request("/exec/e2/start") + b"x" * 100_000)
        head, rest = _read_head(sock)
        assert _read_to_end(sock, rest) == b"bye\n"  # a reset would raise here


def test_errors_before_the_upgrade_are_json_replies(served, registered):
    import errdefs

    async def missing(request, conn):
        raise errdefs.NotFound(f"No such container: {request.params['id']}")

    registered("POST", "/containers/{id}/attach", missing)
    with served.connect() as sock:
        sock.sendall(_upgrade_request("/containers/nope/attach"))
        head, rest = _read_head(sock)
        body = _read_to_end(sock, rest)
    assert head.startswith(b"HTTP/1.1 404 Not Found")
    assert b"Content-Type: application/json" in head.split(b"\r\n")
    assert json.loads(body) == {"message": "No such container: nope"}


def test_a_bad_version_prefix_is_refused_before_the_handler(served, registered):
    called = []

    async def handler(request, conn):
        called.append(True)

    registered("POST", "/containers/{id}/attach", handler)
    with served.connect() as sock:
        sock.sendall(_upgrade_request("/v1.51/containers/c/attach"))
        head, rest = _read_head(sock)
        body = _read_to_end(sock, rest)
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["message"].startswith("client version 1.51 is too new")
    assert called == []


def test_other_paths_and_requests_without_upgrade_go_to_the_app(served, registered):
    async def never(request, conn):
        raise AssertionError("hijacked a request that is not ours")

    # Paths the app does not serve either, so that what reaches it answers 404.
    registered("POST", "/hijack-test/{id}/stream", never)
    with served.connect() as sock:  # Upgrade: tcp on a path with no hijack route
        sock.sendall(_upgrade_request("/hijack-test/c/other"))
        head, _ = _read_head(sock)
        assert head.startswith(b"HTTP/1.1 404")
    status, _, body = served.request("POST", "/hijack-test/c/stream")  # no Upgrade
    assert status == 404 and json.loads(body) == {"message": "page not found"}


def test_the_handler_learns_that_the_client_went_away(served, registered):
    gone = threading.Event()
    upgraded = threading.Event()

    async def waits(request, conn):
        await conn.upgrade(RAW_STREAM)
        upgraded.set()
        assert await conn.read() == b""  # a close looks like a half-close...
        with pytest.raises(ConnectionError):  # ...until output finds nobody there
            for _ in range(1000):
                await conn.write(b"x")
                await asyncio.sleep(0.01)
        await conn.wait_gone()
        assert conn.gone
        gone.set()

    registered("POST", "/containers/{id}/attach", waits)
    sock = served.connect()
    sock.sendall(_upgrade_request("/containers/c/attach"))
    _read_head(sock)
    assert upgraded.wait(10)
    sock.close()
    assert gone.wait(30)


def test_docker_py_exec_start_reads_the_frames(served, registered):
    loop_and_go = {}

    async def exec_start(request, conn):
        assert request.json() == {"Tty": False, "Detach": False}
        # As a real exec, output comes once the process runs: here, once the client has the socket.
        go = asyncio.Event()
        loop_and_go["go"] = (asyncio.get_running_loop(), go)
        await conn.upgrade(MULTIPLEXED_STREAM)
        await go.wait()
        await conn.write(frame(STDOUT, b"out\n"))
        await conn.write(frame(STDERR, b"err\n"))

    registered("POST", "/exec/{id}/start", exec_start)
    client = docker.APIClient(base_url=f"unix://{served.path}", version="1.50")
    with client:
        sock = client.exec_start("e" * 64, socket=True)
        loop, go = loop_and_go["go"]
        loop.call_soon_threadsafe(go.set)
        frames = (demux_adaptor(*f) for f in frames_iter(sock, tty=False))
        assert consume_socket_output(frames, demux=True) == (b"out\n", b"err\n")
        sock.close()

"""The stream helpers through the real server: JSON message streams and container output."""
import json

import pytest

import errdefs
from dockerd.api import streams

from .engine_server import EngineServer


@pytest.fixture(scope="module")
def served():
    with EngineServer() as server:
        app = server.app

        @app.get("/test/pull/{outcome}")
        async def pull(outcome: str):
            def messages():
                if outcome == "missing":
                    raise errdefs.NotFound("pull access denied for x, repository does not exist")
                yield {"status": "Pulling from library/busybox", "id": "latest"}
                if outcome == "fails":
                    raise errdefs.Unknown("manifest unknown")
                yield {"status": "Downloaded newer image for busybox:latest"}
            return await streams.json_stream(messages())

        @app.get("/test/logs/{tty}")
        async def logs(tty: str):
            chunks = [(streams.STDOUT, b"out\n"), (streams.STDERR, b"err\n")]
            return await streams.output_stream(chunks, tty == "tty")

        yield server


def test_frames_have_an_8_byte_header():
    assert streams.frame(streams.STDOUT, b"hi\n") == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
    assert streams.frame(streams.STDERR, b"x" * 256)[:8] == b"\x02\x00\x00\x00\x00\x00\x01\x00"


def test_a_json_stream_is_chunked_json_one_message_each(served):
    status, headers, body = served.request("GET", "/test/pull/ok")
    assert (status, headers["content-type"], headers["transfer-encoding"]) == (200, "application/json", "chunked")
    assert [json.loads(line) for line in body.splitlines()] == [
        {"status": "Pulling from library/busybox", "id": "latest"},
        {"status": "Downloaded newer image for busybox:latest"}]


def test_an_error_before_the_first_message_is_a_plain_http_error(served):
    status, headers, body = served.request("GET", "/test/pull/missing")
    assert (status, headers["content-type"]) == (404, "application/json")
    assert json.loads(body) == {"message": "pull access denied for x, repository does not exist"}


def test_an_error_after_it_ends_the_stream_with_error_detail_and_error(served):
    status, _, body = served.request("GET", "/test/pull/fails")
    assert status == 200
    assert json.loads(body.splitlines()[-1]) == {"errorDetail": {"message": "manifest unknown"},
                                                 "error": "manifest unknown"}


def test_output_is_framed_without_a_tty_and_raw_with_one(served):
    status, headers, body = served.request("GET", "/test/logs/notty")
    assert headers["content-type"] == streams.MULTIPLEXED_STREAM
    assert body == streams.frame(streams.STDOUT, b"out\n") + streams.frame(streams.STDERR, b"err\n")
    status, headers, body = served.request("GET", "/test/logs/tty")
    assert (headers["content-type"], body) == (streams.RAW_STREAM, b"out\nerr\n")

"""client/progress.py: docker's jsonmessage display, byte for byte, on and off a terminal."""
import io

import pytest

from client import progress


class Reply:
    """An API response's body in the pieces it arrives in."""

    def __init__(self, *pieces: bytes):
        self._pieces = list(pieces)

    def read_some(self) -> bytes:
        return self._pieces.pop(0) if self._pieces else b""


def shown(messages: list[dict], terminal: bool) -> str:
    out = io.StringIO()
    progress.display(iter(messages), out, terminal)
    return out.getvalue()


def test_messages_split_on_lines_whatever_the_pieces():
    reply = Reply(b'{"status":"a"}\r\n{"sta', b'tus":"b","id":"x"}\n\n{"status"', b':"c"}')
    assert list(progress.messages(reply)) == [{"status": "a"}, {"status": "b", "id": "x"}, {"status": "c"}]


def test_without_a_terminal_counted_progress_is_left_out():
    messages = [
        {"status": "Pulling from library/busybox", "id": "latest"},
        {"status": "Pulling fs layer", "progressDetail": {}, "id": "abc"},
        {"status": "Downloading", "progressDetail": {"current": 10, "total": 100}, "progress": "[=>  ]", "id": "abc"},
        {"status": "Pull complete", "progressDetail": {}, "id": "abc"},
        {"status": "Digest: sha256:1234"},
        {"stream": "Loaded image: busybox:latest\n"},
        {"aux": {"Tag": "latest"}},
    ]
    assert shown(messages, terminal=False) == (
        "latest: Pulling from library/busybox\nabc: Pulling fs layer\nabc: Pull complete\nDigest: sha256:1234\n"
        "Loaded image: busybox:latest\n")


def test_on_a_terminal_each_layer_is_a_line_redrawn_in_place():
    messages = [
        {"status": "Pulling from library/busybox", "id": "latest"},
        {"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"},
        {"status": "Pulling fs layer", "progressDetail": {}, "id": "bbb"},
        {"status": "Downloading", "progressDetail": {"current": 500_000, "total": 1_000_000}, "id": "aaa"},
        {"status": "Pull complete", "progressDetail": {}, "id": "bbb"},
        {"status": "Status: Downloaded newer image for busybox:latest"},
    ]
    assert shown(messages, terminal=True) == (
        "latest: Pulling from library/busybox\n"
        "\n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1B"       # a new id: a new line, written from above it
        "\n\x1b[1A\x1b[2K\rbbb: Pulling fs layer \r\x1b[1B"
        "\x1b[2A\x1b[2K\raaa: Downloading [" + "=" * 25 + ">" + " " * 25 + "]    500kB/1MB\r\x1b[2B"
        "\x1b[1A\x1b[2K\rbbb: Pull complete \r\x1b[1B"
        "Status: Downloaded newer image for busybox:latest\n")


def test_a_message_without_an_id_starts_a_new_block():
    messages = [{"status": "One", "progressDetail": {}, "id": "a"}, {"status": "between"},
                {"status": "Two", "progressDetail": {}, "id": "a"}]
    assert shown(messages, terminal=True) == ("\n\x1b[1A\x1b[2K\ra: One \r\x1b[1B" "between\n"
                                              "\n\x1b[1A\x1b[2K\ra: Two \r\x1b[1B")


@pytest.mark.parametrize("detail, width, text", [
    ({}, 200, ""),
    ({"current": 0, "total": 0}, 200, ""),
    ({"current": 1_234}, 200, " 1.234kB"),
    ({"current": 3, "units": "layers"}, 200, "3 layers"),
    ({"current": 0, "total": 3_011_000}, 200, "[>" + " " * 50 + "]       0B/3.011MB"),
    ({"current": 3_011_000, "total": 3_011_000}, 200, "[" + "=" * 50 + ">]  3.011MB/3.011MB"),
    ({"current": 1_049_000, "total": 3_011_000}, 111, "[" + "=" * 17 + ">" + " " * 33 + "]  1.049MB/3.011MB"),
    ({"current": 1_049_000, "total": 3_011_000}, 110, " 1.049MB/3.011MB"),
    ({"current": 4_000, "total": 3_000}, 80, "     4kB"),
    ({"current": 1, "total": 2, "units": "files"}, 80, "1/2 files"),
    ({"current": 1, "total": 2, "hidecounts": True}, 80, ""),
])
def test_progress_text(detail, width, text):
    assert progress.progress_text(detail, width) == text


def test_time_left_from_the_start_time():
    detail = {"current": 25, "total": 100, "start": 1_000}
    assert progress.progress_text(detail, 80, now=1_010) == "     25B/100B 30s"
    assert progress.progress_text(detail, 50, now=1_010) == "     25B/100B"
    assert progress.progress_text({**detail, "total": 10_000}, 80, now=1_010) == "     25B/10kB 1h6m30s"


def test_an_error_message_ends_the_display_after_what_came_before():
    out = io.StringIO()
    with pytest.raises(progress.StreamError, match="^manifest unknown$"):
        progress.display(iter([{"status": "Pulling fs layer", "progressDetail": {}, "id": "a"},
                               {"errorDetail": {"message": "manifest unknown"}, "error": "manifest unknown", "id": "a"},
                               {"status": "never shown"}]), out, terminal=True)
    assert out.getvalue() == "\n\x1b[1A\x1b[2K\ra: Pulling fs layer \r\x1b[1B"

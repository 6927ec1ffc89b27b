"""pydockerd-logger's json-file lines: whole lines, partial lines, 16 KiB pieces."""
import json

from dockerd.logger.__main__ import MAX_MESSAGE, Stream, timestamp


def decode(lines):
    return [json.loads(line) for line in lines]


def test_complete_lines_become_one_entry_each_in_dockers_format():
    stream = Stream(3, "stdout")
    lines = stream.take(b"a\nbb\n", "2025-01-01T00:00:00.000000001Z")
    assert lines[0] == b'{"log":"a\\n","stream":"stdout","time":"2025-01-01T00:00:00.000000001Z"}\n'
    assert [e["log"] for e in decode(lines)] == ["a\n", "bb\n"]
    assert stream.pending == b""


def test_a_partial_line_waits_for_its_end_or_a_flush():
    stream = Stream(4, "stderr")
    assert stream.take(b"prompt> ", "t") == []
    assert [e["log"] for e in decode(stream.take(b"rest\n", "t"))] == ["prompt> rest\n"]
    assert stream.take(b"x", "t") == []
    assert decode(stream.flush("t")) == [{"log": "x", "stream": "stderr", "time": "t"}]
    assert stream.flush("t") == []


def test_long_lines_are_cut_at_16_kib():
    stream = Stream(3, "stdout")
    entries = decode(stream.take(b"y" * (MAX_MESSAGE * 2 + 5) + b"\n", "t"))
    assert [len(e["log"]) for e in entries] == [MAX_MESSAGE, MAX_MESSAGE, 6]
    assert entries[-1]["log"].endswith("\n")


def test_timestamps_are_rfc3339_with_nanoseconds_in_utc():
    assert timestamp(1735689600_123456789) == "2025-01-01T00:00:00.123456789Z"
    assert timestamp(5) == "1970-01-01T00:00:00.000000005Z"

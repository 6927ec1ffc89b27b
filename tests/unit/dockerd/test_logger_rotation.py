"""json-file rotation: pydockerd-logger's LogFile rotates json.log as Docker does (max-size,
max-file), logs.py reads the rotated files in order and follows json.log across rotations,
and the options are checked with Docker's words."""
import os

import pytest

from dockerd.daemon import logs
from dockerd.logger import options
from dockerd.logger.__main__ import LogFile, entry


def text(n: int) -> str:
    return f"line {n:02d}\n"  # every entry the same size


def line(n: int) -> bytes:
    return entry(text(n).encode(), "stdout", f"2025-01-01T00:00:00.{n:09d}Z")


def texts(entries) -> list[str]:
    return [e.data.decode() for e in entries]


def names(tmp_path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


def test_rotation_keeps_max_file_files_the_newest_in_json_log(tmp_path):
    path = str(tmp_path / "c-json.log")
    size = len(line(0))
    log = LogFile(path, max_size=3 * size, max_files=3)
    log.write([line(n) for n in range(20)])
    log.close()
    assert names(tmp_path) == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    # a file is full at max_size; the next entry starts a fresh one
    assert [os.path.getsize(f"{path}{s}") for s in (".2", ".1", "")] == [3 * size, 3 * size, 2 * size]
    assert texts(logs.Reader(path).read()) == [text(n) for n in range(12, 20)]
    assert texts(logs.Reader(path, 0).read()) == [text(18), text(19)]  # json.log alone from an offset


def test_one_file_is_emptied_when_full(tmp_path):
    path = str(tmp_path / "c-json.log")
    log = LogFile(path, max_size=2 * len(line(0)), max_files=1)
    log.write([line(n) for n in range(5)])
    log.close()
    assert names(tmp_path) == ["c-json.log"]
    assert texts(logs.Reader(path).read()) == [text(4)]


def test_without_max_size_nothing_rotates(tmp_path):
    path = str(tmp_path / "c-json.log")
    log = LogFile(path)
    log.write([line(n) for n in range(100)])
    log.close()
    assert names(tmp_path) == ["c-json.log"] and len(logs.Reader(path).read()) == 100


def test_json_log_is_always_locked_by_the_logger(tmp_path):
    path = str(tmp_path / "c-json.log")
    log = LogFile(path, max_size=len(line(0)), max_files=4)
    for n in range(6):
        log.write([line(n)])
        assert not logs.logger_done(path)
    log.close()
    assert logs.logger_done(path)


def test_a_follower_goes_on_across_rotations_and_truncations(tmp_path):
    path = str(tmp_path / "c-json.log")
    for max_files in (3, 1):
        for leftover in tmp_path.iterdir():
            leftover.unlink()
        log = LogFile(path, max_size=2 * len(line(0)), max_files=max_files)
        reader = logs.Reader(path)
        seen = []
        for n in range(9):
            log.write([line(n)])
            seen += texts(reader.read())  # read after each line: the follower keeps up
        log.close()
        reader.close()
        assert seen == [text(n) for n in range(9)], max_files


def test_read_log_batches_with_tail_spans_the_rotated_files(tmp_path):
    path = str(tmp_path / "c-json.log")
    log = LogFile(path, max_size=2 * len(line(0)), max_files=5)
    log.write([line(n) for n in range(9)])
    log.close()
    common = dict(stdout=True, stderr=True, since_ns=None, until_ns=None, timestamps=False, follow_until=None)
    assert [d for _, d in logs.read_logs(path, tail=None, **common)] == [text(n).encode() for n in range(9)]
    assert [d for _, d in logs.read_logs(path, tail=3, **common)] == [text(n).encode() for n in (6, 7, 8)]
    assert list(logs.read_logs(path, tail=0, **common)) == []


@pytest.mark.parametrize("opts, words", [
    ({"max-size": "10x"}, "invalid size: '10x'"),
    ({"max-size": "-1"}, "invalid size: '-1'"),
    ({"max-file": "0"}, "max-file cannot be less than 1"),
    ({"compress": "maybe"}, 'strconv.ParseBool: parsing "maybe": invalid syntax'),
    ({"compress": "1"}, "compress is not supported"),
    ({"labels": "a"}, "unknown log opt 'labels' for json-file log driver"),
])
def test_bad_options_have_dockers_words(opts, words):
    with pytest.raises(ValueError, match=words):
        options.check("json-file", opts)


def test_options_become_the_loggers_arguments():
    assert options.check("json-file", {"max-size": "10m", "max-file": "3", "compress": "false"}) == {
        "max-size": 10_000_000, "max-file": 3}
    assert [options.parse_size(s) for s in ("1k", "1.5K", "2mb", "3 g", "7", "2KiB")] == [
        1000, 1500, 2_000_000, 3_000_000_000, 7, 2000]
    assert options.check("none", {"whatever": "x"}) == {}
    with pytest.raises(ValueError, match="no log driver named 'journald'"):
        options.check("journald", {})

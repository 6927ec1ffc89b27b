"""Reading the json-file log in batches: lines cut by a chunk's end, tail across batches,
since/until, timestamps, stream selection, lines the fast path does not take."""
import json

from dockerd.api.streams import frame, frames
from dockerd.daemon import logs
from dockerd.logger.__main__ import Stream

T0 = "2025-01-01T00:00:00.000000000Z"


def at(second: int) -> str:
    return f"2025-01-01T00:00:{second:02d}.000000000Z"


def ns(second: int) -> int:
    return (1735689600 + second) * 1_000_000_000


def write(path, lines, stream="stdout", when=T0):
    with open(path, "ab") as file:
        for line in lines:
            file.write(b"".join(Stream(3, stream).take(line, when)))


def read(path, chunk=logs.CHUNK, **options):
    defaults = dict(stdout=True, stderr=True, tail=None, since_ns=None, until_ns=None, timestamps=False,
                    follow_until=None)
    batches = list(logs.read_log_batches(str(path), **{**defaults, **options}, chunk=chunk))
    assert all(batches), "no empty batches"
    return [item for batch in batches for item in batch], len(batches)


def test_small_chunks_give_every_line_once_in_order(tmp_path):
    path = tmp_path / "log"
    write(path, [f"{n}\n".encode() for n in range(500)])
    items, count = read(path, chunk=100)
    assert [data for _, data in items] == [f"{n}\n".encode() for n in range(500)]
    assert count > 10


def test_a_line_longer_than_a_chunk_is_read_whole(tmp_path):
    path = tmp_path / "log"
    write(path, [b"a\n", b"x" * 5000 + b"\n", b"b\n"])
    items, _ = read(path, chunk=64)
    assert [data for _, data in items] == [b"a\n", b"x" * 5000 + b"\n", b"b\n"]


def test_a_partial_last_line_waits_until_it_is_complete(tmp_path):
    path = tmp_path / "log"
    write(path, [b"one\n", b"two\n"])
    whole = path.read_bytes()
    path.write_bytes(whole[:-10])  # the logger is in the middle of writing the second line
    reader = logs.Reader(str(path))
    assert [e.data for e in reader.read()] == [b"one\n"]
    assert reader.read() == []
    with open(path, "ab") as file:
        file.write(whole[-10:])
    assert [e.data for e in reader.read()] == [b"two\n"]
    reader.close()


def test_tail_counts_across_batches_and_after_stream_selection(tmp_path):
    path = tmp_path / "log"
    for n in range(300):
        write(path, [f"out{n}\n".encode()], "stdout")
        write(path, [f"err{n}\n".encode()], "stderr")
    items, count = read(path, chunk=128, tail=3, stdout=False)
    assert items == [(logs.STDERR, b"err297\n"), (logs.STDERR, b"err298\n"), (logs.STDERR, b"err299\n")]
    assert count == 1
    assert read(path, chunk=128, tail=0)[0] == []
    assert len(read(path, chunk=128, tail=10_000)[0]) == 600


def test_since_and_until_select_by_the_entry_time(tmp_path):
    path = tmp_path / "log"
    for second in range(10):
        write(path, [f"s{second}\n".encode()], when=at(second))
    items, _ = read(path, chunk=100, since_ns=ns(3), until_ns=ns(5))
    assert [data for _, data in items] == [b"s3\n", b"s4\n", b"s5\n"]
    items, _ = read(path, chunk=100, since_ns=ns(8), timestamps=True)
    assert [data for _, data in items] == [f"{at(8)} s8\n".encode(), f"{at(9)} s9\n".encode()]


def test_following_with_until_stops_at_the_first_later_entry(tmp_path):
    path = tmp_path / "log"
    for second in range(6):
        write(path, [f"s{second}\n".encode()], when=at(second))
    items, _ = read(path, chunk=60, tail=0, until_ns=ns(100), follow_until=lambda: True)
    assert items == []
    items, _ = read(path, chunk=60, since_ns=ns(1), until_ns=ns(3), follow_until=lambda: True)
    assert [data for _, data in items] == [b"s1\n", b"s2\n", b"s3\n"]


def test_follow_reads_what_is_added_and_ends_when_finished(tmp_path):
    path = tmp_path / "log"
    write(path, [b"before\n"])
    offset = path.stat().st_size
    calls = []

    def finished():
        calls.append(1)
        if len(calls) == 1:
            write(path, [b"late\n"])
            return False
        return True
    assert [e.data for e in logs.follow(str(path), offset, finished)] == [b"late\n"]


def test_escapes_other_streams_and_foreign_lines_take_the_json_path(tmp_path):
    path = tmp_path / "log"
    write(path, [b'say "hi"\tnow\n', "caf\u00e9 \\ done\n".encode()], "stderr")
    with open(path, "ab") as file:
        stream = Stream(3, "stdout")
        stream.take(b"no newline", T0)
        file.write(b"".join(stream.flush(T0)))  # a partial line the logger wrote on its own
    with open(path, "ab") as file:
        file.write(b"not json\n\n")
        file.write(json.dumps({"time": T0, "stream": "stdout", "log": "reordered\n"}).encode() + b"\n")
    items, _ = read(path)
    assert items == [(logs.STDERR, b'say "hi"\tnow\n'), (logs.STDERR, "caf\u00e9 \\ done\n".encode()),
                     (logs.STDOUT, b"no newline"), (logs.STDOUT, b"reordered\n")]


def test_a_batch_is_framed_as_one_write_or_raw_for_a_tty():
    batch = [(1, b"a\n"), (2, b""), (2, b"b\n")]
    assert frames(batch, False) == frame(1, b"a\n") + frame(2, b"b\n")
    assert frames(batch, True) == b"a\nb\n"

"""The pieces of the hijacked streams that need no daemon: detach keys, the escape
sequence, docker's 8-byte frames, and a copy over a socketpair."""
import os
import socket

import pytest

from client import streams


def test_detach_keys_as_moby_reads_them(capsys):
    assert streams.detach_keys("") == b"\x10\x11"
    assert streams.detach_keys("ctrl-a,x,ctrl-@,ctrl-_") == b"\x01x\x00\x1f"
    assert streams.detach_keys("ctrl-nosuch,q") == b"q"  # an unknown ctrl- key is skipped, as moby skips it
    assert streams.detach_keys("ab") == b"\x10\x11"
    assert 'level=warning msg="invalid detach escape keys, using default: Unknown character: \'ab\'"' in \
        capsys.readouterr().err


def test_the_escape_sequence_is_held_back_and_given_back():
    detector = streams._EscapeDetector(b"\x10\x11")
    assert detector.filter(b"ls\x10") == (b"ls", False)
    assert detector.filter(b"x") == (b"\x10x", False)  # broken: the held ctrl-p goes on with it
    assert detector.filter(b"\x10\x10\x11") == (b"\x10\x10\x11", False)  # a breaking byte starts nothing
    assert detector.filter(b"a\x10") == (b"a", False)
    assert detector.filter(b"\x11") == (b"", True)
    assert streams._EscapeDetector(b"\x10\x11").filter(b"echo\x10\x11rest") == (b"echo", True)


def test_frames_go_to_their_stream(tmp_path):
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "wb") as out_file, open(err, "wb") as err_file:
        demultiplexer = streams._Demultiplexer(out_file.fileno(), err_file.fileno())
        frames = b"\x01\0\0\0\0\0\0\x03one" + b"\x02\0\0\0\0\0\0\x03two" + b"\x01\0\0\0\0\0\0\x05three"
        for i in range(0, len(frames), 5):  # frames cut anywhere
            demultiplexer.feed(frames[i:i + 5])
    assert (out.read_bytes(), err.read_bytes()) == (b"onethree", b"two")
    from client.__main__ import CommandError

    with pytest.raises(CommandError, match="^error from daemon in stream: boom$"):
        streams._Demultiplexer(None, None).feed(b"\x03\0\0\0\0\0\0\x04boom")


def test_copy_pumps_input_half_closes_and_ends_with_the_output(tmp_path):
    ours, daemon = socket.socketpair()
    stdin_path, stdout_path = tmp_path / "in", tmp_path / "out"
    stdin_path.write_bytes(b"typed\n")
    saved = os.dup(0), os.dup(1)
    try:
        with open(stdin_path, "rb") as stdin, open(stdout_path, "wb") as stdout:
            os.dup2(stdin.fileno(), 0)
            os.dup2(stdout.fileno(), 1)
            daemon.sendall(b"\x01\0\0\0\0\0\0\x02hi")
            conn = streams.Hijacked(ours, b"\x01\0\0\0\0\0\0\x04lef" + b"t")
            replies = []

            def answer():
                data = b""
                while chunk := daemon.recv(100):  # our input, then our half-close
                    data += chunk
                replies.append(data)
                daemon.sendall(b"\x01\0\0\0\0\0\0\x03bye")
                daemon.close()

            import threading

            thread = threading.Thread(target=answer)
            thread.start()
            detached = streams.copy(conn, tty=False, stdin=True, stdout=True, stderr=True)
            thread.join()
    finally:
        os.dup2(saved[0], 0)
        os.dup2(saved[1], 1)
        ours.close()
    assert (detached, replies, stdout_path.read_bytes()) == (False, [b"typed\n"], b"lefthibye")

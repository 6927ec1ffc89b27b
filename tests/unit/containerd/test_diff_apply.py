"""Applying layers onto a plain directory: decompression by media type, attributes, links,
whiteouts, and hostile tars that must not reach outside the target. Members are owned by the
running user, so no root is needed (device nodes and overlay's marks are in the e2e tests)."""
import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
import threading

import pytest
import zstandard

import errdefs
from containerd.diff import compression
from containerd.diff.apply import apply
from containerd.diff.compute import compute

UID, GID = os.getuid(), os.getgid()


def member(name: str, kind=tarfile.REGTYPE, data: bytes = b"", mode=0o644, linkname="", mtime=1_600_000_000,
           pax=None) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.mtime = kind, mode, linkname, mtime
    info.uid, info.gid, info.size = UID, GID, len(data)
    info.pax_headers = pax or {}
    return info, data


def layer(*members) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def applied(tar: bytes, target, media_type=compression.OCI_LAYER):
    return apply(io.BytesIO(tar), media_type, target)


@pytest.fixture
def target(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    return target


def outside_is_untouched(tmp_path):
    return sorted(os.listdir(tmp_path)) == ["target"]


@pytest.mark.parametrize("media_type, compress", [
    (compression.OCI_LAYER, lambda data: data),
    (compression.OCI_LAYER_GZIP, gzip.compress),
    (compression.DOCKER_LAYER_GZIP, lambda data: gzip.compress(data[:100]) + gzip.compress(data[100:])),
    (compression.OCI_LAYER_ZSTD, lambda data: zstandard.ZstdCompressor().compress(data)),
])
def test_every_compression_yields_the_uncompressed_digest(target, media_type, compress):
    tar = layer(member("dir", tarfile.DIRTYPE, mode=0o750), member("dir/file", data=b"hello" * 1000))
    result = applied(compress(tar), target, media_type)
    assert result.digest == "sha256:" + hashlib.sha256(tar).hexdigest()
    assert result.size == len(tar)
    assert (target / "dir" / "file").read_bytes() == b"hello" * 1000


def test_an_unknown_media_type_is_not_implemented(target):
    with pytest.raises(errdefs.NotImplemented):
        applied(layer(), target, "application/x-rar")


def test_truncated_gzip_is_an_error(target):
    with pytest.raises(errdefs.InvalidArgument):
        applied(gzip.compress(layer(member("f", data=b"x" * 5000)))[:-30], target, compression.OCI_LAYER_GZIP)


def test_attributes_links_and_special_files_are_kept(target):
    applied(layer(
        member("bin", tarfile.DIRTYPE, mode=0o711, mtime=1_000_000_000),
        member("bin/tool", data=b"#!/bin/sh\n", mode=0o4755, mtime=1_234_567_890,
               pax={"SCHILY.xattr.user.origin": "layer-1"}),
        member("bin/alias", tarfile.LNKTYPE, linkname="bin/tool"),
        member("bin/sh", tarfile.SYMTYPE, linkname="/bin/tool"),
        member("pipe", tarfile.FIFOTYPE, mode=0o620),
        member("deep/er/file", data=b"no parents listed"),
    ), target)
    tool = os.stat(target / "bin" / "tool")
    assert stat.S_IMODE(tool.st_mode) == 0o4755 and tool.st_mtime == 1_234_567_890 and tool.st_uid == UID
    assert os.getxattr(target / "bin" / "tool", "user.origin") == b"layer-1"
    assert os.stat(target / "bin" / "alias").st_ino == tool.st_ino
    assert os.readlink(target / "bin" / "sh") == "/bin/tool"
    assert stat.S_ISFIFO(os.lstat(target / "pipe").st_mode) and stat.S_IMODE(os.lstat(target / "pipe").st_mode) == 0o620
    # Directories get their times last, after their children changed them.
    assert os.stat(target / "bin").st_mtime == 1_000_000_000 and stat.S_IMODE(os.stat(target / "bin").st_mode) == 0o711
    assert (target / "deep" / "er" / "file").read_bytes() == b"no parents listed"


def test_whiteouts_delete_from_the_layers_below(target):
    applied(layer(member("etc", tarfile.DIRTYPE), member("etc/gone", data=b"1"), member("etc/kept", data=b"2"),
                  member("opaque", tarfile.DIRTYPE), member("opaque/old", data=b"3"),
                  member("tree/sub/file", data=b"4")), target)
    applied(layer(member("etc/.wh.gone"), member("opaque/new", data=b"5"), member("opaque/.wh..wh..opq"),
                  member(".wh.tree"), member(".wh.never-was")), target)
    assert sorted(os.listdir(target / "etc")) == ["kept"]
    assert os.listdir(target / "opaque") == ["new"]  # this layer's own entries stay
    assert sorted(os.listdir(target)) == ["etc", "opaque"]


def test_a_later_member_replaces_an_earlier_one(target):
    applied(layer(member("x", tarfile.DIRTYPE), member("x/inner", data=b"1"), member("link", tarfile.SYMTYPE,
                                                                                      linkname="/elsewhere")), target)
    applied(layer(member("x", data=b"now a file"), member("link", data=b"now a file too")), target)
    assert (target / "x").read_bytes() == b"now a file"
    assert not os.path.islink(target / "link") and (target / "link").read_bytes() == b"now a file too"


# hostile layers


def test_dot_dot_names_are_refused(tmp_path, target):
    with pytest.raises(errdefs.InvalidArgument, match="escapes"):
        applied(layer(member("../escaped", data=b"x")), target)
    with pytest.raises(errdefs.InvalidArgument, match="escapes"):
        applied(layer(member("a/../../escaped", data=b"x")), target)
    assert outside_is_untouched(tmp_path)


def test_absolute_names_land_inside(tmp_path, target):
    applied(layer(member(f"{tmp_path}/absolute", data=b"x")), target)
    assert (target / str(tmp_path).lstrip("/") / "absolute").read_bytes() == b"x"
    assert outside_is_untouched(tmp_path)


def test_writing_through_a_symlink_stays_inside(tmp_path, target):
    applied(layer(member("up", tarfile.SYMTYPE, linkname=".."), member("abs", tarfile.SYMTYPE, linkname="/"),
                  member("up/through-relative", data=b"1"), member("abs/through-absolute", data=b"2")), target)
    assert (target / "through-relative").read_bytes() == b"1"
    assert (target / "through-absolute").read_bytes() == b"2"
    # A symlink to a real directory outside leads to the same path inside, which is not there.
    with pytest.raises(errdefs.InvalidArgument, match="symlink to nothing inside"):
        applied(layer(member("out", tarfile.SYMTYPE, linkname=str(tmp_path)), member("out/escaped", data=b"3")), target)
    assert outside_is_untouched(tmp_path)


def test_a_symlink_chain_stays_inside(tmp_path, target):
    (tmp_path / "victim").mkdir()
    applied(layer(member("a", tarfile.SYMTYPE, linkname="b"), member("b", tarfile.SYMTYPE, linkname="c/../.."),
                  member("c", tarfile.DIRTYPE), member("a/victim/file", data=b"x")), target)
    assert os.listdir(tmp_path / "victim") == []
    assert (target / "victim" / "file").read_bytes() == b"x"


def test_a_member_over_an_outward_symlink_replaces_the_symlink(tmp_path, target):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    applied(layer(member("f", tarfile.SYMTYPE, linkname=str(victim)), member("f", data=b"overwritten?")), target)
    assert victim.read_bytes() == b"precious"
    assert (target / "f").read_bytes() == b"overwritten?"


def test_hardlinks_to_outside_are_refused_or_stay_inside(tmp_path, target):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    with pytest.raises(errdefs.InvalidArgument, match="escapes"):
        applied(layer(member("h", tarfile.LNKTYPE, linkname="../victim")), target)
    # An absolute link name, or one through a symlink, means a path in the layer, which has no victim.
    with pytest.raises(errdefs.InvalidArgument, match="missing"):
        applied(layer(member("h", tarfile.LNKTYPE, linkname=str(victim))), target)
    with pytest.raises(errdefs.InvalidArgument, match="missing"):
        applied(layer(member("s", tarfile.SYMTYPE, linkname=str(tmp_path)),
                      member("h", tarfile.LNKTYPE, linkname="s/victim")), target)
    # A hard link to a symlink links the symlink, not what it points at.
    applied(layer(member("s2", tarfile.SYMTYPE, linkname=str(victim)), member("h2", tarfile.LNKTYPE, linkname="s2")),
            target)
    assert os.path.islink(target / "h2") and os.stat(victim).st_nlink == 1
    assert victim.read_bytes() == b"precious"


def test_whiteouts_cannot_delete_outside(tmp_path, target):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    with pytest.raises(errdefs.InvalidArgument, match="escapes"):
        applied(layer(member("../.wh.victim")), target)
    with pytest.raises(errdefs.InvalidArgument, match="symlink to nothing inside"):
        applied(layer(member("s", tarfile.SYMTYPE, linkname=str(tmp_path)), member("s/.wh.victim")), target)
    applied(layer(member("up", tarfile.SYMTYPE, linkname=".."), member("up/.wh.victim"), member("up/.wh..wh..opq")),
            target)
    assert os.listdir(target) == []  # through the symlink, the opaque whiteout emptied the target, no more
    with pytest.raises(errdefs.InvalidArgument, match="names no entry"):
        applied(layer(member("dir/.wh...")), target)
    assert victim.read_bytes() == b"precious"


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_huge_special_headers_are_refused(target, kind):
    header = tarfile.TarInfo("././@Huge")
    header.type, header.size = kind, 64 << 20
    stream = header.tobuf(tarfile.USTAR_FORMAT) + b"\0" * (64 << 20)
    with pytest.raises(errdefs.InvalidArgument, match="tar header extension"):
        applied(stream, target)
    assert os.listdir(target) == []


# computing layers


def tree_of(root) -> dict:
    """Everything a layer carries about a tree: per path, type, mode, size, content, link target."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            content = open(path, "rb").read() if stat.S_ISREG(st.st_mode) else os.readlink(path) if stat.S_ISLNK(
                st.st_mode) else None
            found[os.path.relpath(path, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), content)
    return found


def test_a_computed_layer_applied_to_lower_rebuilds_upper(tmp_path):
    lower, upper, rebuilt = tmp_path / "lower", tmp_path / "upper", tmp_path / "rebuilt"
    base = layer(member("etc", tarfile.DIRTYPE), member("etc/passwd", data=b"root"), member("etc/gone", data=b"x"),
                 member("same", data=b"unchanged", mtime=1_500_000_000), member("dir-to-file", tarfile.DIRTYPE),
                 member("dir-to-file/inner", data=b"y"), member("tree/sub/deep", data=b"z"))
    for directory in (lower, upper, rebuilt):
        directory.mkdir()
        applied(base, directory)
    (upper / "etc" / "gone").unlink()
    (upper / "etc" / "passwd").write_bytes(b"root\nuser")
    (upper / "new").write_bytes(b"hello")
    os.link(upper / "new", upper / "new-link")
    os.symlink("etc/passwd", upper / "pw")
    shutil.rmtree(upper / "dir-to-file")
    (upper / "dir-to-file").write_bytes(b"a file now")
    shutil.rmtree(upper / "tree")
    out = io.BytesIO()
    result = compute(str(lower), str(upper), out, compression.OCI_LAYER_GZIP)
    tar = gzip.decompress(out.getvalue())
    assert result.digest == "sha256:" + hashlib.sha256(tar).hexdigest() and result.size == len(tar)
    with tarfile.open(fileobj=io.BytesIO(tar)) as listing:
        names = {m.name: m for m in listing.getmembers()}
    assert "same" not in names  # the same size, time and content: not a change
    assert {"etc/.wh.gone", ".wh.tree"} <= set(names)
    assert names["new-link"].islnk() and names["new-link"].linkname == "new"
    applied(out.getvalue(), rebuilt, compression.OCI_LAYER_GZIP)
    assert tree_of(rebuilt) == tree_of(upper)
    assert os.stat(rebuilt / "new").st_ino == os.stat(rebuilt / "new-link").st_ino


def test_a_computed_layer_from_nothing_holds_everything(tmp_path):
    upper, rebuilt = tmp_path / "upper", tmp_path / "rebuilt"
    upper.mkdir()
    rebuilt.mkdir()
    applied(layer(member("a/b", data=b"1"), member("c", tarfile.SYMTYPE, linkname="a")), upper)
    out = io.BytesIO()
    compute(None, str(upper), out, compression.OCI_LAYER_ZSTD)
    applied(out.getvalue(), rebuilt, compression.OCI_LAYER_ZSTD)
    assert tree_of(rebuilt) == tree_of(upper)


# --- the read-ahead thread -----------------------------------------------------------------

def test_read_ahead_gives_the_stream_back_whole_whatever_the_read_sizes():
    data = os.urandom(5 * compression.CHUNK + 123)
    reader = compression.ReadAhead(io.BytesIO(data))
    pieces, sizes = [], [512, 10240, compression.CHUNK * 2, 1, -1]
    while piece := reader.read(sizes[len(pieces) % len(sizes)]):
        pieces.append(piece)
    reader.close()
    assert b"".join(pieces) == data
    assert reader.read(512) == b""


def test_read_ahead_raises_what_the_stream_raised():
    class Failing(io.RawIOBase):
        def read(self, size=-1):
            raise errdefs.DataLoss("blob read as something else")

    reader = compression.ReadAhead(Failing())
    with pytest.raises(errdefs.DataLoss, match="blob read as something else"):
        reader.read(10)
    reader.close()


def test_read_ahead_closed_early_stops_its_thread():
    reader = compression.ReadAhead(io.BytesIO(bytes(64 * compression.CHUNK)))
    assert len(reader.read(100)) == 100
    reader.close()
    assert "layer-read-ahead" not in {thread.name for thread in threading.enumerate()}

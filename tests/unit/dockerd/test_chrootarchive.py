"""chrootarchive.py's pieces that need no container: Go's file modes and times in the stat
header, the tar's entry names (go-archive's rebasing), and extraction's refusals. In pydockerd
they run inside the container's root; here, in a temporary directory."""
import io
import os
import stat
import tarfile

import pytest

from dockerd.daemon import archive, chrootarchive as helper


@pytest.mark.parametrize("mode, go", [
    (stat.S_IFREG | 0o644, 0o644),
    (stat.S_IFDIR | 0o755, (1 << 31) | 0o755),
    (stat.S_IFLNK | 0o777, (1 << 27) | 0o777),
    (stat.S_IFCHR | 0o666, (1 << 26) | (1 << 21) | 0o666),
    (stat.S_IFBLK | 0o660, (1 << 26) | 0o660),
    (stat.S_IFIFO | 0o600, (1 << 25) | 0o600),
    (stat.S_IFSOCK | 0o755, (1 << 24) | 0o755),
    (stat.S_IFREG | stat.S_ISUID | 0o755, (1 << 23) | 0o755),
    (stat.S_IFDIR | stat.S_ISVTX | 0o777, (1 << 31) | (1 << 20) | 0o777),
])
def test_go_file_mode(mode, go):
    assert helper.go_file_mode(mode) == go


def test_go_time():
    assert helper.go_time(1_700_000_000_123_400_000) == "2023-11-14T22:13:20.1234Z"
    assert helper.go_time(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize("parts, joined", [(("/", "etc/passwd"), "/etc/passwd"), (("/tmp", "/etc"), "/tmp/etc"),
                                           (("/tmp", "../../x"), "/x"), (("//a//", "b/"), "/a/b")])
def test_go_join_does_not_restart_at_an_absolute_part(parts, joined):
    assert helper.go_join(*parts) == joined


def test_mountinfo_escapes():
    assert archive.unescape("/var/lib/with\\040space\\011tab") == "/var/lib/with space\ttab"


def archived(tmp_path, path: str) -> list[str]:
    """The entry names _archive would send for path (under tmp_path, not in a container)."""
    absolute = helper.preserve_trailing(helper.go_join(str(tmp_path), path), path)
    if stat.S_ISDIR(os.lstat(absolute).st_mode):
        source_dir, include = absolute, "."
    else:
        source_dir, include = absolute[:absolute.rfind("/") + 1], absolute[absolute.rfind("/") + 1:]
    out = io.BytesIO()
    helper._write_tar(out, source_dir, include, helper.go_base(absolute))
    assert len(out.getvalue()) % 512 == 0 and out.getvalue().endswith(b"\0" * 1024)
    out.seek(0)
    return [(m.name + "/" if m.isdir() else m.name) + (f" -> {m.linkname}" if m.linkname else "")
            for m in tarfile.open(fileobj=out)]


def test_entry_names_as_go_archive_rebases_them(tmp_path):
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "b").write_text("b")
    (tmp_path / "dir" / "a").write_text("a")
    os.link(tmp_path / "dir" / "a", tmp_path / "dir" / "hard")
    (tmp_path / "dir" / "link").symlink_to("a")
    assert archived(tmp_path, "dir") == ["dir/", "dir/a", "dir/hard -> dir/a", "dir/link -> a", "dir/sub/",
                                         "dir/sub/b"]
    assert archived(tmp_path, "dir/.") == ["./", "./a", "./hard -> ./a", "./link -> a", "./sub/", "./sub/b"]
    assert archived(tmp_path, "dir/") == archived(tmp_path, "dir")
    assert archived(tmp_path, "dir/a") == ["a"]
    assert archived(tmp_path, "dir/link") == ["link -> a"]


def tar_of(*entries: tuple[str, bytes | None]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive_file:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                archive_file.addfile(info)
            else:
                info.size = len(content)
                archive_file.addfile(info, io.BytesIO(content))
    buffer.seek(0)
    return buffer


def test_untar_refusals_in_go_archives_words(tmp_path):
    dest = str(tmp_path)
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("old")
    with pytest.raises(helper._Failure, match=f'^cannot overwrite directory "{dest}/dir" with non-directory "{dest}"$'):
        helper._untar(tar_of(("dir", b"x")), dest, None, no_overwrite=True)
    with pytest.raises(helper._Failure, match=f'^cannot overwrite non-directory "{dest}/file" with directory'):
        helper._untar(tar_of(("file", None)), dest, None, no_overwrite=True)
    with pytest.raises(helper._Failure, match=f'^"../x" is outside of "{dest}"$'):
        helper._untar(tar_of(("a/../../x", b"x")), dest, None, no_overwrite=True)
    with pytest.raises(helper._Failure, match=f'^"../made/x" is outside of "{dest}"$'):
        helper._untar(tar_of(("../made/x", b"x")), dest, None, no_overwrite=True)
    assert not (tmp_path.parent / "x").exists() and not (tmp_path.parent / "made").exists()
    helper._untar(tar_of(("file", b"new"), ("dir", None), ("dir/in", b"in")), dest, None, no_overwrite=False)
    assert (tmp_path / "file").read_text() == "new" and (tmp_path / "dir" / "in").read_text() == "in"


def test_tar_errors_in_gos_words():
    assert helper._tar_error(tarfile.ReadError("truncated header")) == "unexpected EOF"
    assert helper._tar_error(tarfile.ReadError("invalid header")) == "archive/tar: invalid tar header"

"""pydocker cp's path rules (go-archive's copy.go, the CLI's splitCpArg), and its extraction of a
tar here, which refuses entries that would land outside the destination."""
import io
import os
import tarfile

import pytest

from client.commands import cp
from client.commands.cp import CopyError, CopyInfo


@pytest.mark.parametrize("arg, split", [
    ("web:/etc/passwd", ("web", "/etc/passwd")),
    ("web:relative", ("web", "relative")),
    ("/abs/file:with-colon", ("", "/abs/file:with-colon")),
    ("./file:with-colon", ("", "./file:with-colon")),
    ("plain", ("", "plain")),
    ("-", ("", "-")),
    ("web:", ("web", "")),
])
def test_split_cp_arg(arg, split):
    assert cp.split_cp_arg(arg) == split


@pytest.mark.parametrize("cleaned, original, kept", [
    ("/a/b", "/a/b/", "/a/b/"),
    ("/a/b", "/a/b/.", "/a/b/."),
    ("/a/b", "/a//b/./", "/a/b/./"),
    ("/", "/.", "/."),
    ("/", "/", "/"),
    ("/a/b", "/a/b", "/a/b"),
])
def test_preserve_trailing_dot_or_separator(cleaned, original, kept):
    assert cp.preserve_trailing(cleaned, original) == kept


@pytest.mark.parametrize("path, split", [
    ("/a/b/c", ("/a/b", "c")), ("/a/b/", ("/a", "b")), ("/a/b/.", ("/a/b", ".")), ("/", ("/", "/")),
    ("c", (".", "c")), ("/a/../b", ("/", "b")),
])
def test_split_path_dir_entry(path, split):
    assert cp.split_path_dir_entry(path) == split


@pytest.mark.parametrize("path, asserted", [("/a/", True), ("/a/.", True), ("/a", False), (".", True), ("/a.b", False)])
def test_a_trailing_slash_or_dot_asserts_a_directory(path, asserted):
    assert cp.asserts_directory(path) is asserted


@pytest.mark.parametrize("source, destination, result", [
    # into an existing directory: as it is
    (CopyInfo("/src/file", True, False), CopyInfo("/dst", True, True), ("/dst", None)),
    (CopyInfo("/src/dir", True, True), CopyInfo("/dst", True, True), ("/dst", None)),
    # onto an existing file: renamed to it
    (CopyInfo("/src/file", True, False), CopyInfo("/dst/file2", True, False), ("/dst", ("file", "file2"))),
    # a directory to a new name: its contents become the new directory
    (CopyInfo("/src/dir", True, True), CopyInfo("/dst/new"), ("/dst", ("dir", "new"))),
    (CopyInfo("/src/dir/.", True, True), CopyInfo("/dst/new"), ("/dst", (".", "new"))),
    # a file to a new name
    (CopyInfo("/src/file", True, False), CopyInfo("/dst/new"), ("/dst", ("file", "new"))),
    # a symlink followed with -L keeps the name asked for
    (CopyInfo("/src/target", True, False, "link"), CopyInfo("/dst/new"), ("/dst", ("link", "new"))),
])
def test_prepare_archive_copy(source, destination, result):
    assert cp.prepare_archive_copy(source, destination) == result


@pytest.mark.parametrize("source, destination, message", [
    (CopyInfo("/src/dir", True, True), CopyInfo("/dst/file", True, False), "cannot copy directory"),
    (CopyInfo("/src/file", True, False), CopyInfo("/dst/missing/"), "no such directory"),
    (CopyInfo("/src/file", True, False), CopyInfo("/dst/missing/."), "no such directory"),
])
def test_prepare_archive_copy_refusals(source, destination, message):
    with pytest.raises(CopyError, match=f"^{message}$"):
        cp.prepare_archive_copy(source, destination)


@pytest.mark.parametrize("path, resolved, result", [
    ("/a/link", "/a/target", ("/a/target", "link")),
    ("/a/link/", "/a/target", ("/a/target/", "link")),
    ("/a/link/.", "/a/target", ("/a/target/.", "")),
    ("/a/same", "/b/same", ("/b/same", "")),
])
def test_rebase_name(path, resolved, result):
    assert cp.rebase_name(path, resolved) == result


def test_rename_replaces_the_first_element_and_the_root_only_in_front():
    assert cp.rename("dir/sub/dir", "dir", "new") == "new/sub/dir"
    assert cp.rename("./x", ".", "new") == "new/x"
    assert cp.rename("etc/", "/", "new") == "newetc/"  # as strings.Replace with an empty old does


def test_local_source_and_destination_paths(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to("dir")
    assert cp.copy_info_source_path(f"{tmp_path}/file", False) == CopyInfo(f"{tmp_path}/file", True, False, "")
    assert cp.copy_info_source_path(f"{tmp_path}/link", False) == CopyInfo(f"{tmp_path}/link", True, False, "")
    assert cp.copy_info_source_path(f"{tmp_path}/link", True) == CopyInfo(f"{tmp_path}/dir", True, True, "link")
    with pytest.raises(CopyError, match=f"^lstat {tmp_path}/missing: no such file or directory$"):
        cp.copy_info_source_path(f"{tmp_path}/missing/file", False)
    assert cp.copy_info_destination_path(f"{tmp_path}/link") == CopyInfo(f"{tmp_path}/dir", True, True)
    assert cp.copy_info_destination_path(f"{tmp_path}/new") == CopyInfo(f"{tmp_path}/new")
    with pytest.raises(CopyError, match="no such file or directory"):
        cp.copy_info_destination_path(f"{tmp_path}/missing/new")


def test_output_path_validation(tmp_path):
    cp.validate_output_path(str(tmp_path / "new"))
    with pytest.raises(CopyError, match=f'^invalid output path: directory "{tmp_path}/missing" does not exist$'):
        cp.validate_output_path(str(tmp_path / "missing" / "x"))
    with pytest.raises(CopyError, match='must be a directory or a regular file: got a device$'):
        cp.validate_output_path("/dev/null")


def hostile_tar(*entries: tuple[str, str, str]) -> io.BytesIO:
    """(name, kind, target or content) entries: kind "file", "symlink" or "link"."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, kind, value in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(value)
                archive.addfile(info, io.BytesIO(value.encode()))
            else:
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = value
                archive.addfile(info)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("entries, message", [
    ([("../outside", "file", "x")], '"../outside" is outside of'),
    ([("a/../../outside", "file", "x")], '"../outside" is outside of'),
    ([("up", "symlink", "../..")], "invalid symlink"),
    ([("hard", "link", "../../etc/passwd")], "invalid hardlink"),
    ([("escape", "symlink", "/"), ("escape/outside", "file", "x")], '"escape/outside" is outside of'),
])
def test_untar_refuses_what_would_leave_the_destination(tmp_path, entries, message):
    destination = tmp_path / "destination"
    destination.mkdir()
    with pytest.raises(CopyError, match=message):
        cp.untar(hostile_tar(*entries), str(destination), [])
    assert sorted(os.listdir(tmp_path)) == ["destination"]
    assert not os.path.exists("/outside")


def test_untar_renames_the_first_element(tmp_path):
    cp.untar(hostile_tar(("dir/a", "file", "A"), ("dir/sub/b", "file", "B")), str(tmp_path), [("dir", "new")])
    assert (tmp_path / "new" / "a").read_text() == "A" and (tmp_path / "new" / "sub" / "b").read_text() == "B"

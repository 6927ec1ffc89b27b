"""Computing a layer: the tar of changes that turns one tree into another, compressed.

Two ways, as the upper tree allows:
- an overlay upperdir already holds exactly the changes: walk it, turning overlay's marks
  back into OCI whiteouts (a 0:0 character device into `.wh.<name>`, an opaque directory
  into a `.wh..wh..opq` entry). Nothing is mounted.
- two plain directories (a snapshot with no parent, or read-only views) are compared entry by
  entry, as containerd's fs.Changes does: a regular file with the same size and a
  whole-second mtime is compared by content, since its time cannot tell.

Entries go out parents first, in name order; hard links within the layer stay links;
xattrs travel as PAX SCHILY.xattr records, overlay's own excepted.
"""
from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from typing import BinaryIO

from .apply import (
    OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX, XATTR_PAX_PREFIX, Applied, is_overlay_whiteout,
)
from .compression import CHUNK, compressor


class _DigestingWriter:
    def __init__(self, sink):
        self._sink = sink
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self._hash.update(data)
        self.size += len(data)
        self._sink.write(data)
        return len(data)

    @property
    def digest(self) -> str:
        return f"sha256:{self._hash.hexdigest()}"


def compute(lower: str | None, upper: str, out: BinaryIO, media_type: str, *, overlay_upper: bool = False) -> Applied:
    """Write into out the layer from lower (None: nothing) to upper, compressed as media_type
    says; with overlay_upper, upper is an overlay upperdir over lower and lower is not read.
    Returns the uncompressed tar's digest (the diff ID) and size."""
    compressing = compressor(out, media_type)
    tar_stream = _DigestingWriter(compressing)
    with tarfile.open(fileobj=tar_stream, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tar:
        layer = _LayerWriter(tar, upper)
        if overlay_upper:
            layer.overlay_upper("")
        else:
            layer.compare(lower, "")
    compressing.close()
    return Applied(tar_stream.digest, tar_stream.size)


class _LayerWriter:
    def __init__(self, tar: tarfile.TarFile, upper: str):
        self.tar = tar
        self.upper = upper
        self.links: dict[tuple[int, int], str] = {}  # (dev, inode) -> the first name written

    def overlay_upper(self, relative: str) -> None:
        directory = os.path.join(self.upper, relative)
        for name in sorted(os.listdir(directory)):
            child = os.path.join(relative, name)
            st = os.lstat(os.path.join(self.upper, child))
            if is_overlay_whiteout(st):
                self._whiteout(os.path.join(relative, WHITEOUT_PREFIX + name))
                continue
            self._add(child, st)
            if stat.S_ISDIR(st.st_mode):
                if _xattr(os.path.join(self.upper, child), OVERLAY_OPAQUE_XATTR) == b"y":
                    self._whiteout(os.path.join(child, OPAQUE_WHITEOUT))
                self.overlay_upper(child)

    def compare(self, lower: str | None, relative: str) -> None:
        upper_names = sorted(os.listdir(os.path.join(self.upper, relative)))
        lower_names = set(os.listdir(os.path.join(lower, relative))) if lower is not None else set()
        for gone in sorted(lower_names - set(upper_names)):
            self._whiteout(os.path.join(relative, WHITEOUT_PREFIX + gone))
        for name in upper_names:
            child = os.path.join(relative, name)
            new = os.lstat(os.path.join(self.upper, child))
            old = os.lstat(os.path.join(lower, child)) if name in lower_names else None
            if old is None or _changed(os.path.join(lower, child), old, os.path.join(self.upper, child), new):
                self._add(child, new)
            if stat.S_ISDIR(new.st_mode):
                # Below a directory that replaced a non-directory, everything is new.
                self.compare(lower if old is not None and stat.S_ISDIR(old.st_mode) else None, child)

    def _whiteout(self, name: str) -> None:
        self.tar.addfile(tarfile.TarInfo(name))

    def _add(self, relative: str, st: os.stat_result) -> None:
        path = os.path.join(self.upper, relative)
        info = tarfile.TarInfo(relative)
        info.mode, info.uid, info.gid, info.mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)
        info.pax_headers = {XATTR_PAX_PREFIX + key: value.decode("utf-8", "surrogateescape")
                            for key, value in _xattrs(path).items()}
        if stat.S_ISREG(st.st_mode):
            first = self.links.setdefault((st.st_dev, st.st_ino), relative) if st.st_nlink > 1 else relative
            if first != relative:
                info.type, info.linkname = tarfile.LNKTYPE, first
                self.tar.addfile(info)
                return
            info.size = st.st_size
            with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb", buffering=CHUNK) as data:
                self.tar.addfile(info, data)
            return
        if stat.S_ISDIR(st.st_mode):
            info.type, info.name = tarfile.DIRTYPE, relative + "/"
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
        else:
            return  # a socket: no tar type holds one, and no layer needs one
        self.tar.addfile(info)


def _xattrs(path: str) -> dict[str, bytes]:
    return {key: os.getxattr(path, key, follow_symlinks=False)
            for key in sorted(os.listxattr(path, follow_symlinks=False)) if not key.startswith("trusted.overlay.")}


def _xattr(path: str, key: str) -> bytes | None:
    try:
        return os.getxattr(path, key, follow_symlinks=False)
    except OSError:
        return None


def _changed(old_path: str, old: os.stat_result, new_path: str, new: os.stat_result) -> bool:
    if (stat.S_IFMT(old.st_mode), stat.S_IMODE(old.st_mode), old.st_uid, old.st_gid) != (
            stat.S_IFMT(new.st_mode), stat.S_IMODE(new.st_mode), new.st_uid, new.st_gid):
        return True
    if _xattrs(old_path) != _xattrs(new_path):
        return True
    if stat.S_ISDIR(new.st_mode):
        return old.st_mtime_ns != new.st_mtime_ns
    if stat.S_ISLNK(new.st_mode):
        return os.readlink(old_path) != os.readlink(new_path)
    if stat.S_ISCHR(new.st_mode) or stat.S_ISBLK(new.st_mode):
        return old.st_rdev != new.st_rdev
    if not stat.S_ISREG(new.st_mode):
        return False
    if old.st_size != new.st_size or old.st_mtime_ns != new.st_mtime_ns:
        return True
    if (old.st_dev, old.st_ino) == (new.st_dev, new.st_ino) or new.st_mtime_ns % 1_000_000_000:
        return False
    return not _same_content(old_path, new_path)


def _same_content(a: str, b: str) -> bool:
    with open(a, "rb") as first, open(b, "rb") as second:
        while True:
            chunk = first.read(CHUNK)
            if chunk != second.read(CHUNK):
                return False
            if not chunk:
                return True

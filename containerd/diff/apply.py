"""Applying a layer (a tar of changes, maybe compressed) onto a directory, safely.

Every member's parent directory is resolved by the kernel inside the target (root.Root), and
the member itself is made with *at calls that do not follow a symlink in its place: a layer
cannot write, link, or delete anything outside the target, whatever its names, symlinks,
hardlinks or whiteouts say. Names that climb out with ".." are refused; absolute names are
taken relative to the target. Special headers (PAX, GNU long names) are capped in size.

OCI whiteouts (`.wh.<name>` deletes name from the layers below, `.wh..wh..opq` hides all of
a directory's lower contents) are applied one of two ways:
- into a plain directory holding the whole tree (the first layer's bind mount), by deleting;
- into an overlay upperdir (every later layer), by writing overlay's own marks: a 0:0
  character device for a deleted name and trusted.overlay.opaque=y on an opaque directory.
  The daemon then never mounts anything to apply a layer, as containerd's overlay applier.

Device nodes are made as the layer says: the daemon runs as root. A rootless daemon could not
make them, and would have to refuse them (containerd skips them in a user namespace).
"""
from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

import errdefs

from .compression import CHUNK, Digesting, ReadAhead, decompressed
from .root import Root, clean

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
XATTR_PAX_PREFIX = "SCHILY.xattr."
# Go's archive/tar caps these at 1 MiB too: more is never a real name or xattr set.
MAX_SPECIAL_HEADER = 1 << 20
_SPECIAL_HEADER_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                         tarfile.SOLARIS_XHDTYPE)


@dataclass(frozen=True)
class Applied:
    digest: str  # of the uncompressed tar: the layer's diff ID
    size: int  # of the uncompressed tar


class _BoundedTarInfo(tarfile.TarInfo):
    def _proc_member(self, tarfile_):
        if self.type in _SPECIAL_HEADER_TYPES and self.size > MAX_SPECIAL_HEADER:
            raise errdefs.InvalidArgument(
                f"tar header extension of {self.size} bytes, more than {MAX_SPECIAL_HEADER}: invalid argument")
        return super()._proc_member(tarfile_)


def apply(layer_stream: BinaryIO, media_type: str, target: str | os.PathLike,
          overlay_lowers: list[str] | None = None) -> Applied:
    """Apply the layer onto target. With overlay_lowers (the lowerdirs, nearest first), target
    is an overlay upperdir over them; without, it is a plain directory holding the whole tree."""
    read_ahead = ReadAhead(decompressed(layer_stream, media_type))
    tar_stream = Digesting(read_ahead)
    with Root(target) as root, contextlib.closing(read_ahead):
        applier = _Applier(root, [Root(lower) for lower in overlay_lowers] if overlay_lowers is not None else None)
        try:
            with tarfile.open(fileobj=tar_stream, mode="r|", tarinfo=_BoundedTarInfo, encoding="utf-8",
                              errors="surrogateescape") as tar:
                for member in tar:
                    applier.add(tar, member)
            applier.finish()
        except tarfile.TarError as exc:
            raise errdefs.InvalidArgument(f"layer is not a valid tar: {exc}: invalid argument") from None
        finally:
            applier.close()
        tar_stream.drain()
    return Applied(tar_stream.digest, tar_stream.size)


class _Applier:
    def __init__(self, root: Root, lowers: list[Root] | None):
        self.root = root
        self.lowers = lowers  # None: a plain directory
        self.unpacked: set[str] = set()  # paths this layer made: an opaque dir keeps them
        self.directory_times: list[tuple[str, int]] = []  # set last: adding children changes them

    def close(self) -> None:
        for lower in self.lowers or ():
            lower.close()

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        if member.issparse():
            raise errdefs.InvalidArgument(f"sparse file {member.name!r} in a layer: invalid argument")
        relative = clean(member.name)
        if relative == ".":
            return  # the root is the target's own, not the layer's
        parent, name = posixpath.split(relative)
        parent_fd = self._parent(parent)
        try:
            if name == OPAQUE_WHITEOUT:
                self._opaque(parent, parent_fd)
            elif name.startswith(WHITEOUT_PREFIX):
                self._whiteout(parent_fd, name.removeprefix(WHITEOUT_PREFIX), member)
            else:
                self._create(tar, member, relative, parent_fd, name)
                self.unpacked.add(relative)
        finally:
            os.close(parent_fd)

    def finish(self) -> None:
        for relative, mtime in reversed(self.directory_times):
            try:
                fd = self.root.open(relative, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
            except OSError:
                continue  # replaced by a later member of the layer, which set its own time
            try:
                os.utime(f"/proc/self/fd/{fd}", ns=(mtime, mtime))
            finally:
                os.close(fd)

    # directories above a member

    def _parent(self, parent: str) -> int:
        """An fd for the member's parent directory, made (with the attributes the layers
        below give it, if any) when the layer did not list it."""
        fd = self.root.open_dir(parent or ".")
        if fd is not None:
            return fd
        above, name = posixpath.split(parent)
        above_fd = self._parent(above)
        try:
            try:
                os.mkdir(name, 0o755, dir_fd=above_fd)
            except FileExistsError:
                # Only a symlink that leads nowhere inside the target is there and not a directory.
                raise errdefs.InvalidArgument(
                    f"{parent!r} in the layer is a symlink to nothing inside it: invalid argument") from None
            self._copy_lower_directory(parent, above_fd, name)
            self.unpacked.add(parent)
        finally:
            os.close(above_fd)
        return self.root.open(parent, os.O_PATH | os.O_DIRECTORY)

    def _copy_lower_directory(self, relative: str, parent_fd: int, name: str) -> None:
        for lower in self.lowers or ():
            found = lower.lstat(relative)
            if found is None:
                continue
            if stat.S_ISDIR(found.st_mode):
                os.chown(name, found.st_uid, found.st_gid, dir_fd=parent_fd, follow_symlinks=False)
                fd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
                try:
                    os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(found.st_mode))
                finally:
                    os.close(fd)
                self.directory_times.append((relative, found.st_mtime_ns))
            return  # whatever is nearest decides, as in the merged view

    # whiteouts

    def _opaque(self, parent: str, parent_fd: int) -> None:
        if self.lowers is not None:
            os.setxattr(f"/proc/self/fd/{parent_fd}", OVERLAY_OPAQUE_XATTR, b"y")
            return
        for entry in os.listdir(f"/proc/self/fd/{parent_fd}"):
            if posixpath.join(parent, entry) not in self.unpacked:
                _remove(parent_fd, entry)

    def _whiteout(self, parent_fd: int, name: str, member: tarfile.TarInfo) -> None:
        if name in ("", ".", "..") or name.startswith(WHITEOUT_PREFIX):
            raise errdefs.InvalidArgument(f"whiteout {member.name!r} names no entry: invalid argument")
        _remove(parent_fd, name)
        if self.lowers is not None:
            os.mknod(name, stat.S_IFCHR | 0o000, 0, dir_fd=parent_fd)
            os.chown(name, member.uid, member.gid, dir_fd=parent_fd, follow_symlinks=False)

    # entries

    def _create(self, tar: tarfile.TarFile, member: tarfile.TarInfo, relative: str, parent_fd: int,
                name: str) -> None:
        existing = _lstat(parent_fd, name)
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            _remove(parent_fd, name)
        fd = None
        try:
            if member.isdir():
                if existing is None or not stat.S_ISDIR(existing.st_mode):
                    os.mkdir(name, 0o700, dir_fd=parent_fd)
                if self.lowers is not None and existing is not None and is_overlay_whiteout(existing):
                    # Deleted, then made again in the same layer: nothing of the lower one shows.
                    os.setxattr(f"/proc/self/fd/{parent_fd}/{name}", OVERLAY_OPAQUE_XATTR, b"y",
                                follow_symlinks=False)
                self.directory_times.append((relative, int(member.mtime * 1e9)))
            elif member.isreg():
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                             dir_fd=parent_fd)
                _copy(tar.extractfile(member), fd)
            elif member.issym():
                os.symlink(member.linkname, name, dir_fd=parent_fd)
            elif member.islnk():
                self._link(member, parent_fd, name)
                return  # a hard link shares its target's attributes
            elif member.ischr() or member.isblk():
                kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
                os.mknod(name, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=parent_fd)
            elif member.isfifo():
                os.mkfifo(name, 0o600, dir_fd=parent_fd)
            else:
                raise errdefs.InvalidArgument(f"{member.name!r}: unknown tar type {member.type!r}: invalid argument")
            self._set_attributes(member, parent_fd, name, fd)
        finally:
            if fd is not None:
                os.close(fd)

    def _link(self, member: tarfile.TarInfo, parent_fd: int, name: str) -> None:
        source = clean(member.linkname)
        source_parent, source_name = posixpath.split(source)
        source_parent_fd = self.root.open_dir(source_parent or ".")
        if source_parent_fd is None or source == ".":
            raise errdefs.InvalidArgument(f"hard link {member.name!r} to missing {member.linkname!r}: invalid argument")
        try:
            # No AT_SYMLINK_FOLLOW: a link to a symlink is a link to the symlink itself.
            os.link(source_name, name, src_dir_fd=source_parent_fd, dst_dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise errdefs.InvalidArgument(
                f"hard link {member.name!r} to missing {member.linkname!r}: invalid argument") from None
        finally:
            os.close(source_parent_fd)

    def _set_attributes(self, member: tarfile.TarInfo, parent_fd: int, name: str, fd: int | None) -> None:
        xattrs = {key.removeprefix(XATTR_PAX_PREFIX): value.encode("utf-8", "surrogateescape")
                  for key, value in member.pax_headers.items() if key.startswith(XATTR_PAX_PREFIX)}
        mtime = int(member.mtime * 1e9)
        if member.issym():
            os.chown(name, member.uid, member.gid, dir_fd=parent_fd, follow_symlinks=False)
            self._set_xattrs(f"/proc/self/fd/{parent_fd}/{name}", xattrs, follow=False)
            os.utime(name, ns=(mtime, mtime), dir_fd=parent_fd, follow_symlinks=False)
            return
        own = fd is None
        if own:
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
        try:
            path = f"/proc/self/fd/{fd}"
            os.chown(path, member.uid, member.gid)
            os.chmod(path, member.mode)  # after chown, which clears set-id bits
            self._set_xattrs(path, xattrs, follow=True)
            if not member.isdir():
                os.utime(path, ns=(mtime, mtime))
        finally:
            if own:
                os.close(fd)

    def _set_xattrs(self, path: str, xattrs: dict[str, bytes], follow: bool) -> None:
        for key, value in xattrs.items():
            # overlay's own attributes are ours to write (whiteouts, opaque dirs): one from a
            # layer could redirect lookups in the merged view.
            if key.startswith("trusted.overlay."):
                continue
            os.setxattr(path, key, value, follow_symlinks=follow)


def is_overlay_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _lstat(parent_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _remove(parent_fd: int, name: str) -> None:
    """Delete name (a whole tree if a directory; never through a symlink), if it is there."""
    existing = _lstat(parent_fd, name)
    if existing is None:
        return
    if stat.S_ISDIR(existing.st_mode):
        shutil.rmtree(name, dir_fd=parent_fd)
    else:
        os.unlink(name, dir_fd=parent_fd)


def _copy(source: BinaryIO, fd: int) -> None:
    while chunk := source.read(CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


"""A directory tree whose paths are resolved by the kernel inside it, never outside.

openat2(2) with RESOLVE_IN_ROOT treats the tree's root as "/" for every step of a lookup,
symlinks and ".." included, so a layer that plants a symlink to /etc and then writes through
it writes into the tree's own etc; RESOLVE_NO_MAGICLINKS refuses /proc-style links that
would jump anywhere. Only parent directories are resolved that way: the last component is
then handled with the *at calls and no-follow flags, so a symlink in the layer is created or
replaced, never followed.
"""
from __future__ import annotations

import ctypes
import os
import posixpath

import errdefs

_SYS_OPENAT2 = 437  # the same number on every architecture (it postdates the split tables)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dir_fd: int, path: str, flags: int, resolve: int) -> int:
    how = _OpenHow(flags | os.O_CLOEXEC, 0, resolve)
    fd = _libc.syscall(_SYS_OPENAT2, dir_fd, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), path)
    return fd


def clean(name: str) -> str:
    """A tar member's name as a path relative to the root: leading slashes dropped (an
    absolute name means the same place in the layer), "." for the root itself. A name that
    climbs out with ".." is refused, not clamped: a layer with one is broken or hostile."""
    relative = posixpath.normpath(name.lstrip("/")) if name.strip("/") else "."
    if relative == ".." or relative.startswith("../"):
        raise errdefs.InvalidArgument(f"path {name!r} escapes the layer's root: invalid argument")
    return relative


class Root:
    """An open directory that paths are resolved inside."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.fd = os.open(self.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def open(self, relative: str, flags: int = os.O_PATH) -> int:
        """An fd for relative (a clean() path), every step of it resolved inside the root."""
        return openat2(self.fd, relative, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

    def open_dir(self, relative: str) -> int | None:
        """An O_PATH fd for the directory relative names; None if it does not exist."""
        try:
            return self.open(relative, os.O_PATH | os.O_DIRECTORY)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise errdefs.InvalidArgument(f"{relative!r} in the layer is not a directory: invalid argument") from None

    def lstat(self, relative: str) -> os.stat_result | None:
        """The entry itself (a symlink is not followed), or None if it is not there."""
        parent, name = posixpath.split(relative)
        try:
            fd = self.open(parent or ".", os.O_PATH | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return os.stat(name or ".", dir_fd=fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        finally:
            os.close(fd)


"""The Linux system calls pyrunc needs that Python 3.11's os module lacks, through ctypes.

This is the only module that talks to libc directly. `Linux` is the real implementation;
rootfs code takes it as a parameter so unit tests can pass a recorder instead and check the
order of mounts without root.
"""
import ctypes
import os
import struct

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

MNT_DETACH = 0x2

PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_LINUX_CAPABILITY_VERSION_3 = 0x20080522

KEYCTL_JOIN_SESSION_KEYRING = 1

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10

# Syscalls glibc 2.36 has no wrapper for; the numbers differ per architecture.
_SYSCALL_NUMBERS = {
    "x86_64": {"pivot_root": 155, "keyctl": 250, "personality": 135, "openat2": 437},
    "aarch64": {"pivot_root": 41, "keyctl": 219, "personality": 92, "openat2": 437},
}

_libc = None


def _lib():
    global _libc
    if _libc is None:
        # The running program's own handle: it opens no file, so it works after pivot_root too.
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def _check(result: int, what: str, path: str | None = None) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return result


def _syscall(name: str, *args) -> int:
    number = _SYSCALL_NUMBERS[os.uname().machine][name]
    return _check(_lib().syscall(number, *args), name)


def _cstr(value: str | None):
    return None if value is None else os.fsencode(value)


class Linux:
    """The real system calls. Methods raise OSError with errno set, like the os module."""

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
        _check(_lib().mount(_cstr(source), _cstr(target), _cstr(fstype), ctypes.c_ulong(flags), _cstr(data)),
               f"mount {source or ''} on {target} ({fstype or 'no type'}, flags {flags:#x}, data {data!r})", target)

    def umount(self, target: str, flags: int = 0) -> None:
        _check(_lib().umount2(_cstr(target), flags), f"umount {target}", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        _syscall("pivot_root", _cstr(new_root), _cstr(put_old))

    def chroot(self, path: str) -> None:
        os.chroot(path)

    def unshare(self, flags: int) -> None:
        _check(_lib().unshare(flags), f"unshare {flags:#x}")

    def setns(self, fd: int, nstype: int) -> None:
        _check(_lib().setns(fd, nstype), "setns")

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        _check(_lib().sethostname(raw, len(raw)), "sethostname")

    def setdomainname(self, name: str) -> None:
        raw = name.encode()
        _check(_lib().setdomainname(raw, len(raw)), "setdomainname")

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        return _check(_lib().prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                                   ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)), f"prctl {option}")

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        """Set the calling thread's capability sets (64-bit masks) with the v3 ABI."""
        header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
        data = struct.pack("6I", effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF,
                           effective >> 32, permitted >> 32, inheritable >> 32)
        _check(_lib().capset(header, data), "capset")

    def join_session_keyring(self, name: str) -> None:
        _syscall("keyctl", KEYCTL_JOIN_SESSION_KEYRING, _cstr(name))

    def personality(self, persona: int) -> None:
        _syscall("personality", ctypes.c_ulong(persona))

    def fstatfs_type(self, fd: int) -> int:
        """The filesystem magic of `fd` (struct statfs.f_type), which os.fstatvfs does not give."""
        buf = ctypes.create_string_buffer(120)  # struct statfs is 120 bytes on 64-bit Linux
        _check(_lib().fstatfs(fd, buf), "fstatfs")
        return struct.unpack_from("l", buf.raw)[0]

    def open_in_root(self, root_fd: int, path: str, flags: int) -> int:
        """openat2 with RESOLVE_IN_ROOT: symlinks and '..' in `path` cannot leave `root_fd`,
        so a hostile rootfs cannot redirect a mount or a device node onto the host."""
        how = struct.pack("QQQ", flags | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        buf = ctypes.create_string_buffer(how, len(how))
        number = _SYSCALL_NUMBERS[os.uname().machine]["openat2"]
        return _check(_lib().syscall(number, root_fd, _cstr(path), buf, ctypes.c_size_t(len(how))),
                      f"open {path} inside the rootfs", path)


linux = Linux()

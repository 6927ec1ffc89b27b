"""Mounting the rootfs containerd gives in Create onto <bundle>/rootfs, and unmounting it.

containerd's snapshotters return mounts and never mount; mounting is the shim's job, done in
the host's mount namespace as containerd's runc shim does, and undone when the task is deleted.
"""
import ctypes
import os

import errdefs

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_REMOUNT = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
MS_MANDLOCK, MS_DIRSYNC, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 0x40, 0x80, 0x400, 0x800, 0x1000, 0x4000
MS_RELATIME, MS_STRICTATIME = 1 << 21, 1 << 24
_MNT_DETACH = 0x2

# option -> (flags to clear, flags to set), as containerd's mount_linux.go reads them; any
# other option is filesystem data (lowerdir=..., upperdir=...).
_FLAG_OPTIONS = {
    "async": (MS_SYNCHRONOUS, 0),
    "atime": (MS_NOATIME, 0),
    "bind": (0, MS_BIND),
    "defaults": (0, 0),
    "dev": (MS_NODEV, 0),
    "diratime": (MS_NODIRATIME, 0),
    "dirsync": (0, MS_DIRSYNC),
    "exec": (MS_NOEXEC, 0),
    "mand": (0, MS_MANDLOCK),
    "noatime": (0, MS_NOATIME),
    "nodev": (0, MS_NODEV),
    "nodiratime": (0, MS_NODIRATIME),
    "noexec": (0, MS_NOEXEC),
    "nomand": (MS_MANDLOCK, 0),
    "norelatime": (MS_RELATIME, 0),
    "nostrictatime": (MS_STRICTATIME, 0),
    "nosuid": (0, MS_NOSUID),
    "rbind": (0, MS_BIND | MS_REC),
    "relatime": (0, MS_RELATIME),
    "remount": (0, MS_REMOUNT),
    "ro": (0, MS_RDONLY),
    "rw": (MS_RDONLY, 0),
    "strictatime": (0, MS_STRICTATIME),
    "suid": (MS_NOSUID, 0),
    "sync": (0, MS_SYNCHRONOUS),
}

# Made at import, so the fork server makes it once and every shim shares it.
_libc = ctypes.CDLL(None, use_errno=True)


def parse_options(options: list[str]) -> tuple[int, str]:
    """mount(2)'s flags and data for a mount's options, each applied in order."""
    flags, data = 0, []
    for option in options:
        if option in _FLAG_OPTIONS:
            clear, set_ = _FLAG_OPTIONS[option]
            flags = flags & ~clear | set_
        else:
            data.append(option)
    return flags, ",".join(data)


def mount_all(mounts: list[dict], target: str) -> None:
    """Each mount ({type, source, options}) onto `target`, in order; undone on failure."""
    done = 0
    try:
        for m in mounts:
            flags, data = parse_options(m.get("options", []))
            fstype = m.get("type") or None
            if fstype == "bind":
                flags |= MS_BIND
                fstype = None
            _mount(m.get("source") or "none", target, fstype, flags, data, f"mount {m.get('type')} {m.get('source')}")
            done += 1
            if flags & MS_BIND and flags & MS_RDONLY:
                # A bind mount ignores ro until remounted.
                _mount(None, target, None, flags | MS_REMOUNT, "", f"remount {m.get('source')} read-only")
    except BaseException:
        for _ in range(done):
            unmount(target)
        raise


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str, what: str) -> None:
    if _libc.mount(os.fsencode(source) if source is not None else None, os.fsencode(target),
                   os.fsencode(fstype) if fstype else None, ctypes.c_ulong(flags), data.encode() or None) != 0:
        raise errdefs.Internal(f"{what} on {target}: {os.strerror(ctypes.get_errno())}")


def unmount(target: str) -> None:
    """Detach whatever is mounted on `target` (all layers), tolerating nothing mounted."""
    while _libc.umount2(os.fsencode(target), _MNT_DETACH) == 0:
        pass
    err = ctypes.get_errno()
    if err not in (22, 2):  # EINVAL: not a mount point (any more); ENOENT: no such path
        raise errdefs.Internal(f"unmount {target}: {os.strerror(err)}")

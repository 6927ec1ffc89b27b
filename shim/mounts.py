"""Mounting the rootfs containerd gives in Create onto <bundle>/rootfs, and unmounting it.

containerd's snapshotters return mounts and never mount; mounting is the shim's job, done in
the host's mount namespace as containerd's runc shim does, and undone when the task is deleted.
"""
import ctypes
import os
import threading

import errdefs

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_REMOUNT = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
MS_MANDLOCK, MS_DIRSYNC, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 0x40, 0x80, 0x400, 0x800, 0x1000, 0x4000
MS_RELATIME, MS_STRICTATIME = 1 << 21, 1 << 24
_MNT_DETACH = 0x2
_CLONE_FS = 0x200
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

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
            chdir = None
            if len(data) >= PAGE_SIZE:
                chdir, data = compact_lowerdir(data)
                if len(data) >= PAGE_SIZE:
                    raise errdefs.InvalidArgument(
                        f"mount options of {m.get('type')} are {len(data)} bytes even with relative lowerdirs, "
                        f"more than a page: invalid argument")
            _mount(m.get("source") or "none", target, fstype, flags, data, f"mount {m.get('type')} {m.get('source')}",
                   chdir)
            done += 1
            if flags & MS_BIND and flags & MS_RDONLY:
                # A bind mount ignores ro until remounted.
                _mount(None, target, None, flags | MS_REMOUNT, "", f"remount {m.get('source')} read-only")
    except BaseException:
        for _ in range(done):
            unmount(target)
        raise


def compact_lowerdir(data: str) -> tuple[str | None, str]:
    """(directory, data) with the lowerdirs made relative to their common parent directory,
    as containerd's compactLowerdirOption does, for a mount made from that directory: mount(2)
    takes at most a page of data. (None, data) if they have no common parent but /."""
    options = data.split(",")
    index = next((i for i, option in enumerate(options) if option.startswith("lowerdir=")), None)
    if index is None:
        return None, data
    lowers = options[index].removeprefix("lowerdir=").split(":")
    if len(lowers) < 2 or not all(lower.startswith("/") for lower in lowers):
        return None, data
    common = os.path.commonpath(lowers)
    if common in lowers:
        common = os.path.dirname(common)  # one lowerdir would become "", which overlay refuses
    if common == "/":
        return None, data
    options[index] = "lowerdir=" + ":".join(os.path.relpath(lower, common) for lower in lowers)
    return common, ",".join(options)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str, what: str,
           chdir: str | None = None) -> None:
    if chdir is not None:
        _mount_from(chdir, source, target, fstype, flags, data, what)
        return
    if _libc.mount(os.fsencode(source) if source is not None else None, os.fsencode(target),
                   os.fsencode(fstype) if fstype else None, ctypes.c_ulong(flags), data.encode() or None) != 0:
        raise errdefs.Internal(f"{what} on {target}: {os.strerror(ctypes.get_errno())}")


def _mount_from(directory: str, source: str | None, target: str, fstype: str | None, flags: int, data: str,
                what: str) -> None:
    """mount(2) with the relative paths in data resolved from directory. The working
    directory is shared by the shim's threads, so a thread of its own makes the call after
    unsharing it (CLONE_FS) and changing to directory, as containerd's mountAt does; the
    thread then ends with it. (A forked child would do too, but its exit would go to the
    shim's reaper, and forking a threaded process for one syscall buys nothing.)"""
    target = os.path.abspath(target)
    failure = []

    def mount_there() -> None:
        if _libc.unshare(_CLONE_FS) != 0:
            failure.append(f"unshare the working directory: {os.strerror(ctypes.get_errno())}")
            return
        try:
            os.chdir(directory)
        except OSError as exc:
            failure.append(f"chdir {directory}: {exc.strerror}")
            return
        if _libc.mount(os.fsencode(source) if source is not None else None, os.fsencode(target),
                       os.fsencode(fstype) if fstype else None, ctypes.c_ulong(flags), data.encode()) != 0:
            failure.append(os.strerror(ctypes.get_errno()))

    thread = threading.Thread(target=mount_there, name="mount-from")
    thread.start()
    thread.join()
    if failure:
        raise errdefs.Internal(f"{what} on {target} (lowerdirs relative to {directory}): {failure[0]}")


def unmount(target: str) -> None:
    """Detach whatever is mounted on `target` (all layers), tolerating nothing mounted."""
    while _libc.umount2(os.fsencode(target), _MNT_DETACH) == 0:
        pass
    err = ctypes.get_errno()
    if err not in (22, 2):  # EINVAL: not a mount point (any more); ENOENT: no such path
        raise errdefs.Internal(f"unmount {target}: {os.strerror(err)}")

"""Mounting the rootfs containerd gives in Create onto <bundle>/rootfs, and unmounting it.

containerd's snapshotters return mounts and never mount; mounting is the shim's job, done in
the host's mount namespace as containerd's runc shim does, and undone when the task is deleted.
"""
import ctypes
import os

import errdefs

_FLAGS = {"ro": 0x1, "rw": 0, "nosuid": 0x2, "nodev": 0x4, "noexec": 0x8, "bind": 0x1000, "rbind": 0x1000 | 0x4000,
          "remount": 0x20, "noatime": 0x400, "relatime": 1 << 21}
_MNT_DETACH = 0x2

# Made at import, so the fork server makes it once and every shim shares it.
_libc = ctypes.CDLL(None, use_errno=True)


def mount_all(mounts: list[dict], target: str) -> None:
    """Each mount ({type, source, options}) onto `target`, in order; undone on failure."""
    done = 0
    try:
        for m in mounts:
            flags, data = 0, []
            for option in m.get("options", []):
                if option in _FLAGS:
                    flags |= _FLAGS[option]
                else:
                    data.append(option)
            fstype = m.get("type") or None
            if fstype == "bind":
                flags |= _FLAGS["bind"]
                fstype = None
            _mount(m.get("source") or "none", target, fstype, flags, ",".join(data),
                   f"mount {m.get('type')} {m.get('source')}")
            done += 1
            if flags & _FLAGS["bind"] and flags & _FLAGS["ro"]:
                # A bind mount ignores ro until remounted.
                _mount(None, target, None, flags | _FLAGS["remount"], "", f"remount {m.get('source')} read-only")
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

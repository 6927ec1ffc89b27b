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
            result = _libc.mount(os.fsencode(m.get("source") or "none"), os.fsencode(target),
                                  os.fsencode(fstype) if fstype else None, ctypes.c_ulong(flags),
                                  ",".join(data).encode() or None)
            if result != 0:
                err = ctypes.get_errno()
                raise errdefs.Internal(f"mount {m.get('type')} {m.get('source')} on {target}: {os.strerror(err)}")
            done += 1
            if flags & _FLAGS["bind"] and flags & _FLAGS["ro"]:
                # A bind mount ignores ro until remounted.
                _libc.mount(None, os.fsencode(target), None, ctypes.c_ulong(flags | _FLAGS["remount"]), None)
    except BaseException:
        for _ in range(done):
            unmount(target)
        raise


def unmount(target: str) -> None:
    """Detach whatever is mounted on `target` (all layers), tolerating nothing mounted."""
    while _libc.umount2(os.fsencode(target), _MNT_DETACH) == 0:
        pass
    err = ctypes.get_errno()
    if err not in (22, 2):  # EINVAL: not a mount point (any more); ENOENT: no such path
        raise errdefs.Internal(f"unmount {target}: {os.strerror(err)}")

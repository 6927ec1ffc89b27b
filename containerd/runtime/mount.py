"""Unmounting a bundle's rootfs when a shim did not (containerd's mount.UnmountAll)."""
import ctypes
import errno
import os
import time

_libc = ctypes.CDLL(None, use_errno=True)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)

BUSY_RETRIES = 50
BUSY_DELAY = 0.05


def unmount_all(target: str) -> None:
    """Unmount every mount stacked on target, until it is no mount point (or does not exist)."""
    busy = 0
    while True:
        if _libc.umount2(os.fsencode(target), 0) == 0:
            continue
        error = ctypes.get_errno()
        if error in (errno.EINVAL, errno.ENOENT):
            return
        if error == errno.EBUSY and busy < BUSY_RETRIES:
            busy += 1
            time.sleep(BUSY_DELAY)
            continue
        raise OSError(error, f"unmount {target}: {os.strerror(error)}")

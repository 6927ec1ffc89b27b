"""Preparing the container's root filesystem inside its new mount namespace, and entering it.

The order follows runc (rootfs_linux.go) because each step depends on the previous one:
  1. make / a slave (or the configured propagation) so nothing mounted here reaches the host;
  2. make the rootfs's parent mount private and bind the rootfs onto itself: pivot_root needs
     a mount point whose parent is not shared;
  3. the config's mounts, in order, each target resolved *inside* the rootfs (openat2
     RESOLVE_IN_ROOT) and mounted through /proc/self/fd, so a symlink planted in an image
     cannot redirect a mount onto the host;
  4. device nodes and the /dev symlinks, unless /dev is bind-mounted;
  5. (the parent's prestart/createRuntime hooks and createContainer hooks run here)
  6. pivot_root(".", ".") and detach the old root (or MS_MOVE + chroot with --no-pivot);
then, after the console is set up: read-only remounts, masked and read-only paths.

Every function takes the syscall seam `sc` (syscalls.Linux, or a recorder in unit tests).
"""
import errno
import os
import stat

from . import syscalls as S

# option -> (flags to clear, flags to set) for the flags mount(2) understands; anything else
# is filesystem data (mode=755, size=64m, ...).
MOUNT_FLAG_OPTIONS = {
    "async": (S.MS_SYNCHRONOUS, 0),
    "atime": (S.MS_NOATIME, 0),
    "bind": (0, S.MS_BIND),
    "defaults": (0, 0),
    "dev": (S.MS_NODEV, 0),
    "diratime": (S.MS_NODIRATIME, 0),
    "dirsync": (0, S.MS_DIRSYNC),
    "exec": (S.MS_NOEXEC, 0),
    "mand": (0, S.MS_MANDLOCK),
    "noatime": (0, S.MS_NOATIME),
    "nodev": (0, S.MS_NODEV),
    "nodiratime": (0, S.MS_NODIRATIME),
    "noexec": (0, S.MS_NOEXEC),
    "nomand": (S.MS_MANDLOCK, 0),
    "norelatime": (S.MS_RELATIME, 0),
    "nostrictatime": (S.MS_STRICTATIME, 0),
    "nosuid": (0, S.MS_NOSUID),
    "nosymfollow": (0, S.MS_NOSYMFOLLOW),
    "rbind": (0, S.MS_BIND | S.MS_REC),
    "relatime": (0, S.MS_RELATIME),
    "remount": (0, S.MS_REMOUNT),
    "ro": (0, S.MS_RDONLY),
    "rw": (S.MS_RDONLY, 0),
    "strictatime": (0, S.MS_STRICTATIME),
    "suid": (S.MS_NOSUID, 0),
    "sync": (0, S.MS_SYNCHRONOUS),
}

PROPAGATION = {
    "private": S.MS_PRIVATE,
    "rprivate": S.MS_PRIVATE | S.MS_REC,
    "shared": S.MS_SHARED,
    "rshared": S.MS_SHARED | S.MS_REC,
    "slave": S.MS_SLAVE,
    "rslave": S.MS_SLAVE | S.MS_REC,
    "unbindable": S.MS_UNBINDABLE,
    "runbindable": S.MS_UNBINDABLE | S.MS_REC,
}

# Only these files may be mounted over inside /proc (lxcfs-style overrides); anything else
# there could hide the masking of sensitive proc files.
_PROC_MOUNT_ALLOWED = {
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
    "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
}

DEFAULT_DEVICES = (
    # path, major, minor, mode
    ("/dev/null", 1, 3, 0o666),
    ("/dev/zero", 1, 5, 0o666),
    ("/dev/full", 1, 7, 0o666),
    ("/dev/random", 1, 8, 0o666),
    ("/dev/urandom", 1, 9, 0o666),
    ("/dev/tty", 5, 0, 0o666),
)

_DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
)

_ST_FLAGS = (  # statvfs flag -> mount flag, to keep locked flags on a remount
    (os.ST_RDONLY, S.MS_RDONLY), (os.ST_NOSUID, S.MS_NOSUID), (os.ST_NODEV, S.MS_NODEV),
    (os.ST_NOEXEC, S.MS_NOEXEC), (os.ST_NOATIME, S.MS_NOATIME), (os.ST_NODIRATIME, S.MS_NODIRATIME),
    (os.ST_RELATIME, S.MS_RELATIME),
)


class MountOptions:
    """A mount's options split the way mount(2) wants them."""

    def __init__(self, options: list[str]):
        self.flags = 0
        self.propagation: list[int] = []
        data = []
        for option in options:
            if option in MOUNT_FLAG_OPTIONS:
                clear, setting = MOUNT_FLAG_OPTIONS[option]
                self.flags = (self.flags & ~clear) | setting
            elif option in PROPAGATION:
                self.propagation.append(PROPAGATION[option])
            else:
                data.append(option)
        self.data = ",".join(data) or None

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & S.MS_BIND)


class Rootfs:
    """The rootfs being prepared, held open by fd so every path below it is resolved inside it."""

    def __init__(self, sc, path: str):
        self.sc = sc
        self.path = path
        self.fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        os.close(self.fd)

    def open(self, dest: str, flags: int = os.O_PATH) -> int:
        return self.sc.open_in_root(self.fd, dest.lstrip("/") or ".", flags)

    def ensure(self, dest: str, is_dir: bool, mode: int = 0o755) -> int:
        """Open `dest` (O_PATH) inside the rootfs, creating it and its parents if missing.

        Missing parts are created where the image's symlinks lead *within* the rootfs (an
        absolute link target counts from the rootfs), as runc's securejoin does; the final
        open re-resolves with RESOLVE_IN_ROOT, so a race cannot move the target outside.
        """
        try:
            return self.open(dest)
        except FileNotFoundError:
            pass
        inner = resolve_inside(self.path, dest)
        parent, name = os.path.split(inner)
        os.makedirs(self.path + parent, mode, exist_ok=True)
        target = self.path + inner
        try:
            if is_dir:
                os.mkdir(target, mode)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, mode))
        except FileExistsError:
            pass
        return self.open(inner)

    def mount(self, source, dest: str, fstype, flags: int, data=None, *, is_dir: bool = True) -> None:
        fd = self.ensure(dest, is_dir)
        try:
            self.sc.mount(source, f"/proc/self/fd/{fd}", fstype, flags, data)
        finally:
            os.close(fd)

    def remount(self, dest: str, flags: int, data=None) -> None:
        """Change flags or propagation of what is now mounted at `dest` (reopened: the fd used
        to mount points below the new mount)."""
        fd = self.open(dest)
        try:
            self.sc.mount(None, f"/proc/self/fd/{fd}", None, flags, data)
        finally:
            os.close(fd)


def resolve_inside(root: str, path: str) -> str:
    """`path` with every symlink resolved as if `root` were /: the result ("/a/b") never
    leaves root, whatever the image's links say. Components that do not exist stay as given."""
    pending = [p for p in path.split("/") if p]
    resolved = ""
    followed = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            resolved = os.path.dirname(resolved) if resolved else ""
            resolved = "" if resolved == "/" else resolved
            continue
        candidate = f"{resolved}/{part}"
        try:
            st = os.lstat(root + candidate)
        except FileNotFoundError:
            resolved = candidate
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved = candidate
            continue
        followed += 1
        if followed > 255:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
        target = os.readlink(root + candidate)
        if target.startswith("/"):
            resolved = ""
        pending[:0] = [p for p in target.split("/") if p]
    return resolved or "/"


def clean(destination: str) -> str:
    """A mount destination as an absolute, normalised path (normpath keeps a leading '//')."""
    return os.path.normpath("/" + destination.lstrip("/"))


def prepare_root(sc, rootfs: str, propagation: str | None) -> None:
    sc.mount(None, "/", None, PROPAGATION.get(propagation or "rslave", S.MS_SLAVE | S.MS_REC) | S.MS_REC)
    _make_parent_mount_private(sc, rootfs)
    sc.mount(rootfs, rootfs, None, S.MS_BIND | S.MS_REC)


def _make_parent_mount_private(sc, rootfs: str) -> None:
    # pivot_root refuses a new root whose parent mount is shared (systemd makes / shared).
    # The mount holding the rootfs (the rootfs itself when the shim mounted it) becomes that
    # parent; walk up to it: MS_PRIVATE fails with EINVAL on paths that are not mount points.
    path = rootfs.rstrip("/") or "/"
    while True:
        try:
            sc.mount(None, path, None, S.MS_PRIVATE)
            return
        except OSError as e:
            if e.errno != errno.EINVAL or path == "/":
                raise
            path = os.path.dirname(path)


def binds_dev(mounts: list[dict]) -> bool:
    """Whether a mount binds something onto /dev: its device nodes are then the source's, and
    pyrunc must not make its own there (they would land in that source, maybe the host's /dev)."""
    return any(clean(m["destination"]) == "/dev" and MountOptions(m.get("options", [])).is_bind for m in mounts)


def mount_all(root: Rootfs, mounts: list[dict], *, cgroup_mounter) -> None:
    for m in mounts:
        mount_one(root, m, cgroup_mounter=cgroup_mounter)


def mount_one(root: Rootfs, m: dict, *, cgroup_mounter) -> None:
    dest = clean(m["destination"])
    options = MountOptions(m.get("options", []))
    fstype = m.get("type") or ("bind" if options.is_bind else None)
    source = m.get("source")
    if dest.startswith("/proc/") and dest not in _PROC_MOUNT_ALLOWED:
        raise PermissionError(f"mounting over {dest} is not allowed: it could unmask /proc")
    if fstype in ("proc", "sysfs"):
        _refuse_symlink(root, dest)
    if options.is_bind:
        _bind(root, source, dest, options)
    elif fstype == "cgroup":
        cgroup_mounter(root, dest, options)
    else:
        flags = options.flags
        data = options.data
        if fstype == "tmpfs" and flags & S.MS_RDONLY:
            # Mount writable first: a read-only tmpfs could never get its mount points made.
            root.mount(source or fstype, dest, fstype, flags & ~S.MS_RDONLY, data)
            root.remount(dest, S.MS_REMOUNT | flags, data)
        else:
            root.mount(source or fstype, dest, fstype, flags, data)
    for propagation in options.propagation:
        root.remount(dest, propagation)


def _refuse_symlink(root: Rootfs, dest: str) -> None:
    try:
        fd = root.open(dest, os.O_PATH | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    try:
        if stat.S_ISLNK(os.fstat(fd).st_mode):
            raise PermissionError(f"refusing to mount proc or sysfs on {dest}: it is a symlink")
    finally:
        os.close(fd)


def _bind(root: Rootfs, source: str, dest: str, options: MountOptions) -> None:
    if not source:
        raise ValueError(f"bind mount on {dest} has no source")
    is_dir = stat.S_ISDIR(os.stat(source).st_mode)
    root.mount(source, dest, None, options.flags & (S.MS_BIND | S.MS_REC), is_dir=is_dir)
    # A bind mount ignores every flag but MS_BIND|MS_REC; the others need a remount.
    extra = options.flags & ~(S.MS_BIND | S.MS_REC | S.MS_REMOUNT)
    if extra:
        root.remount(dest, S.MS_BIND | S.MS_REMOUNT | extra)


def create_devices(root: Rootfs, devices: list[dict], *, bind_from_host: bool) -> None:
    """Make the default device nodes plus the config's; in a user namespace mknod is not
    allowed, so bind-mount the host's node over an empty file instead (as runc does)."""
    wanted = {path: (major, minor, mode, "c", 0, 0) for path, major, minor, mode in DEFAULT_DEVICES}
    for d in devices:
        wanted[d["path"]] = (d.get("major", 0), d.get("minor", 0), d.get("fileMode", 0o666), d["type"],
                             d.get("uid", 0), d.get("gid", 0))
    for path, (major, minor, mode, kind, uid, gid) in wanted.items():
        if bind_from_host:
            root.mount(path, path, None, S.MS_BIND, is_dir=False)
            continue
        parent, name = os.path.split(path)
        parent_fd = root.ensure(parent, True)
        try:
            try:
                os.unlink(name, dir_fd=parent_fd)
            except FileNotFoundError:
                pass
            file_type = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[kind]
            os.mknod(name, file_type | (mode & 0o7777), os.makedev(major, minor), dir_fd=parent_fd)
            os.chown(name, uid, gid, dir_fd=parent_fd, follow_symlinks=False)
            # mknod applies the umask; the config's mode is what the container must see.
            os.chmod(name, mode & 0o7777, dir_fd=parent_fd, follow_symlinks=False)
        finally:
            os.close(parent_fd)


def create_dev_symlinks(root: Rootfs) -> None:
    dev_fd = root.ensure("/dev", True)
    try:
        links = list(_DEV_SYMLINKS)
        if os.path.exists("/proc/kcore"):
            links.append(("/proc/kcore", "/dev/core"))
        for target, link in links:
            try:
                os.symlink(target, os.path.basename(link), dir_fd=dev_fd)
            except FileExistsError:
                pass
    finally:
        os.close(dev_fd)


def pivot_root(sc, rootfs: str) -> None:
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new_root)
        # pivot_root(".", ".") stacks the old root on top of the new one, so no put_old
        # directory is needed inside the image.
        sc.pivot_root(".", ".")
        os.fchdir(old_root)
        # Slave first, so the detach below does not propagate to the host's mounts.
        sc.mount(None, ".", None, S.MS_SLAVE | S.MS_REC)
        sc.umount(".", S.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old_root)
        os.close(new_root)


def move_root(sc, rootfs: str) -> None:
    """--no-pivot: for ramdisk roots where pivot_root is impossible."""
    os.chdir(rootfs)
    sc.mount(rootfs, "/", None, S.MS_MOVE)
    sc.chroot(".")
    os.chdir("/")


def reopen_dev_null() -> None:
    """Stdio that was the host's /dev/null now points outside the container: reopen it on the
    container's own /dev/null."""
    null = None
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3):
            if null is None:
                null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, fd)
    if null is not None and null > 2:
        os.close(null)


def finalize(sc, spec: dict) -> None:
    """Read-only remounts that had to wait until everything below them was mounted."""
    for m in spec.get("mounts", []):
        dest = clean(m["destination"])
        if dest == "/dev" and "ro" in m.get("options", []):
            sc.mount(None, "/dev", None, S.MS_REMOUNT | S.MS_RDONLY | _locked_flags("/dev"))
    if spec.get("root", {}).get("readonly"):
        sc.mount(None, "/", None, S.MS_BIND | S.MS_REMOUNT | S.MS_RDONLY | _locked_flags("/"))


def _locked_flags(path: str) -> int:
    # In a user namespace a remount must keep flags like nosuid that the owner locked.
    f_flag = os.statvfs(path).f_flag
    return sum(ms for st, ms in _ST_FLAGS if f_flag & st and ms != S.MS_RDONLY)


def readonly_path(sc, path: str) -> None:
    try:
        sc.mount(path, path, None, S.MS_BIND | S.MS_REC)
    except FileNotFoundError:
        return
    sc.mount(None, path, None, S.MS_BIND | S.MS_REMOUNT | S.MS_RDONLY | S.MS_REC | _locked_flags(path))


def mask_path(sc, path: str) -> None:
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    if is_dir:
        sc.mount("tmpfs", path, "tmpfs", S.MS_RDONLY, "size=0,nr_inodes=1")
    else:
        sc.mount("/dev/null", path, None, S.MS_BIND)

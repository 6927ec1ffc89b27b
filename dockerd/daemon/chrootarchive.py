"""docker cp inside a container's root (moby's chrootarchive): run by pydockerd as a fresh
interpreter (`python -I -S chrootarchive.py REQUEST`), never imported into it.

A fresh process rather than a fork of pydockerd: a forked copy of a threaded daemon inherits
gRPC's fork handlers, which restart its pollers in the child. This one has the standard library
only, no descriptor but its standard ones and its report pipe (an open directory of the host
would be a way out), and the request (JSON) in its argument:

    {"op": "stat" | "archive" | "extract", "path": ..., "root": {"live": PATH} | {"snapshot": MOUNTS},
     "staging": DIR, "binds": [[SOURCE, DESTINATION, WRITABLE], ...], "reports": FD, ...extract's options}

It enters a mount namespace of its own, mounts the container's root filesystem on the staging
directory, makes it its root (pivot_root, the old root detached) and only then mounts the
volumes, bind mounts and /etc files at their container paths, so that those paths, like every
path it touches afterwards, resolve inside the container: a symlink to / or to ../../.., or a tar
entry ../x, can name nothing of the host, which is no longer in its view. The namespace, and
every mount in it, ends with the process.

Once the root has moved nothing may be imported (it would come from the container: the
decompressors tarfile loads lazily are loaded here first) and no user may be looked up through
NSS, which loads libraries (CVE-2019-14271): -a's owner comes from the container's /etc/passwd,
read as a file. The tar comes in on stdin or goes out on stdout; reports go to the descriptor
the request names, one JSON object a line: {"stat": ...}, {"ready": true}, {"done": true} or
{"error": ..., "kind": ...}.
"""
from __future__ import annotations

import bz2  # noqa: F401 - loaded before the root moves (tarfile imports it lazily)
import contextlib
import ctypes
import errno
import json
import lzma  # noqa: F401 - as bz2
import os
import posixpath
import shutil
import stat as S
import sys
import tarfile
import time
import zlib  # noqa: F401 - as bz2
from collections.abc import Iterator

CHUNK = 1 << 16
BLOCK = 512
# The kinds of failure, as pydockerd's errdefs names them.
NOT_FOUND, INVALID, SYSTEM = "NotFound", "InvalidArgument", "Internal"

# --- the system calls Python lacks -----------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}[os.uname().machine]
_OPEN_TREE, _MOVE_MOUNT, _MOUNT_SETATTR = 428, 429, 442  # one number on every architecture
CLONE_NEWNS = 0x20000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_SLAVE = 0x1, 0x20, 0x1000, 0x4000, 1 << 19
MNT_DETACH = 2
AT_FDCWD, AT_EMPTY_PATH, AT_RECURSIVE = -100, 0x1000, 0x8000
OPEN_TREE_CLONE = 1
MOVE_MOUNT_F_EMPTY_PATH = 4
MOUNT_ATTR_RDONLY = 1
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_FLAG_OPTIONS = {"ro": MS_RDONLY, "rw": 0, "bind": MS_BIND, "rbind": MS_BIND | MS_REC}


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


def _checked(result: int, what: str) -> int:
    if result < 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")
    return result


def _mount(source, target: str, fstype, flags: int, data) -> None:
    _checked(_libc.mount(source and os.fsencode(source), os.fsencode(target), fstype and fstype.encode(),
                         ctypes.c_ulong(flags), data and data.encode()), f"mount {source} on {target}")


def _open_tree(source: str, read_only: bool) -> int:
    """A detached copy of the mount tree at source (a volume), attached once the root has moved."""
    fd = _checked(_libc.syscall(_OPEN_TREE, AT_FDCWD, os.fsencode(source),
                                OPEN_TREE_CLONE | os.O_CLOEXEC | AT_RECURSIVE), f"open_tree {source}")
    if read_only:
        attr = _MountAttr(attr_set=MOUNT_ATTR_RDONLY)
        _checked(_libc.syscall(_MOUNT_SETATTR, fd, b"", AT_EMPTY_PATH | AT_RECURSIVE, ctypes.byref(attr),
                               ctypes.sizeof(attr)), f"make {source} read-only")
    return fd


def _move_mount(fd: int, target: str) -> None:
    _checked(_libc.syscall(_MOVE_MOUNT, fd, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH),
             f"mount on {target}")


class _Failure(Exception):
    """A failure worded as moby words it, with its kind."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


# --- the process -------------------------------------------------------------------------------

def main() -> None:
    request = json.loads(sys.argv[1])

    def report(message: dict) -> None:
        data = json.dumps(message).encode() + b"\n"
        while data:
            data = data[os.write(request["reports"], data):]

    try:
        _enter(request)
        if request["op"] == "stat":
            report({"stat": _stat(request["path"])})
        elif request["op"] == "archive":
            _archive(request["path"], report)
        else:
            _extract(request["path"], report, user=request["user"], no_overwrite=request["no_overwrite"],
                     mount_points=request["mount_points"], read_only_rootfs=request["read_only_rootfs"])
    except Exception as exc:  # noqa: BLE001 - reported to pydockerd, whatever it is
        kind, message = _describe(exc)
        with contextlib.suppress(OSError):
            report({"error": message, "kind": kind})
        sys.exit(1)


def _describe(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, _Failure):
        return exc.kind, str(exc)
    if isinstance(exc, FileNotFoundError):
        return NOT_FOUND, str(exc)
    if isinstance(exc, OSError):
        return SYSTEM, f"{exc.filename}: {_go_error(exc)}" if exc.filename else _go_error(exc)
    if isinstance(exc, tarfile.TarError):
        return SYSTEM, _tar_error(exc)
    return SYSTEM, str(exc) or type(exc).__name__


def _go_error(exc: OSError) -> str:
    """An OSError's reason in Go's words: `no such file or directory`."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def _tar_error(exc: tarfile.TarError) -> str:
    """Go's archive/tar words for what Python's tarfile found."""
    cut_short = any(words in str(exc) for words in ("unexpected end", "truncated"))
    return "unexpected EOF" if cut_short else "archive/tar: invalid tar header"


def _enter(request: dict) -> None:
    _checked(_libc.unshare(CLONE_NEWNS), "unshare the mount namespace")
    # Slave: what is mounted here stays here; the host's unmounts still reach here.
    _mount(None, "/", None, MS_REC | MS_SLAVE, None)
    staging, root = request["staging"], request["root"]
    if "live" in root:
        _mount(root["live"], staging, None, MS_BIND, None)
    else:
        for mount in root["snapshot"]:
            _mount_snapshot(mount, staging)
    trees = [(destination, _open_tree(source, not writable), S.S_ISDIR(os.stat(source).st_mode))
             for source, destination, writable in request["binds"]]
    os.chdir(staging)
    try:
        _checked(_libc.syscall(_PIVOT_ROOT, b".", b"."), "pivot_root")
        _checked(_libc.umount2(b".", MNT_DETACH), "detach the old root")
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # a root on rootfs cannot be pivoted from: chroot instead
            raise
        os.chroot(".")
    os.chdir("/")
    for destination, fd, is_dir in trees:
        _make_mount_point(destination, is_dir)
        _move_mount(fd, destination)
        os.close(fd)


def _option(mount: dict, name: str):
    return next((o.split("=", 1)[1] for o in mount.get("options") or [] if o.startswith(name + "=")), None)


def _mount_snapshot(mount: dict, target: str) -> None:
    flags, data = 0, []
    for option in mount.get("options") or []:
        if option in _FLAG_OPTIONS:
            flags |= _FLAG_OPTIONS[option]
        else:
            data.append(option)
    fstype = None if flags & MS_BIND else mount["type"]
    text = ",".join(data)
    if len(text) >= PAGE_SIZE:
        # mount(2) takes a page of options: name the lower directories from their parent.
        lower = _option(mount, "lowerdir") or ""
        parent = posixpath.commonpath(lower.split(":"))
        os.chdir(parent)
        text = text.replace(f"lowerdir={lower}",
                            "lowerdir=" + ":".join(posixpath.relpath(d, parent) for d in lower.split(":")))
    _mount(mount.get("source"), target, fstype, flags, text or None)
    if flags & MS_BIND and flags & MS_RDONLY:
        _mount(None, target, None, flags | MS_REMOUNT, None)


def _make_mount_point(destination: str, is_dir: bool) -> None:
    """Inside the container's root (moby's createIfNotExists): symlinks on the way resolve there."""
    if is_dir:
        os.makedirs(destination, 0o755, exist_ok=True)
        return
    os.makedirs(posixpath.dirname(destination), 0o755, exist_ok=True)
    os.close(os.open(destination, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o755))


# --- stat --------------------------------------------------------------------------------------

_GO_MODE_TYPES = ((S.S_ISDIR, 1 << 31), (S.S_ISLNK, 1 << 27), (S.S_ISFIFO, 1 << 25), (S.S_ISSOCK, 1 << 24),
                  (S.S_ISBLK, 1 << 26), (S.S_ISCHR, (1 << 26) | (1 << 21)))


def go_file_mode(mode: int) -> int:
    """st_mode as Go's os.FileMode, which the stat header carries."""
    value = mode & 0o777
    for test, bits in _GO_MODE_TYPES:
        if test(mode):
            value |= bits
    if not any(test(mode) for test, _ in _GO_MODE_TYPES) and not S.S_ISREG(mode):
        value |= 1 << 19  # irregular
    for flag, bit in ((S.S_ISUID, 1 << 23), (S.S_ISGID, 1 << 22), (S.S_ISVTX, 1 << 20)):
        if mode & flag:
            value |= bit
    return value


def go_time(ns: int) -> str:
    """A time as Go marshals it (RFC 3339, nanoseconds without trailing zeros), in UTC."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def go_base(path: str) -> str:
    """filepath.Base: the last element, trailing slashes ignored; "/" for the root."""
    if not path:
        return "."
    stripped = path.rstrip("/")
    return stripped.rsplit("/", 1)[-1] if stripped else "/"


def go_clean(path: str) -> str:
    """path.Clean (posixpath.normpath keeps a leading //, Go does not)."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def go_join(*parts: str) -> str:
    """filepath.Join: an absolute later part does not restart the path, as os.path.join's does."""
    joined = "/".join(p for p in parts if p)
    return go_clean(joined) if joined else ""


def preserve_trailing(cleaned: str, original: str) -> str:
    """archive.PreserveTrailingDotOrSeparator."""
    if go_base(cleaned) != "." and go_base(original) == ".":
        cleaned = cleaned + ("." if cleaned.endswith("/") else "/.")
    if not cleaned.endswith("/") and original.endswith("/"):
        cleaned += "/"
    return cleaned


def _lstat(path: str) -> os.stat_result:
    """os.lstat, its failures but a missing path worded as Go's (`lstat /x/: not a directory`)."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _Failure(SYSTEM, f"lstat {path}: {_go_error(exc)}") from None


def _stat(path: str) -> dict:
    info = _lstat(path)
    target = ""
    if S.S_ISLNK(info.st_mode):
        target = os.path.realpath(path)  # in the container's root: as far as the links resolve
    return {"name": go_base(path), "size": info.st_size, "mode": go_file_mode(info.st_mode),
            "mtime": go_time(info.st_mtime_ns), "linkTarget": target}


# --- archive (GET) -----------------------------------------------------------------------------

def _archive(path: str, report) -> None:
    absolute = preserve_trailing(go_join("/", path), path)
    found = _stat(absolute)
    report({"stat": found})
    if found["mode"] & (1 << 31):
        source_dir, include = absolute, "."
    else:
        source_dir, include = absolute[:absolute.rfind("/") + 1], absolute[absolute.rfind("/") + 1:]
    with os.fdopen(sys.stdout.fileno(), "wb", buffering=CHUNK) as out:
        _write_tar(out, source_dir, include, go_base(absolute))
    report({"done": True})


def _walk(path: str) -> Iterator[tuple[str, os.stat_result]]:
    """filepath.WalkDir's order: the path, then each entry by name, not following symlinks;
    what cannot be read is left out, as the tarballer logs and skips it."""
    try:
        info = os.lstat(path)
    except OSError:
        return
    yield path, info
    if S.S_ISDIR(info.st_mode):
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return
        for name in names:
            yield from _walk(path.rstrip("/") + "/" + name)


def _write_tar(out, source_dir: str, include: str, rebase: str) -> None:
    """go-archive's tarballer with TarResourceRebaseOpts: entries named from include, its first
    occurrence replaced by rebase; hard links as links to the first name seen."""
    seen: dict[tuple[int, int], str] = {}
    replacement = "" if rebase == "/" else rebase
    for path, info in _walk(source_dir.rstrip("/") + "/" + include):
        name = posixpath.relpath(path, source_dir)
        if include == "." and name != ".":
            name = "./" + name
        if rebase:
            name = name.replace(include, replacement, 1)
        header = _header(name, path, info, seen)
        if header is None:
            continue
        out.write(header.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if header.type == tarfile.REGTYPE and header.size:
            _copy_file(path, header.size, out)
    out.write(b"\0" * (2 * BLOCK))  # the end of the archive, unpadded, as Go's tar writer ends it


def _header(name: str, path: str, info: os.stat_result, seen: dict) -> tarfile.TarInfo | None:
    header = tarfile.TarInfo(name)
    header.mode = info.st_mode & 0o7777
    header.uid, header.gid = info.st_uid, info.st_gid
    header.uname = header.gname = ""
    header.mtime = int(info.st_mtime)
    mode = info.st_mode
    if S.S_ISDIR(mode):
        header.type = tarfile.DIRTYPE
    elif S.S_ISREG(mode):
        header.type, header.size = tarfile.REGTYPE, info.st_size
    elif S.S_ISLNK(mode):
        header.type, header.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif S.S_ISFIFO(mode):
        header.type = tarfile.FIFOTYPE
    elif S.S_ISCHR(mode) or S.S_ISBLK(mode):
        header.type = tarfile.CHRTYPE if S.S_ISCHR(mode) else tarfile.BLKTYPE
        header.devmajor, header.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
    else:
        return None  # sockets: Go's tar refuses them and the tarballer skips them
    if not S.S_ISDIR(mode) and info.st_nlink > 1:
        first = seen.setdefault((info.st_dev, info.st_ino), header.name)
        if first != header.name:
            header.type, header.linkname, header.size = tarfile.LNKTYPE, first, 0
    with contextlib.suppress(OSError):
        capability = os.getxattr(path, "security.capability", follow_symlinks=False)
        header.pax_headers["SCHILY.xattr.security.capability"] = capability.decode("utf-8", "surrogateescape")
    return header


def _copy_file(path: str, size: int, out) -> None:
    """size bytes of the file (zeros if it shrank meanwhile), padded to a block."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        left = size
        while left:
            data = os.read(fd, min(CHUNK, left)) or b"\0" * min(CHUNK, left)
            out.write(data)
            left -= len(data)
    finally:
        os.close(fd)
    if size % BLOCK:
        out.write(b"\0" * (BLOCK - size % BLOCK))


# --- extract (PUT) -----------------------------------------------------------------------------

def _extract(path: str, report, *, user: str, no_overwrite: bool, mount_points: list[tuple[str, bool]],
             read_only_rootfs: bool) -> None:
    # The destination with every symlink followed, the last one too: a link to a directory
    # is a fine place to extract to.
    absolute = preserve_trailing(os.path.realpath(go_join("/", path), strict=True), path)
    if not S.S_ISDIR(_lstat(absolute).st_mode):
        raise _Failure(INVALID, "extraction point is not a directory")
    _check_writable(absolute, mount_points, read_only_rootfs)
    owner = _owner(user) if user else None
    report({"ready": True})
    with os.fdopen(sys.stdin.fileno(), "rb", buffering=CHUNK) as stream:
        _untar(stream, go_clean(absolute), owner, no_overwrite)
    report({"done": True})


def _check_writable(absolute: str, mount_points: list[tuple[str, bool]], read_only_rootfs: bool) -> None:
    for destination, writable in mount_points:
        relative = posixpath.relpath(absolute, destination)
        if relative != ".." and not relative.startswith("../"):
            if writable:
                return
            raise _Failure(INVALID, "mounted volume is marked read-only")
    if read_only_rootfs:
        raise _Failure(INVALID, "container rootfs is marked read-only")


def _owner(user: str) -> tuple[int, int]:
    """user.Lookup of the container's user, from its /etc/passwd (a name, as Go's Lookup takes)."""
    with contextlib.suppress(OSError):
        with open("/etc/passwd", encoding="utf-8", errors="surrogateescape") as passwd:
            for line in passwd:
                entry = line.rstrip("\n").split(":")
                if len(entry) >= 4 and entry[0] == user and entry[2].isdigit() and entry[3].isdigit():
                    return int(entry[2]), int(entry[3])
    raise _Failure(SYSTEM, f"user: unknown user {user}")


def _quote(text: str) -> str:
    """Go's %q, for the paths in go-archive's messages."""
    return json.dumps(text, ensure_ascii=False)


def _untar(stream, dest: str, owner: tuple[int, int] | None, no_overwrite: bool) -> None:
    """go-archive's Unpack, inside the container's root."""
    try:
        archive = tarfile.open(fileobj=stream, mode="r|*")
    except tarfile.ReadError as exc:
        if "empty" in str(exc):
            return  # no entry at all: nothing to extract
        raise
    directories = []
    for member in archive:
        name = go_clean(member.name)
        target = go_join(dest, name)
        relative = posixpath.relpath(target, dest)
        if relative == ".." or relative.startswith("../"):
            raise _Failure(SYSTEM, f"{_quote(name)} is outside of {_quote(dest)}")
        if not member.isdir():
            parent = posixpath.dirname(target)
            if not os.path.lexists(parent):
                os.makedirs(parent, 0o755)
        try:
            existing = os.lstat(target)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            is_dir = S.S_ISDIR(existing.st_mode)
            if no_overwrite and is_dir and not member.isdir():
                raise _Failure(SYSTEM,
                               f"cannot overwrite directory {_quote(target)} with non-directory {_quote(dest)}")
            if no_overwrite and not is_dir and member.isdir():
                raise _Failure(SYSTEM,
                               f"cannot overwrite non-directory {_quote(target)} with directory {_quote(dest)}")
            if is_dir and name == ".":
                continue
            if not (is_dir and member.isdir()):
                if is_dir:
                    shutil.rmtree(target)
                else:
                    os.unlink(target)
        _create(archive, member, target, dest, owner)
        if member.isdir():
            directories.append((target, member.mtime))
    for target, mtime in directories:
        os.utime(target, (mtime, mtime))


def _create(archive: tarfile.TarFile, member: tarfile.TarInfo, target: str, dest: str,
            owner: tuple[int, int] | None) -> None:
    mode = member.mode & 0o7777
    if member.isdir():
        if not os.path.isdir(target) or os.path.islink(target):
            os.mkdir(target, mode)
    elif member.isreg():
        fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        try:
            content = archive.extractfile(member)
            while data := content.read(CHUNK):
                os.write(fd, data)
        finally:
            os.close(fd)
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = S.S_IFCHR if member.ischr() else S.S_IFBLK if member.isblk() else S.S_IFIFO
        os.mknod(target, mode | kind, os.makedev(member.devmajor, member.devminor))
    elif member.islnk():
        source = go_join(dest, member.linkname)
        if not source.startswith(dest):
            raise _Failure(SYSTEM, f"invalid hardlink {_quote(source)} -> {_quote(member.linkname)}")
        os.link(source, target, follow_symlinks=False)
    elif member.issym():
        relative = posixpath.relpath(go_join(posixpath.dirname(target), member.linkname), dest)
        if relative == ".." or relative.startswith("../"):
            raise _Failure(SYSTEM,
                           f"invalid symlink {_quote(target)} -> {_quote(member.linkname)}")
        os.symlink(member.linkname, target)
    else:
        raise _Failure(SYSTEM, f"unhandled tar header type {ord(member.type)}")
    uid, gid = owner or (member.uid, member.gid)
    try:
        os.lchown(target, uid, gid)
    except OSError as exc:
        raise _Failure(SYSTEM, f"failed to Lchown {_quote(target)} for UID {member.uid}, GID "
                                         f"{member.gid}: {_go_error(exc)}") from None
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(target, key.removeprefix("SCHILY.xattr."), value.encode("utf-8", "surrogateescape"),
                            follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise
    if member.issym():
        os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
        return
    if not (member.islnk() and os.path.islink(target)):
        os.chmod(target, mode)
        os.utime(target, (member.mtime, member.mtime))


if __name__ == "__main__":
    main()

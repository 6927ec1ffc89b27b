"""docker cp: a tar through the archive endpoints, and go-archive's path rules on this side.

    cp CONTAINER:SRC DEST      GET SRC as a tar, extracted here (DEST "-": the tar to stdout)
    cp SRC CONTAINER:DEST      HEAD DEST, then PUT the tar of SRC into DEST or its parent (SRC "-": stdin)

What the source and the destination are (a directory, a file, missing; a trailing "/" asserting
a directory, a trailing "/." meaning a directory's contents) decides which directory the tar is
extracted into and how its first path element is renamed (archive.PrepareArchiveCopy). Local
paths are made absolute first; symlinks before the last element are followed (all of them
with -L). When stdout is a terminal, docker 28 says "Successfully copied <the tar's size> to
<destination>" on stderr, after the copy, whether or not it worked.
"""
from __future__ import annotations

import os
import posixpath
import stat as S
import sys
from dataclasses import dataclass

from client import api
from client.commands import parser as make_parser

MODE_DIR, MODE_SYMLINK, MODE_DEVICE, MODE_IRREGULAR = 1 << 31, 1 << 27, 1 << 26, 1 << 19  # Go's os.FileMode
CHUNK = 1 << 16
BLOCK = 512


def parser(name):
    p = make_parser(name, "docker cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tpydocker cp [OPTIONS] SRC_PATH|- "
                          "CONTAINER:DEST_PATH",
                    "Copy files/folders between a container and the local filesystem\n\nUse '-' as the source to "
                    "read a tar archive from stdin\nand extract it to a directory destination in a container.\n"
                    "Use '-' as the destination to stream a tar archive of a\ncontainer source to stdout.",
                    required="2 arguments")
    p.add_argument("source")
    p.add_argument("destination")
    p.add_argument("-a", "--archive", action="store_true")
    p.add_argument("-L", "--follow-link", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


class CopyError(Exception):
    """A failure in docker's words, printed as it is."""


# --- Go's path rules ---------------------------------------------------------------------------

def go_clean(path: str) -> str:
    """path.Clean (posixpath.normpath keeps a leading //, Go does not)."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def go_join(*parts: str) -> str:
    """filepath.Join: an absolute later part does not restart the path."""
    joined = "/".join(p for p in parts if p)
    return go_clean(joined) if joined else ""


def go_base(path: str) -> str:
    if not path:
        return "."
    stripped = path.rstrip("/")
    return stripped.rsplit("/", 1)[-1] if stripped else "/"


def go_dir(path: str) -> str:
    return go_clean(path[:path.rfind("/") + 1]) if "/" in path else "."


def asserts_directory(path: str) -> bool:
    """A trailing / or /. says the path must be a directory."""
    return path.endswith("/") or go_base(path) == "."


def preserve_trailing(cleaned: str, original: str) -> str:
    """archive.PreserveTrailingDotOrSeparator: the / or /. that cleaning dropped, put back."""
    if go_base(cleaned) != "." and go_base(original) == ".":
        cleaned += "." if cleaned.endswith("/") else "/."
    if not cleaned.endswith("/") and original.endswith("/"):
        cleaned += "/"
    return cleaned


def split_path_dir_entry(path: str) -> tuple[str, str]:
    """archive.SplitPathDirEntry: (directory, last element), a trailing "." kept as the element."""
    cleaned = go_clean(path)
    if go_base(path) == ".":
        cleaned += "/."
    return go_dir(cleaned), go_base(cleaned)


def split_cp_arg(arg: str) -> tuple[str, str]:
    """(container, path) of CONTAINER:PATH; a local path has no container. A local path with a
    colon is made explicit with a leading / or ./ (as scp does)."""
    if arg.startswith("/"):
        return "", arg
    container, colon, path = arg.partition(":")
    if not colon or container.startswith("."):
        return "", arg
    return container, path


def rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """archive.GetRebaseName: the resolved path with path's trailing / or /., and the name its
    entries must take if the last element changed."""
    if go_base(path) == "." and go_base(resolved) != ".":
        resolved += "/."
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    return resolved, (go_base(path) if go_base(path) != go_base(resolved) else "")


def resolve_local_path(path: str) -> str:
    return preserve_trailing(go_clean(os.path.join(os.getcwd(), path)), path)


def rename(name: str, old: str, new: str) -> str:
    """An entry's name with the first occurrence of old replaced (archive.RebaseArchiveEntries);
    the root's old name is empty, so that it does not eat the leading slash."""
    return name.replace("" if old == "/" else old, new, 1)


@dataclass
class CopyInfo:
    path: str
    exists: bool = False
    is_dir: bool = False
    rebase: str = ""


def prepare_archive_copy(source: CopyInfo, destination: CopyInfo) -> tuple[str, tuple[str, str] | None]:
    """archive.PrepareArchiveCopy: the directory to extract into, and the renaming (old, new) of
    the archive's first element that makes the copy land on the destination's name."""
    destination_dir, destination_base = split_path_dir_entry(destination.path)
    _, source_base = split_path_dir_entry(source.path)
    if destination.exists and destination.is_dir:
        return destination.path, None  # into it, as it is
    if destination.exists and source.is_dir:
        raise CopyError("cannot copy directory")
    if not destination.exists and not source.is_dir and asserts_directory(destination.path):
        raise CopyError("no such directory")
    return destination_dir, (source.rebase or source_base, destination_base)


# --- local files -------------------------------------------------------------------------------

def go_error(operation: str, path: str, error: OSError) -> CopyError:
    """An OSError as Go words it: `lstat /x: no such file or directory`."""
    text = error.strerror or str(error)
    return CopyError(f"{operation} {path}: {text[:1].lower()}{text[1:]}")


def eval_symlinks(path: str) -> str:
    """filepath.EvalSymlinks: every link followed; the first missing element named."""
    try:
        return os.path.realpath(path, strict=True)
    except OSError as error:
        prefix = ""
        for element in path.strip("/").split("/"):
            prefix += "/" + element
            try:
                os.lstat(prefix)
            except OSError as missing:
                raise go_error("lstat", prefix, missing) from None
        raise go_error("lstat", path, error) from None


def copy_info_source_path(path: str, follow_link: bool) -> CopyInfo:
    """archive.CopyInfoSourcePath: symlinks before the last element followed, the last too with -L."""
    if follow_link:
        resolved, rebase = rebase_name(path, eval_symlinks(path))
    else:
        directory, base = path[:path.rfind("/") + 1], path[path.rfind("/") + 1:]
        resolved = eval_symlinks(directory) + "/" + base
        rebase = go_base(path) if path.endswith("/") and go_base(path) != go_base(resolved) else ""
    try:
        info = os.lstat(resolved)
    except OSError as error:
        raise go_error("lstat", resolved, error) from None
    return CopyInfo(resolved, True, S.S_ISDIR(info.st_mode), rebase)


def copy_info_destination_path(path: str) -> CopyInfo:
    """archive.CopyInfoDestinationPath: a symlink to the destination is followed (at most 10);
    a missing destination needs an existing parent directory."""
    original = path
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise go_error("lstat", path, error) from None
    hops = 0
    while info is not None and S.S_ISLNK(info.st_mode):
        hops += 1
        if hops > 11:
            raise CopyError(f"too many symlinks in {original}")
        target = os.readlink(path)
        path = target if target.startswith("/") else go_join(split_path_dir_entry(path)[0], target)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            info = None
    if info is not None:
        return CopyInfo(path, True, S.S_ISDIR(info.st_mode))
    parent = split_path_dir_entry(path)[0]
    try:
        if not S.S_ISDIR(os.stat(parent).st_mode):
            raise CopyError("not a directory")
    except OSError as error:
        raise go_error("stat", parent, error) from None
    return CopyInfo(path)


def validate_output_path(path: str) -> None:
    """command.ValidateOutputPath: the parent exists; the path, if it exists, is a directory or a file."""
    from client.formatting import go_quote

    parent = go_dir(go_clean(path))
    if parent not in ("", "."):
        try:
            os.stat(parent)
        except FileNotFoundError:
            raise CopyError(f"invalid output path: directory {go_quote(parent)} does not exist") from None
        except OSError:
            pass  # only a missing parent is refused here
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise go_error("stat", path, error) from None
    if not (S.S_ISDIR(mode) or S.S_ISREG(mode)):
        raise CopyError(f"invalid output path: {go_quote(path)} must be a directory or a regular file: "
                        f"{file_mode_problem(go_file_mode(mode))}")


def go_file_mode(mode: int) -> int:
    if S.S_ISDIR(mode):
        return MODE_DIR
    if S.S_ISLNK(mode):
        return MODE_SYMLINK
    if S.S_ISBLK(mode) or S.S_ISCHR(mode):
        return MODE_DEVICE
    return 0 if S.S_ISREG(mode) else MODE_IRREGULAR


def file_mode_problem(mode: int) -> str:
    """command.ValidateOutputPathFileMode's complaint, "" for a fine destination."""
    if mode & MODE_DEVICE:
        return "got a device"
    if mode & MODE_IRREGULAR:
        return "got an irregular file"
    return ""


# --- tar, written and read ---------------------------------------------------------------------

def tar_chunks(info: CopyInfo, renaming: tuple[str, str] | None, counted: list[int]):
    """archive.TarResource of info, renamed as PrepareArchiveCopy says, in chunks; counted[0]
    adds up what was produced. Go's tar ends with two zero blocks, unpadded: so does this."""
    import tarfile

    directory, include = split_path_dir_entry(info.path)
    seen: dict[tuple[int, int], str] = {}
    buffer = bytearray()
    for path, status in walk(directory.rstrip("/") + "/" + include):
        name = posixpath.relpath(path, directory)
        if include == "." and name != ".":
            name = "./" + name
        if info.rebase:
            name = rename(name, include, info.rebase)
        header = tar_header(tarfile, name, path, status, seen)
        if header is None:
            continue
        if renaming:
            header.name = rename(header.name + ("/" if header.isdir() else ""), *renaming)
            if header.islnk():
                header.linkname = rename(header.linkname, *renaming)
        buffer += header.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        if header.isreg() and header.size:
            with open(path, "rb") as file:
                left = header.size
                while left:
                    data = file.read(min(CHUNK, left)) or b"\0" * min(CHUNK, left)
                    buffer += data
                    left -= len(data)
                    if len(buffer) >= CHUNK:
                        counted[0] += len(buffer)
                        yield bytes(buffer)
                        buffer.clear()
            buffer += b"\0" * (-header.size % BLOCK)
        if len(buffer) >= CHUNK:
            counted[0] += len(buffer)
            yield bytes(buffer)
            buffer.clear()
    buffer += b"\0" * (2 * BLOCK)
    counted[0] += len(buffer)
    yield bytes(buffer)


def walk(path: str):
    """filepath.WalkDir's order, not following symlinks; what cannot be read is left out."""
    try:
        status = os.lstat(path)
    except OSError:
        return
    yield path, status
    if S.S_ISDIR(status.st_mode):
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return
        for name in names:
            yield from walk(path.rstrip("/") + "/" + name)


def tar_header(tarfile, name: str, path: str, status: os.stat_result, seen: dict):
    """go-archive's FileInfoHeader: no user or group names looked up; hard links to the first name."""
    header = tarfile.TarInfo(name)
    header.mode, header.uid, header.gid = status.st_mode & 0o7777, status.st_uid, status.st_gid
    header.uname = header.gname = ""
    header.mtime = int(status.st_mtime)
    mode = status.st_mode
    if S.S_ISDIR(mode):
        header.type = tarfile.DIRTYPE
    elif S.S_ISREG(mode):
        header.type, header.size = tarfile.REGTYPE, status.st_size
    elif S.S_ISLNK(mode):
        header.type, header.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif S.S_ISFIFO(mode):
        header.type = tarfile.FIFOTYPE
    elif S.S_ISCHR(mode) or S.S_ISBLK(mode):
        header.type = tarfile.CHRTYPE if S.S_ISCHR(mode) else tarfile.BLKTYPE
        header.devmajor, header.devminor = os.major(status.st_rdev), os.minor(status.st_rdev)
    else:
        return None  # a socket: Go's tar refuses it and go-archive leaves it out
    if not S.S_ISDIR(mode) and status.st_nlink > 1:
        first = seen.setdefault((status.st_dev, status.st_ino), header.name)
        if first != header.name:
            header.type, header.linkname, header.size = tarfile.LNKTYPE, first, 0
    try:
        capability = os.getxattr(path, "security.capability", follow_symlinks=False)
        header.pax_headers["SCHILY.xattr.security.capability"] = capability.decode("utf-8", "surrogateescape")
    except OSError:
        pass  # none, as for most files
    return header


class ResponseReader:
    """A file over an API response's body for tarfile, counting what it read."""

    def __init__(self, response):
        self._response, self._buffer, self.count = response, b"", 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            data = self._response.read_some()
            if not data:
                break
            self._buffer += data
            self.count += len(data)
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def untar(stream, dest: str, renames: list[tuple[str, str]]) -> None:
    """archive.Untar as CopyTo runs it (no chown, no directory replaced by a file or the
    reverse), with each entry's first element renamed. A name or a link leading out of dest is
    refused, as is a path through a symlink that the archive made point outside."""
    import tarfile

    from client.formatting import go_quote

    dest = go_clean(dest)
    real_dest = os.path.realpath(dest)
    try:
        archive = tarfile.open(fileobj=stream, mode="r|*")
    except tarfile.ReadError as error:
        if "empty" in str(error):
            return
        raise CopyError(tar_problem(error)) from None
    directories = []
    try:
        for member in archive:
            name = member.name + ("/" if member.isdir() else "")
            for old, new in renames:
                name = rename(name, old, new)
                if member.islnk():
                    member.linkname = rename(member.linkname, old, new)
            name = go_clean(name)
            target = go_join(dest, name)
            relative = posixpath.relpath(target, dest)
            if relative == ".." or relative.startswith("../"):
                raise CopyError(f"{go_quote(name)} is outside of {go_quote(dest)}")
            parent = os.path.realpath(posixpath.dirname(target)) if target != dest else real_dest
            if parent != real_dest and not parent.startswith(real_dest.rstrip("/") + "/"):
                raise CopyError(f"{go_quote(name)} is outside of {go_quote(dest)}")
            if not member.isdir() and not os.path.lexists(posixpath.dirname(target)):
                os.makedirs(posixpath.dirname(target), 0o755)
            try:
                existing = os.lstat(target)
            except FileNotFoundError:
                existing = None
            if existing is not None:
                is_dir = S.S_ISDIR(existing.st_mode)
                if is_dir and not member.isdir():
                    raise CopyError(f"cannot overwrite directory {go_quote(target)} with non-directory "
                                    f"{go_quote(dest)}")
                if not is_dir and member.isdir():
                    raise CopyError(f"cannot overwrite non-directory {go_quote(target)} with directory "
                                    f"{go_quote(dest)}")
                if is_dir and name == ".":
                    continue
                if not is_dir:
                    os.unlink(target)
            create(archive, member, target, dest)
            if member.isdir():
                directories.append((target, member.mtime))
    except tarfile.TarError as error:
        raise CopyError(tar_problem(error)) from None
    for target, mtime in directories:
        os.utime(target, (mtime, mtime))


def tar_problem(error) -> str:
    """Go's archive/tar words for what Python's tarfile found."""
    cut_short = any(words in str(error) for words in ("unexpected end", "truncated"))
    return "unexpected EOF" if cut_short else "archive/tar: invalid tar header"


def create(archive, member, target: str, dest: str) -> None:
    from client.formatting import go_quote

    mode = member.mode & 0o7777
    if member.isdir():
        if not os.path.isdir(target):
            os.mkdir(target, mode)
    elif member.isreg():
        fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as out:
            content = archive.extractfile(member)
            while data := content.read(CHUNK):
                out.write(data)
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = S.S_IFCHR if member.ischr() else S.S_IFBLK if member.isblk() else S.S_IFIFO
        os.mknod(target, mode | kind, os.makedev(member.devmajor, member.devminor))
    elif member.islnk():
        source = go_join(dest, member.linkname)
        if not source.startswith(dest):
            raise CopyError(f"invalid hardlink {go_quote(source)} -> {go_quote(member.linkname)}")
        os.link(source, target, follow_symlinks=False)
    elif member.issym():
        relative = posixpath.relpath(go_join(posixpath.dirname(target), member.linkname), dest)
        if relative == ".." or relative.startswith("../"):
            raise CopyError(f"invalid symlink {go_quote(target)} -> {go_quote(member.linkname)}")
        os.symlink(member.linkname, target)
    else:
        raise CopyError(f"unhandled tar header type {ord(member.type)}")
    if member.issym():
        os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
    elif not (member.islnk() and os.path.islink(target)):
        os.chmod(target, mode)
        os.utime(target, (member.mtime, member.mtime))


# --- the two directions ------------------------------------------------------------------------

def path_stat(client, container: str, path: str) -> dict | None:
    """HEAD's stat of a container path; None when it failed (its error reply has no body)."""
    import base64

    try:
        response = client.request("HEAD", f"/containers/{api.q(container)}/archive", {"path": path})
    except (api.APIError, ConnectionError):
        return None
    response.close()
    return api.loads(base64.b64decode(response.headers.get("x-docker-container-path-stat", "")) or b"null")


def copied(size: int, destination: str) -> None:
    from client.formatting import human_size

    print(f"Successfully copied {human_size(size, 3)} to {destination}", file=sys.stderr, flush=True)


def from_container(client, container: str, source: str, destination: str, follow_link: bool, quiet: bool) -> None:
    import base64

    if destination != "-":
        destination = resolve_local_path(destination)
    validate_output_path(destination)
    rebase = ""
    if follow_link:
        found = path_stat(client, container, source)
        if found and found["mode"] & MODE_SYMLINK:
            target = found["linkTarget"]
            if not target.startswith("/"):
                target = go_join(split_path_dir_entry(source)[0], target)
            source, rebase = rebase_name(source, target)
    response = client.request("GET", f"/containers/{api.q(container)}/archive", {"path": source})
    try:
        if destination == "-":
            while data := response.read_some():
                sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        found = api.loads(base64.b64decode(response.headers.get("x-docker-container-path-stat", "")))
        info = CopyInfo(source, True, bool(found["mode"] & MODE_DIR), rebase)
        reader = ResponseReader(response)
        try:
            target = copy_info_destination_path(destination)
            directory, renaming = prepare_archive_copy(info, target)
            renames = ([(split_path_dir_entry(source)[1], rebase)] if rebase else []) + ([renaming] if renaming else [])
            untar(reader, directory, renames)
        finally:
            if not quiet:
                copied(reader.count, destination)
    finally:
        response.close()


def to_container(client, source: str, container: str, destination: str, follow_link: bool, copy_uid_gid: bool,
                 quiet: bool) -> None:
    if source != "-":
        source = resolve_local_path(source)
    target = CopyInfo(destination)
    found = path_stat(client, container, destination)
    if found and found["mode"] & MODE_SYMLINK:
        link = found["linkTarget"]
        target.path = link if link.startswith("/") else go_join(split_path_dir_entry(destination)[0], link)
        found = path_stat(client, container, target.path)
    problem = file_mode_problem(found["mode"] if found else 0)
    if problem:
        raise CopyError(f'destination "{container}:{destination}" must be a directory or a regular file: {problem}')
    if found:
        target.exists, target.is_dir = True, bool(found["mode"] & MODE_DIR)
    counted = [0]
    if source == "-":
        if not target.is_dir:
            raise CopyError(f'destination "{container}:{destination}" must be a directory')
        directory = target.path
        body = iter(lambda: sys.stdin.buffer.read1(CHUNK), b"")  # its bytes are not counted, as docker does
    else:
        info = copy_info_source_path(source, follow_link)
        directory, renaming = prepare_archive_copy(info, target)
        body = tar_chunks(info, renaming, counted)
    params = {"path": directory, "noOverwriteDirNonDir": "true", "copyUIDGID": "true" if copy_uid_gid else None}
    try:
        client.request("PUT", f"/containers/{api.q(container)}/archive", params, body).close()
    finally:
        if not quiet:
            copied(counted[0], f"{container}:{target.path}")


def run(client, args) -> int:
    from client.__main__ import CommandError

    if not args.source:
        raise CommandError("source can not be empty", 1)
    if not args.destination:
        raise CommandError("destination can not be empty", 1)
    quiet = args.quiet or not sys.stdout.isatty()
    source_container, source = split_cp_arg(args.source)
    destination_container, destination = split_cp_arg(args.destination)
    try:
        if source_container and destination_container:
            raise CopyError("copying between containers is not supported")
        if source_container:
            from_container(client, source_container, source, destination, args.follow_link, quiet)
        elif destination_container:
            to_container(client, source, destination_container, destination, args.follow_link, args.archive, quiet)
        else:
            raise CopyError("must specify at least one container source")
    except CopyError as error:
        raise CommandError(str(error), 1) from None
    except OSError as error:
        raise CommandError(str(go_error("open", error.filename, error)) if error.filename else str(error), 1) \
            from None
    return 0

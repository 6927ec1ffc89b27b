"""docker save, load and import: images as tar archives, both ways.

    save    GET /images/get?names=...        the archive to -o (written aside, then renamed) or stdout
    load    POST /images/load                a `docker save` or OCI archive from -i or stdin
    import  POST /images/create?fromSrc=...  a root filesystem tar (a file, stdin, or a URL the daemon fetches)

load and import show the daemon's messages as pull does ("Loaded image: busybox:latest",
the new image's ID). Files are streamed, never read whole.
"""
from __future__ import annotations

import os
import stat as S
import sys

from client import api
from client.commands import parser as make_parser

CHUNK = 1 << 16


def parser(name):
    if name == "save":
        p = make_parser(name, "docker save [OPTIONS] IMAGE [IMAGE...]",
                        "Save one or more images to a tar archive (streamed to STDOUT by default)")
        p.add_argument("images", nargs="+")
        p.add_argument("-o", "--output", default="")
    elif name == "load":
        p = make_parser(name, "docker load [OPTIONS]", "Load an image from a tar archive or STDIN", required="")
        p.add_argument("-i", "--input", default="")
        p.add_argument("-q", "--quiet", action="store_true")
    else:
        p = make_parser(name, "docker import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                        "Import the contents from a tarball to create a filesystem image")
        p.add_argument("arguments", nargs="+")  # docker ignores any after the reference
        p.add_argument("-c", "--change", action="append")
        p.add_argument("-m", "--message", default="")
        p.add_argument("--platform", default=os.environ.get("DOCKER_DEFAULT_PLATFORM", ""))
    return p


def query(pairs: list[tuple[str, str]]) -> str:
    """A query string that may repeat a name (names=a&names=b), which a params dict cannot."""
    return "&".join(f"{api.quote(name)}={api.quote(value)}" for name, value in pairs)


def file_chunks(file):
    while data := file.read(CHUNK):
        yield data


def display(response) -> None:
    from client import progress
    from client.__main__ import CommandError

    try:
        if response.headers.get("content-type", "").startswith("application/json"):
            progress.display(progress.messages(response), sys.stdout, sys.stdout.isatty())
        else:
            while data := response.read_some():
                sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
    except progress.StreamError as error:
        raise CommandError(str(error), 1) from None
    finally:
        response.close()


# --- save --------------------------------------------------------------------------------------

class AtomicFile:
    """moby/sys's atomicwriter: the archive goes to a temporary file beside the destination,
    renamed over it (mode 0600) once complete; a failed save leaves nothing behind."""

    def __init__(self, path: str):
        import tempfile

        self.check(path)
        self.path = os.path.abspath(path)
        fd, self.temporary = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path), dir=os.path.dirname(self.path))
        self.file = os.fdopen(fd, "wb")
        self.written = False

    @staticmethod
    def check(path: str) -> None:
        """validateDestination's refusals, in its words."""
        from client.__main__ import CommandError

        directory = os.path.dirname(path)
        if directory not in ("", ".", ".."):
            try:
                if not S.S_ISDIR(os.stat(directory).st_mode):
                    raise CommandError(f"invalid output path: stat {directory}: not a directory", 1)
            except OSError as error:
                raise CommandError(f"invalid output path: stat {directory}: {go_strerror(error)}", 1) from None
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        except OSError as error:
            raise CommandError(f"failed to stat output path: lstat {path}: {go_strerror(error)}", 1) from None
        refusal = next((words for test, words in (
            (S.S_ISDIR, "a directory"), (S.S_ISLNK, "a symbolic link directly"), (S.S_ISFIFO, "a named pipe (FIFO)"),
            (S.S_ISSOCK, "a socket"), (S.S_ISCHR, "a character device file"), (S.S_ISBLK, "a block device file"),
        ) if test(mode)), None)
        if refusal is None and not S.S_ISREG(mode):
            refusal = f"unknown file mode: {mode:o}"
        elif refusal is None:
            refusal = next((words for bit, words in ((S.S_ISUID, "a setuid file"), (S.S_ISGID, "a setgid file"),
                                                     (S.S_ISVTX, "a sticky bit file")) if mode & bit), None)
        if refusal:
            raise CommandError(f"cannot write to {refusal}", 1)

    def write(self, data: bytes) -> None:
        self.written = True
        self.file.write(data)

    def close(self, complete: bool) -> None:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.chmod(self.temporary, 0o600)
            if complete and self.written:
                os.rename(self.temporary, self.path)
        finally:
            if os.path.lexists(self.temporary):
                os.unlink(self.temporary)


def go_strerror(error: OSError) -> str:
    text = error.strerror or str(error)
    return text[:1].lower() + text[1:]


def save(client, args) -> int:
    from client.__main__ import CommandError

    pairs = [("names", name) for name in args.images]
    if not args.output and sys.stdout.isatty():
        raise CommandError("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1)
    output = None
    if args.output:
        try:
            output = AtomicFile(args.output)
        except CommandError as error:
            raise CommandError(f"failed to save image: {error}", 1) from None
    complete = False
    try:
        response = client.request("GET", "/images/get?" + query(pairs))
        try:
            while data := response.read_some():
                if output is None:
                    sys.stdout.buffer.write(data)
                else:
                    output.write(data)
        finally:
            response.close()
        complete = True
    finally:
        if output is not None:
            output.close(complete)
        else:
            sys.stdout.buffer.flush()
    return 0


# --- load --------------------------------------------------------------------------------------

def load(client, args) -> int:
    from client.__main__ import CommandError

    if args.input:
        try:
            source = open(args.input, "rb")
        except OSError as error:
            raise CommandError(f"open {args.input}: {go_strerror(error)}", 1) from None
    elif sys.stdin.isatty():
        raise CommandError("requested load from stdin, but stdin is empty", 1)
    else:
        source = sys.stdin.buffer
    quiet = "1" if args.quiet or not sys.stdout.isatty() else "0"
    with source:
        response = client.request("POST", "/images/load", {"quiet": quiet}, body=file_chunks(source),
                                  headers={"Content-Type": "application/x-tar"})
    display(response)
    return 0


# --- import ------------------------------------------------------------------------------------

def import_(client, args) -> int:
    from client.__main__ import CommandError
    from client.commands.pull import check_reference

    source, reference = args.arguments[0], (args.arguments[1] if len(args.arguments) > 1 else "")
    if source == "-":
        origin, file = "-", sys.stdin.buffer
    elif source.startswith(("http://", "https://")):
        origin, file = source, None  # the daemon downloads it
    else:
        try:
            origin, file = "-", open(source, "rb")
        except OSError as error:
            raise CommandError(f"open {source}: {go_strerror(error)}", 1) from None
    if reference:
        check_reference(reference)
    pairs = [("fromSrc", origin), ("repo", reference), ("message", args.message)]
    pairs += [("changes", change) for change in args.change or []]
    if args.platform:
        pairs.append(("platform", args.platform))
    body = file_chunks(file) if file is not None else b""
    try:
        response = client.request("POST", "/images/create?" + query(pairs), body=body)
    finally:
        if file is not None:
            file.close()
    display(response)
    return 0


def run(client, args) -> int:
    return {"save": save, "load": load, "import": import_}[args.command](client, args)

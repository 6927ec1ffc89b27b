"""The blobs on disk, shared by every namespace (containerd's plugins/content/local).

    <root>/blobs/sha256/<hex>        committed blobs, read-only
    <root>/ingest/<sha256(ref)>/     one write in progress: data, ref, total, expected, startedat

A write goes to its ingest directory, is checked against the size and digest it must have,
then renamed into blobs/: a blob under blobs/ is always whole and always matches its name.
A write can be resumed by opening its ref again; only one writer holds a ref at a time.
Namespaces are not known here: the namespaced store above keeps track of who holds what.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import errdefs

from ..core.identifiers import validate_digest

READ_CHUNK = 1 << 20  # bytes per piece when a blob is read out


@dataclass(frozen=True)
class Status:
    """Where a write in progress stands."""

    ref: str
    offset: int  # bytes written so far
    total: int  # the size the blob should have; 0 if not known
    expected: str  # the digest the blob should have; "" if not known
    started_at: int  # nanoseconds since the epoch
    updated_at: int


class LocalStore:
    def __init__(self, root: Path):
        self.root = root
        self._blobs = root / "blobs"
        self._ingest = root / "ingest"
        for directory in (self._blobs / "sha256", self._ingest):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._held: dict[str, float] = {}  # ref -> when its writer took it

    # blobs

    def blob_path(self, digest: str) -> Path:
        algorithm, hex_digest = validate_digest(digest).split(":")
        return self._blobs / algorithm / hex_digest

    def size(self, digest: str) -> int:
        try:
            return self.blob_path(digest).stat().st_size
        except FileNotFoundError:
            raise errdefs.NotFound(f"content digest {digest}: not found") from None

    def exists(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def read(self, digest: str, offset: int = 0, size: int = 0) -> Iterator[tuple[int, bytes]]:
        """(offset, data) pieces of the blob from offset, size bytes of it (0 or past the
        end: all the rest), as containerd's Read answers."""
        path = self.blob_path(digest)
        try:
            file = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise errdefs.NotFound(f"content digest {digest}: not found") from None
        with file:
            actual = os.fstat(file.fileno()).st_size
            offset = max(offset, 0)
            if offset > actual:
                raise errdefs.OutOfRange(f"read past object length {actual} bytes: out of range")
            end = actual if size <= 0 or offset + size > actual else offset + size
            file.seek(offset)
            while offset < end:
                data = file.read(min(READ_CHUNK, end - offset))
                if not data:
                    raise errdefs.DataLoss(f"content {digest} ended at {offset} of {end} bytes: data loss")
                yield offset, data
                offset += len(data)

    def walk(self) -> list[str]:
        """The digests of every blob."""
        return sorted(f"{algorithm.name}:{blob.name}" for algorithm in self._blobs.iterdir() for blob in algorithm.iterdir())

    def delete(self, digest: str) -> None:
        try:
            self.blob_path(digest).unlink()
        except FileNotFoundError:
            raise errdefs.NotFound(f"content digest {digest}: not found") from None

    # writes in progress

    def _ingest_path(self, ref: str) -> Path:
        # Refs are any string (often a URL or "layer-sha256:..."): hashed, they make a safe name.
        return self._ingest / hashlib.sha256(ref.encode()).hexdigest()

    def writer(self, ref: str, total: int = 0, expected: str = "") -> Writer:
        """Start writing ref, or resume it where it stands. The writer holds ref until it is
        committed or closed: a second one meanwhile is Unavailable, as in containerd, and
        the Go client retries."""
        if not ref:
            raise errdefs.InvalidArgument("ref must not be empty: invalid argument")
        if expected:
            validate_digest(expected)
        with self._lock:
            since = self._held.get(ref)
            if since is not None:
                raise errdefs.Unavailable(
                    f"ref {ref} locked for {time.time() - since:.3f}s (since {time.ctime(since)}): unavailable")
            self._held[ref] = time.time()
        try:
            return Writer(self, ref, self._ingest_path(ref), total, expected)
        except BaseException:
            self._release(ref)
            raise

    def _release(self, ref: str) -> None:
        with self._lock:
            self._held.pop(ref, None)

    def locked(self, ref: str) -> bool:
        with self._lock:
            return ref in self._held

    def status(self, ref: str) -> Status:
        return _read_status(self._ingest_path(ref), ref)

    def list_statuses(self) -> list[Status]:
        statuses = []
        for path in sorted(self._ingest.iterdir()):
            try:
                ref = (path / "ref").read_text()
                statuses.append(_read_status(path, ref))
            except (FileNotFoundError, errdefs.NotFound):
                continue  # committed or aborted while we looked
        return statuses

    def abort(self, ref: str) -> None:
        path = self._ingest_path(ref)
        if not path.exists():
            raise errdefs.NotFound(f"ingest ref {ref!r}: not found")
        shutil.rmtree(path)


def _read_status(path: Path, ref: str) -> Status:
    try:
        data = (path / "data").stat()
        started_at = int((path / "startedat").read_text())
    except FileNotFoundError:
        raise errdefs.NotFound(f"ingest ref {ref!r}: not found") from None
    return Status(ref=ref, offset=data.st_size, total=_read_int(path / "total"),
                  expected=_read_text(path / "expected"), started_at=started_at, updated_at=data.st_mtime_ns)


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _read_int(path: Path) -> int:
    return int(_read_text(path) or 0)


class Writer:
    """One write in progress, appending to its ingest's data file."""

    def __init__(self, store: LocalStore, ref: str, path: Path, total: int, expected: str):
        self.ref = ref
        self._store = store
        self._path = path
        fresh = not path.exists()
        if fresh:
            path.mkdir(mode=0o700)
            (path / "ref").write_text(ref)
            (path / "startedat").write_text(str(time.time_ns()))
        elif (path / "ref").read_text() != ref:
            raise errdefs.FailedPrecondition(f"ingest for {ref!r} collides with another ref: failed precondition")
        if total > 0:
            (path / "total").write_text(str(total))
        if expected:
            (path / "expected").write_text(expected)
        self._fd = os.open(path / "data", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        # A resumed write goes on from what is already there; the digest state cannot be
        # saved, so it is rebuilt from the data.
        self._hash = hashlib.sha256()
        with open(path / "data", "rb") as existing:
            for chunk in iter(lambda: existing.read(READ_CHUNK), b""):
                self._hash.update(chunk)
        self.offset = os.fstat(self._fd).st_size

    @property
    def digest(self) -> str:
        """The digest of what was written so far."""
        return f"sha256:{self._hash.hexdigest()}"

    def status(self) -> Status:
        return _read_status(self._path, self.ref)

    def write(self, data: bytes, offset: int) -> None:
        """Write data at offset, which must be where the write stands; offset 0 starts it
        over, as containerd's server allows."""
        self._check_open()
        if offset == 0 and self.offset > 0:
            self.truncate()
        elif offset != self.offset:
            raise errdefs.OutOfRange(f"write @{offset} must occur at current offset {self.offset}: out of range")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            self._hash.update(view[:written])
            self.offset += written
            view = view[written:]

    def truncate(self) -> None:
        """Start over: drop everything written."""
        self._check_open()
        os.ftruncate(self._fd, 0)
        self._hash = hashlib.sha256()
        self.offset = 0

    def sync(self) -> None:
        self._check_open()
        os.fsync(self._fd)

    def commit(self, size: int = 0, expected: str = "") -> str:
        """Check the data is size bytes (if size > 0) with digest expected (if given), then
        make it the blob named by its digest, which is returned. A failed check leaves the
        ingest where it is, to resume or abort; either way the writer is done."""
        self._check_open()
        try:
            os.fsync(self._fd)
            if size > 0 and size != self.offset:
                raise errdefs.FailedPrecondition(
                    f'"{self.ref}" failed size validation: {self.offset} != {size}: failed precondition')
            digest = self.digest
            if expected and expected != digest:
                raise errdefs.FailedPrecondition(
                    f'"{self.ref}" failed digest validation: {digest} != {expected}: failed precondition')
            target = self._store.blob_path(digest)
            if target.exists():
                shutil.rmtree(self._path)
                raise errdefs.AlreadyExists(f"content {digest}: already exists")
            os.fchmod(self._fd, 0o444)
            os.rename(self._path / "data", target)
            _fsync_directory(target.parent)
            shutil.rmtree(self._path)
            return digest
        finally:
            self.close()

    def close(self) -> None:
        """Let go of the ref, leaving the write to be resumed."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._store._release(self.ref)

    def _check_open(self) -> None:
        if self._fd is None:
            raise errdefs.FailedPrecondition(f"writer for {self.ref!r} is closed: failed precondition")


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

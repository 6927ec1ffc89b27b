"""Each namespace's view of the shared blobs (containerd's core/metadata/content.go).

A namespace sees a blob once it has written or committed it there; the blob itself is stored
once, however many namespaces hold it. Writes are named per namespace, and the blob store
below knows them as "<namespace>/<ref>", so two namespaces never share a write.

Content is shared between namespaces, containerd's default policy: a write that names a digest
some other namespace already holds writes nothing, and committing it only records the blob in
this namespace too. A request made under a lease leaves its write, then its blob, held by it.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import errdefs

from ..core import filters, identifiers
from ..core.metadata import ContentInfo, MetadataStore
from . import local


def status_field(status: local.Status, fieldpath) -> tuple[str, bool]:
    """What a filter sees of a write in progress: its ref."""
    if list(fieldpath) == ["ref"]:
        return status.ref, bool(status.ref)
    return "", False


class ContentStore:
    def __init__(self, blobs: local.LocalStore, metadata: MetadataStore):
        self.blobs = blobs
        self.metadata = metadata
        # Garbage collection holds this while it decides which blobs and writes no namespace
        # holds and removes them; opening and committing a write take it too, so a blob is
        # never deleted just as a namespace claims it.
        self.lock = threading.Lock()

    def info(self, namespace: str, digest: str) -> ContentInfo:
        return self.metadata.get_content(namespace, identifiers.validate_digest(digest))

    def update(self, namespace: str, info: ContentInfo, fieldpaths: list[str]) -> ContentInfo:
        identifiers.validate_digest(info.digest)
        return self.metadata.update_content(namespace, info, fieldpaths)

    def list(self, namespace: str, matcher: filters.AnyOf = filters.AnyOf()) -> list[ContentInfo]:
        return self.metadata.list_content(namespace, matcher)

    def delete(self, namespace: str, digest: str, lease: str = "") -> None:
        self.metadata.delete_content(namespace, identifiers.validate_digest(digest), lease)

    def read(self, namespace: str, digest: str, offset: int = 0, size: int = 0) -> Iterator[tuple[int, bytes]]:
        """(offset, data) pieces of a blob the namespace holds; see LocalStore.read."""
        self.info(namespace, digest)
        return self.blobs.read(digest, offset, size)

    def writer(self, namespace: str, ref: str, total: int = 0, expected: str = "", lease: str = "") -> Writer:
        """Start or resume the namespace's write ref. AlreadyExists if the namespace holds
        expected already (a Go client takes that as done); Unavailable while another writer
        holds ref."""
        if not ref:
            raise errdefs.InvalidArgument("ref must not be empty: invalid argument")
        identifiers.validate(namespace)
        if expected:
            identifiers.validate_digest(expected)
        with self.lock:
            if expected and self.metadata.lease_content_if_held(namespace, expected, lease):
                raise errdefs.AlreadyExists(f"content {expected}: already exists")
            shared_size = self._shared_size(expected, total)
            backend_ref = f"{namespace}/{ref}"
            self.metadata.open_ingest(namespace, ref, backend_ref, expected if shared_size is not None else "", lease)
            if shared_size is not None:
                return Writer(self, namespace, ref, lease, backend_ref, shared=ContentInfo(expected, shared_size))
            return Writer(self, namespace, ref, lease, backend_ref, backend=self.blobs.writer(backend_ref, total, expected))

    def _shared_size(self, expected: str, total: int) -> int | None:
        """The size of the blob another namespace holds under expected, if its size is total
        (or total is not known); None if the write must be made."""
        if not expected:
            return None
        try:
            size = self.blobs.size(expected)
        except errdefs.NotFound:
            return None
        return size if total in (0, size) else None

    def status(self, namespace: str, ref: str) -> local.Status:
        ingest = self.metadata.get_ingest(namespace, ref)
        if ingest.expected:
            size = self.blobs.size(ingest.expected)
            return local.Status(ref, size, size, ingest.expected, 0, 0)
        return replace(self.blobs.status(ingest.backend_ref), ref=ref)

    def list_statuses(self, namespace: str, matcher: filters.AnyOf = filters.AnyOf()) -> list[local.Status]:
        statuses = []
        for ingest in self.metadata.list_ingests(namespace):
            try:
                status = self.status(namespace, ingest.ref)
            except errdefs.NotFound:
                continue  # committed or aborted meanwhile
            if matcher.match(lambda fieldpath, s=status: status_field(s, fieldpath)):
                statuses.append(status)
        return statuses

    def abort(self, namespace: str, ref: str, lease: str = "") -> None:
        ingest = self.metadata.delete_ingest(namespace, ref, lease)
        if not ingest.expected:
            try:
                self.blobs.abort(ingest.backend_ref)
            except errdefs.NotFound:
                pass  # nothing was ever written


class Writer:
    """One namespace's write in progress: either a write to the blob store, or (shared) a
    claim on a blob another namespace holds, which becomes a write only if data is sent."""

    def __init__(self, store: ContentStore, namespace: str, ref: str, lease: str, backend_ref: str,
                 backend: local.Writer | None = None, shared: ContentInfo | None = None):
        self.ref = ref
        self._store = store
        self._namespace = namespace
        self._lease = lease
        self._backend_ref = backend_ref
        self._backend = backend
        self._shared = shared

    @property
    def offset(self) -> int:
        return self._backend.offset if self._backend is not None else self._shared.size

    @property
    def digest(self) -> str:
        return self._backend.digest if self._backend is not None else self._shared.digest

    def status(self) -> local.Status:
        if self._backend is not None:
            return replace(self._backend.status(), ref=self.ref)
        return local.Status(self.ref, self._shared.size, self._shared.size, self._shared.digest, 0, 0)

    def write(self, data: bytes, offset: int) -> None:
        """Write data at offset, which must be where the write stands; offset 0 starts over."""
        if self._backend is None:
            if not data and offset in (0, self._shared.size):
                return
            if offset not in (0, self._shared.size):
                raise errdefs.OutOfRange(f"write @{offset} must occur at current offset {self._shared.size}: out of range")
            self._unshare(keep_blob=offset > 0)
        self._backend.write(data, offset)

    def _unshare(self, keep_blob: bool) -> None:
        """Make the claim a real write, starting from a copy of the blob or from nothing."""
        backend = self._store.blobs.writer(self._backend_ref)
        try:
            backend.truncate()
            if keep_blob:
                for offset, data in self._store.blobs.read(self._shared.digest):
                    backend.write(data, offset)
        except BaseException:
            backend.close()
            raise
        self._backend, self._shared = backend, None
        self._store.metadata.open_ingest(self._namespace, self.ref, self._backend_ref, "", self._lease)

    def commit(self, size: int = 0, expected: str = "", labels: dict[str, str] | None = None) -> ContentInfo:
        """Check what was written is size bytes (if size > 0) with digest expected (if
        given) and give the namespace the blob, with labels. AlreadyExists if it had it."""
        labels = labels or {}
        try:
            identifiers.validate_labels(labels)
        except errdefs.InvalidArgument:
            self.close()
            raise
        if self._backend is not None:
            self._backend.sync()  # the slow part, before taking the lock
        with self._store.lock:
            if self._backend is None:
                if size and size != self._shared.size:
                    raise errdefs.FailedPrecondition(
                        f'"{self.ref}" failed size validation: {self._shared.size} != {size}: failed precondition')
                if expected and expected != self._shared.digest:
                    raise errdefs.FailedPrecondition(f'"{self.ref}" unexpected digest: failed precondition')
                digest, size = self._shared.digest, self._shared.size
            else:
                size = self._backend.offset if not size else size
                try:
                    digest = self._backend.commit(size, expected)
                except errdefs.AlreadyExists:
                    digest = self._backend.digest  # stored already, by another namespace
            created = self._store.metadata.commit_content(
                self._namespace, self.ref, ContentInfo(digest, size, labels), self._lease)
        if created is None:
            raise errdefs.AlreadyExists(f"content {digest}: already exists")
        return created

    def close(self) -> None:
        """Let go of the write, leaving it to be resumed."""
        if self._backend is not None:
            self._backend.close()

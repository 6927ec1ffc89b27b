"""The records pycontainerd keeps, in SQLite under root: namespaces, containers, images,
leases and the content each namespace holds (the blobs themselves are shared, on disk).

SQLite (one file, one transaction per change, the default rollback journal with full
sync) gives what containerd gets from bolt: a record is either written whole or not at all,
whatever moment the daemon is killed at. Records are stored as JSON; opaque payloads (the
OCI spec, runtime options, extensions) keep their type URL and bytes untouched.

Namespaces come into being with their first object, as in containerd, or explicitly with
labels; one that still holds objects cannot be deleted.

A request made under a lease attaches what it creates to the lease (containerd's leased
contexts): the lease keeps it from garbage collection until the lease is gone. Deleting an
object that others may have kept alive tells the watchers (the garbage collector).
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import errdefs

from . import filters, identifiers


@dataclass(frozen=True)
class TypedValue:
    """An opaque payload and the type URL that says how to read it (a protobuf Any)."""

    type_url: str
    value: bytes


@dataclass(frozen=True)
class Runtime:
    name: str  # required, immutable: e.g. "io.containerd.runc.v2"
    options: TypedValue | None = None  # handed to the shim at task creation


@dataclass(frozen=True)
class Container:
    id: str  # required, immutable
    runtime: Runtime  # required; the name is immutable
    spec: TypedValue | None  # required, mutable: the OCI runtime spec
    labels: dict[str, str] = field(default_factory=dict)  # mutable
    image: str = ""  # mutable
    snapshotter: str = ""  # immutable
    snapshot_key: str = ""  # mutable
    extensions: dict[str, TypedValue] = field(default_factory=dict)  # mutable
    created_at: int = 0  # nanoseconds since the epoch; set by the store
    updated_at: int = 0  # set by the store


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContentInfo:
    """A blob as one namespace holds it."""

    digest: str  # immutable
    size: int  # immutable
    labels: dict[str, str] = field(default_factory=dict)  # mutable
    created_at: int = 0  # nanoseconds since the epoch; set by the store
    updated_at: int = 0


@dataclass(frozen=True)
class Ingest:
    """A namespace's write in progress, and the shared write in the blob store behind it."""

    ref: str  # the namespace's name for the write
    backend_ref: str  # the blob store's name for it
    # Set when the blob already existed in another namespace: then nothing is written, and
    # committing only gives this namespace a record of it.
    expected: str = ""
    expires_at: int | None = None  # collectable after this; None while a lease holds it


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Image:
    name: str  # required, unique in the namespace
    target: Descriptor  # required, mutable: the manifest or index
    labels: dict[str, str] = field(default_factory=dict)  # mutable
    created_at: int = 0  # set by the store
    updated_at: int = 0


@dataclass(frozen=True)
class Lease:
    id: str
    labels: dict[str, str] = field(default_factory=dict)
    created_at: int = 0


@dataclass(frozen=True, order=True)
class LeaseResource:
    """What a lease holds: ("content", digest), ("ingests", ref) or ("snapshots/<snapshotter>", key)."""

    type: str
    id: str


@dataclass(frozen=True)
class Records:
    """Every record garbage collection looks at, read in one transaction; each is paired
    with its namespace."""

    containers: list[tuple[str, Container]]
    images: list[tuple[str, Image]]
    content: list[tuple[str, ContentInfo]]
    ingests: list[tuple[str, Ingest]]
    leases: list[tuple[str, Lease]]
    resources: list[tuple[str, str, LeaseResource]]  # (namespace, lease id, resource)


# What garbage collection may remove: ("content", digest), ("ingest", ref) or ("lease", id),
# each with its namespace: (kind, namespace, key).
Removal = tuple[str, str, str]

CONTENT_RESOURCE = "content"
INGEST_RESOURCE = "ingests"
SNAPSHOT_RESOURCE_PREFIX = "snapshots/"
# A write nobody leases is given this long to finish before it may be collected.
INGEST_EXPIRY_NS = 24 * 3600 * 10**9


def container_field(container: Container, fieldpath) -> tuple[str, bool]:
    """What a filter sees of a container: id, runtime.name, image, labels.<key>."""
    if not fieldpath:
        return "", False
    if fieldpath[0] == "id":
        return container.id, bool(container.id)
    if fieldpath[0] == "runtime":
        if len(fieldpath) == 2 and fieldpath[1] == "name":
            return container.runtime.name, bool(container.runtime.name)
        return "", False
    if fieldpath[0] == "image":
        return container.image, bool(container.image)
    if fieldpath[0] == "labels":
        return filters.map_field(fieldpath[1:], container.labels)
    return "", False


def validate_container(container: Container) -> None:
    try:
        identifiers.validate(container.id)
    except errdefs.InvalidArgument as exc:
        raise errdefs.InvalidArgument(f"container.ID: {exc}") from None
    if any(key == "" for key in container.extensions):
        raise errdefs.InvalidArgument("container.Extension keys must not be zero-length: invalid argument")
    identifiers.validate_labels(container.labels)
    if not container.runtime.name:
        raise errdefs.InvalidArgument("must specify a runtime name: invalid argument")
    if container.spec is None:
        raise errdefs.InvalidArgument("must specify a container spec: invalid argument")
    if container.snapshot_key and not container.snapshotter:
        raise errdefs.InvalidArgument("must set snapshotter when snapshot key is set: invalid argument")


# The fields an update without a mask replaces: every mutable one.
_FULL_UPDATE_FIELDS = ("labels", "spec", "extensions", "image", "snapshotkey")
_LABEL_PATH_PREFIX = "labels."


def _without_empty_values(labels: dict[str, str]) -> dict[str, str]:
    """Labels as kept: setting a label to the empty string removes it, as in containerd."""
    return {key: value for key, value in labels.items() if value != ""}


def _set_label(labels: dict[str, str], path: str, requested: dict[str, str]) -> None:
    """Apply a labels.<key> field path: the key takes its requested value, or none (an empty
    one) if the request has none."""
    key = path.removeprefix(_LABEL_PATH_PREFIX)
    labels[key] = requested.get(key, "")


def apply_update(existing: Container, update: Container, fieldpaths: list[str]) -> Container:
    """existing with the fields update_mask names taken from update (containerd's rules:
    an empty mask replaces every mutable field; labels.<key> and extensions.<key> touch one key;
    an empty label value removes the label)."""
    if not fieldpaths:
        if update.snapshotter != existing.snapshotter:
            raise errdefs.InvalidArgument("container.Snapshotter field is immutable: invalid argument")
        if update.runtime.name != existing.runtime.name:
            raise errdefs.InvalidArgument("container.Runtime.Name field is immutable: invalid argument")
        fieldpaths = list(_FULL_UPDATE_FIELDS)
    labels, extensions = dict(existing.labels), dict(existing.extensions)
    changes = {}
    for path in fieldpaths:
        if path.startswith(_LABEL_PATH_PREFIX):
            _set_label(labels, path, update.labels)
        elif path.startswith("extensions."):
            key = path.removeprefix("extensions.")
            if key in update.extensions:
                extensions[key] = update.extensions[key]
            else:
                extensions.pop(key, None)
        elif path == "labels":
            labels = dict(update.labels)
        elif path == "extensions":
            extensions = dict(update.extensions)
        elif path == "spec":
            changes["spec"] = update.spec
        elif path == "image":
            changes["image"] = update.image
        elif path == "snapshotkey":
            changes["snapshot_key"] = update.snapshot_key
        else:
            raise errdefs.InvalidArgument(f'cannot update "{path}" field on "{existing.id}": invalid argument')
    return replace(existing, labels=_without_empty_values(labels), extensions=extensions, **changes)


def content_field(info: ContentInfo, fieldpath) -> tuple[str, bool]:
    """What a filter sees of a blob: digest, size, labels.<key>."""
    if not fieldpath:
        return "", False
    if fieldpath[0] == "digest":
        return info.digest, True
    if fieldpath[0] == "size":
        return str(info.size), True
    if fieldpath[0] == "labels":
        return filters.map_field(fieldpath[1:], info.labels)
    return "", False


def image_field(image: Image, fieldpath) -> tuple[str, bool]:
    """What a filter sees of an image: name, target.digest, target.mediatype, labels.<key>,
    annotations.<key> (the target's)."""
    if not fieldpath:
        return "", False
    if fieldpath[0] == "name":
        return image.name, bool(image.name)
    if fieldpath[0] == "target" and len(fieldpath) == 2:
        if fieldpath[1] == "digest":
            return image.target.digest, bool(image.target.digest)
        if fieldpath[1] == "mediatype":
            return image.target.media_type, bool(image.target.media_type)
        return "", False
    if fieldpath[0] == "labels":
        return filters.map_field(fieldpath[1:], image.labels)
    if fieldpath[0] == "annotations":
        return filters.map_field(fieldpath[1:], image.target.annotations)
    return "", False


def lease_field(lease: Lease, fieldpath) -> tuple[str, bool]:
    """What a filter sees of a lease: id, labels.<key>."""
    if not fieldpath:
        return "", False
    if fieldpath[0] == "id":
        return lease.id, bool(lease.id)
    if fieldpath[0] == "labels":
        return filters.map_field(fieldpath[1:], lease.labels)
    return "", False


def validate_image(image: Image) -> None:
    if not image.name:
        raise errdefs.InvalidArgument("image name must not be empty: invalid argument")
    identifiers.validate_labels(image.labels)
    try:
        identifiers.validate_digest(image.target.digest)
    except errdefs.InvalidArgument as exc:
        raise errdefs.InvalidArgument(f"Target.Digest: {exc}") from None
    if image.target.size <= 0:
        raise errdefs.InvalidArgument("Target.Size must be greater than zero: invalid argument")
    if not image.target.media_type:
        raise errdefs.InvalidArgument("Target.MediaType must be set: invalid argument")


def apply_image_update(existing: Image, update: Image, fieldpaths: list[str]) -> Image:
    """existing with what update_mask names taken from update (containerd's rules: an empty
    mask replaces the whole image; the target is replaced only as a unit; labels.<key> and
    annotations.<key> touch one key)."""
    if not fieldpaths:
        return replace(update, labels=_without_empty_values(update.labels), target=replace(
            update.target, annotations=_without_empty_values(update.target.annotations)))
    labels, target = dict(existing.labels), existing.target
    annotations = dict(target.annotations)
    for path in fieldpaths:
        if path.startswith(_LABEL_PATH_PREFIX):
            _set_label(labels, path, update.labels)
        elif path.startswith("annotations."):
            key = path.removeprefix("annotations.")
            annotations[key] = update.target.annotations.get(key, "")
        elif path == "labels":
            labels = dict(update.labels)
        elif path == "target":
            target, annotations = update.target, dict(update.target.annotations)
        elif path == "annotations":
            annotations = dict(update.target.annotations)
        else:
            raise errdefs.InvalidArgument(f'cannot update "{path}" field on image "{existing.name}": invalid argument')
    return replace(existing, labels=_without_empty_values(labels),
                   target=replace(target, annotations=_without_empty_values(annotations)))


def validate_lease_resource(resource: LeaseResource) -> None:
    """containerd's kinds of leased resource: content by digest, ingests by ref, snapshots
    by key in a named snapshotter."""
    if not resource.id:
        raise errdefs.InvalidArgument("resource id must not be empty: invalid argument")
    if resource.type == CONTENT_RESOURCE:
        identifiers.validate_digest(resource.id)
    elif resource.type.startswith(SNAPSHOT_RESOURCE_PREFIX):
        if not resource.type.removeprefix(SNAPSHOT_RESOURCE_PREFIX):
            raise errdefs.InvalidArgument(f"invalid resource type {resource.type}: invalid argument")
    elif resource.type != INGEST_RESOURCE:
        raise errdefs.NotImplemented(f"unsupported resource type {resource.type}: not implemented")


# storage


def _typed_to_json(value: TypedValue | None):
    return None if value is None else {"type_url": value.type_url, "value": base64.b64encode(value.value).decode()}


def _typed_from_json(value) -> TypedValue | None:
    return None if value is None else TypedValue(value["type_url"], base64.b64decode(value["value"]))


def _container_to_json(container: Container) -> str:
    return json.dumps({
        "id": container.id,
        "runtime": {"name": container.runtime.name, "options": _typed_to_json(container.runtime.options)},
        "spec": _typed_to_json(container.spec),
        "labels": container.labels,
        "image": container.image,
        "snapshotter": container.snapshotter,
        "snapshot_key": container.snapshot_key,
        "extensions": {key: _typed_to_json(value) for key, value in container.extensions.items()},
        "created_at": container.created_at,
        "updated_at": container.updated_at,
    })


def _container_from_json(text: str) -> Container:
    record = json.loads(text)
    return Container(
        id=record["id"],
        runtime=Runtime(record["runtime"]["name"], _typed_from_json(record["runtime"]["options"])),
        spec=_typed_from_json(record["spec"]),
        labels=record["labels"],
        image=record["image"],
        snapshotter=record["snapshotter"],
        snapshot_key=record["snapshot_key"],
        extensions={key: _typed_from_json(value) for key, value in record["extensions"].items()},
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )


def _json_record(record) -> str:
    return json.dumps(asdict(record))


def _content_from_json(text: str) -> ContentInfo:
    return ContentInfo(**json.loads(text))


def _ingest_from_json(text: str) -> Ingest:
    return Ingest(**json.loads(text))


def _image_from_json(text: str) -> Image:
    record = json.loads(text)
    return Image(**{**record, "target": Descriptor(**record["target"])})


def _lease_from_json(text: str) -> Lease:
    return Lease(**json.loads(text))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY,
    labels TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS containers (
    namespace TEXT NOT NULL REFERENCES namespaces (name),
    id TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (namespace, id)
);
CREATE TABLE IF NOT EXISTS content (
    namespace TEXT NOT NULL REFERENCES namespaces (name),
    digest TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (namespace, digest)
);
CREATE TABLE IF NOT EXISTS ingests (
    namespace TEXT NOT NULL REFERENCES namespaces (name),
    ref TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (namespace, ref)
);
CREATE TABLE IF NOT EXISTS images (
    namespace TEXT NOT NULL REFERENCES namespaces (name),
    name TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE TABLE IF NOT EXISTS leases (
    namespace TEXT NOT NULL REFERENCES namespaces (name),
    id TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (namespace, id)
);
CREATE TABLE IF NOT EXISTS lease_resources (
    namespace TEXT NOT NULL,
    lease TEXT NOT NULL,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (namespace, lease, type, id),
    FOREIGN KEY (namespace, lease) REFERENCES leases (namespace, id)
);
"""

# The tables whose rows keep a namespace from being deleted, and what containerd calls them.
_NAMESPACE_CONTENTS = (("images", "images"), ("content", "blobs"), ("ingests", "blobs"), ("leases", "leases"),
                       ("containers", "containers"))


class MetadataStore:
    """Namespaces and containers in one SQLite database, shared by every thread (one
    connection, one lock). The directory holding it is locked for the life of the store, so a
    second daemon on the same root fails at startup instead of sharing the records."""

    def __init__(self, directory: Path):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(self._directory_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._directory_fd)
            raise errdefs.Unavailable(f"metadata in {directory} is in use by another pycontainerd") from None
        self._lock = threading.Lock()
        self._db = sqlite3.connect(directory / "meta.db", check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._delete_watchers: list[Callable[[], None]] = []

    def watch_deletes(self, callback: Callable[[], None]) -> None:
        """Call callback after each deletion of something that may have kept other things
        alive (a container, image, lease, leased resource or blob), once it is committed."""
        self._delete_watchers.append(callback)

    def _deleted(self) -> None:
        for callback in self._delete_watchers:
            callback()

    def close(self) -> None:
        with self._lock:
            self._db.close()
        os.close(self._directory_fd)

    def _transaction(self):
        return _Transaction(self._db, self._lock)

    # namespaces

    def create_namespace(self, name: str, labels: dict[str, str]) -> Namespace:
        identifiers.validate(name)
        identifiers.validate_labels(labels)
        labels = _without_empty_values(labels)
        with self._transaction() as db:
            try:
                db.execute("INSERT INTO namespaces (name, labels) VALUES (?, ?)", (name, json.dumps(labels)))
            except sqlite3.IntegrityError:
                raise errdefs.AlreadyExists(f'namespace "{name}": already exists') from None
        return Namespace(name, labels)

    def get_namespace(self, name: str) -> Namespace:
        with self._transaction() as db:
            row = db.execute("SELECT labels FROM namespaces WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise errdefs.NotFound(f'namespace "{name}": not found')
        return Namespace(name, json.loads(row[0]))

    def list_namespaces(self) -> list[Namespace]:
        with self._transaction() as db:
            rows = db.execute("SELECT name, labels FROM namespaces ORDER BY name").fetchall()
        return [Namespace(name, json.loads(labels)) for name, labels in rows]

    def update_namespace(self, name: str, labels: dict[str, str], fieldpaths: list[str]) -> Namespace:
        """Give the namespace the labels, replacing all it has; or, with field paths (only
        labels.<key> ones), set or remove just the labels they name."""
        changes = {} if fieldpaths else dict(labels)
        for path in fieldpaths:
            if not path.startswith(_LABEL_PATH_PREFIX):
                raise errdefs.InvalidArgument(f'cannot update "{path}" field: invalid argument')
            _set_label(changes, path, labels)
        identifiers.validate_labels(changes)
        with self._transaction() as db:
            row = db.execute("SELECT labels FROM namespaces WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise errdefs.NotFound(f'namespace "{name}": not found')
            current = json.loads(row[0]) if fieldpaths else {}
            current.update(changes)
            current = _without_empty_values(current)
            db.execute("UPDATE namespaces SET labels = ? WHERE name = ?", (json.dumps(current), name))
        return Namespace(name, current)

    def delete_namespace(self, name: str) -> None:
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM namespaces WHERE name = ?", (name,)).fetchone() is None:
                raise errdefs.NotFound(f'namespace "{name}": not found')
            held = []
            for table, kind in _NAMESPACE_CONTENTS:
                if kind not in held and db.execute(f"SELECT 1 FROM {table} WHERE namespace = ? LIMIT 1", (name,)).fetchone():
                    held.append(kind)
            if held:
                raise errdefs.FailedPrecondition(
                    f'namespace "{name}" must be empty, but it still has {", ".join(held)}: failed precondition')
            db.execute("DELETE FROM namespaces WHERE name = ?", (name,))

    # containers

    def get_container(self, namespace: str, container_id: str) -> Container:
        with self._transaction() as db:
            row = db.execute("SELECT record FROM containers WHERE namespace = ? AND id = ?",
                             (namespace, container_id)).fetchone()
        if row is None:
            raise errdefs.NotFound(f'container "{container_id}" in namespace "{namespace}": not found')
        return _container_from_json(row[0])

    def list_containers(self, namespace: str, matcher: filters.AnyOf = filters.AnyOf()) -> list[Container]:
        with self._transaction() as db:
            rows = db.execute("SELECT record FROM containers WHERE namespace = ? ORDER BY id", (namespace,)).fetchall()
        containers = [_container_from_json(record) for (record,) in rows]
        return [c for c in containers if matcher.match(lambda fieldpath, c=c: container_field(c, fieldpath))]

    def create_container(self, namespace: str, container: Container) -> Container:
        identifiers.validate(namespace)
        validate_container(container)
        now = time.time_ns()
        container = replace(container, labels=_without_empty_values(container.labels), created_at=now, updated_at=now)
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO namespaces (name) VALUES (?)", (namespace,))
            try:
                db.execute("INSERT INTO containers (namespace, id, record) VALUES (?, ?, ?)",
                           (namespace, container.id, _container_to_json(container)))
            except sqlite3.IntegrityError:
                raise errdefs.AlreadyExists(f'container "{container.id}": already exists') from None
        return container

    def update_container(self, namespace: str, update: Container, fieldpaths: list[str]) -> Container:
        if not update.id:
            raise errdefs.InvalidArgument("must specify a container id: invalid argument")
        with self._transaction() as db:
            row = db.execute("SELECT record FROM containers WHERE namespace = ? AND id = ?",
                             (namespace, update.id)).fetchone()
            if row is None:
                raise errdefs.NotFound(f'container "{update.id}": not found')
            updated = apply_update(_container_from_json(row[0]), update, fieldpaths)
            validate_container(updated)
            updated = replace(updated, updated_at=time.time_ns())
            db.execute("UPDATE containers SET record = ? WHERE namespace = ? AND id = ?",
                       (_container_to_json(updated), namespace, update.id))
        return updated

    def delete_container(self, namespace: str, container_id: str) -> None:
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM containers WHERE namespace = ? AND id = ?", (namespace, container_id))
            if deleted.rowcount == 0:
                raise errdefs.NotFound(f'container "{container_id}" in namespace "{namespace}": not found')
        self._deleted()

    # content

    def get_content(self, namespace: str, digest: str) -> ContentInfo:
        with self._transaction() as db:
            return self._content(db, namespace, digest)

    def _content(self, db: sqlite3.Connection, namespace: str, digest: str) -> ContentInfo:
        row = db.execute("SELECT record FROM content WHERE namespace = ? AND digest = ?", (namespace, digest)).fetchone()
        if row is None:
            raise errdefs.NotFound(f"content digest {digest}: not found")
        return _content_from_json(row[0])

    def list_content(self, namespace: str, matcher: filters.AnyOf = filters.AnyOf()) -> list[ContentInfo]:
        with self._transaction() as db:
            rows = db.execute("SELECT record FROM content WHERE namespace = ? ORDER BY digest", (namespace,)).fetchall()
        infos = [_content_from_json(record) for (record,) in rows]
        return [i for i in infos if matcher.match(lambda fieldpath, i=i: content_field(i, fieldpath))]

    def update_content(self, namespace: str, update: ContentInfo, fieldpaths: list[str]) -> ContentInfo:
        """Only labels change: all of them (no field paths, or "labels"), or those labels.<key> names."""
        with self._transaction() as db:
            existing = self._content(db, namespace, update.digest)
            labels = dict(existing.labels)
            for path in fieldpaths or ["labels"]:
                if path.startswith(_LABEL_PATH_PREFIX):
                    _set_label(labels, path, update.labels)
                elif path == "labels":
                    labels = dict(update.labels)
                else:
                    raise errdefs.InvalidArgument(
                        f'cannot update "{path}" field on content info "{update.digest}": invalid argument')
            identifiers.validate_labels(labels)
            updated = replace(existing, labels=_without_empty_values(labels), updated_at=time.time_ns())
            db.execute("UPDATE content SET record = ? WHERE namespace = ? AND digest = ?",
                       (_json_record(updated), namespace, updated.digest))
        return updated

    def delete_content(self, namespace: str, digest: str, lease: str = "") -> None:
        """Forget the namespace's record of a blob (and lease's hold on it); the blob goes
        once garbage collection finds no namespace holds it."""
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM content WHERE namespace = ? AND digest = ?", (namespace, digest))
            if deleted.rowcount == 0:
                raise errdefs.NotFound(f"content digest {digest}: not found")
            if lease:
                self._release(db, namespace, lease, LeaseResource(CONTENT_RESOURCE, digest))
        self._deleted()

    def lease_content_if_held(self, namespace: str, digest: str, lease: str) -> bool:
        """Whether the namespace holds the blob; if it does, lease (if any) now holds it too,
        as a write of something already there does in containerd."""
        with self._transaction() as db:
            try:
                self._content(db, namespace, digest)
            except errdefs.NotFound:
                return False
            if lease:
                self._hold(db, namespace, lease, LeaseResource(CONTENT_RESOURCE, digest))
        return True

    def open_ingest(self, namespace: str, ref: str, backend_ref: str, expected: str, lease: str) -> Ingest:
        """The namespace's write ref, begun now or resumed, held by lease if there is one;
        unleased, it may be collected a day after it was last opened."""
        identifiers.validate(namespace)
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO namespaces (name) VALUES (?)", (namespace,))
            row = db.execute("SELECT record FROM ingests WHERE namespace = ? AND ref = ?", (namespace, ref)).fetchone()
            ingest = _ingest_from_json(row[0]) if row else Ingest(ref, backend_ref)
            if lease:
                self._hold(db, namespace, lease, LeaseResource(INGEST_RESOURCE, ref))
                expires_at = None
            else:
                expires_at = time.time_ns() + INGEST_EXPIRY_NS
            ingest = replace(ingest, expected=expected, expires_at=expires_at)
            db.execute("INSERT OR REPLACE INTO ingests (namespace, ref, record) VALUES (?, ?, ?)",
                       (namespace, ref, _json_record(ingest)))
        return ingest

    def get_ingest(self, namespace: str, ref: str) -> Ingest:
        with self._transaction() as db:
            row = db.execute("SELECT record FROM ingests WHERE namespace = ? AND ref = ?", (namespace, ref)).fetchone()
        if row is None:
            raise errdefs.NotFound(f"reference {ref}: not found")
        return _ingest_from_json(row[0])

    def list_ingests(self, namespace: str) -> list[Ingest]:
        with self._transaction() as db:
            rows = db.execute("SELECT record FROM ingests WHERE namespace = ? ORDER BY ref", (namespace,)).fetchall()
        return [_ingest_from_json(record) for (record,) in rows]

    def delete_ingest(self, namespace: str, ref: str, lease: str = "") -> Ingest:
        """Forget the namespace's write ref (and lease's hold on it); returns what it was."""
        with self._transaction() as db:
            row = db.execute("SELECT record FROM ingests WHERE namespace = ? AND ref = ?", (namespace, ref)).fetchone()
            if row is None:
                raise errdefs.NotFound(f"reference {ref}: not found")
            db.execute("DELETE FROM ingests WHERE namespace = ? AND ref = ?", (namespace, ref))
            if lease:
                self._release(db, namespace, lease, LeaseResource(INGEST_RESOURCE, ref))
        return _ingest_from_json(row[0])

    def commit_content(self, namespace: str, ref: str, info: ContentInfo, lease: str = "") -> ContentInfo | None:
        """The write ref became the blob info describes: the namespace now holds it, and so
        does lease instead of the write. None if the namespace held it already; the write is
        over either way."""
        identifiers.validate_labels(info.labels)
        now = time.time_ns()
        info = replace(info, labels=_without_empty_values(info.labels), created_at=now, updated_at=now)
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO namespaces (name) VALUES (?)", (namespace,))
            db.execute("DELETE FROM ingests WHERE namespace = ? AND ref = ?", (namespace, ref))
            if lease:
                self._release(db, namespace, lease, LeaseResource(INGEST_RESOURCE, ref))
                self._hold(db, namespace, lease, LeaseResource(CONTENT_RESOURCE, info.digest))
            created = db.execute("INSERT OR IGNORE INTO content (namespace, digest, record) VALUES (?, ?, ?)",
                                 (namespace, info.digest, _json_record(info))).rowcount
        return info if created else None

    # images

    def get_image(self, namespace: str, name: str) -> Image:
        with self._transaction() as db:
            row = db.execute("SELECT record FROM images WHERE namespace = ? AND name = ?", (namespace, name)).fetchone()
        if row is None:
            raise errdefs.NotFound(f'image "{name}": not found')
        return _image_from_json(row[0])

    def list_images(self, namespace: str, matcher: filters.AnyOf = filters.AnyOf()) -> list[Image]:
        with self._transaction() as db:
            rows = db.execute("SELECT record FROM images WHERE namespace = ? ORDER BY name", (namespace,)).fetchall()
        images = [_image_from_json(record) for (record,) in rows]
        return [i for i in images if matcher.match(lambda fieldpath, i=i: image_field(i, fieldpath))]

    def create_image(self, namespace: str, image: Image) -> Image:
        identifiers.validate(namespace)
        validate_image(image)
        now = time.time_ns()
        image = replace(apply_image_update(image, image, []), created_at=now, updated_at=now)
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO namespaces (name) VALUES (?)", (namespace,))
            try:
                db.execute("INSERT INTO images (namespace, name, record) VALUES (?, ?, ?)",
                           (namespace, image.name, _json_record(image)))
            except sqlite3.IntegrityError:
                raise errdefs.AlreadyExists(f'image "{image.name}": already exists') from None
        return image

    def update_image(self, namespace: str, update: Image, fieldpaths: list[str]) -> Image:
        if not update.name:
            raise errdefs.InvalidArgument("image name must not be empty: invalid argument")
        with self._transaction() as db:
            row = db.execute("SELECT record FROM images WHERE namespace = ? AND name = ?",
                             (namespace, update.name)).fetchone()
            if row is None:
                raise errdefs.NotFound(f'image "{update.name}": not found')
            existing = _image_from_json(row[0])
            updated = apply_image_update(existing, update, fieldpaths)
            validate_image(updated)
            updated = replace(updated, created_at=existing.created_at, updated_at=time.time_ns())
            db.execute("UPDATE images SET record = ? WHERE namespace = ? AND name = ?",
                       (_json_record(updated), namespace, update.name))
        return updated

    def delete_image(self, namespace: str, name: str) -> None:
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM images WHERE namespace = ? AND name = ?", (namespace, name))
            if deleted.rowcount == 0:
                raise errdefs.NotFound(f'image "{name}": not found')
        self._deleted()

    # leases

    def create_lease(self, namespace: str, lease: Lease) -> Lease:
        identifiers.validate(namespace)
        # Any non-empty id, as containerd takes: its Go client's random ids ("<nanoseconds>-"
        # then four base64url characters) may end in "-" or hold "_", which identifiers refuse.
        if not lease.id:
            raise errdefs.InvalidArgument("lease id must be provided: invalid argument")
        identifiers.validate_labels(lease.labels)
        lease = replace(lease, labels=_without_empty_values(lease.labels), created_at=time.time_ns())
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO namespaces (name) VALUES (?)", (namespace,))
            try:
                db.execute("INSERT INTO leases (namespace, id, record) VALUES (?, ?, ?)",
                           (namespace, lease.id, _json_record(lease)))
            except sqlite3.IntegrityError:
                raise errdefs.AlreadyExists(f'lease "{lease.id}": already exists') from None
        return lease

    def list_leases(self, namespace: str, matcher: filters.AnyOf = filters.AnyOf()) -> list[Lease]:
        with self._transaction() as db:
            rows = db.execute("SELECT record FROM leases WHERE namespace = ? ORDER BY id", (namespace,)).fetchall()
        leases = [_lease_from_json(record) for (record,) in rows]
        return [lease for lease in leases if matcher.match(lambda fieldpath, lease=lease: lease_field(lease, fieldpath))]

    def delete_lease(self, namespace: str, lease_id: str) -> None:
        """The lease and its hold on its resources: they stay until nothing else holds them."""
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM leases WHERE namespace = ? AND id = ?", (namespace, lease_id))
            if deleted.rowcount == 0:
                raise errdefs.NotFound(f'lease "{lease_id}": not found')
            db.execute("DELETE FROM lease_resources WHERE namespace = ? AND lease = ?", (namespace, lease_id))
        self._deleted()

    def add_lease_resource(self, namespace: str, lease_id: str, resource_type: str, resource_id: str) -> None:
        """lease_id holds the resource from now on: ("content", digest), ("ingests", ref) or
        ("snapshots/<snapshotter>", key). Adding one it holds already is no error."""
        resource = LeaseResource(resource_type, resource_id)
        validate_lease_resource(resource)
        with self._transaction() as db:
            self._hold(db, namespace, lease_id, resource)

    def delete_lease_resource(self, namespace: str, lease_id: str, resource_type: str, resource_id: str) -> None:
        resource = LeaseResource(resource_type, resource_id)
        validate_lease_resource(resource)
        with self._transaction() as db:
            self._lease_must_exist(db, namespace, lease_id)
            self._release(db, namespace, lease_id, resource)
        self._deleted()

    def list_lease_resources(self, namespace: str, lease_id: str) -> list[LeaseResource]:
        with self._transaction() as db:
            self._lease_must_exist(db, namespace, lease_id)
            rows = db.execute("SELECT type, id FROM lease_resources WHERE namespace = ? AND lease = ? ORDER BY type, id",
                              (namespace, lease_id)).fetchall()
        return [LeaseResource(resource_type, resource_id) for resource_type, resource_id in rows]

    def _lease_must_exist(self, db: sqlite3.Connection, namespace: str, lease_id: str) -> None:
        if db.execute("SELECT 1 FROM leases WHERE namespace = ? AND id = ?", (namespace, lease_id)).fetchone() is None:
            raise errdefs.NotFound(f'lease "{lease_id}": not found')

    def _hold(self, db: sqlite3.Connection, namespace: str, lease_id: str, resource: LeaseResource) -> None:
        self._lease_must_exist(db, namespace, lease_id)
        db.execute("INSERT OR IGNORE INTO lease_resources (namespace, lease, type, id) VALUES (?, ?, ?, ?)",
                   (namespace, lease_id, resource.type, resource.id))

    def _release(self, db: sqlite3.Connection, namespace: str, lease_id: str, resource: LeaseResource) -> None:
        # A lease gone meanwhile holds nothing any more: nothing to release.
        db.execute("DELETE FROM lease_resources WHERE namespace = ? AND lease = ? AND type = ? AND id = ?",
                   (namespace, lease_id, resource.type, resource.id))

    # garbage collection

    def sweep(self, decide: Callable[[Records], list[Removal]]) -> list[Removal]:
        """Remove what decide, given every record, says is garbage, all in one transaction:
        nothing can take a reference to it in between. Returns what was removed."""
        with self._transaction() as db:
            records = Records(
                containers=[(ns, _container_from_json(r)) for ns, r in db.execute("SELECT namespace, record FROM containers")],
                images=[(ns, _image_from_json(r)) for ns, r in db.execute("SELECT namespace, record FROM images")],
                content=[(ns, _content_from_json(r)) for ns, r in db.execute("SELECT namespace, record FROM content")],
                ingests=[(ns, _ingest_from_json(r)) for ns, r in db.execute("SELECT namespace, record FROM ingests")],
                leases=[(ns, _lease_from_json(r)) for ns, r in db.execute("SELECT namespace, record FROM leases")],
                resources=[(ns, lease, LeaseResource(t, i))
                           for ns, lease, t, i in db.execute("SELECT namespace, lease, type, id FROM lease_resources")],
            )
            removals = decide(records)
            for kind, namespace, key in removals:
                if kind == "content":
                    db.execute("DELETE FROM content WHERE namespace = ? AND digest = ?", (namespace, key))
                elif kind == "ingest":
                    db.execute("DELETE FROM ingests WHERE namespace = ? AND ref = ?", (namespace, key))
                elif kind == "lease":
                    db.execute("DELETE FROM leases WHERE namespace = ? AND id = ?", (namespace, key))
                    db.execute("DELETE FROM lease_resources WHERE namespace = ? AND lease = ?", (namespace, key))
                else:
                    raise errdefs.InvalidArgument(f"garbage collection cannot remove a {kind}: invalid argument")
        return removals


class _Transaction:
    """One BEGIN IMMEDIATE ... COMMIT under the store's lock; rolled back if the block raises."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock):
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()

"""Container and namespace records and the store that keeps them, in SQLite under root.

SQLite (one file, one transaction per change, the default rollback journal with full
sync) gives what containerd gets from bolt: a record is either written whole or not at all,
whatever moment the daemon is killed at. Records are stored as JSON; opaque payloads (the
OCI spec, runtime options, extensions) keep their type URL and bytes untouched.

Namespaces come into being with their first container, as in containerd, or explicitly with
labels; one that still holds containers cannot be deleted.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field, replace
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
"""


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
            if db.execute("SELECT 1 FROM containers WHERE namespace = ? LIMIT 1", (name,)).fetchone():
                raise errdefs.FailedPrecondition(
                    f'namespace "{name}" must be empty, but it still has containers: failed precondition')
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

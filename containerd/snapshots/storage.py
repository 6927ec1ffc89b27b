"""A snapshotter's records in SQLite (containerd's core/snapshots/storage keeps them in bolt):
per namespace, each key's snapshot id, parent, kind and labels. The id names the snapshot's
directory and never changes, so committing (which renames an active snapshot) leaves its
children's parent links and its files where they are.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import errdefs

from . import Info, Kind

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    parent_id INTEGER REFERENCES snapshots (id),
    kind TEXT NOT NULL,
    link TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (namespace, key)
);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots (parent_id);
"""

_COLUMNS = ("s.id, s.key, COALESCE(p.key, ''), s.kind, s.link, s.labels, s.created_at, s.updated_at "
            "FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent_id")


@dataclass(frozen=True)
class Record:
    id: int
    link: str  # the short name of its fs under <root>/l
    info: Info


def _record(row) -> Record:
    snapshot_id, key, parent, kind, link, labels, created_at, updated_at = row
    return Record(snapshot_id, link, Info(key, parent, Kind(kind), json.loads(labels), created_at, updated_at))


class Storage:
    """The records, one connection shared by every thread under one lock. Changes that also
    touch the disk run a callback inside the transaction: if it raises, no row changes."""

    def __init__(self, path: Path):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @staticmethod
    def _get(db: sqlite3.Connection, namespace: str, key: str) -> Record:
        row = db.execute(f"SELECT {_COLUMNS} WHERE s.namespace = ? AND s.key = ?", (namespace, key)).fetchone()
        if row is None:
            raise errdefs.NotFound(f'snapshot "{key}": not found')
        return _record(row)

    def get(self, namespace: str, key: str) -> Record:
        with self._transaction() as db:
            return self._get(db, namespace, key)

    def chain(self, namespace: str, key: str) -> list[Record]:
        """The snapshot and its ancestors, nearest first."""
        with self._transaction() as db:
            chain = [self._get(db, namespace, key)]
            while chain[-1].info.parent:
                chain.append(self._get(db, namespace, chain[-1].info.parent))
        return chain

    def list(self, namespace: str) -> list[Record]:
        with self._transaction() as db:
            rows = db.execute(f"SELECT {_COLUMNS} WHERE s.namespace = ? ORDER BY s.key", (namespace,)).fetchall()
        return [_record(row) for row in rows]

    def namespaces(self) -> list[str]:
        with self._transaction() as db:
            return [name for (name,) in db.execute("SELECT DISTINCT namespace FROM snapshots ORDER BY namespace")]

    def ids(self) -> set[int]:
        with self._transaction() as db:
            return {snapshot_id for (snapshot_id,) in db.execute("SELECT id FROM snapshots")}

    def links(self) -> set[str]:
        with self._transaction() as db:
            return {link for (link,) in db.execute("SELECT link FROM snapshots")}

    def create(self, namespace: str, kind: Kind, key: str, parent: str, labels: dict[str, str], link: str,
               make: Callable[[int, Record | None], None]) -> Record:
        """A new record; make(id, parent's record) puts its directory in place before it is kept."""
        if not key:
            raise errdefs.InvalidArgument("snapshot key must not be empty: invalid argument")
        now = time.time_ns()
        with self._transaction() as db:
            parent_record = None
            if parent:
                try:
                    parent_record = self._get(db, namespace, parent)
                except errdefs.NotFound:
                    raise errdefs.NotFound(f'parent snapshot "{parent}" does not exist: not found') from None
                if parent_record.info.kind is not Kind.COMMITTED:
                    raise errdefs.InvalidArgument(f'parent "{parent}" is not a committed snapshot: invalid argument')
            try:
                cursor = db.execute(
                    "INSERT INTO snapshots (namespace, key, parent_id, kind, link, labels, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (namespace, key, parent_record.id if parent_record else None, kind.value, link,
                     json.dumps(labels), now, now))
            except sqlite3.IntegrityError:
                raise errdefs.AlreadyExists(f'snapshot "{key}": already exists') from None
            make(cursor.lastrowid, parent_record)
        return Record(cursor.lastrowid, link, Info(key, parent, kind, labels, now, now))

    def commit(self, namespace: str, name: str, key: str, labels: dict[str, str]) -> Record:
        """The active snapshot key becomes the committed snapshot name, with the given labels."""
        if not name:
            raise errdefs.InvalidArgument("snapshot name must not be empty: invalid argument")
        now = time.time_ns()
        with self._transaction() as db:
            record = self._get(db, namespace, key)
            if record.info.kind is not Kind.ACTIVE:
                raise errdefs.FailedPrecondition(f'snapshot "{key}" is not active: failed precondition')
            try:
                db.execute("UPDATE snapshots SET key = ?, kind = ?, labels = ?, updated_at = ? WHERE id = ?",
                           (name, Kind.COMMITTED.value, json.dumps(labels), now, record.id))
            except sqlite3.IntegrityError:
                raise errdefs.AlreadyExists(f'snapshot "{name}": already exists') from None
            return self._get(db, namespace, name)

    def update_labels(self, namespace: str, key: str, change: Callable[[dict[str, str]], dict[str, str]]) -> Record:
        with self._transaction() as db:
            record = self._get(db, namespace, key)
            db.execute("UPDATE snapshots SET labels = ?, updated_at = ? WHERE id = ?",
                       (json.dumps(change(dict(record.info.labels))), time.time_ns(), record.id))
            return self._get(db, namespace, key)

    def remove(self, namespace: str, key: str) -> Record:
        with self._transaction() as db:
            record = self._get(db, namespace, key)
            if db.execute("SELECT 1 FROM snapshots WHERE parent_id = ? LIMIT 1", (record.id,)).fetchone():
                raise errdefs.FailedPrecondition(
                    f'cannot remove snapshot "{key}" with children: failed precondition')
            db.execute("DELETE FROM snapshots WHERE id = ?", (record.id,))
        return record

"""Garbage collection: containerd's mark and sweep (pkg/gc, core/metadata/gc.go) over the
records of every namespace, the blobs on disk and each snapshotter's snapshots.

Roots are what someone wants kept: images, containers, leases not expired, and blobs or
snapshots labelled containerd.io/gc.root (or with a containerd.io/gc.expire still ahead).
From them, references lead on: an image to its target blob, a container to its snapshot, a
lease to what it holds, a blob or snapshot through its containerd.io/gc.ref.* labels, a
snapshot to its parent. A write nobody leases stays a root for a day after it was opened.
Whatever no root reaches is removed: namespaces' blob records, writes, expired leases, then
the blobs no namespace holds any more, and unreached snapshots, children before parents.

Collection runs on demand (a delete with sync set) or shortly after any deletion that may
have freed something, one run at a time; the records are decided and swept in one metadata
transaction and blobs under the content store's lock, so nothing is taken as it is removed.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import errdefs

from .content.store import ContentStore
from .core.metadata import (
    CONTENT_RESOURCE, INGEST_RESOURCE, SNAPSHOT_RESOURCE_PREFIX, MetadataStore, Records, Removal,
)

log = logging.getLogger(__name__)

ROOT_LABEL = "containerd.io/gc.root"
EXPIRE_LABEL = "containerd.io/gc.expire"  # RFC 3339
CONTENT_REF_LABEL = "containerd.io/gc.ref.content"  # then nothing, or "."/"/" and any name
SNAPSHOT_REF_LABEL = "containerd.io/gc.ref.snapshot."  # then the snapshotter, then any "."/"/" name
SCHEDULE_DELAY = 0.05  # seconds from a deletion to the collection it causes

# A node of the reference graph: (kind, namespace, key); kinds are "content" (key: digest),
# "ingest" (ref), "lease" (id) and "snapshot" ("<snapshotter>/<key>").
Node = tuple[str, str, str]


@dataclass(frozen=True)
class Snapshot:
    """What collection sees of a snapshot."""

    namespace: str
    snapshotter: str
    key: str
    parent: str  # "" for none
    labels: Mapping[str, str]

    @property
    def node(self) -> Node:
        return "snapshot", self.namespace, f"{self.snapshotter}/{self.key}"


@dataclass(frozen=True)
class Plan:
    """What one collection removes, and what it keeps that lives outside the records."""

    removals: list[Removal]  # records, swept in the metadata transaction
    snapshots: list[Snapshot]  # children before their parents
    blobs: set[str]  # digests some namespace still holds or expects
    writes: set[str]  # the blob store's refs of writes still going


def label_references(namespace: str, labels: Mapping[str, str]) -> Iterator[Node]:
    for key, value in labels.items():
        if key.startswith(CONTENT_REF_LABEL):
            rest = key.removeprefix(CONTENT_REF_LABEL)
            if rest == "" or rest[0] in "./":
                yield "content", namespace, value
        elif key.startswith(SNAPSHOT_REF_LABEL):
            snapshotter = re.split(r"[./]", key.removeprefix(SNAPSHOT_REF_LABEL), maxsplit=1)[0]
            if snapshotter:
                yield "snapshot", namespace, f"{snapshotter}/{value}"


def expired(labels: Mapping[str, str], now: datetime) -> bool:
    """Whether a containerd.io/gc.expire label is in the past; an unreadable one is ignored,
    as containerd logs and ignores it."""
    value = labels.get(EXPIRE_LABEL)
    if value is None:
        return False
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) < now
    except ValueError:
        log.warning("ignoring unreadable %s label %r", EXPIRE_LABEL, value)
        return False


def is_root(labels: Mapping[str, str], now: datetime) -> bool:
    return ROOT_LABEL in labels or (EXPIRE_LABEL in labels and not expired(labels, now))


def plan(records: Records, snapshots: Iterable[Snapshot], now: datetime) -> Plan:
    """Mark from the roots, and say what is left unmarked."""
    snapshots = list(snapshots)
    now_ns = int(now.timestamp() * 1e9)
    roots: list[Node] = []
    references: dict[Node, list[Node]] = {}

    for namespace, image in records.images:
        roots += [("content", namespace, image.target.digest), *label_references(namespace, image.labels)]
    for namespace, container in records.containers:
        if container.snapshot_key:
            roots.append(("snapshot", namespace, f"{container.snapshotter}/{container.snapshot_key}"))
        roots += label_references(namespace, container.labels)
    live_leases = set()
    for namespace, lease in records.leases:
        if not expired(lease.labels, now):
            live_leases.add((namespace, lease.id))
            roots.append(("lease", namespace, lease.id))
    for namespace, lease_id, resource in records.resources:
        references.setdefault(("lease", namespace, lease_id), []).append(_resource_node(namespace, resource))
    for namespace, info in records.content:
        node = ("content", namespace, info.digest)
        references[node] = list(label_references(namespace, info.labels))
        if is_root(info.labels, now):
            roots.append(node)
    for namespace, ingest in records.ingests:
        if ingest.expires_at is not None and ingest.expires_at > now_ns:
            roots.append(("ingest", namespace, ingest.ref))
    for snapshot in snapshots:
        references[snapshot.node] = list(label_references(snapshot.namespace, snapshot.labels))
        if snapshot.parent:
            references[snapshot.node].append(("snapshot", snapshot.namespace, f"{snapshot.snapshotter}/{snapshot.parent}"))
        if is_root(snapshot.labels, now):
            roots.append(snapshot.node)

    live = _mark(roots, references)
    removals: list[Removal] = [("lease", ns, lease.id) for ns, lease in records.leases if (ns, lease.id) not in live_leases]
    removals += [("content", ns, info.digest) for ns, info in records.content if ("content", ns, info.digest) not in live]
    removals += [("ingest", ns, ingest.ref) for ns, ingest in records.ingests if ("ingest", ns, ingest.ref) not in live]
    kept_ingests = [ingest for ns, ingest in records.ingests if ("ingest", ns, ingest.ref) in live]
    return Plan(
        removals=removals,
        snapshots=_children_first([s for s in snapshots if s.node not in live]),
        blobs={info.digest for ns, info in records.content if ("content", ns, info.digest) in live}
        | {ingest.expected for ingest in kept_ingests if ingest.expected},
        writes={ingest.backend_ref for ingest in kept_ingests},
    )


def _resource_node(namespace: str, resource) -> Node:
    if resource.type == CONTENT_RESOURCE:
        return "content", namespace, resource.id
    if resource.type == INGEST_RESOURCE:
        return "ingest", namespace, resource.id
    return "snapshot", namespace, f"{resource.type.removeprefix(SNAPSHOT_RESOURCE_PREFIX)}/{resource.id}"


def _mark(roots: Iterable[Node], references: Mapping[Node, list[Node]]) -> set[Node]:
    live: set[Node] = set()
    pending = list(roots)
    while pending:
        node = pending.pop()
        if node not in live:
            live.add(node)
            pending += references.get(node, ())
    return live


def _children_first(snapshots: list[Snapshot]) -> list[Snapshot]:
    """A snapshotter refuses to remove a parent before its children: deepest first."""
    parents = {s.node: ("snapshot", s.namespace, f"{s.snapshotter}/{s.parent}") for s in snapshots if s.parent}

    def depth(node: Node) -> int:
        steps = 0
        while node in parents:
            node, steps = parents[node], steps + 1
        return steps

    return sorted(snapshots, key=lambda s: -depth(s.node))


class GarbageCollector:
    """The GC plugin: collect() now, or schedule() a collection shortly."""

    def __init__(self, metadata: MetadataStore, content: ContentStore, snapshotters: Mapping[str, object]):
        self._metadata = metadata
        self._content = content
        self._snapshotters = dict(snapshotters)  # name -> snapshotter
        self._running = threading.Lock()
        self._timer_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._closed = False
        metadata.watch_deletes(self.schedule)

    def collect(self) -> Plan:
        """Collect garbage now; returns what was removed (and kept)."""
        with self._running:
            return self._collect()

    def _collect(self) -> Plan:
        snapshots = [Snapshot(namespace, name, info.key, info.parent, dict(info.labels))
                     for name, snapshotter in self._snapshotters.items()
                     for namespace in snapshotter.namespaces() for info in snapshotter.walk(namespace)]
        now = datetime.now(timezone.utc)
        decided: list[Plan] = []

        def decide(records: Records) -> list[Removal]:
            decided.append(plan(records, snapshots, now))
            return decided[0].removals

        with self._content.lock:
            self._metadata.sweep(decide)
            result = decided[0]
            blobs = self._content.blobs
            for digest in blobs.walk():
                if digest not in result.blobs:
                    blobs.delete(digest)
            for status in blobs.list_statuses():
                if status.ref not in result.writes and not blobs.locked(status.ref):
                    blobs.abort(status.ref)
        for snapshot in result.snapshots:
            try:
                self._snapshotters[snapshot.snapshotter].remove(snapshot.namespace, snapshot.key)
            except (errdefs.NotFound, errdefs.FailedPrecondition) as exc:
                # Gone or given a child meanwhile: the next collection decides again.
                log.info("garbage collection kept snapshot %s/%s: %s", snapshot.snapshotter, snapshot.key, exc)
        log.debug("garbage collection removed %s and snapshots %s", result.removals,
                  [s.node for s in result.snapshots])
        return result

    def schedule(self) -> None:
        """Collect shortly; deletions meanwhile share the one collection."""
        with self._timer_lock:
            if self._closed or self._timer is not None:
                return
            self._timer = threading.Timer(SCHEDULE_DELAY, self._scheduled)
            self._timer.daemon = True
            self._timer.start()

    def _scheduled(self) -> None:
        with self._timer_lock:
            self._timer = None
        with self._running:
            if self._closed:
                return
            try:
                self._collect()
            except Exception:  # noqa: BLE001 - a failed run must not stop the next
                log.exception("garbage collection failed")

    def close(self) -> None:
        with self._timer_lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
        with self._running:
            pass  # a collection under way finishes first

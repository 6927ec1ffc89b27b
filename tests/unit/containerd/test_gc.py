"""Garbage collection: what the roots reach stays, the rest goes, blobs and snapshots included."""
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

import errdefs
from containerd import gc
from containerd.content.local import LocalStore
from containerd.content.store import ContentStore
from containerd.core.metadata import Container, Descriptor, Image, Lease, MetadataStore, Runtime, TypedValue

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
SPEC = TypedValue("types.containerd.io/opencontainers/runtime-spec/1/Spec", b"{}")


@dataclass
class FakeInfo:
    key: str
    parent: str = ""
    labels: dict = field(default_factory=dict)


class FakeSnapshotter:
    """The snapshotter interface collection uses, refusing to remove a parent before its children."""

    def __init__(self):
        self.snapshots: dict[tuple[str, str], FakeInfo] = {}
        self.removed: list[str] = []

    def add(self, namespace, key, parent="", **labels):
        self.snapshots[namespace, key] = FakeInfo(key, parent, labels)

    def namespaces(self):
        return sorted({namespace for namespace, _ in self.snapshots})

    def walk(self, namespace):
        return [info for (ns, _), info in self.snapshots.items() if ns == namespace]

    def remove(self, namespace, key):
        if (namespace, key) not in self.snapshots:
            raise errdefs.NotFound(key)
        if any(ns == namespace and info.parent == key for (ns, _), info in self.snapshots.items()):
            raise errdefs.FailedPrecondition(f"{key} has children")
        del self.snapshots[namespace, key]
        self.removed.append(key)


@pytest.fixture
def metadata(tmp_path):
    store = MetadataStore(tmp_path / "meta")
    yield store
    store.close()


@pytest.fixture
def content(tmp_path, metadata):
    return ContentStore(LocalStore(tmp_path / "content"), metadata)


@pytest.fixture
def snapshotter():
    return FakeSnapshotter()


@pytest.fixture
def collector(metadata, content, snapshotter):
    collector = gc.GarbageCollector(metadata, content, {"overlayfs": snapshotter})
    yield collector
    collector.close()


def put(content: ContentStore, namespace: str, data: bytes, lease: str = "", **labels) -> str:
    writer = content.writer(namespace, f"ref-{hashlib.sha256(data).hexdigest()}", lease=lease)
    writer.write(data, 0)
    return writer.commit(labels=labels).digest


def held(content: ContentStore, namespace: str) -> set[str]:
    return {info.digest for info in content.list(namespace)}


def image_of(content, namespace, name="img"):
    """An image whose manifest refers to a config and a layer through gc.ref labels, and to
    the layer's unpacked snapshot."""
    config = put(content, namespace, b"config")
    layer = put(content, namespace, b"layer")
    manifest = put(content, namespace, b"manifest", **{
        "containerd.io/gc.ref.content.config": config, "containerd.io/gc.ref.content.l.0": layer})
    return Image(name, Descriptor(MANIFEST_TYPE, manifest, 8)), {config, layer, manifest}


def test_an_image_keeps_what_it_refers_to_until_deleted(collector, metadata, content):
    image, digests = image_of(content, "ns")
    metadata.create_image("ns", image)
    stray = put(content, "ns", b"stray")
    result = collector.collect()
    assert result.removals == [("content", "ns", stray)]
    assert held(content, "ns") == digests
    assert content.blobs.walk() == sorted(digests)

    metadata.delete_image("ns", image.name)
    collector.collect()
    assert held(content, "ns") == set()
    assert content.blobs.walk() == []


def test_a_blob_stays_on_disk_while_any_namespace_holds_it(collector, metadata, content):
    image, digests = image_of(content, "ns1")
    metadata.create_image("ns1", image)
    shared = put(content, "ns2", b"layer")
    collector.collect()
    assert held(content, "ns2") == set()  # nothing in ns2 keeps its record
    assert shared in content.blobs.walk()  # but ns1 still holds the blob
    metadata.delete_image("ns1", image.name)
    collector.collect()
    assert content.blobs.walk() == []


def test_labels_make_roots(collector, content):
    rooted = put(content, "ns", b"root", **{"containerd.io/gc.root": "true"})
    future = put(content, "ns", b"future", **{"containerd.io/gc.expire": "2999-01-01T00:00:00Z"})
    past = put(content, "ns", b"past", **{"containerd.io/gc.expire": "2000-01-01T00:00:00Z"})
    collector.collect()
    assert held(content, "ns") == {rooted, future}
    assert past not in content.blobs.walk()


def test_a_lease_keeps_content_writes_and_snapshots_until_it_goes(collector, metadata, content, snapshotter):
    metadata.create_lease("ns", Lease("pull"))
    leased = put(content, "ns", b"leased", lease="pull")
    writer = content.writer("ns", "half-written", lease="pull")
    writer.write(b"half", 0)
    writer.close()
    snapshotter.add("ns", "base")
    snapshotter.add("ns", "extract", parent="base")
    metadata.add_lease_resource("ns", "pull", "snapshots/overlayfs", "extract")
    collector.collect()
    assert held(content, "ns") == {leased}
    assert content.status("ns", "half-written").offset == 4
    assert snapshotter.removed == []

    metadata.delete_lease("ns", "pull")
    collector.collect()
    assert held(content, "ns") == set() and content.blobs.walk() == []
    assert content.blobs.list_statuses() == [] and content.list_statuses("ns") == []
    assert snapshotter.removed == ["extract", "base"]  # the child first


def test_an_expired_lease_is_removed_with_what_only_it_held(collector, metadata, content):
    metadata.create_lease("ns", Lease("old", {"containerd.io/gc.expire": "2000-01-01T00:00:00Z"}))
    put(content, "ns", b"old", lease="old")
    result = collector.collect()
    assert ("lease", "ns", "old") in result.removals
    assert metadata.list_leases("ns") == [] and held(content, "ns") == set()


def test_containers_keep_their_snapshot_chain(collector, metadata, snapshotter):
    for key, parent in (("layer-1", ""), ("layer-2", "layer-1"), ("rootfs", "layer-2"), ("orphan", "layer-1")):
        snapshotter.add("ns", key, parent)
    snapshotter.add("ns", "pinned", **{"containerd.io/gc.root": "x"})
    metadata.create_container("ns", Container("c1", Runtime("io.containerd.runc.v2"), SPEC, snapshotter="overlayfs",
                                              snapshot_key="rootfs"))
    collector.collect()
    assert snapshotter.removed == ["orphan"]
    metadata.delete_container("ns", "c1")
    collector.collect()
    assert snapshotter.removed == ["orphan", "rootfs", "layer-2", "layer-1"]
    assert snapshotter.namespaces() == ["ns"]  # the rooted one


def test_content_and_snapshots_refer_to_each_other_through_labels(collector, metadata, content, snapshotter):
    snapshotter.add("ns", "unpacked", **{"containerd.io/gc.ref.content.layer": put(content, "ns", b"diff")})
    config = put(content, "ns", b"config", **{"containerd.io/gc.ref.snapshot.overlayfs": "unpacked"})
    metadata.create_image("ns", Image("img", Descriptor(MANIFEST_TYPE, config, 6)))
    collector.collect()
    assert len(held(content, "ns")) == 2 and snapshotter.removed == []


def test_an_unleased_write_is_kept_for_a_day(metadata):
    metadata.open_ingest("ns", "fresh", "ns/fresh", "", "")
    seen = []
    metadata.sweep(lambda records: seen.append(records) or [])
    now = datetime.now(timezone.utc)
    assert gc.plan(seen[0], [], now).removals == []
    assert gc.plan(seen[0], [], now + timedelta(days=2)).removals == [("ingest", "ns", "fresh")]


def test_a_delete_schedules_a_collection(collector, metadata, content):
    put(content, "ns", b"unreferenced")
    collected = threading.Event()
    original = collector._collect

    def observed():
        result = original()
        collected.set()
        return result

    collector._collect = observed
    metadata.create_image("ns", Image("img", Descriptor(MANIFEST_TYPE, "sha256:" + "c" * 64, 3)))
    metadata.delete_image("ns", "img")
    assert collected.wait(10)
    assert held(content, "ns") == set()

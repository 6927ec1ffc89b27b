"""Image and lease records in the metadata store, containerd's rules for them."""
import pytest

import errdefs
from containerd.core import filters
from containerd.core.metadata import Descriptor, Image, Lease, LeaseResource, MetadataStore

MANIFEST = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "a" * 64, 500, {"org.x": "1"})
OTHER = Descriptor("application/vnd.oci.image.index.v1+json", "sha256:" + "b" * 64, 300)


@pytest.fixture
def store(tmp_path):
    store = MetadataStore(tmp_path / "meta")
    yield store
    store.close()


def test_images_create_get_list_delete(store):
    created = store.create_image("ns", Image("docker.io/library/busybox:latest", MANIFEST, {"a": "1", "gone": ""}))
    assert created.labels == {"a": "1"} and created.created_at == created.updated_at > 0
    assert store.get_image("ns", "docker.io/library/busybox:latest") == created
    with pytest.raises(errdefs.AlreadyExists):
        store.create_image("ns", Image("docker.io/library/busybox:latest", MANIFEST))
    store.create_image("ns", Image("example.com/app:1", OTHER, {"team": "b"}))
    with pytest.raises(errdefs.NotFound):
        store.get_image("other", "example.com/app:1")

    def names(*texts):
        return [i.name for i in store.list_images("ns", filters.parse_all(texts))]

    assert names() == ["docker.io/library/busybox:latest", "example.com/app:1"]
    assert names("labels.team==b") == ["example.com/app:1"]
    assert names(f"target.digest=={MANIFEST.digest}") == ["docker.io/library/busybox:latest"]
    assert names("target.mediatype~=index") == ["example.com/app:1"]
    assert names("name~=^docker.io/") == ["docker.io/library/busybox:latest"]
    assert names('annotations."org.x"==1') == ["docker.io/library/busybox:latest"]
    store.delete_image("ns", "example.com/app:1")
    with pytest.raises(errdefs.NotFound):
        store.delete_image("ns", "example.com/app:1")
    assert names() == ["docker.io/library/busybox:latest"]


@pytest.mark.parametrize("invalid, complaint", [
    (Image("", MANIFEST), "name must not be empty"),
    (Image("x", Descriptor(MANIFEST.media_type, "sha256:nothex", 5)), "Target.Digest"),
    (Image("x", Descriptor(MANIFEST.media_type, MANIFEST.digest, 0)), "Target.Size"),
    (Image("x", Descriptor("", MANIFEST.digest, 5)), "Target.MediaType"),
    (Image("x", MANIFEST, {"k": "v" * 4096}), "maximum size"),
])
def test_invalid_images_are_refused(store, invalid, complaint):
    with pytest.raises(errdefs.InvalidArgument) as raised:
        store.create_image("ns", invalid)
    assert complaint in str(raised.value)


def test_image_update_follows_the_field_mask(store):
    original = store.create_image("ns", Image("img", MANIFEST, {"a": "1", "b": "2"}))
    changed = store.update_image("ns", Image("img", OTHER, {"a": "9", "c": "3"}), ["labels.a", "labels.b"])
    assert changed.labels == {"a": "9"} and changed.target == MANIFEST
    assert changed.created_at == original.created_at and changed.updated_at > original.updated_at
    retargeted = store.update_image("ns", Image("img", OTHER), ["target"])
    assert retargeted.target == OTHER and retargeted.labels == {"a": "9"}
    annotated = store.update_image("ns", Image("img", Descriptor("", "", 0, {"k": "v"})), ["annotations.k"])
    assert annotated.target.annotations == {"k": "v"}
    replaced = store.update_image("ns", Image("img", MANIFEST, {"new": "1"}), [])
    assert (replaced.target, replaced.labels, replaced.created_at) == (MANIFEST, {"new": "1"}, original.created_at)
    with pytest.raises(errdefs.InvalidArgument):
        store.update_image("ns", Image("img", MANIFEST), ["name"])
    with pytest.raises(errdefs.InvalidArgument):
        store.update_image("ns", Image("img", Descriptor("", "", 0)), ["target"])
    with pytest.raises(errdefs.NotFound):
        store.update_image("ns", Image("nope", MANIFEST), [])


def test_leases_and_their_resources(store):
    lease = store.create_lease("ns", Lease("pull-1", {"containerd.io/gc.expire": "2100-01-01T00:00:00Z"}))
    assert lease.created_at > 0
    store.create_lease("ns", Lease("pull-2"))
    with pytest.raises(errdefs.AlreadyExists):
        store.create_lease("ns", Lease("pull-1"))
    with pytest.raises(errdefs.InvalidArgument):
        store.create_lease("ns", Lease(""))
    store.create_lease("ns", Lease("250441542-_Uz6"))  # as ctr's random ids look: no identifier
    store.delete_lease("ns", "250441542-_Uz6")
    assert [x.id for x in store.list_leases("ns")] == ["pull-1", "pull-2"]
    assert [x.id for x in store.list_leases("ns", filters.parse_all(['labels."containerd.io/gc.expire"']))] == ["pull-1"]
    assert [x.id for x in store.list_leases("ns", filters.parse_all(["id==pull-2"]))] == ["pull-2"]

    store.add_lease_resource("ns", "pull-1", "content", MANIFEST.digest)
    store.add_lease_resource("ns", "pull-1", "content", MANIFEST.digest)  # once is enough
    store.add_lease_resource("ns", "pull-1", "snapshots/overlayfs", "extract-1")
    store.add_lease_resource("ns", "pull-1", "ingests", "layer-ref")
    assert store.list_lease_resources("ns", "pull-1") == [
        LeaseResource("content", MANIFEST.digest), LeaseResource("ingests", "layer-ref"),
        LeaseResource("snapshots/overlayfs", "extract-1")]
    with pytest.raises(errdefs.NotImplemented):
        store.add_lease_resource("ns", "pull-1", "containers", "c1")
    with pytest.raises(errdefs.InvalidArgument):
        store.add_lease_resource("ns", "pull-1", "content", "not-a-digest")
    with pytest.raises(errdefs.InvalidArgument):
        store.add_lease_resource("ns", "pull-1", "snapshots/", "k")
    with pytest.raises(errdefs.NotFound):
        store.add_lease_resource("ns", "missing", "ingests", "x")
    with pytest.raises(errdefs.NotFound):
        store.add_lease_resource("other", "pull-1", "ingests", "x")  # leases are per namespace
    store.delete_lease_resource("ns", "pull-1", "ingests", "layer-ref")
    assert len(store.list_lease_resources("ns", "pull-1")) == 2

    store.delete_lease("ns", "pull-1")
    with pytest.raises(errdefs.NotFound):
        store.delete_lease("ns", "pull-1")
    with pytest.raises(errdefs.NotFound):
        store.list_lease_resources("ns", "pull-1")
    # A lease made again under the same id starts empty.
    store.create_lease("ns", Lease("pull-1"))
    assert store.list_lease_resources("ns", "pull-1") == []


def test_deletes_are_reported_to_watchers(store):
    seen = []
    store.watch_deletes(lambda: seen.append(1))
    store.create_image("ns", Image("img", MANIFEST))
    store.create_lease("ns", Lease("l"))
    assert seen == []
    store.delete_image("ns", "img")
    store.delete_lease("ns", "l")
    assert len(seen) == 2


def test_a_namespace_with_images_or_leases_cannot_be_deleted(store):
    store.create_image("ns", Image("img", MANIFEST))
    store.create_lease("ns", Lease("l"))
    with pytest.raises(errdefs.FailedPrecondition) as raised:
        store.delete_namespace("ns")
    assert "still has images, leases" in str(raised.value)
    store.delete_image("ns", "img")
    store.delete_lease("ns", "l")
    store.delete_namespace("ns")

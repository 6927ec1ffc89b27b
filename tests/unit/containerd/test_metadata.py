"""The metadata store: container and namespace records in SQLite, containerd's rules for them."""
import pytest

import errdefs
from containerd.core import filters
from containerd.core.metadata import Container, MetadataStore, Runtime, TypedValue

SPEC = TypedValue("types.containerd.io/opencontainers/runtime-spec/1/Spec", b'{"ociVersion": "1.2.0"}')
OPTIONS = TypedValue("containerd.runc.v1.Options", b"\x32\x04runc")


def container(container_id="c1", **fields) -> Container:
    fields.setdefault("runtime", Runtime("io.containerd.runc.v2", OPTIONS))
    fields.setdefault("spec", SPEC)
    return Container(id=container_id, **fields)


@pytest.fixture
def store(tmp_path):
    store = MetadataStore(tmp_path / "meta")
    yield store
    store.close()


def test_records_survive_reopening(tmp_path):
    store = MetadataStore(tmp_path / "meta")
    created = store.create_container("ns", container(labels={"a": "1"}, extensions={"x": TypedValue("t", b"\x00\xff")}))
    store.create_namespace("empty", {"team": "a"})
    store.close()
    reopened = MetadataStore(tmp_path / "meta")
    try:
        assert reopened.get_container("ns", "c1") == created
        assert [(n.name, n.labels) for n in reopened.list_namespaces()] == [("empty", {"team": "a"}), ("ns", {})]
    finally:
        reopened.close()


def test_one_daemon_per_store(store, tmp_path):
    with pytest.raises(errdefs.Unavailable):
        MetadataStore(tmp_path / "meta")


def test_create_get_list_delete(store):
    created = store.create_container("ns", container(labels={"app": "web", "gone": ""}))
    assert created.created_at == created.updated_at > 0
    assert created.labels == {"app": "web"}  # an empty label value is no label
    assert store.get_container("ns", "c1") == created
    with pytest.raises(errdefs.AlreadyExists):
        store.create_container("ns", container())
    store.create_container("ns", container("c2", labels={"app": "db"}))
    store.create_container("other", container("c3"))
    assert [c.id for c in store.list_containers("ns")] == ["c1", "c2"]
    assert [c.id for c in store.list_containers("ns", filters.parse_all(["labels.app==db"]))] == ["c2"]
    assert [c.id for c in store.list_containers("ns", filters.parse_all(["runtime.name~=runc", "id==c9"]))] == ["c1", "c2"]
    store.delete_container("ns", "c1")
    with pytest.raises(errdefs.NotFound):
        store.get_container("ns", "c1")
    with pytest.raises(errdefs.NotFound):
        store.delete_container("ns", "c1")
    with pytest.raises(errdefs.NotFound):
        store.get_container("ns", "c3")  # namespaces do not see each other's containers


@pytest.mark.parametrize("invalid, complaint", [
    (container("bad id"), "container.ID"),
    (container("x" * 77), "maximum length"),
    (container(runtime=Runtime("")), "runtime name"),
    (container(spec=None), "container spec"),
    (container(snapshot_key="k"), "snapshotter"),
    (container(extensions={"": TypedValue("t", b"")}), "Extension keys"),
    (container(labels={"k": "v" * 4096}), "maximum size"),
])
def test_invalid_containers_are_refused(store, invalid, complaint):
    with pytest.raises(errdefs.InvalidArgument) as raised:
        store.create_container("ns", invalid)
    assert complaint in str(raised.value)


def test_update_follows_the_field_mask(store):
    original = store.create_container("ns", container(labels={"a": "1", "b": "2"}, image="old"))
    change = container(labels={"a": "10", "c": "3"}, image="new", spec=TypedValue("t", b"other"))

    only_a = store.update_container("ns", change, ["labels.a", "labels.b"])
    assert only_a.labels == {"a": "10"}  # b was named but given no value: removed
    assert (only_a.image, only_a.spec) == ("old", SPEC)
    assert only_a.created_at == original.created_at and only_a.updated_at > original.updated_at

    everything = store.update_container("ns", change, [])
    assert (everything.labels, everything.image, everything.spec) == ({"a": "10", "c": "3"}, "new", change.spec)
    assert store.get_container("ns", "c1") == everything

    with pytest.raises(errdefs.InvalidArgument):
        store.update_container("ns", change, ["runtime"])
    with pytest.raises(errdefs.InvalidArgument):
        store.update_container("ns", container(runtime=Runtime("io.containerd.other.v1")), [])  # immutable
    with pytest.raises(errdefs.NotFound):
        store.update_container("ns", container("c9"), [])


def test_namespaces(store):
    store.create_namespace("team", {"owner": "alice"})
    with pytest.raises(errdefs.AlreadyExists):
        store.create_namespace("team", {})
    with pytest.raises(errdefs.InvalidArgument):
        store.create_namespace("no/slash", {})
    assert store.update_namespace("team", {"tier": "gold", "owner": ""}, ["labels.tier", "labels.owner"]).labels == {
        "tier": "gold"}
    assert store.update_namespace("team", {"x": "y"}, []).labels == {"x": "y"}
    assert store.get_namespace("team").labels == {"x": "y"}
    # Only the labels named change: one given but not named is ignored, one named but not given goes.
    assert store.update_namespace("team", {"x": "z", "ignored": "1"}, ["labels.x"]).labels == {"x": "z"}
    assert store.update_namespace("team", {}, ["labels.x"]).labels == {}
    with pytest.raises(errdefs.InvalidArgument):
        store.update_namespace("team", {}, ["name"])
    store.create_container("team", container())
    with pytest.raises(errdefs.FailedPrecondition):
        store.delete_namespace("team")
    store.delete_container("team", "c1")
    store.delete_namespace("team")
    with pytest.raises(errdefs.NotFound):
        store.get_namespace("team")
    with pytest.raises(errdefs.NotFound):
        store.delete_namespace("team")

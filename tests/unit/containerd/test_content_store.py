"""The content store: blobs on disk written through resumable, locked, verified ingests, and
each namespace's view of them, held by leases."""
import hashlib
import stat

import pytest

import errdefs
from containerd.content.local import LocalStore
from containerd.content.store import ContentStore
from containerd.core import filters
from containerd.core.metadata import ContentInfo, Lease, LeaseResource, MetadataStore


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@pytest.fixture
def blobs(tmp_path):
    return LocalStore(tmp_path / "content")


@pytest.fixture
def metadata(tmp_path):
    store = MetadataStore(tmp_path / "meta")
    yield store
    store.close()


@pytest.fixture
def store(blobs, metadata):
    return ContentStore(blobs, metadata)


def blob_files(blobs: LocalStore) -> list[str]:
    return sorted(p.name for p in (blobs.root / "blobs" / "sha256").iterdir())


def test_a_write_is_checked_then_renamed_into_blobs(blobs):
    data = b"hello content"
    writer = blobs.writer("ref-1", total=len(data), expected=digest_of(data))
    assert blobs.status("ref-1").total == len(data)
    writer.write(data[:5], 0)
    writer.write(data[5:], 5)
    assert writer.digest == digest_of(data)
    assert writer.commit(len(data), digest_of(data)) == digest_of(data)
    path = blobs.blob_path(digest_of(data))
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert list((blobs.root / "ingest").iterdir()) == []
    assert blobs.walk() == [digest_of(data)]
    assert blobs.size(digest_of(data)) == len(data)


def test_a_write_resumes_where_it_stopped(blobs):
    data = b"0123456789" * 100
    first = blobs.writer("resumable")
    first.write(data[:300], 0)
    first.close()
    resumed = blobs.writer("resumable")
    assert resumed.offset == 300
    assert blobs.status("resumable").offset == 300
    with pytest.raises(errdefs.OutOfRange):
        resumed.write(data[400:], 400)
    resumed.write(data[300:], 300)
    assert resumed.commit(len(data)) == digest_of(data)  # the digest covers what came before the resume
    assert blobs.blob_path(digest_of(data)).read_bytes() == data


def test_writing_at_offset_zero_starts_over(blobs):
    writer = blobs.writer("again")
    writer.write(b"wrong start", 0)
    writer.write(b"right", 0)
    assert writer.offset == 5
    assert writer.commit() == digest_of(b"right")


@pytest.mark.parametrize("size, expected", [(4, ""), (0, digest_of(b"other"))])
def test_a_mismatch_leaves_nothing_in_blobs(blobs, size, expected):
    writer = blobs.writer("bad")
    writer.write(b"abc", 0)
    with pytest.raises(errdefs.FailedPrecondition):
        writer.commit(size, expected)
    assert blob_files(blobs) == []
    # The write is still there to resume or abort, and no longer locked.
    assert blobs.status("bad").offset == 3
    blobs.abort("bad")
    with pytest.raises(errdefs.NotFound):
        blobs.status("bad")
    with pytest.raises(errdefs.NotFound):
        blobs.abort("bad")


def test_a_busy_ref_is_unavailable_until_released(blobs):
    writer = blobs.writer("busy")
    with pytest.raises(errdefs.Unavailable) as raised:
        blobs.writer("busy")
    assert "ref busy locked" in str(raised.value)
    writer.close()
    blobs.writer("busy").close()


def test_committing_a_blob_that_exists_is_already_exists(blobs):
    for ref in ("one", "two"):
        writer = blobs.writer(ref)
        writer.write(b"same", 0)
        if ref == "two":
            with pytest.raises(errdefs.AlreadyExists):
                writer.commit()
        else:
            writer.commit()
    assert blob_files(blobs) == [digest_of(b"same").split(":")[1]]
    assert blobs.list_statuses() == []
    assert not blobs.locked("two")


def test_reads_come_in_pieces_from_an_offset(blobs):
    writer = blobs.writer("r")
    writer.write(b"abcdefgh", 0)
    digest = writer.commit()
    assert list(blobs.read(digest, 2, 3)) == [(2, b"cde")]
    assert list(blobs.read(digest, 6, 100)) == [(6, b"gh")]
    assert list(blobs.read(digest, 8)) == []
    with pytest.raises(errdefs.OutOfRange):
        list(blobs.read(digest, 9))
    with pytest.raises(errdefs.NotFound):
        list(blobs.read(digest_of(b"missing")))
    with pytest.raises(errdefs.InvalidArgument):
        list(blobs.read("sha256:short"))


def write(store: ContentStore, namespace: str, data: bytes, ref: str = "ref", lease: str = "", **labels) -> ContentInfo:
    writer = store.writer(namespace, ref, len(data), digest_of(data), lease)
    writer.write(data, writer.offset if writer.offset == len(data) else 0)
    return writer.commit(len(data), digest_of(data), labels)


def test_a_namespace_sees_only_what_it_wrote(store, blobs):
    info = write(store, "ns1", b"layer", app="web")
    assert (info.digest, info.size, info.labels) == (digest_of(b"layer"), 5, {"app": "web"})
    assert store.info("ns1", info.digest) == info
    with pytest.raises(errdefs.NotFound):
        store.info("ns2", info.digest)
    with pytest.raises(errdefs.NotFound):
        store.read("ns2", info.digest)
    assert b"".join(data for _, data in store.read("ns1", info.digest)) == b"layer"
    with pytest.raises(errdefs.AlreadyExists):
        store.writer("ns1", "again", expected=info.digest)


def test_a_blob_another_namespace_holds_is_not_written_again(store, blobs, metadata):
    write(store, "ns1", b"shared layer")
    writer = store.writer("ns2", "pull", 12, digest_of(b"shared layer"))
    # Nothing left to send: the write stands at its end.
    assert (writer.offset, writer.status().offset, writer.digest) == (12, 12, digest_of(b"shared layer"))
    assert store.status("ns2", "pull").offset == 12
    assert blobs.list_statuses() == []
    writer.commit(12, digest_of(b"shared layer"))
    assert store.info("ns2", digest_of(b"shared layer")).size == 12
    assert metadata.list_ingests("ns2") == []


def test_a_shared_write_can_still_be_made_from_scratch(store):
    write(store, "ns1", b"shared")
    writer = store.writer("ns2", "w", expected=digest_of(b"shared"))
    writer.write(b"shared", 0)
    assert writer.commit(6, digest_of(b"shared")).digest == digest_of(b"shared")


def test_update_list_and_delete(store):
    first = write(store, "ns", b"one", ref="a", kind="config")
    write(store, "ns", b"two!", ref="b", kind="layer")
    updated = store.update("ns", ContentInfo(first.digest, 0, {"kind": "manifest", "x": "1"}), ["labels.kind"])
    assert updated.labels == {"kind": "manifest"} and updated.updated_at >= first.updated_at
    assert store.update("ns", ContentInfo(first.digest, 0, {"x": "1"}), []).labels == {"x": "1"}
    with pytest.raises(errdefs.InvalidArgument):
        store.update("ns", ContentInfo(first.digest, 0), ["size"])
    assert [i.size for i in store.list("ns", filters.parse_all(["labels.kind==layer"]))] == [4]
    assert [i.size for i in store.list("ns", filters.parse_all(["size==3"]))] == [3]
    assert [i.digest for i in store.list("ns", filters.parse_all([f"digest=={first.digest}"]))] == [first.digest]
    store.delete("ns", first.digest)
    with pytest.raises(errdefs.NotFound):
        store.delete("ns", first.digest)
    assert [i.size for i in store.list("ns")] == [4]


def test_statuses_and_abort(store, blobs):
    writer = store.writer("ns", "in-progress", total=10)
    writer.write(b"12345", 0)
    writer.close()
    status = store.status("ns", "in-progress")
    assert (status.ref, status.offset, status.total) == ("in-progress", 5, 10)
    assert status.started_at > 0 and status.updated_at >= status.started_at
    assert [s.ref for s in store.list_statuses("ns", filters.parse_all(["ref==in-progress"]))] == ["in-progress"]
    assert store.list_statuses("other") == []
    store.abort("ns", "in-progress")
    assert blobs.list_statuses() == []
    with pytest.raises(errdefs.NotFound):
        store.status("ns", "in-progress")


def test_a_lease_holds_the_write_then_the_blob(store, metadata):
    metadata.create_lease("ns", Lease("pull"))
    writer = store.writer("ns", "layer", lease="pull")
    assert metadata.list_lease_resources("ns", "pull") == [LeaseResource("ingests", "layer")]
    writer.write(b"leased", 0)
    writer.commit()
    assert metadata.list_lease_resources("ns", "pull") == [LeaseResource("content", digest_of(b"leased"))]
    # Writing what the namespace holds already under another lease leases it too.
    metadata.create_lease("ns", Lease("second"))
    with pytest.raises(errdefs.AlreadyExists):
        store.writer("ns", "again", expected=digest_of(b"leased"), lease="second")
    assert metadata.list_lease_resources("ns", "second") == [LeaseResource("content", digest_of(b"leased"))]


def test_an_unknown_lease_is_not_found(store, blobs):
    with pytest.raises(errdefs.NotFound):
        store.writer("ns", "ref", lease="nope")
    assert blobs.list_statuses() == []


"""pycontainerd's Content, Images and Leases services over gRPC, garbage collection behind
them, and the real ctr driving them."""
import hashlib
import json
import queue
import subprocess

import grpc
import pytest
from google.protobuf import field_mask_pb2

from protos import content_pb2, event_types_pb2, images_pb2, introspection_pb2, leases_pb2, types_pb2, typeurl
from tests.fixtures.pycontainerd import NAMESPACE

pytestmark = pytest.mark.root

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def blob_path(pycontainerd, digest: str):
    return pycontainerd.root / "io.containerd.content.v1.content" / "blobs" / "sha256" / digest.split(":")[1]


def write(pycontainerd, ref: str, messages, metadata=None):
    """One Write stream: the responses to messages, which are sent in order."""
    return list(pycontainerd.content.Write(iter(messages), metadata=metadata or pycontainerd.metadata, timeout=30))


def ingest(pycontainerd, data: bytes, metadata=None, **labels) -> str:
    ref = f"ingest-{digest_of(data)}"
    responses = write(pycontainerd, ref, [
        content_pb2.WriteContentRequest(action=content_pb2.STAT, ref=ref, total=len(data), expected=digest_of(data)),
        content_pb2.WriteContentRequest(action=content_pb2.COMMIT, offset=0, data=data, total=len(data),
                                        expected=digest_of(data), labels=labels)], metadata)
    assert responses[-1].digest == digest_of(data)
    return responses[-1].digest


def info(pycontainerd, digest: str):
    return pycontainerd.content.Info(content_pb2.InfoRequest(digest=digest), metadata=pycontainerd.metadata).info


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value.code()


def test_writes_resume_verify_and_read_back(pycontainerd):
    data = bytes(range(256)) * 64
    ref, digest = "resumable-ref", digest_of(data)
    first = write(pycontainerd, ref, [
        content_pb2.WriteContentRequest(action=content_pb2.STAT, ref=ref, total=len(data), expected=digest),
        content_pb2.WriteContentRequest(action=content_pb2.WRITE, offset=0, data=data[:5000])])
    assert [(r.action, r.offset) for r in first] == [(content_pb2.STAT, 0), (content_pb2.WRITE, 5000)]
    assert first[0].total == len(data) and first[0].started_at.seconds > 0
    status = pycontainerd.content.Status(content_pb2.StatusRequest(ref=ref), metadata=pycontainerd.metadata).status
    assert (status.ref, status.offset, status.total) == (ref, 5000, len(data))

    assert code_of(lambda: write(pycontainerd, ref, [
        content_pb2.WriteContentRequest(action=content_pb2.WRITE, ref=ref, offset=7000, data=b"x")])) \
        == grpc.StatusCode.OUT_OF_RANGE
    resumed = write(pycontainerd, ref, [
        content_pb2.WriteContentRequest(action=content_pb2.STAT, ref=ref),
        content_pb2.WriteContentRequest(action=content_pb2.COMMIT, offset=5000, data=data[5000:], total=len(data),
                                        expected=digest, labels={"kind": "test"})])
    assert resumed[0].offset == 5000
    assert (resumed[1].action, resumed[1].offset, resumed[1].digest) == (content_pb2.COMMIT, len(data), digest)
    assert blob_path(pycontainerd, digest).read_bytes() == data
    assert (info(pycontainerd, digest).size, dict(info(pycontainerd, digest).labels)) == (len(data), {"kind": "test"})
    assert list(pycontainerd.content.ListStatuses(content_pb2.ListStatusesRequest(),
                                                  metadata=pycontainerd.metadata).statuses) == []

    pieces = pycontainerd.content.Read(content_pb2.ReadContentRequest(digest=digest, offset=10, size=100),
                                       metadata=pycontainerd.metadata)
    assert b"".join(p.data for p in pieces) == data[10:110]
    assert b"".join(p.data for p in pycontainerd.content.Read(content_pb2.ReadContentRequest(digest=digest),
                                                              metadata=pycontainerd.metadata)) == data
    # The same blob is not visible from another namespace.
    assert code_of(lambda: pycontainerd.content.Info(content_pb2.InfoRequest(digest=digest),
                                                     metadata=(("containerd-namespace", "elsewhere"),))) \
        == grpc.StatusCode.NOT_FOUND
    # Writing what is there already is AlreadyExists, which Go clients take as done.
    assert code_of(lambda: ingest(pycontainerd, data)) == grpc.StatusCode.ALREADY_EXISTS


def test_a_wrong_digest_commits_nothing_and_a_busy_ref_is_unavailable(pycontainerd):
    assert code_of(lambda: write(pycontainerd, "bad", [
        content_pb2.WriteContentRequest(action=content_pb2.COMMIT, ref="bad", data=b"abc",
                                        expected=digest_of(b"abd"))])) == grpc.StatusCode.FAILED_PRECONDITION
    assert not blob_path(pycontainerd, digest_of(b"abc")).exists()
    pycontainerd.content.Abort(content_pb2.AbortRequest(ref="bad"), metadata=pycontainerd.metadata)
    assert code_of(lambda: pycontainerd.content.Abort(content_pb2.AbortRequest(ref="bad"),
                                                      metadata=pycontainerd.metadata)) == grpc.StatusCode.NOT_FOUND

    held: queue.Queue = queue.Queue()
    holder = pycontainerd.content.Write(iter(held.get, None), metadata=pycontainerd.metadata, timeout=30)
    held.put(content_pb2.WriteContentRequest(action=content_pb2.STAT, ref="busy"))
    assert next(holder).action == content_pb2.STAT
    try:
        assert code_of(lambda: write(pycontainerd, "busy", [
            content_pb2.WriteContentRequest(action=content_pb2.STAT, ref="busy")])) == grpc.StatusCode.UNAVAILABLE
    finally:
        held.put(None)
        assert list(holder) == []


def test_content_labels_filters_and_delete_event(pycontainerd):
    events = pycontainerd.subscribe('topic=="/content/delete"')
    first = ingest(pycontainerd, b"first blob", kind="a")
    second = ingest(pycontainerd, b"second", kind="b")
    updated = pycontainerd.content.Update(content_pb2.UpdateRequest(
        info=content_pb2.Info(digest=first, labels={"kind": "c", "extra": "1"}),
        update_mask=field_mask_pb2.FieldMask(paths=["labels.kind"])), metadata=pycontainerd.metadata).info
    assert dict(updated.labels) == {"kind": "c"}

    def listed(*filters):
        return sorted(i.digest for r in pycontainerd.content.List(content_pb2.ListContentRequest(filters=filters),
                                                                  metadata=pycontainerd.metadata) for i in r.info)

    assert listed() == sorted([first, second])
    assert listed("labels.kind==c") == [first]
    assert listed("size==6") == [second]
    pycontainerd.content.Delete(content_pb2.DeleteContentRequest(digest=second), metadata=pycontainerd.metadata)
    assert listed() == [first]
    envelope = events.next()
    assert typeurl.unpack(envelope.event, event_types_pb2.ContentDelete).digest == second
    assert code_of(lambda: info(pycontainerd, "sha256:nothex")) == grpc.StatusCode.INVALID_ARGUMENT


def image_blobs(pycontainerd, metadata=None, tag: bytes = b""):
    """A config, a layer and a manifest whose gc.ref labels name them both; the manifest's
    descriptor."""
    layer = b"layer bytes" + tag
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [digest_of(layer)]}}).encode()
    config_digest, layer_digest = ingest(pycontainerd, config, metadata), ingest(pycontainerd, layer, metadata)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": LAYER_TYPE, "digest": layer_digest, "size": len(layer)}]}).encode()
    manifest_digest = ingest(pycontainerd, manifest, metadata, **{
        "containerd.io/gc.ref.content.config": config_digest, "containerd.io/gc.ref.content.l.0": layer_digest})
    return types_pb2.Descriptor(media_type=MANIFEST_TYPE, digest=manifest_digest, size=len(manifest)), \
        [manifest_digest, config_digest, layer_digest]


def test_images_crud_events_and_collection(pycontainerd):
    events = pycontainerd.subscribe('topic~="^/images/"')
    target, digests = image_blobs(pycontainerd)
    stub, md = pycontainerd.images, pycontainerd.metadata
    created = stub.Create(images_pb2.CreateImageRequest(image=images_pb2.Image(
        name="example.com/app:1", target=target, labels={"team": "a"})), metadata=md).image
    assert created.target == target and created.created_at.seconds > 0
    assert code_of(lambda: stub.Create(images_pb2.CreateImageRequest(image=images_pb2.Image(
        name="example.com/app:1", target=target)), metadata=md)) == grpc.StatusCode.ALREADY_EXISTS
    assert code_of(lambda: stub.Create(images_pb2.CreateImageRequest(image=images_pb2.Image(
        name="", target=target)), metadata=md)) == grpc.StatusCode.INVALID_ARGUMENT
    stub.Update(images_pb2.UpdateImageRequest(image=images_pb2.Image(name="example.com/app:1", labels={"team": "b"}),
                                              update_mask=field_mask_pb2.FieldMask(paths=["labels.team"])), metadata=md)
    assert dict(stub.Get(images_pb2.GetImageRequest(name="example.com/app:1"), metadata=md).image.labels) == {"team": "b"}
    assert [i.name for i in stub.List(images_pb2.ListImagesRequest(filters=[f"target.digest=={target.digest}"]),
                                      metadata=md).images] == ["example.com/app:1"]
    assert stub.List(images_pb2.ListImagesRequest(filters=["labels.team==a"]), metadata=md).images == []

    stub.Delete(images_pb2.DeleteImageRequest(name="example.com/app:1", sync=True), metadata=md)
    # Synchronous: what only the image kept is gone, records and files.
    for digest in digests:
        assert code_of(lambda d=digest: info(pycontainerd, d)) == grpc.StatusCode.NOT_FOUND
        assert not blob_path(pycontainerd, digest).exists()
    seen = [events.next() for _ in range(3)]
    assert [e.topic for e in seen] == ["/images/create", "/images/update", "/images/delete"]
    assert typeurl.unpack(seen[2].event, event_types_pb2.ImageDelete).name == "example.com/app:1"


def test_a_lease_header_holds_what_a_request_writes(pycontainerd):
    stub, md = pycontainerd.leases, pycontainerd.metadata
    lease = stub.Create(leases_pb2.CreateRequest(labels={"purpose": "pull"}), metadata=md).lease
    assert lease.id and lease.created_at.seconds > 0
    assert [x.id for x in stub.List(leases_pb2.ListRequest(filters=["labels.purpose==pull"]), metadata=md).leases] \
        == [lease.id]
    leased = (*md, ("containerd-lease", lease.id))
    digest = ingest(pycontainerd, b"leased blob", leased)
    stub.AddResource(leases_pb2.AddResourceRequest(id=lease.id, resource=leases_pb2.Resource(
        id="extract-1", type="snapshots/overlayfs")), metadata=md)
    resources = stub.ListResources(leases_pb2.ListResourcesRequest(id=lease.id), metadata=md).resources
    assert sorted((r.type, r.id) for r in resources) == [("content", digest), ("snapshots/overlayfs", "extract-1")]
    assert code_of(lambda: ingest(pycontainerd, b"x", (*md, ("containerd-lease", "no-such-lease")))) \
        == grpc.StatusCode.NOT_FOUND
    # Something else deleted meanwhile sets off a collection; the lease keeps its blob.
    pycontainerd.content.Delete(content_pb2.DeleteContentRequest(digest=ingest(pycontainerd, b"unheld")), metadata=md)
    assert info(pycontainerd, digest).size == len(b"leased blob")

    stub.Delete(leases_pb2.DeleteRequest(id=lease.id, sync=True), metadata=md)
    assert code_of(lambda: info(pycontainerd, digest)) == grpc.StatusCode.NOT_FOUND
    assert not blob_path(pycontainerd, digest).exists()
    assert code_of(lambda: stub.Delete(leases_pb2.DeleteRequest(id=lease.id), metadata=md)) == grpc.StatusCode.NOT_FOUND


def test_introspection_lists_the_new_plugins(pycontainerd):
    plugins = pycontainerd.introspection.Plugins(introspection_pb2.PluginsRequest()).plugins
    found = {(p.type, p.id) for p in plugins}
    assert {("io.containerd.grpc.v1", "content"), ("io.containerd.grpc.v1", "images"),
            ("io.containerd.grpc.v1", "leases"), ("io.containerd.content.v1", "content"),
            ("io.containerd.lease.v1", "manager"), ("io.containerd.gc.v1", "scheduler")} <= found


def ctr(pycontainerd, *args: str, stdin: bytes = b"") -> bytes:
    done = subprocess.run(["ctr", "--address", str(pycontainerd.address), "--namespace", NAMESPACE, *args],
                          input=stdin, capture_output=True, timeout=60)
    assert done.returncode == 0, f"ctr {' '.join(args)} exited {done.returncode}: {done.stderr.decode()}"
    return done.stdout


def rows(output: bytes) -> list[list[str]]:
    return [line.split() for line in output.decode().splitlines()[1:]]


@pytest.mark.interop
def test_ctr_content_images_and_leases(pycontainerd):
    md = pycontainerd.metadata
    data = b"ingested by ctr\n"
    ctr(pycontainerd, "content", "ingest", "--expected-size", str(len(data)), "--expected-digest", digest_of(data),
        "ctr-ref", stdin=data)
    assert info(pycontainerd, digest_of(data)).size == len(data)
    assert digest_of(data) in [row[0] for row in rows(ctr(pycontainerd, "content", "ls"))]
    assert ctr(pycontainerd, "content", "get", digest_of(data)) == data
    ctr(pycontainerd, "content", "rm", digest_of(data))
    assert code_of(lambda: info(pycontainerd, digest_of(data))) == grpc.StatusCode.NOT_FOUND

    # Written under a lease, as a pull does: the collection that removing content set off
    # may run at any moment, and takes unreferenced blobs.
    pycontainerd.leases.Create(leases_pb2.CreateRequest(id="writing"), metadata=md)
    target, _ = image_blobs(pycontainerd, (*md, ("containerd-lease", "writing")), tag=b"ctr")
    pycontainerd.images.Create(images_pb2.CreateImageRequest(image=images_pb2.Image(
        name="example.com/ctr:1", target=target)), metadata=md)
    pycontainerd.leases.Delete(leases_pb2.DeleteRequest(id="writing"), metadata=md)
    ctr(pycontainerd, "images", "tag", "example.com/ctr:1", "example.com/ctr:2")
    listed = rows(ctr(pycontainerd, "images", "ls"))
    assert [row[:3] for row in listed] == [["example.com/ctr:1", MANIFEST_TYPE, target.digest],
                                           ["example.com/ctr:2", MANIFEST_TYPE, target.digest]]
    assert all("linux/amd64" in row for row in listed)  # ctr read the config out of our content
    ctr(pycontainerd, "images", "rm", "example.com/ctr:1")
    assert [i.name for i in pycontainerd.images.List(images_pb2.ListImagesRequest(), metadata=md).images] \
        == ["example.com/ctr:2"]
    ctr(pycontainerd, "images", "rm", "--sync", "example.com/ctr:2")
    assert not blob_path(pycontainerd, target.digest).exists()

    assert ctr(pycontainerd, "leases", "create", "--id", "ctr-lease", "owner=ctr").decode().split() == ["ctr-lease"]
    [lease] = pycontainerd.leases.List(leases_pb2.ListRequest(), metadata=md).leases
    assert lease.id == "ctr-lease" and lease.labels["owner"] == "ctr"
    assert "containerd.io/gc.expire" in lease.labels  # ctr's default: a day
    assert [row[0] for row in rows(ctr(pycontainerd, "leases", "ls"))] == ["ctr-lease"]
    ctr(pycontainerd, "leases", "rm", "ctr-lease")
    assert pycontainerd.leases.List(leases_pb2.ListRequest(), metadata=md).leases == []

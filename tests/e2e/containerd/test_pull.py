"""containerd.client's pull, push, import and export against a real pycontainerd and the session
registry: content with containerd's gc labels, image records, resumed ingests, snapshots by
chain ID, a container run from them, and archives skopeo reads."""
import json
import subprocess

import pytest

import errdefs
from containerd.client import archive
from containerd.client.client import Client
from containerd.client.media import Descriptor, chain_ids
from containerd.client.progress import ALREADY_EXISTS, DOWNLOAD_COMPLETE, DOWNLOADING, PULL_COMPLETE, Progress
from containerd.client.pull import pull
from containerd.client.push import push
from protos import content_pb2, leases_pb2, snapshots_pb2, tasks_pb2
from tests.fixtures.images import LAYERED_PROBE, LAYERED_VIEW
from tests.fixtures.pycontainerd import NAMESPACE, OUR_RUNTIME

pytestmark = pytest.mark.root

# Content and records do not depend on the runtime: those tests run with one of the two.
one_runtime = pytest.mark.parametrize("pycontainerd", [OUR_RUNTIME], indirect=True, ids=["pyshim"])


def client_of(daemon) -> Client:
    return Client(daemon.channel, NAMESPACE)


def labels_of(daemon, digest: str) -> dict[str, str]:
    return dict(client_of(daemon).content_info(digest).labels)


@one_runtime
def test_pull_stores_content_with_gc_labels_and_the_image_record(pycontainerd, registry, busybox_image):
    events: list[Progress] = []
    pulled = pull(pycontainerd.channel, NAMESPACE, f"{registry.host}/library/busybox", progress=events.append,
                  unpack=False)
    name = f"{registry.host}/library/busybox:latest"
    assert (pulled.name, pulled.target.digest, pulled.updated) == (name, busybox_image.manifest_digest, True)

    client = client_of(pycontainerd)
    assert client.get_image(name).target.digest == busybox_image.manifest_digest
    assert [image.name for image in client.list_images()] == [name]
    source = {f"containerd.io/distribution.source.{registry.host}": "library/busybox"}
    assert labels_of(pycontainerd, busybox_image.manifest_digest) == {
        **source,
        "containerd.io/gc.ref.content.config": busybox_image.config_digest,
        "containerd.io/gc.ref.content.l.0": busybox_image.layer_digests[0],
    }
    assert labels_of(pycontainerd, busybox_image.layer_digests[0]) == source
    layer = busybox_image.layer_digests[0]
    assert client.read_blob(layer) == busybox_image.blob_path(layer).read_bytes()

    layer_id = layer.removeprefix("sha256:")[:12]
    actions = [event.action for event in events if event.id == layer_id]
    assert actions[0] == "Waiting" and actions[-1] == DOWNLOAD_COMPLETE and DOWNLOADING in actions
    assert events[0].action == "Resolving"
    # The lease is gone once the pull is done: the labels and the record hold the content now.
    assert list(client.call(client.leases.List, leases_pb2.ListRequest()).leases) == []

    again: list[Progress] = []
    assert pull(pycontainerd.channel, NAMESPACE, name, progress=again.append, unpack=False).updated is False
    assert Progress(layer_id, ALREADY_EXISTS) in again


@one_runtime
def test_pull_of_a_manifest_list_takes_amd64_and_labels_the_index(pycontainerd, registry, multiarch_index):
    pulled = pull(pycontainerd.channel, NAMESPACE, f"{registry.host}/library/multiarch", unpack=False)
    amd64 = multiarch_index.images["amd64"]
    assert (pulled.target.digest, pulled.manifest.digest) == (multiarch_index.index_digest, amd64.manifest_digest)
    assert labels_of(pycontainerd, multiarch_index.index_digest)["containerd.io/gc.ref.content.m.0"] == amd64.manifest_digest
    client = client_of(pycontainerd)
    assert client.content_info(multiarch_index.images["arm64"].manifest_digest) is None


@one_runtime
def test_a_partial_ingest_is_resumed(pycontainerd, registry, busybox_image):
    layer = busybox_image.layer_digests[0]
    data = busybox_image.blob_path(layer).read_bytes()
    client = client_of(pycontainerd)
    with client.lease() as leased:
        stream = leased.content.Write(iter([
            content_pb2.WriteContentRequest(action=content_pb2.STAT, ref=f"layer-{layer}", total=len(data), expected=layer),
            content_pb2.WriteContentRequest(action=content_pb2.WRITE, ref=f"layer-{layer}", offset=0,
                                            data=data[:len(data) // 2]),
        ]), metadata=leased.metadata)
        assert [response.offset for response in stream][-1] == len(data) // 2
        events: list[Progress] = []
        pull(leased.channel, NAMESPACE, f"{registry.host}/library/busybox", progress=events.append, unpack=False)
    downloading = [event for event in events if event.action == DOWNLOADING]
    assert downloading[0].current == len(data) // 2  # not from 0: the rest came with a Range request
    assert client.read_blob(layer) == data


@one_runtime
def test_a_tampered_blob_fails_naming_its_digest_and_nothing_is_committed(pycontainerd, registry, busybox_image, tmp_path):
    # Storage is the registry's own, on disk: overwrite the layer's bytes behind its digest.
    layer = busybox_image.layer_digests[0]
    stored = next(path for path in (registry.workdir / "storage").rglob("data")
                  if path.parent.name == layer.removeprefix("sha256:"))
    original = stored.read_bytes()
    try:
        stored.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(errdefs.DataLoss, match=f"blob {layer} failed verification"):
            pull(pycontainerd.channel, NAMESPACE, f"{registry.host}/library/busybox", unpack=False)
        stored.write_bytes(original[: len(original) // 2])
        with pytest.raises(errdefs.DataLoss, match=f"blob {layer} is truncated"):
            pull(pycontainerd.channel, NAMESPACE, f"{registry.host}/library/busybox", unpack=False)
    finally:
        stored.write_bytes(original)
    client = client_of(pycontainerd)
    assert client.content_info(layer) is None
    statuses = client.call(client.content.ListStatuses, content_pb2.ListStatusesRequest()).statuses
    assert [status.ref for status in statuses] == []  # the bad ingest was aborted, not left to resume
    assert client.list_images() == []


@one_runtime
def test_push_then_skopeo_reads_it(pycontainerd, registry, busybox_image):
    pull(pycontainerd.channel, NAMESPACE, f"{registry.host}/library/busybox", unpack=False)
    client = client_of(pycontainerd)
    pushed_name = f"{registry.host}/pydocker-test/pushed-from-content:v2"
    client.put_image(pushed_name, Descriptor.from_json({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": busybox_image.manifest_digest,
        "size": busybox_image.blob_path(busybox_image.manifest_digest).stat().st_size}))
    events: list[Progress] = []
    push(pycontainerd.channel, NAMESPACE, pushed_name, progress=events.append)
    assert {event.action for event in events} >= {"Preparing", "Layer already exists"} or \
        {event.action for event in events} >= {"Preparing", "Pushed"}
    inspected = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--no-creds", f"docker://{pushed_name}"],
                               capture_output=True, text=True, check=True)
    assert json.loads(inspected.stdout)["Digest"] == busybox_image.manifest_digest


@one_runtime
def test_import_of_a_docker_archive_makes_a_schema2_image(pycontainerd, busybox_docker_archive, busybox_image):
    with busybox_docker_archive.open("rb") as source:
        images = archive.import_archive(pycontainerd.channel, NAMESPACE, source, unpack=False)
    assert [image.name for image in images] == ["docker.io/library/busybox:latest"]
    client = client_of(pycontainerd)
    manifest = json.loads(client.read_blob(images[0].target.digest))
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest["config"]["digest"] == busybox_image.config_digest
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/vnd.docker.image.rootfs.diff.tar"]
    assert manifest["layers"][0]["digest"] == busybox_image.diff_ids[0]  # an uncompressed layer is its own diff


@one_runtime
def test_export_is_read_by_skopeo_and_imported_back(pycontainerd, registry, busybox_image, tmp_path):
    pull(pycontainerd.channel, NAMESPACE, f"{registry.host}/library/busybox", unpack=False)
    exported = tmp_path / "busybox.tar"
    with exported.open("wb") as out:
        archive.export_archive(pycontainerd.channel, NAMESPACE, [f"{registry.host}/library/busybox"], out)
    # skopeo's docker-archive reader names layers by their uncompressed digests, as docker load does.
    for transport, layers in (("oci-archive", busybox_image.layer_digests), ("docker-archive", busybox_image.diff_ids)):
        inspected = subprocess.run(["skopeo", "inspect", f"{transport}:{exported}"], capture_output=True, text=True)
        assert inspected.returncode == 0, inspected.stderr
        assert json.loads(inspected.stdout)["Layers"] == list(layers)

    client = client_of(pycontainerd)
    client.delete_image(f"{registry.host}/library/busybox:latest", sync=True)
    with exported.open("rb") as source:
        images = archive.import_archive(pycontainerd.channel, NAMESPACE, source, unpack=False)
    assert [(image.name, image.target.digest) for image in images] == [
        (f"{registry.host}/library/busybox:latest", busybox_image.manifest_digest)]


# unpacking


def snapshot_info(daemon, key: str):
    client = client_of(daemon)
    return client.call(client.snapshots.Stat, snapshots_pb2.StatSnapshotRequest(snapshotter="overlayfs", key=key)).info


def test_pull_unpacks_into_snapshots_by_chain_id_and_a_container_runs_on_them(pycontainerd, registry, layered_image):
    events: list[Progress] = []
    pulled = pull(pycontainerd.channel, NAMESPACE, f"{registry.host}/library/layered", progress=events.append)
    chain = chain_ids(layered_image.diff_ids)
    assert pulled.chain_id == chain[-1]
    for parent, chain_id in zip(["", *chain], chain):
        info = snapshot_info(pycontainerd, chain_id)
        assert (info.kind, info.parent) == (snapshots_pb2.COMMITTED, parent)
    assert labels_of(pycontainerd, layered_image.config_digest)["containerd.io/gc.ref.snapshot.overlayfs"] == chain[-1]
    for layer, diff_id in zip(layered_image.layer_digests, layered_image.diff_ids):
        assert labels_of(pycontainerd, layer)["containerd.io/uncompressed"] == diff_id
    assert [e.action for e in events if e.id == layered_image.layer_digests[2][7:19]][-2:] == ["Extracting", PULL_COMPLETE]
    client = client_of(pycontainerd)
    extraction_left = [info.name for response in client.snapshots.List(
        snapshots_pb2.ListSnapshotsRequest(snapshotter="overlayfs"), metadata=client.metadata)
        for info in response.info if info.kind != snapshots_pb2.COMMITTED]
    assert extraction_left == []

    # A container's rootfs: an active snapshot on the image's top chain ID, leased as `ctr run` does
    # (nothing else refers to it, and the collector the pull's lease release woke would take it).
    container = pycontainerd.create_container("sh", "-c", LAYERED_PROBE)
    with client.lease() as leased:
        mounts = leased.call(leased.snapshots.Prepare, snapshots_pb2.PrepareSnapshotRequest(
            snapshotter="overlayfs", key=container.id, parent=pulled.chain_id)).mounts
        container.stdout = pycontainerd.fifo(f"{container.id}-stdout")
        pycontainerd.tasks("Create", tasks_pb2.CreateTaskRequest(
            container_id=container.id, rootfs=mounts, stdout=str(container.stdout.path),
            stderr=str(container.stdout.path)))
        pycontainerd.tasks("Start", tasks_pb2.StartRequest(container_id=container.id))
        assert pycontainerd.wait(container.id) == 0
        pycontainerd.delete_task(container.id)
        assert container.stdout.read() == LAYERED_VIEW
        leased.call(leased.snapshots.Remove, snapshots_pb2.RemoveSnapshotRequest(snapshotter="overlayfs",
                                                                                 key=container.id))

    again: list[Progress] = []
    pull(pycontainerd.channel, NAMESPACE, f"{registry.host}/library/layered", progress=again.append)
    assert {(e.id, e.action) for e in again if e.action not in ("Resolving", "Waiting")} == {
        (digest[7:19], ALREADY_EXISTS) for digest in layered_image.layer_digests}


@one_runtime
def test_content_without_snapshots_is_extracted_again(pycontainerd, registry, busybox_image):
    pull(pycontainerd.channel, NAMESPACE, f"{registry.host}/library/busybox", unpack=False)
    events: list[Progress] = []
    pulled = pull(pycontainerd.channel, NAMESPACE, f"{registry.host}/library/busybox", progress=events.append)
    layer_id = busybox_image.layer_digests[0][7:19]
    assert [e.action for e in events if e.id == layer_id] == ["Waiting", ALREADY_EXISTS, "Extracting", PULL_COMPLETE]
    assert snapshot_info(pycontainerd, pulled.chain_id).kind == snapshots_pb2.COMMITTED


@one_runtime
def test_import_unpacks_the_docker_archive(pycontainerd, busybox_docker_archive, busybox_image):
    with busybox_docker_archive.open("rb") as source:
        archive.import_archive(pycontainerd.channel, NAMESPACE, source)
    assert snapshot_info(pycontainerd, busybox_image.diff_ids[0]).kind == snapshots_pb2.COMMITTED
    assert labels_of(pycontainerd, busybox_image.config_digest)["containerd.io/gc.ref.snapshot.overlayfs"] == \
        busybox_image.diff_ids[0]

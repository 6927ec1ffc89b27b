"""The swap that matters for images: the real ctr (containerd 1.6's Go client) pulls from a real
registry into pycontainerd, runs the image through our shim and pyrunc, and sees the same
images, content and snapshots our API reports; removing the image frees the disk."""
import secrets
import subprocess

import pytest

from protos import content_pb2, images_pb2, snapshots_pb2
from tests.fixtures.images import LAYERED_PROBE, LAYERED_VIEW, chain_ids
from tests.fixtures.pycontainerd import NAMESPACE, OUR_RUNTIME

pytestmark = [pytest.mark.root, pytest.mark.interop,
              pytest.mark.parametrize("pycontainerd", [OUR_RUNTIME], indirect=True, ids=["pyshim"])]

SNAPSHOT_KINDS = {snapshots_pb2.ACTIVE: "Active", snapshots_pb2.COMMITTED: "Committed", snapshots_pb2.VIEW: "View"}


def ctr(pycontainerd, *args: str) -> str:
    done = subprocess.run(["ctr", "--address", str(pycontainerd.address), "--namespace", NAMESPACE, *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"ctr {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done.stdout


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()[1:]]


def ctr_run(pycontainerd, reference: str, *command: str) -> str:
    """`ctr run --rm` of reference with our runtime, in the test session's cgroup parent."""
    container_id = f"ctr-{secrets.token_hex(3)}"
    return ctr(pycontainerd, "run", "--rm", "--runtime", OUR_RUNTIME,
               "--cgroup", f"{pycontainerd.cgroup_parent}/{container_id}", reference, container_id, *command)


def our_images(pycontainerd) -> dict[str, str]:
    listed = pycontainerd.images.List(images_pb2.ListImagesRequest(), metadata=pycontainerd.metadata).images
    return {image.name: image.target.digest for image in listed}


def our_content(pycontainerd) -> set[str]:
    return {info.digest for response in pycontainerd.content.List(content_pb2.ListContentRequest(),
                                                                 metadata=pycontainerd.metadata)
            for info in response.info}


def our_snapshots(pycontainerd) -> set[tuple[str, str, str]]:
    return {(info.name, info.parent or "", SNAPSHOT_KINDS[info.kind])
            for response in pycontainerd.snapshots.List(snapshots_pb2.ListSnapshotsRequest(snapshotter="overlayfs"),
                                                        metadata=pycontainerd.metadata)
            for info in response.info}


def test_ctr_pulls_runs_lists_and_removes_an_image(pycontainerd, registry, layered_image):
    reference = f"{registry.host}/library/layered:latest"
    ctr(pycontainerd, "images", "pull", "--plain-http", reference)

    # ctr images ls: REF TYPE DIGEST SIZE PLATFORMS LABELS
    listed = rows(ctr(pycontainerd, "images", "ls"))
    assert [(row[0], row[2]) for row in listed] == [(reference, layered_image.manifest_digest)]
    assert our_images(pycontainerd) == {reference: layered_image.manifest_digest}
    # ctr content ls: DIGEST SIZE AGE LABELS
    content = {row[0] for row in rows(ctr(pycontainerd, "content", "ls"))}
    assert content == our_content(pycontainerd) == {
        layered_image.manifest_digest, layered_image.config_digest, *layered_image.layer_digests}
    # ctr snapshots ls: KEY PARENT KIND (no parent: no column)
    snapshots = {(row[0], row[1] if len(row) == 3 else "", row[-1]) for row in rows(ctr(pycontainerd, "snapshots", "ls"))}
    chain = chain_ids(layered_image.diff_ids)
    assert snapshots == our_snapshots(pycontainerd) == {
        (chain_id, parent, "Committed") for parent, chain_id in zip(["", *chain], chain)}

    assert ctr_run(pycontainerd, reference, "sh", "-c", LAYERED_PROBE) == LAYERED_VIEW
    assert {kind for _, _, kind in our_snapshots(pycontainerd)} == {"Committed"}  # --rm took the container's away

    content_dir = pycontainerd.root / "io.containerd.content.v1.content" / "blobs" / "sha256"
    assert {f"sha256:{blob.name}" for blob in content_dir.iterdir()} >= content
    ctr(pycontainerd, "images", "rm", "--sync", reference)
    assert rows(ctr(pycontainerd, "images", "ls")) == []
    assert rows(ctr(pycontainerd, "content", "ls")) == []
    assert rows(ctr(pycontainerd, "snapshots", "ls")) == []
    assert list(content_dir.iterdir()) == []
    snapshot_dirs = pycontainerd.root / "io.containerd.snapshotter.v1.overlayfs" / "snapshots"
    assert list(snapshot_dirs.iterdir()) == []


def test_ctr_pulls_the_amd64_image_of_a_manifest_list(pycontainerd, registry, multiarch_index):
    reference = f"{registry.host}/library/multiarch:latest"
    ctr(pycontainerd, "images", "pull", "--plain-http", reference)
    assert our_images(pycontainerd) == {reference: multiarch_index.index_digest}
    assert ctr_run(pycontainerd, reference, "cat", "/arch") == "amd64\n"
    arm64 = multiarch_index.images["arm64"]
    assert arm64.manifest_digest not in our_content(pycontainerd)

"""Unpacking an image's layers into committed snapshots named by their chain IDs.

As containerd's unpacker does (core/unpack/unpacker.go): for each layer in order, a
snapshot named by the layer's chain ID that is already committed is reused; otherwise an
extraction snapshot is prepared on the previous chain ID, the Diff service applies the
layer blob to its mounts, the applied (uncompressed) digest must equal the config's diff ID,
and the snapshot is committed under the chain ID. A failed extraction snapshot is removed.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable

import errdefs
from containerd.client.client import Client, descriptor_proto
from containerd.client.media import Descriptor, chain_ids, short_id
from containerd.client.progress import EXTRACTING, PULL_COMPLETE, Progress, ProgressCallback, ignore
from protos import diff_pb2, snapshots_pb2

SNAPSHOT_REF_LABEL = "containerd.io/snapshot.ref"
UNCOMPRESSED_LABEL = "containerd.io/uncompressed"


def snapshot_gc_label(snapshotter: str) -> str:
    """The config blob's label that keeps the image's top snapshot (and so its parents) alive."""
    return f"containerd.io/gc.ref.snapshot.{snapshotter}"


def committed(client: Client, snapshotter: str, key: str) -> bool:
    try:
        info = client.call(client.snapshots.Stat, snapshots_pb2.StatSnapshotRequest(snapshotter=snapshotter, key=key)).info
    except errdefs.NotFound:
        return False
    return info.kind == snapshots_pb2.COMMITTED


def unpack(client: Client, layers: list[Descriptor], diff_ids: list[str], *, snapshotter: str,
           progress: ProgressCallback = ignore, fetched: Callable[[int], None] = lambda index: None) -> str:
    """Make sure every layer is a committed snapshot; return the top chain ID. fetched(n)
    returns once layer n's blob is in the content store (for layers still downloading)."""
    if len(layers) != len(diff_ids):
        raise errdefs.InvalidArgument(
            f"image has {len(layers)} layers but its config lists {len(diff_ids)} diff IDs")
    parent = ""
    for index, (layer, diff_id, chain_id) in enumerate(zip(layers, diff_ids, chain_ids(diff_ids))):
        fetched(index)
        if not committed(client, snapshotter, chain_id):
            progress(Progress(short_id(layer.digest), EXTRACTING, 0, layer.size))
            _apply(client, layer, diff_id, chain_id, parent, snapshotter)
            progress(Progress(short_id(layer.digest), PULL_COMPLETE))
        client.set_content_labels(layer.digest, {UNCOMPRESSED_LABEL: diff_id})
        parent = chain_id
    return parent


def _apply(client: Client, layer: Descriptor, diff_id: str, chain_id: str, parent: str, snapshotter: str) -> None:
    key = f"extract-{secrets.token_hex(6)} {chain_id}"
    mounts = client.call(client.snapshots.Prepare, snapshots_pb2.PrepareSnapshotRequest(
        snapshotter=snapshotter, key=key, parent=parent, labels={SNAPSHOT_REF_LABEL: chain_id})).mounts
    try:
        applied = client.call(client.diff.Apply, diff_pb2.ApplyRequest(diff=descriptor_proto(layer), mounts=mounts),
                              timeout=None).applied
        if applied.digest != diff_id:
            raise errdefs.FailedPrecondition(
                f"failed to extract layer {layer.digest}: its content has diff ID {applied.digest}, "
                f"but the image config says {diff_id}")
        client.call(client.snapshots.Commit, snapshots_pb2.CommitSnapshotRequest(
            snapshotter=snapshotter, name=chain_id, key=key))
    except errdefs.AlreadyExists:
        _remove(client, snapshotter, key)  # another pull committed the same layer meanwhile: theirs serves
    except BaseException:
        _remove(client, snapshotter, key)
        raise


def _remove(client: Client, snapshotter: str, key: str) -> None:
    try:
        client.call(client.snapshots.Remove, snapshots_pb2.RemoveSnapshotRequest(snapshotter=snapshotter, key=key))
    except errdefs.NotFound:
        pass

"""Pushing an image from pycontainerd's content store to a registry (containerd's client/push.go,
core/remotes/handlers.go): children before parents, so a registry never sees a manifest whose
blobs it lacks; blobs the registry already has are not sent again."""
from __future__ import annotations

from collections.abc import Iterable

import grpc

import errdefs
from containerd.client.auth import Credentials
from containerd.client.client import Client, descriptor_of
from containerd.client.media import INDEXES, MANIFESTS, Descriptor, Manifest, index_manifests, short_id
from containerd.client.progress import (
    LAYER_ALREADY_EXISTS, PREPARING, PUSHED, PUSHING, Progress, ProgressCallback, ignore,
)
from containerd.client.pull import DISTRIBUTION_SOURCE
from containerd.client.reference import parse
from containerd.client.registry import Registry


def push(channel: grpc.Channel, namespace: str, reference: str, *, insecure: Iterable[str] = (),
         credentials: Credentials | None = None, progress: ProgressCallback = ignore,
         chunked: bool = False) -> Descriptor:
    """Push the image record named reference (normalised: `busybox` is docker.io/library/busybox:latest)
    to its registry; return the descriptor pushed under its tag."""
    ref = parse(reference)
    client = Client(channel, namespace)
    target = descriptor_of(client.get_image(str(ref)).target)
    with Registry(ref, insecure=insecure, credentials=credentials, push=True) as registry:
        _push(client, registry, target, ref.tag, progress, chunked)
        return target


def _push(client: Client, registry: Registry, descriptor: Descriptor, tag: str, progress: ProgressCallback,
          chunked: bool) -> None:
    data = _read(client, descriptor)
    if descriptor.media_type in INDEXES:
        for child in index_manifests(data):
            _push(client, registry, child, "", progress, chunked)
    elif descriptor.media_type in MANIFESTS:
        manifest = Manifest.parse(data)
        for blob in (*manifest.layers, manifest.config):
            _push_blob(client, registry, blob, progress, chunked)
    else:
        raise errdefs.InvalidArgument(f"cannot push {descriptor.digest}: {descriptor.media_type!r} is not a manifest or index")
    registry.push_manifest(descriptor, data, tag)


def _read(client: Client, descriptor: Descriptor) -> bytes:
    try:
        return client.read_blob(descriptor.digest)
    except errdefs.NotFound:
        raise errdefs.NotFound(
            f"content {descriptor.digest} of the image is not in the content store (pulled for another platform?)"
        ) from None


def _push_blob(client: Client, registry: Registry, blob: Descriptor, progress: ProgressCallback,
               chunked: bool) -> None:
    blob_id = short_id(blob.digest)
    progress(Progress(blob_id, PREPARING))
    if registry.blob_exists(blob.digest):
        progress(Progress(blob_id, LAYER_ALREADY_EXISTS))
    else:
        progress(Progress(blob_id, PUSHING, 0, blob.size))
        registry.push_blob(blob, client.read_content(blob.digest), chunked=chunked)
        progress(Progress(blob_id, PUSHED))
    # The label lists every repository the blob is known in, so a later push can skip the upload.
    ref = registry.reference
    key = f"{DISTRIBUTION_SOURCE}.{ref.domain}"
    info = client.content_info(blob.digest)
    known = set(filter(None, (info.labels.get(key, "") if info else "").split(",")))
    client.set_content_labels(blob.digest, {key: ",".join(sorted(known | {ref.path}))})

"""Pulling an image from a registry into pycontainerd, as containerd's Go client does (client/pull.go).

Everything is written under a lease, so the garbage collector leaves the half-pulled image
alone: the index or manifest is resolved and the one for the wanted platform chosen; the
layers are downloaded in parallel into the Content service (resuming earlier partial
ingests) and unpacked into snapshots, bottom up, each as soon as it is in; the config, the
manifest and any index follow, labelled with the gc references that keep their children
alive once the lease is gone (`containerd.io/gc.ref.content.*`) and with where they came
from (`containerd.io/distribution.source.<host>`); the image record points at the top
descriptor; and a label on the config keeps the top snapshot alive
(`containerd.io/gc.ref.snapshot.<snapshotter>`).
"""
from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc

import errdefs
from containerd.client.auth import Credentials
from containerd.client.client import Client
from containerd.client.content import ingest_ref, write_blob, write_bytes
from containerd.client.media import (
    INDEXES, Descriptor, Manifest, Platform, diff_ids, index_manifests, select_platform, short_id,
)
from containerd.client.progress import (
    ALREADY_EXISTS, DOWNLOAD_COMPLETE, DOWNLOADING, RESOLVING, VERIFYING, WAITING, Progress, ProgressCallback,
    ignore,
)
from containerd.client.reference import Reference, parse
from containerd.client.registry import Registry
from containerd.client.unpack import snapshot_gc_label, unpack as unpack_layers

GC_REF_CONTENT = "containerd.io/gc.ref.content"
DISTRIBUTION_SOURCE = "containerd.io/distribution.source"


@dataclass(frozen=True)
class PulledImage:
    name: str  # the image record's name: the normalised reference, "docker.io/library/busybox:latest"
    target: Descriptor  # what the reference resolved to: an index or a manifest
    manifest: Descriptor  # the manifest for the platform
    config: Descriptor
    chain_id: str  # of the top layer; its snapshot exists if the pull unpacked
    updated: bool  # the record is new or now points elsewhere ("Downloaded newer image" vs "Image is up to date")


def pull(channel: grpc.Channel, namespace: str, reference: str, *, platform: str = "linux/amd64",
         mirrors: Iterable[str] = (), insecure: Iterable[str] = (), credentials: Credentials | None = None,
         progress: ProgressCallback = ignore, unpack: bool = True, snapshotter: str = "overlayfs",
         max_concurrent_downloads: int = 3) -> PulledImage:
    """Pull reference into namespace; progress is called from several threads at once."""
    ref = parse(reference)
    wanted = Platform.parse(platform)
    client = Client(channel, namespace)
    with Registry(ref, mirrors=mirrors, insecure=insecure, credentials=credentials) as registry, \
            client.lease() as leased:
        progress(Progress(ref.object, RESOLVING))
        target = registry.resolve()
        source = {f"{DISTRIBUTION_SOURCE}.{ref.domain}": ref.path}

        indexes: list[tuple[Descriptor, bytes, Descriptor]] = []  # (index, its bytes, the entry chosen)
        descriptor = target
        while descriptor.media_type in INDEXES:
            data = registry.fetch_manifest(descriptor)
            chosen = select_platform(index_manifests(data), wanted, ref.familiar)
            indexes.append((descriptor, data, chosen))
            descriptor = chosen
        manifest_data = registry.fetch_manifest(descriptor)
        manifest = Manifest.parse(manifest_data)
        config_data = registry.fetch_blob(manifest.config)
        layer_diff_ids = diff_ids(config_data)

        chain_id = ""
        with _LayerDownloads(leased, registry, manifest.layers, source, progress, max_concurrent_downloads) as layers:
            if unpack:
                # Each layer is unpacked as soon as it and those below it are in: extraction
                # overlaps the downloads still running, as containerd's unpacker does.
                chain_id = unpack_layers(leased, list(manifest.layers), layer_diff_ids, snapshotter=snapshotter,
                                         progress=progress, fetched=layers.wait_for)
            layers.wait_for_all()
        write_bytes(leased, ingest_ref(manifest.config, "config"), manifest.config, config_data, labels=source)
        write_bytes(leased, ingest_ref(descriptor, "manifest"), descriptor, manifest_data,
                    labels={**source, **manifest_gc_labels(manifest)})
        for index, data, chosen in reversed(indexes):
            write_bytes(leased, ingest_ref(index, "index"), index, data,
                        labels={**source, f"{GC_REF_CONTENT}.m.0": chosen.digest})

        updated = _put_image(leased, ref, target)
        if unpack:
            leased.set_content_labels(manifest.config.digest, {snapshot_gc_label(snapshotter): chain_id})
    return PulledImage(str(ref), target, descriptor, manifest.config, chain_id, updated)


def manifest_gc_labels(manifest: Manifest) -> dict[str, str]:
    """The labels by which a manifest blob keeps its config and layers from the garbage collector."""
    labels = {f"{GC_REF_CONTENT}.config": manifest.config.digest}
    labels.update({f"{GC_REF_CONTENT}.l.{i}": layer.digest for i, layer in enumerate(manifest.layers)})
    return labels


def _put_image(client: Client, ref: Reference, target: Descriptor) -> bool:
    try:
        updated = client.get_image(str(ref)).target.digest != target.digest
    except errdefs.NotFound:
        updated = True
    client.put_image(str(ref), target)
    return updated


class _LayerDownloads:
    """The layers downloading in parallel, at most `parallel` at once; leaving the block
    cancels those not started and waits for the others."""

    def __init__(self, client: Client, registry: Registry, layers: tuple[Descriptor, ...], source: dict[str, str],
                 progress: ProgressCallback, parallel: int):
        for layer in layers:
            progress(Progress(short_id(layer.digest), WAITING))
        self._pool = ThreadPoolExecutor(max(1, parallel), thread_name_prefix="pull-layer")
        self._futures = [self._pool.submit(_download_layer, client, registry, layer, source, progress)
                         for layer in layers]

    def wait_for(self, index: int) -> None:
        """Return once layer index is in the content store; raise what its download raised."""
        self._futures[index].result()

    def wait_for_all(self) -> None:
        for index in range(len(self._futures)):
            self.wait_for(index)

    def __enter__(self) -> _LayerDownloads:
        return self

    def __exit__(self, *exc_info) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _download_layer(client: Client, registry: Registry, layer: Descriptor, source: dict[str, str],
                    progress: ProgressCallback) -> None:
    layer_id = short_id(layer.digest)
    if client.content_info(layer.digest) is not None:
        client.set_content_labels(layer.digest, source)
        progress(Progress(layer_id, ALREADY_EXISTS))
        return

    def downloaded(offset: int) -> None:
        progress(Progress(layer_id, DOWNLOADING, offset, layer.size))

    write_blob(client, ingest_ref(layer, "layer"), layer, lambda offset: registry.open_blob(layer, offset),
               labels=source, progress=downloaded)
    progress(Progress(layer_id, VERIFYING))
    progress(Progress(layer_id, DOWNLOAD_COMPLETE))

"""Image archives: `docker save` tarballs and OCI layout tarballs, in and out of pycontainerd.

Import follows containerd's importer (core/images/archive/importer.go): an archive with
index.json is an OCI layout, whose blobs go into the content store as they are; one with only
manifest.json is a docker archive, whose uncompressed layer tars are stored as
`application/vnd.docker.image.rootfs.diff.tar` layers under a schema2 manifest made here.
Image names come from `io.containerd.image.name` annotations, else from manifest.json's
RepoTags; an image without a name is stored but gets no record.

Export (exporter.go) writes an OCI layout holding every blob of the images, plus a docker
manifest.json naming each image's platform manifest's config and layers by their blob paths,
as `docker save` does since Docker 25, so `docker load` and skopeo's `oci-archive:` and
`docker-archive:` all read it.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import BinaryIO

import grpc

import errdefs
from containerd.client.client import Client, descriptor_of
from containerd.client.content import ingest_ref, write_blob, write_bytes
from containerd.client.media import (
    DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, INDEXES, MANIFESTS, OCI_INDEX, OCI_LAYER_ZSTD,
    REF_NAME_ANNOTATION, Descriptor, Manifest, Platform, diff_ids, index_manifests, load_json, select_platform,
)
from containerd.client.pull import GC_REF_CONTENT, manifest_gc_labels
from containerd.client.reference import parse
from containerd.client.unpack import snapshot_gc_label, unpack as unpack_layers

IMAGE_NAME_ANNOTATION = "io.containerd.image.name"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class ImportedImage:
    name: str  # normalised: "docker.io/library/busybox:latest"
    target: Descriptor


# import


def import_archive(channel: grpc.Channel, namespace: str, archive: BinaryIO, *, platform: str = "linux/amd64",
                   unpack: bool = True, snapshotter: str = "overlayfs") -> list[ImportedImage]:
    """Load a docker-archive or OCI layout tar (seekable) into namespace; return the images named in it."""
    wanted = Platform.parse(platform)
    client = Client(channel, namespace)
    try:
        tar = tarfile.open(fileobj=archive, mode="r:")
    except tarfile.TarError as exc:
        raise errdefs.InvalidArgument(f"not a tar archive: {exc}") from None
    with tar, client.lease() as leased:
        members = {member.name.removeprefix("./"): member for member in tar.getmembers() if member.isfile()}
        if "index.json" in members:
            images = _import_oci(leased, tar, members)
        elif "manifest.json" in members:
            images = _import_docker(leased, tar, members)
        else:
            raise errdefs.InvalidArgument("unrecognised image archive: neither index.json nor manifest.json in it")
        for image in images:
            leased.put_image(image.name, image.target)
            if unpack:
                _unpack(leased, image.target, wanted, snapshotter)
    return images


def _read_member(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str) -> bytes:
    member = members.get(name.removeprefix("./"))
    if member is None:
        raise errdefs.InvalidArgument(f"image archive lacks {name}")
    return tar.extractfile(member).read()


def _store_member(client: Client, tar: tarfile.TarFile, member: tarfile.TarInfo, descriptor: Descriptor,
                  kind: str, labels: dict[str, str] | None = None) -> None:
    """Stream one tar member into the content store, checked against descriptor on commit."""

    def open_from(offset: int):
        source = tar.extractfile(member)
        source.seek(offset)
        return nullcontext(iter(lambda: source.read(1 << 20), b""))

    write_blob(client, ingest_ref(descriptor, kind), descriptor, open_from, labels=labels)


def _import_oci(client: Client, tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> list[ImportedImage]:
    index = load_json(_read_member(tar, members, "index.json"), "index.json")
    entries = [Descriptor.from_json(entry) for entry in index.get("manifests") or ()]
    repo_tags = _docker_repo_tags(tar, members)
    # Blobs go in leaves first: a manifest's gc labels then point at content that is there.
    stored: set[str] = set()
    for entry in entries:
        _store_tree(client, tar, members, entry, stored)
    images = []
    for entry in entries:
        names = [entry.annotations[IMAGE_NAME_ANNOTATION]] if IMAGE_NAME_ANNOTATION in entry.annotations else []
        names = names or repo_tags.get(_config_digest(client, entry), [])
        for name in names:
            images.append(ImportedImage(str(parse(name)), entry))
    return images


def _store_tree(client: Client, tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], descriptor: Descriptor,
                stored: set[str]) -> None:
    if descriptor.digest in stored:
        return
    path = path_of(descriptor)
    labels: dict[str, str] = {}
    if descriptor.media_type in INDEXES or descriptor.media_type in MANIFESTS:
        data = _read_member(tar, members, path)
        if descriptor.media_type in INDEXES:
            children = [c for c in index_manifests(data) if path_of(c) in members]
            labels = {f"{GC_REF_CONTENT}.m.{i}": child.digest for i, child in enumerate(children)}
        else:
            manifest = Manifest.parse(data)
            children = [manifest.config, *manifest.layers]
            labels = manifest_gc_labels(manifest)
        for child in children:
            _store_tree(client, tar, members, child, stored)
    if path not in members:
        raise errdefs.InvalidArgument(f"image archive lacks blob {descriptor.digest}")
    _store_member(client, tar, members[path], descriptor, "import", labels)
    stored.add(descriptor.digest)


def path_of(descriptor: Descriptor) -> str:
    """A blob's path inside an OCI layout."""
    return "blobs/" + descriptor.digest.replace(":", "/")


def _docker_repo_tags(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> dict[str, list[str]]:
    """RepoTags of manifest.json, by config digest, for archives that carry both formats."""
    if "manifest.json" not in members:
        return {}
    found = {}
    for entry in _docker_manifest(tar, members):
        config = entry.get("Config", "")
        found["sha256:" + config.rsplit("/", 1)[-1].removesuffix(".json")] = list(entry.get("RepoTags") or ())
    return found


def _config_digest(client: Client, descriptor: Descriptor) -> str:
    if descriptor.media_type not in MANIFESTS:
        return ""
    return Manifest.parse(client.read_blob(descriptor.digest)).config.digest


def _docker_manifest(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> list[dict]:
    try:
        entries = json.loads(_read_member(tar, members, "manifest.json"))
    except ValueError as exc:
        raise errdefs.InvalidArgument(f"manifest.json is not valid JSON: {exc}") from None
    if not isinstance(entries, list):
        raise errdefs.InvalidArgument("manifest.json is not a list of images")
    return entries


def _import_docker(client: Client, tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> list[ImportedImage]:
    images = []
    for entry in _docker_manifest(tar, members):
        config_data = _read_member(tar, members, entry.get("Config", ""))
        config = Descriptor.of(DOCKER_CONFIG, config_data)
        layers = []
        for layer_path in entry.get("Layers") or ():
            member = members.get(layer_path.removeprefix("./"))
            if member is None:
                raise errdefs.InvalidArgument(f"image archive lacks layer {layer_path}")
            layer = _layer_descriptor(tar, member)
            _store_member(client, tar, member, layer, "import")
            layers.append(layer)
        if len(layers) != len(diff_ids(config_data)):
            raise errdefs.InvalidArgument(
                f"image archive entry {entry.get('Config')} has {len(layers)} layers but its config lists "
                f"{len(diff_ids(config_data))}")
        write_bytes(client, ingest_ref(config, "import"), config, config_data)
        manifest = Manifest(config, tuple(layers))
        manifest_data = json.dumps({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": config.to_json(),
            "layers": [layer.to_json() for layer in layers],
        }, separators=(",", ":")).encode()
        target = Descriptor.of(DOCKER_MANIFEST, manifest_data)
        write_bytes(client, ingest_ref(target, "import"), target, manifest_data, labels=manifest_gc_labels(manifest))
        images.extend(ImportedImage(str(parse(tag)), target) for tag in entry.get("RepoTags") or ())
    return images


def _layer_descriptor(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Descriptor:
    """A layer's descriptor, its media type from its first bytes: docker archives hold plain
    tars, but `docker save` has written compressed ones too."""
    hasher = hashlib.sha256()
    source = tar.extractfile(member)
    head = source.read(4)
    hasher.update(head)
    for chunk in iter(lambda: source.read(1 << 20), b""):
        hasher.update(chunk)
    media_type = (DOCKER_LAYER_GZIP if head.startswith(_GZIP_MAGIC) else
                  OCI_LAYER_ZSTD if head.startswith(_ZSTD_MAGIC) else DOCKER_LAYER)
    return Descriptor(media_type, "sha256:" + hasher.hexdigest(), member.size)


def _unpack(client: Client, target: Descriptor, platform: Platform, snapshotter: str) -> None:
    manifest_descriptor = _platform_manifest(client, target, platform)
    manifest = Manifest.parse(client.read_blob(manifest_descriptor.digest))
    chain_id = unpack_layers(client, list(manifest.layers), diff_ids(client.read_blob(manifest.config.digest)),
                             snapshotter=snapshotter)
    client.set_content_labels(manifest.config.digest, {snapshot_gc_label(snapshotter): chain_id})


def _platform_manifest(client: Client, descriptor: Descriptor, platform: Platform) -> Descriptor:
    while descriptor.media_type in INDEXES:
        present = [m for m in index_manifests(client.read_blob(descriptor.digest))
                   if client.content_info(m.digest) is not None]
        descriptor = select_platform(present, platform, descriptor.digest)
    return descriptor


# export


def export_archive(channel: grpc.Channel, namespace: str, names: Iterable[str], out: BinaryIO, *,
                   platform: str = "linux/amd64") -> None:
    """Write the named images (references, normalised as `docker save` does) as one tar to out."""
    wanted = Platform.parse(platform)
    client = Client(channel, namespace)
    index_entries, docker_entries, blobs = [], [], {}
    for name in names:
        ref = parse(name)
        target = descriptor_of(client.get_image(str(ref)).target)
        annotations = {IMAGE_NAME_ANNOTATION: str(ref), **({REF_NAME_ANNOTATION: ref.tag} if ref.tag else {})}
        index_entries.append(Descriptor(target.media_type, target.digest, target.size, annotations).to_json())
        _collect(client, target, blobs)
        manifest = Manifest.parse(client.read_blob(_platform_manifest(client, target, wanted).digest))
        docker_entries.append({
            "Config": path_of(manifest.config),
            "RepoTags": [ref.familiar] if ref.tag else [],
            "Layers": [path_of(layer) for layer in manifest.layers],
        })
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        for directory in ("blobs", "blobs/sha256"):
            tar.addfile(_info(directory, tarfile.DIRTYPE, 0))
        for descriptor in blobs.values():
            tar.addfile(_info(path_of(descriptor), tarfile.REGTYPE, descriptor.size),
                        _ChunkReader(client.read_content(descriptor.digest)))
        _add(tar, "index.json", json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index_entries}).encode())
        _add(tar, "manifest.json", json.dumps(docker_entries).encode())


def _collect(client: Client, descriptor: Descriptor, blobs: dict[str, Descriptor]) -> None:
    """descriptor and, recursively, its children that are in the content store (an index may
    list platforms never pulled)."""
    if descriptor.digest in blobs:
        return
    blobs[descriptor.digest] = descriptor
    if descriptor.media_type in INDEXES:
        children = [m for m in index_manifests(client.read_blob(descriptor.digest))
                    if client.content_info(m.digest) is not None]
    elif descriptor.media_type in MANIFESTS:
        manifest = Manifest.parse(client.read_blob(descriptor.digest))
        children = [manifest.config, *manifest.layers]
    else:
        return
    for child in children:
        _collect(client, child, blobs)


def _info(name: str, kind: bytes, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, tarfile.REGTYPE, len(data)), io.BytesIO(data))


class _ChunkReader(io.RawIOBase):
    """A file over an iterator of chunks, for tarfile to copy a blob without holding it whole."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

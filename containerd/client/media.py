"""Descriptors and the image media types: what a manifest, an index and a layer look like.

Docker's schema2 types and their OCI counterparts are handled alike, as containerd's
images package does (core/images/mediatypes.go): a manifest list is an index, a
`rootfs.diff.tar.gzip` layer is a `tar+gzip` layer.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import errdefs

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"

MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
# Accepted for a manifest request, most specific first, as containerd's resolver sends them.
MANIFEST_ACCEPT = ", ".join((*MANIFESTS, *INDEXES, "*/*"))

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def short_id(digest: str) -> str:
    """The 12 hex digits Docker shows for a layer or image."""
    return digest.partition(":")[2][:12]


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise errdefs.InvalidArgument(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(*parts)

    def matches(self, platform: dict) -> bool:
        if (platform.get("os"), platform.get("architecture")) != (self.os, self.architecture):
            return False
        return not self.variant or platform.get("variant", "") == self.variant

    def __str__(self) -> str:
        return "/".join(filter(None, (self.os, self.architecture, self.variant)))


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict, compare=False)
    platform: dict | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, value: dict) -> Descriptor:
        try:
            return cls(value.get("mediaType", ""), value["digest"], int(value["size"]),
                       dict(value.get("annotations") or {}), value.get("platform"))
        except (KeyError, TypeError, ValueError) as exc:
            raise errdefs.InvalidArgument(f"invalid descriptor {value!r}: {exc}") from None

    def to_json(self) -> dict:
        value = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            value["annotations"] = self.annotations
        if self.platform:
            value["platform"] = self.platform
        return value

    @classmethod
    def of(cls, media_type: str, data: bytes) -> Descriptor:
        return cls(media_type, sha256_digest(data), len(data))


def load_json(data: bytes, what: str) -> dict:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise errdefs.InvalidArgument(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise errdefs.InvalidArgument(f"{what} is not a JSON object")
    return value


def media_type_of(data: bytes, declared: str) -> str:
    """A manifest's media type: the registry's Content-Type may be vague, the document's own field is not."""
    if declared in (*MANIFESTS, *INDEXES):
        return declared
    value = load_json(data, "manifest")
    if value.get("mediaType"):
        return value["mediaType"]
    # An OCI document may omit mediaType: the shape tells an index from a manifest.
    return OCI_INDEX if "manifests" in value else OCI_MANIFEST


@dataclass(frozen=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        value = load_json(data, "manifest")
        if "config" not in value:
            raise errdefs.InvalidArgument("manifest has no config: not an image manifest")
        return cls(Descriptor.from_json(value["config"]),
                   tuple(Descriptor.from_json(layer) for layer in value.get("layers") or ()))


def index_manifests(data: bytes) -> list[Descriptor]:
    return [Descriptor.from_json(m) for m in load_json(data, "index").get("manifests") or ()]


def select_platform(manifests: list[Descriptor], platform: Platform, reference: str) -> Descriptor:
    """The index entry for platform; an entry without a platform matches only a one-entry index."""
    candidates = [m for m in manifests if m.media_type in (*MANIFESTS, *INDEXES) or not m.media_type]
    for manifest in candidates:
        if manifest.platform and platform.matches(manifest.platform):
            return manifest
    if len(candidates) == 1 and not candidates[0].platform:
        return candidates[0]
    raise errdefs.NotFound(f"no match for platform in manifest: image {reference} has no {platform} variant: not found")


def diff_ids(config: bytes) -> list[str]:
    try:
        return list(load_json(config, "image config")["rootfs"]["diff_ids"])
    except (KeyError, TypeError):
        raise errdefs.InvalidArgument("image config has no rootfs.diff_ids") from None


def chain_ids(diff_id_list: list[str]) -> list[str]:
    """The OCI ChainID of each layer: chainID(n) = sha256(chainID(n-1) + " " + diffID(n))."""
    chain: list[str] = []
    for diff_id in diff_id_list:
        chain.append(sha256_digest(f"{chain[-1]} {diff_id}".encode()) if chain else diff_id)
    return chain

"""The differ plugin (containerd's plugins/diff/walking, with core/diff/apply): layers read
from and written to the content store, snapshots given as the mounts a snapshotter returns.

The daemon never mounts anything here. Applying needs a writable directory: an overlay
mount's upperdir (its lowerdirs say what lies below), or a bind mount's source. Computing
needs the changes readable without a merged view: an overlay upperdir whose lowerdirs are
the left side's layers, or two plain directories. Other mounts would need a temporary
mount and are not implemented.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import errdefs

from ..content.store import ContentStore
from ..core.metadata import Descriptor
from ..snapshots import Mount
from .apply import apply
from .compression import OCI_LAYER, OCI_LAYER_GZIP, Verifying, compression
from .compute import compute

UNCOMPRESSED_LABEL = "containerd.io/uncompressed"


class _Pieces:
    """A reader over the store's (offset, data) pieces of a blob."""

    def __init__(self, pieces: Iterator[tuple[int, bytes]]):
        self._pieces = pieces
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        if not self._buffer:
            self._buffer = next(self._pieces, (0, b""))[1]
        size = len(self._buffer) if size < 0 else size
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class _ContentSink:
    """A writer into a content write, from its start."""

    def __init__(self, writer):
        self._writer = writer
        self.size = 0

    def write(self, data) -> int:
        self._writer.write(bytes(data), self.size)
        self.size += len(data)
        return len(data)


def _is_bind(mount: Mount) -> bool:
    return mount.type == "bind" or "bind" in mount.options or "rbind" in mount.options


def _apply_target(mounts: list[Mount]) -> tuple[str, list[str] | None]:
    if len(mounts) == 1 and mounts[0].type == "overlay" and mounts[0].option("upperdir"):
        lowerdir = mounts[0].option("lowerdir")
        return mounts[0].option("upperdir"), lowerdir.split(":") if lowerdir else []
    if len(mounts) == 1 and _is_bind(mounts[0]) and "ro" not in mounts[0].options:
        return mounts[0].source, None
    raise errdefs.NotImplemented(
        f"applying onto {[m.type for m in mounts]} would need a temporary mount: not implemented")


def _layers(mounts: list[Mount]) -> list[str] | None:
    """The directories a read-only side is made of, nearest first; None if it is not that."""
    if not mounts:
        return []
    if len(mounts) == 1 and _is_bind(mounts[0]):
        return [os.path.realpath(mounts[0].source)]
    if len(mounts) == 1 and mounts[0].type == "overlay" and not mounts[0].option("upperdir"):
        return [os.path.realpath(lower) for lower in mounts[0].option("lowerdir").split(":")]
    return None


class WalkingDiffer:
    def __init__(self, content: ContentStore):
        self._content = content

    def apply(self, namespace: str, layer: Descriptor, mounts: list[Mount]) -> Descriptor:
        """Apply the layer blob onto the mounts' tree; the blob is checked against its digest
        as it is read (on a mismatch, the caller removes the snapshot it was applied to)."""
        compression(layer.media_type)  # an unknown type fails before anything is read
        target, lowers = _apply_target(mounts)
        blob = Verifying(_Pieces(self._content.read(namespace, layer.digest)), layer.digest)
        applied = apply(blob, layer.media_type, target, lowers)
        return Descriptor(OCI_LAYER, applied.digest, applied.size)

    def compare(self, namespace: str, left: list[Mount], right: list[Mount], media_type: str = "", ref: str = "",
                labels: dict[str, str] | None = None, lease: str = "") -> Descriptor:
        """Write the layer from left to right into the content store, labelled with its
        uncompressed digest, and describe it."""
        media_type = media_type or OCI_LAYER_GZIP
        compression(media_type)
        lower, upper, overlay_upper = self._trees(left, right)
        ref = ref or f"diff-{secrets.token_hex(16)}"
        writer = self._content.writer(namespace, ref, lease=lease)
        sink = _ContentSink(writer)
        try:
            applied = compute(lower, upper, sink, media_type, overlay_upper=overlay_upper)
            try:
                info = writer.commit(sink.size, "", {**(labels or {}), UNCOMPRESSED_LABEL: applied.digest})
                digest = info.digest
            except errdefs.AlreadyExists:
                digest = writer.digest  # the same layer, made before
        except BaseException:
            writer.close()
            try:
                self._content.abort(namespace, ref, lease)
            except errdefs.NotFound:
                pass  # the commit consumed it
            raise
        return Descriptor(media_type, digest, sink.size)

    @staticmethod
    def _trees(left: list[Mount], right: list[Mount]) -> tuple[str | None, str, bool]:
        """(lower directory or None for nothing, upper directory, whether upper is an overlay upperdir)."""
        lowers = _layers(left)
        if len(right) == 1 and right[0].type == "overlay" and right[0].option("upperdir"):
            lowerdir = right[0].option("lowerdir") or ""
            right_lowers = [os.path.realpath(lower) for lower in lowerdir.split(":") if lower]
            if lowers == right_lowers:
                return None, right[0].option("upperdir"), True
        right_layers = _layers(right)
        if lowers is not None and len(lowers) <= 1 and right_layers is not None and len(right_layers) == 1:
            return (lowers[0] if lowers else None), right_layers[0], False
        raise errdefs.NotImplemented("comparing these mounts would need a temporary mount: not implemented")

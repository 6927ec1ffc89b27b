"""Snapshots, as containerd's core/snapshots/snapshotter.go defines them: a tree of
filesystems keyed by name, each an active one (writable, being built), a view (read-only) or a
committed one (immutable, a parent for others). A snapshotter only returns the mounts that
would assemble one; it never mounts anything itself, the shim or the differ uses them.
"""
from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..core import filters


class Kind(enum.Enum):
    # The values are what a kind==... filter matches, as in containerd.
    VIEW = "view"
    ACTIVE = "active"
    COMMITTED = "committed"


@dataclass(frozen=True)
class Info:
    key: str  # the snapshot's name in its namespace
    parent: str  # the committed snapshot below it; "" for none
    kind: Kind
    labels: dict[str, str] = field(default_factory=dict)  # the only mutable field
    created_at: int = 0  # nanoseconds since the epoch
    updated_at: int = 0


@dataclass(frozen=True)
class Usage:
    size: int  # bytes of disk the snapshot's own files take
    inodes: int


@dataclass(frozen=True)
class Mount:
    """One mount(8)-style mount: what the shim mounts, in order, to assemble a snapshot."""

    type: str
    source: str
    options: tuple[str, ...] = ()

    def option(self, name: str) -> str | None:
        """The value of a name=value option, if given."""
        prefix = f"{name}="
        return next((o[len(prefix):] for o in self.options if o.startswith(prefix)), None)


def info_field(info: Info, fieldpath: Sequence[str]) -> tuple[str, bool]:
    """What a filter sees of a snapshot: kind, name, parent, labels.<key>."""
    if not fieldpath:
        return "", False
    if fieldpath[0] == "kind":
        return info.kind.value, True
    if fieldpath[0] == "name":
        return info.key, bool(info.key)
    if fieldpath[0] == "parent":
        return info.parent, bool(info.parent)
    if fieldpath[0] == "labels":
        return filters.map_field(fieldpath[1:], info.labels)
    return "", False

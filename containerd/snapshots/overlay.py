"""The overlayfs snapshotter (containerd's plugins/snapshots/overlay), namespaced in its own
records. Under its root:

    metadata.db                 the records (storage.py)
    snapshots/<id>/fs           the snapshot's own files: an overlay upperdir, or a bind source
    snapshots/<id>/work         overlay's workdir, for active snapshots only
    l/<26 characters>           -> ../snapshots/<id>/fs

The short links are moby's overlay2 trick: a lowerdir option naming each parent by its link
instead of its full path stays short, so a deep chain of layers still fits in the one page
mount(2) accepts (the shim compacts whatever is longer still).
"""
from __future__ import annotations

import base64
import logging
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

import errdefs

from ..core import filters, identifiers
from . import Info, Kind, Mount, Usage, info_field
from .storage import Record, Storage

log = logging.getLogger(__name__)

_LABEL_PATH_PREFIX = "labels."


def _new_link() -> str:
    # 16 random bytes in base32: 26 characters, as overlay2's link names.
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=")


class OverlaySnapshotter:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._snapshots = root / "snapshots"
        self._links = root / "l"
        self._snapshots.mkdir(mode=0o700, exist_ok=True)
        self._links.mkdir(mode=0o700, exist_ok=True)
        self._storage = Storage(root / "metadata.db")
        # As containerd: a lower layer shared by many snapshots must not be tied by overlay's
        # index to the first upper it was mounted with.
        self._index_off = Path("/sys/module/overlay/parameters/index").exists()

    def close(self) -> None:
        self._storage.close()

    # paths

    def _fs(self, snapshot_id: int) -> Path:
        return self._snapshots / str(snapshot_id) / "fs"

    def _work(self, snapshot_id: int) -> Path:
        return self._snapshots / str(snapshot_id) / "work"

    # snapshots

    def prepare(self, namespace: str, key: str, parent: str = "", labels: dict[str, str] | None = None) -> list[Mount]:
        return self._create(namespace, Kind.ACTIVE, key, parent, labels or {})

    def view(self, namespace: str, key: str, parent: str = "", labels: dict[str, str] | None = None) -> list[Mount]:
        return self._create(namespace, Kind.VIEW, key, parent, labels or {})

    def _create(self, namespace: str, kind: Kind, key: str, parent: str, labels: dict[str, str]) -> list[Mount]:
        identifiers.validate_labels(labels)
        link = _new_link()
        staging = Path(tempfile.mkdtemp(prefix="new-", dir=self._snapshots))

        def make(snapshot_id: int, parent_record: Record | None) -> None:
            (staging / "fs").mkdir(mode=0o755)
            if kind is Kind.ACTIVE:
                (staging / "work").mkdir(mode=0o711)
            if parent_record is not None:
                # The new layer's root starts owned as its parent's is, as in containerd.
                parent_stat = self._fs(parent_record.id).stat()
                os.lchown(staging / "fs", parent_stat.st_uid, parent_stat.st_gid)
            staging.rename(self._snapshots / str(snapshot_id))
            os.symlink(f"../snapshots/{snapshot_id}/fs", self._links / link)

        try:
            self._storage.create(namespace, kind, key, parent, labels, link, make)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self._mounts(self._storage.chain(namespace, key))

    def mounts(self, namespace: str, key: str) -> list[Mount]:
        chain = self._storage.chain(namespace, key)
        if chain[0].info.kind is Kind.COMMITTED:
            raise errdefs.FailedPrecondition(
                f'snapshot "{key}" is committed: only active snapshots and views have mounts: failed precondition')
        return self._mounts(chain)

    def _mounts(self, chain: list[Record]) -> list[Mount]:
        snapshot, parents = chain[0], chain[1:]
        if not parents:
            # overlay needs a lower layer: a snapshot with none is its own directory.
            read_only = "ro" if snapshot.info.kind is Kind.VIEW else "rw"
            return [Mount("bind", str(self._fs(snapshot.id)), (read_only, "rbind"))]
        options = ["index=off"] if self._index_off else []
        if snapshot.info.kind is Kind.ACTIVE:
            options += [f"workdir={self._work(snapshot.id)}", f"upperdir={self._fs(snapshot.id)}"]
        elif len(parents) == 1:
            return [Mount("bind", str(self._fs(parents[0].id)), ("ro", "rbind"))]
        options.append("lowerdir=" + ":".join(str(self._links / parent.link) for parent in parents))
        return [Mount("overlay", "overlay", tuple(options))]

    def commit(self, namespace: str, name: str, key: str, labels: dict[str, str] | None = None) -> Info:
        identifiers.validate_labels(labels or {})
        return self._storage.commit(namespace, name, key, labels or {}).info

    def remove(self, namespace: str, key: str) -> None:
        record = self._storage.remove(namespace, key)
        self._remove_files(record.id, record.link)

    def _remove_files(self, snapshot_id: int | str, link: str | None) -> None:
        if link is not None:
            (self._links / link).unlink(missing_ok=True)
        try:
            shutil.rmtree(self._snapshots / str(snapshot_id))
        except FileNotFoundError:
            pass
        except OSError as exc:  # the record is gone; cleanup() retries what is left
            log.warning("removing snapshot directory %s: %s", snapshot_id, exc)

    def stat(self, namespace: str, key: str) -> Info:
        return self._storage.get(namespace, key).info

    def update(self, namespace: str, key: str, labels: dict[str, str], fieldpaths: list[str]) -> Info:
        """Replace the snapshot's labels; or, with field paths, those they name ("labels", or
        "labels.<key>": set to the requested value, or removed if it has none)."""
        identifiers.validate_labels(labels)

        def change(current: dict[str, str]) -> dict[str, str]:
            if not fieldpaths:
                return dict(labels)
            for path in fieldpaths:
                if path == "labels":
                    current = dict(labels)
                elif path.startswith(_LABEL_PATH_PREFIX):
                    label = path.removeprefix(_LABEL_PATH_PREFIX)
                    if label in labels:
                        current[label] = labels[label]
                    else:
                        current.pop(label, None)
                else:
                    raise errdefs.InvalidArgument(f'cannot update "{path}" field on snapshot "{key}": invalid argument')
            return current

        return self._storage.update_labels(namespace, key, change).info

    def list(self, namespace: str, matcher: filters.AnyOf = filters.AnyOf()) -> list[Info]:
        infos = self.walk(namespace)
        return [info for info in infos if matcher.match(lambda fieldpath, info=info: info_field(info, fieldpath))]

    def usage(self, namespace: str, key: str) -> Usage:
        """The disk the snapshot's own layer takes: for a committed one, what it added to
        its parent; for an active one, what was written so far."""
        return _disk_usage(self._fs(self._storage.get(namespace, key).id))

    def cleanup(self) -> None:
        """Remove the directories and links no record owns: left by a removal that failed
        or a daemon killed half-way through creating a snapshot."""
        ids = {str(snapshot_id) for snapshot_id in self._storage.ids()}
        for entry in self._snapshots.iterdir():
            if entry.name not in ids:
                self._remove_files(entry.name, None)
        links = self._storage.links()
        for entry in self._links.iterdir():
            if entry.name not in links:
                entry.unlink(missing_ok=True)

    # for the garbage collector

    def namespaces(self) -> list[str]:
        return self._storage.namespaces()

    def walk(self, namespace: str) -> list[Info]:
        return [record.info for record in self._storage.list(namespace)]


def _disk_usage(root: Path) -> Usage:
    """Blocks in use and inodes under root, each inode counted once (hard links), root included."""
    seen: set[int] = set()
    size = 0
    pending = [root]
    while pending:
        path = pending.pop()
        st = os.lstat(path)
        if st.st_ino not in seen:
            seen.add(st.st_ino)
            size += st.st_blocks * 512
        if stat.S_ISDIR(st.st_mode):
            with os.scandir(path) as entries:
                pending.extend(entry.path for entry in entries)
    return Usage(size, len(seen))

"""A task's bundle: <state>/io.containerd.runtime.v2.task/<namespace>/<id>/, containerd's layout.

    config.json                  the container's OCI spec, as the container record holds it
    rootfs/                      where the shim mounts the rootfs it is given
    log                          FIFO: the shim's stderr, read into pycontainerd's log
    address                      the shim's ttrpc address, as its start action printed it
    shim-binary-path             the shim binary, to run its delete action after it died
    dead-shim-delete-response    what that delete action printed (protobuf task.v2 DeleteResponse):
                                 the task's last word, kept until the task is deleted

Everything else in the directory belongs to the shim. Files written here are written to a
temporary name and renamed, so a daemon killed at any moment leaves each of them whole or
absent. Deleting a bundle first renames it to .<id>, the point after which it no longer
counts as a task; a restart finishes such deletions.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import errdefs

from ..core import identifiers
from ..files import write_atomically
from .mount import unmount_all

LOG_FIFO = "log"
ADDRESS = "address"
SHIM_BINARY_PATH = "shim-binary-path"
DEAD_SHIM_DELETE_RESPONSE = "dead-shim-delete-response"
CONFIG = "config.json"
ROOTFS = "rootfs"


class Bundle:
    def __init__(self, path: Path, namespace: str, task_id: str):
        self.path = path
        self.namespace = namespace
        self.id = task_id

    @classmethod
    def create(cls, tasks_dir: Path, namespace: str, task_id: str, spec: bytes) -> Bundle:
        """Make the bundle of a new task; AlreadyExists if one is there."""
        identifiers.validate(namespace)
        try:
            identifiers.validate(task_id)
        except errdefs.InvalidArgument as exc:
            raise errdefs.InvalidArgument(f"invalid task id {task_id}: {exc}") from None
        namespace_dir = tasks_dir / namespace
        namespace_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
        bundle = cls(namespace_dir / task_id, namespace, task_id)
        try:
            bundle.path.mkdir(mode=0o700)
        except FileExistsError:
            raise errdefs.AlreadyExists(f"bundle {bundle.path}: already exists") from None
        try:
            bundle.rootfs.mkdir(mode=0o711)
            write_atomically(bundle.path / CONFIG, spec, 0o666)
        except BaseException:
            shutil.rmtree(bundle.path)
            raise
        return bundle

    @property
    def rootfs(self) -> Path:
        return self.path / ROOTFS

    def open_log(self) -> int:
        """The read side of the shim's stderr FIFO, made if missing. Opened read-write and
        non-blocking, as containerd does: the open never waits for the shim, and no end of
        file ever comes (the watcher is told when to stop)."""
        fifo = self.path / LOG_FIFO
        try:
            os.mkfifo(fifo, 0o700)
        except FileExistsError:
            pass
        return os.open(fifo, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)

    def read(self, name: str) -> bytes | None:
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, name: str, data: bytes) -> None:
        write_atomically(self.path / name, data)

    def retire(self) -> None:
        """Unmount whatever the shim left on rootfs, then rename the bundle to .<id>: from
        now on it is a deletion in progress, not a task. Idempotent."""
        if self.path.name.startswith("."):
            return
        _release_rootfs(self.path)
        retired = self.path.with_name(f".{self.id}")
        if retired.exists():
            _remove_tree(retired)
        os.rename(self.path, retired)
        self.path = retired

    def remove(self) -> None:
        """Remove the bundle directory, retired or not, and all in it."""
        _remove_tree(self.path)

    def delete(self) -> None:
        self.retire()
        self.remove()


def _release_rootfs(bundle_path: Path) -> None:
    # rmdir, never rmtree: if anything is still mounted or left inside, the container's
    # files must survive and the deletion fail.
    rootfs = bundle_path / ROOTFS
    unmount_all(str(rootfs))
    try:
        rootfs.rmdir()
    except FileNotFoundError:
        pass


def _remove_tree(path: Path) -> None:
    _release_rootfs(path)
    shutil.rmtree(path)

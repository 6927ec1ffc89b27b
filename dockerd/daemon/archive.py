"""docker cp's daemon side (moby's daemon/archive_linux.go and containerfs_linux.go): a path of a
container stat'ed, archived as a tar, or a tar extracted into it.

The work is done by chrootarchive.py in a process of its own, which makes the container's root
filesystem its root before it touches any path (see there). This side says where that root and
the container's mounts come from, and turns the process's reports into moby's errors.

The root filesystem is the shim's live overlay when the container runs (found in our mount table
by its upper directory: mounting the same layers a second time would be undefined), else the
snapshot's mounts from pycontainerd. The container's lock is held throughout, as moby holds it,
so that a start cannot mount those layers while the copy has them mounted.
"""
from __future__ import annotations

import contextlib
import json
import os
import posixpath
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import errdefs

from .container import DEAD, REMOVING, Container

CHUNK = 1 << 16
HELPER = str(Path(__file__).with_name("chrootarchive.py"))
_KINDS = {kind.kind: kind for kind in (errdefs.InvalidArgument, errdefs.NotFound, errdefs.Internal)}


class ArchiveService:
    def __init__(self, containers):
        self._containers = containers
        self._staging = Path(containers.config.exec_root) / "archive"

    def stat(self, ref: str, path: str) -> dict:
        """HEAD: moby's PathStat of path (a last symlink not followed)."""
        container = self._containers.get(ref)
        with self._helper(container, {"op": "stat", "path": path}) as helper:
            return helper.reply(ref, path)["stat"]

    def archive(self, ref: str, path: str) -> Iterator[dict | bytes]:
        """GET: the stat of path, then the tar of it, chunk by chunk. Run in one thread, which
        holds the container's lock until the tar's end or the consumer's going away."""
        container = self._containers.get(ref)
        with self._helper(container, {"op": "archive", "path": path}) as helper:
            yield helper.reply(ref, path)["stat"]
            self._containers.publish(container, "archive-path")
            while data := helper.read():
                yield data
            helper.reply(ref, path)

    def extract(self, ref: str, path: str, read: Callable[[], bytes], *, copy_uid_gid: bool,
                no_overwrite_dir_non_dir: bool) -> None:
        """PUT: the tar that read() returns, chunk by chunk until b"", extracted into the
        directory path. The destination is checked before the first chunk is read."""
        container = self._containers.get(ref)
        request = {"op": "extract", "path": path, "no_overwrite": no_overwrite_dir_non_dir,
                   "user": (container.config.get("User") or "") if copy_uid_gid else "",
                   "mount_points": [(p.get("Destination") or "", bool(p.get("RW"))) for p in container.mount_points],
                   "read_only_rootfs": bool(container.host_config.get("ReadonlyRootfs"))}
        with self._helper(container, request) as helper:
            helper.reply(ref, path)  # ready
            while (data := read()) and helper.write(data):
                pass
            helper.close_input()
            helper.reply(ref, path)
        self._containers.publish(container, "extract-to-dir")

    @contextlib.contextmanager
    def _helper(self, container: Container, request: dict) -> Iterator[_Helper]:
        if container.state.status == REMOVING:
            raise errdefs.Conflict(f"container {container.id} is being removed")
        if container.state.status == DEAD:
            raise errdefs.Conflict(f"container {container.id} is dead")
        with container.lock:
            self._staging.mkdir(parents=True, exist_ok=True)
            staging = tempfile.mkdtemp(prefix=container.id[:12] + "-", dir=self._staging)
            try:
                helper = _Helper({**request, **self._where(container), "staging": staging})
                try:
                    yield helper
                except BaseException:
                    helper.kill()  # a failure, or a client gone mid-copy
                    raise
                finally:
                    helper.close()
            finally:
                os.rmdir(staging)

    def _where(self, container: Container) -> dict:
        """The helper's root ("live" or "snapshot") and its binds, parents first."""
        snapshot = self._containers.containerd.mounts(container.id)
        upper = _option(snapshot[0], "upperdir") if len(snapshot) == 1 and snapshot[0]["type"] == "overlay" else None
        live = _overlay_mounted_with(upper) if upper else None
        binds = [(p["Source"], posixpath.normpath(p.get("Destination") or "/"), bool(p.get("RW")))
                 for p in container.mount_points]
        taken = {destination for _, destination, _ in binds}
        writable = not container.host_config.get("ReadonlyRootfs")
        for source, destination in ((container.resolv_conf_path, "/etc/resolv.conf"),
                                    (container.hostname_path, "/etc/hostname"), (container.hosts_path, "/etc/hosts")):
            if destination not in taken and os.path.exists(source):
                binds.append((source, destination, writable))
        # A parent before what is mounted inside it (moby sorts by the number of path elements).
        binds.sort(key=lambda bind: bind[1].count("/"))
        return {"root": {"live": live} if live else {"snapshot": snapshot}, "binds": binds}


def _option(mount: dict, name: str) -> str | None:
    return next((o.split("=", 1)[1] for o in mount.get("options") or [] if o.startswith(name + "=")), None)


def _overlay_mounted_with(upper: str) -> str | None:
    """Where an overlay with this upper directory is mounted in our namespace (the shim's)."""
    with open("/proc/self/mountinfo", "rb") as table:
        for line in table:
            fields, _, filesystem = line.decode(errors="surrogateescape").rstrip("\n").partition(" - ")
            kind, _, super_options = filesystem.split(" ", 2)
            if kind == "overlay" and f"upperdir={upper}" in unescape(super_options).split(","):
                return unescape(fields.split(" ")[4])
    return None


def unescape(text: str) -> str:
    """mountinfo's octal escapes (\\040 for a space)."""
    first, *rest = text.split("\\")
    return first + "".join(chr(int(part[:3], 8)) + part[3:] for part in rest)


class _Helper:
    """The chrootarchive process: its reports on a pipe of their own, the tar on its stdin or stdout."""

    def __init__(self, request: dict):
        reports_r, reports_w = os.pipe()
        extracting = request["op"] == "extract"
        try:
            # Only the three pipes reach it: an open directory of the host would be a way out.
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", HELPER, json.dumps({**request, "reports": reports_w})], env={},
                close_fds=True, pass_fds=(reports_w,), bufsize=0,
                stdin=subprocess.PIPE if extracting else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if extracting else subprocess.PIPE, stderr=subprocess.PIPE)
        finally:
            os.close(reports_w)
        self._reports = os.fdopen(reports_r, "rb")

    def reply(self, ref: str, path: str) -> dict:
        """The helper's next report; a failure it reports raised as moby words it."""
        line = self._reports.readline()
        if not line:
            self._process.wait()
            detail = self._process.stderr.read().decode(errors="replace").strip().splitlines()
            raise errdefs.Internal(f"copying {path} of {ref}: the copy ended without a word "
                                   f"(exit status {self._process.returncode}{': ' + detail[-1] if detail else ''})")
        report = json.loads(line)
        if "error" not in report:
            return report
        if report["kind"] == errdefs.NotFound.kind:
            raise errdefs.NotFound(f"Could not find the file {path} in container {ref}")
        raise _KINDS.get(report["kind"], errdefs.Internal)(report["error"])

    def read(self) -> bytes:
        return os.read(self._process.stdout.fileno(), CHUNK)

    def write(self, data: bytes) -> bool:
        """False once the helper stopped reading (it failed: its next report says why)."""
        try:
            self._process.stdin.write(data)
        except BrokenPipeError:
            return False
        return True

    def close_input(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()

    def kill(self) -> None:
        self._process.kill()

    def close(self) -> None:
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()
        self._reports.close()
        self._process.wait()

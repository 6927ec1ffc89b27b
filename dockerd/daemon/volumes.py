"""Local volumes: a directory `<data-root>/volumes/<name>/_data` each, with its metadata
beside it in `volume.json` (moby's volume/local keeps `opts.json` there and the rest in a
bolt database; one file per volume is enough here and survives a restart the same way).

Methods the container service calls: get_or_create(name, labels), create_anonymous(),
get(name), remove(name), df(). Which containers use a volume is asked of
`daemon.containers.volume_users(name) -> list[container ids]`, once that exists.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import errdefs

from . import filters as F

DRIVER = "local"
ANONYMOUS_LABEL = "com.docker.volume.anonymous"  # moby marks anonymous volumes so prune can tell them
_VALID_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_METADATA = "volume.json"


@dataclass
class Volume:
    name: str
    mountpoint: str
    created_at: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    driver: str = DRIVER

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels

    def to_json(self) -> dict:
        return {"Name": self.name, "Driver": self.driver, "Mountpoint": self.mountpoint, "CreatedAt": self.created_at,
                "Labels": self.labels or None, "Scope": "local", "Options": self.options or None}


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _disk_usage(path: Path) -> int:
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files + dirs:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


class VolumeService:
    def __init__(self, daemon):
        self._daemon = daemon
        self.root = Path(daemon.config.data_root) / "volumes"
        self._lock = threading.RLock()

    def _publish(self, action: str, name: str, attributes: dict[str, str] | None = None) -> None:
        publish = getattr(self._daemon.events, "publish", None)
        if publish is not None:
            publish("volume", action, name, {"driver": DRIVER, **(attributes or {})})

    def users(self, name: str) -> list[str]:
        """The containers that mount the volume (the container service answers; none until it can)."""
        users = getattr(self._daemon.containers, "volume_users", None)
        return list(users(name)) if users is not None else []

    # records

    def _load(self, name: str) -> Volume | None:
        directory = self.root / name
        try:
            data = json.loads((directory / _METADATA).read_text())
        except FileNotFoundError:
            if (directory / "_data").is_dir():  # made by hand, or metadata lost: still a volume
                return Volume(name, str(directory / "_data"), _now())
            return None
        except ValueError:
            data = {}
        return Volume(name, str(directory / "_data"), data.get("CreatedAt") or _now(), dict(data.get("Labels") or {}),
                      dict(data.get("Options") or {}))

    def _save(self, volume: Volume) -> None:
        directory = self.root / volume.name
        temporary = directory / f".{_METADATA}.tmp"
        temporary.write_text(json.dumps({"CreatedAt": volume.created_at, "Labels": volume.labels,
                                         "Options": volume.options}))
        os.replace(temporary, directory / _METADATA)

    def _all(self) -> list[Volume]:
        try:
            names = sorted(entry.name for entry in self.root.iterdir() if entry.is_dir())
        except FileNotFoundError:
            return []
        return [volume for name in names if _VALID_NAME.fullmatch(name) and (volume := self._load(name))]

    # the API

    def create(self, name: str | None = None, *, driver: str | None = None, driver_opts: dict | None = None,
               labels: dict | None = None) -> Volume:
        """docker volume create: a new volume, or the existing one of that name."""
        driver = driver or DRIVER
        if driver != DRIVER:
            raise errdefs.NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not found')
        name = name or secrets.token_hex(32)
        if not _VALID_NAME.fullmatch(name):
            raise errdefs.InvalidArgument(
                f'create {name}: "{name}" includes invalid characters for a local volume name, only '
                '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path')
        options = {str(k): str(v) for k, v in (driver_opts or {}).items()}
        for key in options:
            if key not in ("type", "device", "o", "size"):
                raise errdefs.InvalidArgument(f"create {name}: invalid option key: {key!r}")
        with self._lock:
            existing = self._load(name)
            if existing is not None:
                return existing
            directory = self.root / name
            (directory / "_data").mkdir(parents=True, mode=0o755)
            os.chmod(self.root, 0o701)
            volume = Volume(name, str(directory / "_data"), _now(),
                            {str(k): str(v) for k, v in (labels or {}).items()}, options)
            self._save(volume)
        self._publish("create", name)
        return volume

    def get(self, name: str) -> Volume:
        volume = self._load(name) if _VALID_NAME.fullmatch(name or "") else None
        if volume is None:
            raise errdefs.NotFound(f"get {name}: no such volume")
        return volume

    def get_or_create(self, name: str, labels: dict | None = None) -> Volume:
        """A named volume a container mounts: made on first use, as `docker run -v name:/path` does."""
        return self.create(name, labels=labels)

    def create_anonymous(self) -> Volume:
        """A volume for an image's VOLUME or `-v /path`: a random name, labelled anonymous."""
        return self.create(labels={ANONYMOUS_LABEL: ""})

    def inspect(self, name: str) -> dict:
        return self.get(name).to_json()

    def list(self, filters: F.Filters | None = None) -> list[dict]:
        filters = filters or {}
        F.validate(filters, ("dangling", "driver", "label", "name"))
        dangling = F.boolean(filters, "dangling")
        listed = []
        for volume in self._all():
            if not F.match_any(filters, "driver", volume.driver) or not F.match_labels(filters, volume.labels) \
                    or not F.match_any(filters, "name", volume.name, how="substring"):
                continue
            if dangling is not None and (not self.users(volume.name)) != dangling:
                continue
            listed.append(volume.to_json())
        return listed

    def remove(self, name: str, *, force: bool = False) -> None:
        """docker volume rm: refused while a container uses it; -f ignores a missing volume."""
        with self._lock:
            try:
                volume = self.get(name)
            except errdefs.NotFound:
                if force:
                    return
                raise
            users = self.users(name)
            if users:
                raise errdefs.Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            shutil.rmtree(Path(volume.mountpoint).parent)
        self._publish("destroy", name)

    def prune(self, filters: F.Filters | None = None) -> dict:
        """Volumes no container uses: only anonymous ones unless `all=true`, as the API >= 1.42."""
        filters = dict(filters or {})
        F.validate(filters, ("label", "label!", "all"))
        everything = F.boolean(filters, "all") or False
        deleted, reclaimed = [], 0
        for volume in self._all():
            if not everything and not volume.anonymous:
                continue
            if not F.match_prune_labels(filters, volume.labels):
                continue
            if self.users(volume.name):
                continue
            size = _disk_usage(Path(volume.mountpoint))
            try:
                self.remove(volume.name)
            except errdefs.Error:
                continue
            deleted.append(volume.name)
            reclaimed += size
        publish = getattr(self._daemon.events, "publish", None)
        if publish is not None:  # moby's prune event names no volume, nor a driver
            publish("volume", "prune", "", {"reclaimed": str(reclaimed)})
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def df(self) -> list[dict]:
        """Every volume with UsageData {Size, RefCount}, as /system/df needs."""
        return [{**volume.to_json(), "UsageData": {"Size": _disk_usage(Path(volume.mountpoint)),
                                                   "RefCount": len(self.users(volume.name))}}
                for volume in self._all()]

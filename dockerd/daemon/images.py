"""Images on pycontainerd's content and snapshot stores, as Docker's containerd image store
keeps them (moby's daemon/containerd/image_*.go).

An image record is named by its fully qualified reference (`docker.io/library/busybox:latest`,
or `...busybox@sha256:...` when pulled by digest) and points at a manifest or an index. Docker
shows records grouped by image ID, which here is the config digest of the linux/amd64
manifest: RepoTags are the records' familiar names (`busybox:latest`), RepoDigests
`busybox@<target digest>`. An image whose last name moves elsewhere (re-pull, tag, load) stays
as a dangling record, `moby-dangling@<digest>`, as moby keeps it, until rmi or prune.

A container's rootfs is a snapshot on the image's top chain ID (`ResolvedImage.chain_id`);
`resolve` unpacks the layers first if that snapshot is missing.

Methods the other services call: resolve, count, summaries, image_users (through
`daemon.containers.image_users(image_id)`, if it exists, for "in use").
"""
from __future__ import annotations

import base64
import fnmatch
import gzip
import hashlib
import json
import logging
import queue
import re
import shlex
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO

import httpx

import errdefs
from containerd.client import archive, hosts
from containerd.client import progress as P
from containerd.client.client import Client, descriptor_of
from containerd.client.content import ingest_ref, write_blob, write_bytes
from containerd.client.media import (
    DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, INDEXES, Descriptor, Manifest, Platform,
    chain_ids, index_manifests, select_platform, short_id,
)
from containerd.client.pull import manifest_gc_labels, pull as pull_image
from containerd.client.push import push as push_image
from containerd.client.reference import Reference, parse
from containerd.client.unpack import committed, snapshot_gc_label, unpack as unpack_layers
from protos import snapshots_pb2

from . import filters as F

log = logging.getLogger("pydockerd.images")

SNAPSHOTTER = "overlayfs"
PLATFORM = "linux/amd64"
DANGLING_PREFIX = "moby-dangling@"
ZERO_TIME = "0001-01-01T00:00:00Z"
IMPORT_CHANGES = {"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR", "STOPSIGNAL"}
_HEX_PREFIX = re.compile(r"(?:sha256:)?([0-9a-f]{1,64})")
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?")


# what the other services get


@dataclass(frozen=True)
class ResolvedImage:
    """One image as a container is made from it."""

    id: str  # "sha256:<64hex>": the config digest
    name: str  # the record's name ("docker.io/library/busybox:latest"); "" if only dangling
    target: Descriptor  # what the record points at: manifest or index
    manifest: Descriptor  # the linux/amd64 manifest
    config_descriptor: Descriptor
    image_config: dict  # the whole OCI image config: architecture, os, config, rootfs, history
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]
    chain_id: str  # the top layer's: the snapshot parent of a container's rootfs ("" for no layers)

    @property
    def config(self) -> dict:
        """The runtime defaults: Env, Cmd, Entrypoint, WorkingDir, User, Volumes, ExposedPorts, Labels..."""
        return self.image_config.get("config") or {}

    @property
    def short_id(self) -> str:
        return short_id(self.id)

    @property
    def familiar_name(self) -> str:
        """`busybox:latest`, as Docker shows the image a container was made from."""
        return familiar(self.name) if self.name else self.id


def familiar(name: str) -> str:
    """A record's name as Docker prints it: busybox:latest, 127.0.0.1:5000/x:1, busybox@sha256:..."""
    if name.startswith(DANGLING_PREFIX):
        return "<none>@" + name.removeprefix(DANGLING_PREFIX)
    try:
        return parse(name).familiar
    except errdefs.InvalidArgument:
        return name


def parse_time(text: str | None) -> float:
    """An RFC 3339 time (with up to nanoseconds) as unix seconds; 0 if absent or unreadable."""
    match = _RFC3339.fullmatch(text or "")
    if not match:
        return 0.0
    whole, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    when = datetime.fromisoformat(whole + zone).timestamp()
    return when + (int(fraction[:9].ljust(9, "0")) / 1e9 if fraction else 0.0)


def rfc3339(seconds: float) -> str:
    whole = int(seconds)
    nanos = int(round((seconds - whole) * 1e9))
    stamp = datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z" if nanos else f"{stamp}Z"


def credentials_of(auth: dict | None, ref: Reference) -> dict[str, tuple[str, str]] | None:
    """X-Registry-Auth's AuthConfig as the client library's credentials: user and password (or
    an identity token) for the reference's registry host, under every name it is reached by."""
    if not auth:
        return None
    user = auth.get("username") or auth.get("Username") or ""
    password = auth.get("password") or auth.get("Password") or ""
    token = auth.get("identitytoken") or auth.get("IdentityToken") or ""
    if token and not password:
        user, password = user or "<token>", token
    if not user and not password:
        return None
    hosts_ = {ref.domain}
    if ref.domain == "docker.io":
        hosts_ |= {hosts.DOCKER_HUB_HOST, "index.docker.io"}
    server = auth.get("serveraddress") or auth.get("ServerAddress") or ""
    if server:
        hosts_.add(re.sub(r"^[a-z]+://", "", server).split("/")[0])
    return {host: (user, password) for host in hosts_}


def decode_auth(header: str | None) -> dict | None:
    """X-Registry-Auth: base64url (padded or not) JSON; `e30=` is `{}`. Junk counts as none, as moby."""
    if not header:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


# what the store holds


@dataclass(frozen=True)
class _Record:
    name: str
    target: Descriptor
    created: float
    updated: float

    @property
    def dangling(self) -> bool:
        return self.name.startswith(DANGLING_PREFIX)

    @property
    def reference(self) -> Reference | None:
        if self.dangling:
            return None
        try:
            return parse(self.name)
        except errdefs.InvalidArgument:
            return None


@dataclass(frozen=True)
class _Content:
    """What a target leads to for linux/amd64 (immutable, so cached by the target's digest)."""

    manifest: Descriptor
    config_descriptor: Descriptor
    image_config: dict
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]
    chain_id: str

    @property
    def id(self) -> str:
        return self.config_descriptor.digest

    @property
    def content_size(self) -> int:
        return sum(layer.size for layer in self.layers) + self.config_descriptor.size + self.manifest.size


@dataclass
class _Image:
    content: _Content
    records: list[_Record] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.content.id

    @property
    def named(self) -> list[_Record]:
        return [r for r in self.records if not r.dangling]

    @property
    def repo_tags(self) -> list[str]:
        return sorted({ref.familiar for r in self.named if (ref := r.reference) and ref.tag and not ref.digest})

    @property
    def repo_digests(self) -> list[str]:
        return sorted({f"{ref.familiar_name}@{r.target.digest}" for r in self.named if (ref := r.reference)})

    @property
    def created(self) -> float:
        return parse_time(self.content.image_config.get("created"))

    @property
    def last_tag_time(self) -> float:
        return max((r.updated for r in self.named), default=0.0)

    def resolved(self, record: _Record | None) -> ResolvedImage:
        record = record or (self.named or self.records)[0]
        c = self.content
        return ResolvedImage(c.id, "" if record.dangling else record.name, record.target, c.manifest,
                             c.config_descriptor, c.image_config, c.layers, c.diff_ids, c.chain_id)


def _chain_id(diff_ids: Iterable[str]) -> str:
    chain = chain_ids(list(diff_ids))
    return chain[-1] if chain else ""


class ImageService:
    def __init__(self, daemon):
        self._daemon = daemon
        self._config = daemon.config
        self._lock = threading.Lock()
        self._contents: dict[str, _Content] = {}  # target digest → content
        self._unpacked_sizes: dict[str, int] = {}  # chain ID → bytes of its snapshots
        self._write_lock = threading.RLock()  # record changes and their dangling bookkeeping

    # plumbing

    @property
    def _client(self) -> Client:
        return Client(self._daemon.channel, self._config.containerd_namespace)

    def _publish(self, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> None:
        publish = getattr(self._daemon.events, "publish", None)
        if publish is not None:
            publish("image", action, actor_id, attributes or {})

    def image_users(self, image_id: str) -> list[str]:
        """The containers made from the image (the container service answers; none until it can)."""
        users = getattr(self._daemon.containers, "image_users", None)
        return list(users(image_id)) if users is not None else []

    def _records(self) -> list[_Record]:
        return [_Record(image.name, descriptor_of(image.target), image.created_at.ToNanoseconds() / 1e9,
                        image.updated_at.ToNanoseconds() / 1e9)
                for image in self._client.list_images()]

    def _content(self, target: Descriptor) -> _Content:
        with self._lock:
            cached = self._contents.get(target.digest)
        if cached is not None:
            return cached
        client = self._client
        descriptor = target
        while descriptor.media_type in INDEXES:
            present = [m for m in index_manifests(client.read_blob(descriptor.digest))
                       if client.content_info(m.digest) is not None]
            descriptor = select_platform(present, Platform.parse(PLATFORM), descriptor.digest)
        manifest = Manifest.parse(client.read_blob(descriptor.digest))
        try:
            image_config = json.loads(client.read_blob(manifest.config.digest))
        except ValueError as exc:
            raise errdefs.InvalidArgument(f"image config {manifest.config.digest} is not JSON: {exc}") from None
        diff_ids = tuple((image_config.get("rootfs") or {}).get("diff_ids") or ())
        content = _Content(descriptor, manifest.config, image_config, manifest.layers, diff_ids, _chain_id(diff_ids))
        with self._lock:
            self._contents[target.digest] = content
        return content

    def _images(self) -> dict[str, _Image]:
        """Every record grouped by image ID; records whose content is missing are left out."""
        images: dict[str, _Image] = {}
        for record in self._records():
            try:
                content = self._content(record.target)
            except errdefs.Error as exc:
                log.debug("image record %s left out: %s", record.name, exc)
                continue
            images.setdefault(content.id, _Image(content)).records.append(record)
        return images

    def _lookup(self, ref: str) -> tuple[_Image, _Record | None]:
        """The image ref names, and the record it named (None when named by ID)."""
        images = self._images()
        match = _HEX_PREFIX.fullmatch(ref)
        if match and len(match.group(1)) == 64:
            image = images.get("sha256:" + match.group(1))
            if image is None:
                raise errdefs.NotFound(f"No such image: {ref}")
            return image, None
        try:
            parsed = parse(ref)
        except errdefs.InvalidArgument:
            parsed = None
        if parsed is not None:
            for image in images.values():
                for record in image.records:
                    if record.name == str(parsed):
                        return image, record
                    if parsed.digest and (rref := record.reference) and rref.name == parsed.name \
                            and record.target.digest == parsed.digest:
                        return image, record
        if match:
            found = [image for image_id, image in images.items()
                     if image_id.removeprefix("sha256:").startswith(match.group(1))]
            if len(found) == 1:
                return found[0], None
            if len(found) > 1:
                raise errdefs.InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        if parsed is None and not match:
            # Not a name, not an ID: moby answers this as a bad reference.
            parse(ref)
        raise errdefs.NotFound(f"No such image: {ref}")

    def _named(self, ref: str) -> tuple[_Image, _Record] | None:
        """The fast way for a plain name:tag (what `docker run busybox` asks for): one record."""
        if _HEX_PREFIX.fullmatch(ref):
            return None
        try:
            parsed = parse(ref)
            image = self._client.get_image(str(parsed))
        except errdefs.Error:
            return None
        record = _Record(image.name, descriptor_of(image.target), image.created_at.ToNanoseconds() / 1e9,
                         image.updated_at.ToNanoseconds() / 1e9)
        try:
            return _Image(self._content(record.target), [record]), record
        except errdefs.Error:
            return None

    # lookups

    def resolve(self, ref: str, *, unpack: bool = True) -> ResolvedImage:
        """The image ref names (ID, short ID, name:tag, name, name@digest); with unpack, its
        top snapshot exists once this returns."""
        image, record = self._named(ref) or self._lookup(ref)
        resolved = image.resolved(record)
        if unpack:
            self._ensure_unpacked(image.content)
        return resolved

    def exists(self, ref: str) -> bool:
        try:
            self._lookup(ref)
        except errdefs.NotFound:
            return False
        return True

    def _ensure_unpacked(self, content: _Content) -> None:
        if not content.chain_id or committed(self._client, SNAPSHOTTER, content.chain_id):
            return
        with self._client.lease() as leased:
            unpack_layers(leased, list(content.layers), list(content.diff_ids), snapshotter=SNAPSHOTTER)
            leased.set_content_labels(content.config_descriptor.digest,
                                      {snapshot_gc_label(SNAPSHOTTER): content.chain_id})

    def count(self) -> int:
        return len(self._images())

    def _unpacked_size(self, content: _Content) -> int:
        """What the image's snapshots take on disk (0 if not unpacked)."""
        total = 0
        client = self._client
        for chain in chain_ids(list(content.diff_ids)):
            with self._lock:
                size = self._unpacked_sizes.get(chain)
            if size is None:
                try:
                    size = client.call(client.snapshots.Usage, snapshots_pb2.UsageRequest(
                        snapshotter=SNAPSHOTTER, key=chain)).size
                except errdefs.Error:
                    return total
                with self._lock:
                    self._unpacked_sizes[chain] = size
            total += size
        return total

    def _size(self, image: _Image) -> int:
        return image.content.content_size + self._unpacked_size(image.content)

    def summaries(self, filters: F.Filters | None = None, *, all: bool = False) -> list[dict]:  # noqa: A002
        """ImageSummary of each image, newest first, as /images/json and /system/df list them."""
        filters = filters or {}
        F.validate(filters, ("dangling", "label", "reference", "before", "since", "until"))
        images = list(self._images().values())
        images = self._filtered(images, filters)
        counting = getattr(self._daemon.containers, "image_users", None) is not None
        summaries = []
        for image in sorted(images, key=lambda i: i.created, reverse=True):
            config = image.content.image_config.get("config") or {}
            summaries.append({
                "Id": image.id,
                "ParentId": "",
                "RepoTags": image.repo_tags,
                "RepoDigests": image.repo_digests,
                "Created": int(image.created),
                "Size": self._size(image),
                "SharedSize": -1,
                "VirtualSize": self._size(image),
                "Labels": config.get("Labels") or {},
                "Containers": len(self.image_users(image.id)) if counting else -1,
                "Descriptor": (image.named or image.records)[0].target.to_json(),
            })
        return summaries

    def _filtered(self, images: list[_Image], filters: F.Filters) -> list[_Image]:
        dangling = F.boolean(filters, "dangling")
        if dangling is not None:
            images = [i for i in images if (not i.repo_tags) == dangling]
        if filters.get("label"):
            images = [i for i in images
                      if F.match_labels(filters, (i.content.image_config.get("config") or {}).get("Labels"))]
        if filters.get("reference"):
            images = [i for i in images if any(self._reference_matches(filters["reference"], r) for r in i.named)]
        for key, newer in (("before", False), ("since", True)):
            for value in filters.get(key) or []:
                pivot = self._lookup(value)[0].created
                images = [i for i in images if (i.created > pivot if newer else i.created < pivot)]
        for value in filters.get("until") or []:
            limit = _until(value)
            images = [i for i in images if i.created <= limit]
        return images

    @staticmethod
    def _reference_matches(patterns: list[str], record: _Record) -> bool:
        """moby's reference filter: a glob on the familiar name, or on name:tag when it has a tag."""
        ref = record.reference
        if ref is None:
            return False
        for pattern in patterns:
            name_part = pattern.rsplit("@", 1)[0]
            has_tag = name_part.rfind(":") > name_part.rfind("/")
            if fnmatch.fnmatchcase(ref.familiar_name, pattern) or fnmatch.fnmatchcase(ref.name, pattern):
                return True
            if has_tag and ref.tag and (fnmatch.fnmatchcase(f"{ref.familiar_name}:{ref.tag}", pattern)
                                        or fnmatch.fnmatchcase(f"{ref.name}:{ref.tag}", pattern)):
                return True
        return False

    def inspect(self, ref: str) -> dict:
        image, record = self._lookup(ref)
        c = image.content
        config = c.image_config
        return {
            "Id": image.id,
            "RepoTags": image.repo_tags,
            "RepoDigests": image.repo_digests,
            "Parent": "",
            "Comment": _last_comment(config),
            "Created": config.get("created") or ZERO_TIME,
            "DockerVersion": config.get("docker_version", ""),
            "Author": config.get("author", ""),
            "Config": _container_config(config.get("config") or {}),
            "Architecture": config.get("architecture", ""),
            **({"Variant": config["variant"]} if config.get("variant") else {}),
            "Os": config.get("os", ""),
            **({"OsVersion": config["os.version"]} if config.get("os.version") else {}),
            "Size": self._size(image),
            "GraphDriver": {"Name": SNAPSHOTTER, "Data": None},
            "RootFS": {"Type": "layers", "Layers": list(c.diff_ids)},
            "Metadata": {"LastTagTime": rfc3339(image.last_tag_time) if image.last_tag_time else ZERO_TIME},
            "Descriptor": (record or (image.named or image.records)[0]).target.to_json(),
        }

    def history(self, ref: str) -> list[dict]:
        image, _ = self._lookup(ref)
        c = image.content
        entries = list(c.image_config.get("history") or ())
        layers = list(c.layers)
        rows = []
        for entry in entries:
            empty = bool(entry.get("empty_layer"))
            size = 0 if empty or not layers else layers.pop(0).size
            rows.append({"Id": "<missing>", "Created": int(parse_time(entry.get("created"))),
                         "CreatedBy": entry.get("created_by", ""), "Tags": None, "Size": size,
                         "Comment": entry.get("comment", "")})
        if not rows:
            rows = [{"Id": "<missing>", "Created": int(image.created), "CreatedBy": "", "Tags": None,
                     "Size": sum(layer.size for layer in layers), "Comment": ""}]
        rows.reverse()
        rows[0].update(Id=image.id, Tags=image.repo_tags or None)
        return rows

    # names

    def _put(self, name: str, target: Descriptor) -> None:
        """Point the record name at target; the image it pointed at before stays as dangling if
        nothing else names it; a dangling record of target goes, now that it has a name."""
        client = self._client
        with self._write_lock:
            try:
                old = descriptor_of(client.get_image(name).target)
            except errdefs.NotFound:
                old = None
            client.put_image(name, target)
            self._drop_dangling(target)
            if old is not None and old.digest != target.digest:
                self._keep_dangling(old)

    def _keep_dangling(self, target: Descriptor) -> None:
        client = self._client
        if any(r.target.digest == target.digest for r in self._records()):
            return
        client.put_image(DANGLING_PREFIX + target.digest, target)

    def _drop_dangling(self, target: Descriptor) -> None:
        try:
            self._client.delete_image(DANGLING_PREFIX + target.digest)
        except errdefs.NotFound:
            pass

    def tag(self, source: str, repo: str, tag: str = "") -> str:
        """Name the image source also repo:tag; return the new familiar name."""
        image, record = self._lookup(source)
        if not repo:
            raise errdefs.InvalidArgument("repository name must have at least one component")
        ref = parse(f"{repo}:{tag}" if tag else repo)
        if ref.digest:
            raise errdefs.InvalidArgument("refusing to create a tag with a digest reference")
        target = (record or (image.named or image.records)[0]).target
        self._put(str(ref), target)
        self._publish("tag", image.id, {"name": ref.familiar})
        return ref.familiar

    def delete(self, ref: str, *, force: bool = False, prune: bool = True) -> list[dict]:
        """rmi: untag the name given, or every name of an image given by ID; delete the image
        once no name is left. Returns moby's [{"Untagged": ...}, {"Deleted": ...}]."""
        with self._write_lock:
            image, record = self._lookup(ref)
            users = self.image_users(image.id)
            if record is not None:
                removing = [record]
            else:
                if len(image.named) > 1 and not force:
                    raise errdefs.Conflict(f"conflict: unable to delete {short_id(image.id)} (must be forced) - "
                                           "image is referenced in multiple repositories")
                removing = list(image.records)
            last = len(removing) == len(image.records)
            if last and users and not force:
                if record is not None:
                    raise errdefs.Conflict(
                        f'conflict: unable to remove repository reference "{ref}" (must force) - container '
                        f"{short_id('x:' + users[0])} is using its referenced image {short_id(image.id)}")
                raise errdefs.Conflict(f"conflict: unable to delete {short_id(image.id)} (must be forced) - image "
                                       f"is being used by stopped container {short_id('x:' + users[0])}")
            client = self._client
            replies: list[dict] = []
            for item in removing:
                keep = last and users and item is removing[-1]
                if keep and not item.dangling:
                    client.put_image(DANGLING_PREFIX + item.target.digest, item.target)
                if not (keep and item.dangling):
                    client.delete_image(item.name, sync=last and not users and item is removing[-1])
                if not item.dangling:
                    replies.append({"Untagged": familiar(item.name)})
                    self._publish("untag", image.id, {"name": familiar(item.name)})
            if last:
                for digest_ref in image.repo_digests:
                    if {"Untagged": digest_ref} not in replies:
                        replies.append({"Untagged": digest_ref})
                if not users:
                    replies.append({"Deleted": image.id})
                    self._publish("delete", image.id, {"name": image.id})
            return replies

    def prune(self, filters: F.Filters | None = None) -> dict:
        """Images without tags (dangling=false: also those with tags) that no container uses."""
        filters = filters or {}
        F.validate(filters, ("dangling", "label", "label!", "until"))
        dangling_only = F.boolean(filters, "dangling")
        dangling_only = True if dangling_only is None else dangling_only
        until = F.until_nano(filters)
        deleted: list[dict] = []
        reclaimed = 0
        for image in self._images().values():
            if dangling_only and image.repo_tags:
                continue
            if not F.match_prune_labels(filters, (image.content.image_config.get("config") or {}).get("Labels")):
                continue
            if until is not None and image.created * 1e9 > until:
                continue
            if self.image_users(image.id):
                continue
            size = self._size(image)
            try:
                replies = self.delete(image.id, force=True)
            except errdefs.Error as exc:
                log.warning("prune: %s: %s", image.id, exc)
                continue
            deleted.extend(replies)
            if any("Deleted" in r for r in replies):
                reclaimed += size
        self._publish("prune", "", {"reclaimed": str(reclaimed)})
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # registries

    def pull(self, name: str, tag: str = "", *, platform: str = "", auth: dict | None = None) -> Iterator[dict]:
        """Pull name (with tag, or a digest in tag) as a JSON message stream; errors before
        the first message (an unknown repository) are raised before it."""
        ref = parse(_join(name, tag))
        if platform and Platform.parse(platform) != Platform.parse(PLATFORM):
            raise errdefs.NotFound(f"no match for platform in manifest: image {ref.familiar} has no {platform} "
                                   "variant: not found")
        return _streamed(lambda emit: self._pull(ref, auth, emit))

    def _pull(self, ref: Reference, auth: dict | None, emit: Callable[[dict], None]) -> None:
        announced = threading.Event()
        lock = threading.Lock()

        def announce() -> None:
            if not announced.is_set():
                announced.set()
                emit({"status": f"Pulling from {ref.path if ref.domain == 'docker.io' else ref.familiar_name}",
                      "id": ref.object})

        def progress(event: P.Progress) -> None:
            with lock:
                if event.action == P.RESOLVING:
                    return
                announce()
                if event.action == P.WAITING:
                    emit({"status": "Pulling fs layer", "progressDetail": {}, "id": event.id})
                    emit({"status": "Waiting", "progressDetail": {}, "id": event.id})
                elif event.action in (P.DOWNLOADING, P.EXTRACTING):
                    detail = {"current": event.current, "total": event.total} if event.total else {}
                    emit({"status": event.action, "progressDetail": detail,
                          "progress": _bar(event.current, event.total), "id": event.id})
                else:
                    emit({"status": event.action, "progressDetail": {}, "id": event.id})

        try:
            previous = descriptor_of(self._client.get_image(str(ref)).target)
        except errdefs.NotFound:
            previous = None
        try:
            pulled = pull_image(
                self._daemon.channel, self._config.containerd_namespace, str(ref), platform=PLATFORM,
                mirrors=self._config.registry_mirrors, insecure=self._config.insecure_registries,
                credentials=credentials_of(auth, ref), progress=progress, snapshotter=SNAPSHOTTER)
        except errdefs.NotFound as exc:
            if not announced.is_set() and str(exc).startswith("manifest for") and not self._repository_exists(ref):
                raise errdefs.NotFound(f"pull access denied for {ref.familiar_name}, repository does not exist "
                                       "or may require 'docker login'") from None
            raise
        except errdefs.Unauthenticated as exc:
            if "no basic auth credentials" in str(exc):
                raise
            raise errdefs.NotFound(f"pull access denied for {ref.familiar_name}, repository does not exist "
                                   "or may require 'docker login'") from None
        with lock:
            announce()
        with self._write_lock:
            self._drop_dangling(pulled.target)
            if previous is not None and previous.digest != pulled.target.digest:
                self._keep_dangling(previous)
        emit({"status": f"Digest: {pulled.target.digest}"})
        word = "Downloaded newer image for" if pulled.updated else "Image is up to date for"
        emit({"status": f"Status: {word} {ref.familiar}"})
        self._publish("pull", ref.familiar, {"name": ref.familiar})

    def _repository_exists(self, ref: Reference) -> bool:
        """Whether the registry knows the repository (its tags list answers): tells a missing
        repository, which Docker words as "pull access denied", from a missing tag."""
        for endpoint in hosts.endpoints(ref.domain, mirrors=self._config.registry_mirrors,
                                        insecure=self._config.insecure_registries):
            try:
                with httpx.Client(verify=endpoint.verify_tls, timeout=10,
                                  mounts={"all://127.0.0.1": None, "all://localhost": None}) as http:
                    response = http.get(f"{endpoint.url}/v2/{ref.path}/tags/list")
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                return True
        return False

    def push(self, name: str, tag: str = "", *, auth: dict | None = None) -> Iterator[dict]:
        """Push name:tag; a name without a tag (docker push --all-tags) pushes each of its tags."""
        ref = parse(_join(name, tag))
        if ref.digest:
            raise errdefs.InvalidArgument("cannot push a digest reference")
        named_only = not tag and ":" not in name.rsplit("/", 1)[-1]  # parse gave it "latest"
        refs = [ref] if not named_only else sorted(
            (record.reference for record in self._records() if record.reference is not None
             and record.reference.name == ref.name and record.reference.tag and not record.reference.digest), key=str)
        pushes = []
        for each in refs:
            try:
                record = self._client.get_image(str(each))
            except errdefs.NotFound:
                continue
            pushes.append((each, self._content(descriptor_of(record.target))))
        if not pushes:
            raise errdefs.NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")

        def push_all(emit: Callable[[dict], None]) -> None:
            for each, content in pushes:
                self._push(each, content, auth, emit)
        return _streamed(push_all)

    def _push(self, ref: Reference, content: _Content, auth: dict | None, emit: Callable[[dict], None]) -> None:
        emit({"status": f"The push refers to repository [{ref.name}]"})
        lock = threading.Lock()
        hidden = {short_id(content.config_descriptor.digest)}

        def progress(event: P.Progress) -> None:
            if event.id in hidden:
                return
            with lock:
                if event.action == P.PUSHING:
                    emit({"status": "Pushing", "progressDetail": {"current": event.current, "total": event.total},
                          "progress": _bar(event.current, event.total), "id": event.id})
                else:
                    emit({"status": event.action, "progressDetail": {}, "id": event.id})

        pushed = push_image(self._daemon.channel, self._config.containerd_namespace, str(ref),
                            insecure=self._config.insecure_registries, credentials=credentials_of(auth, ref),
                            progress=progress)
        emit({"status": f"{ref.tag}: digest: {pushed.digest} size: {pushed.size}"})
        emit({"progressDetail": {}, "aux": {"Tag": ref.tag, "Digest": pushed.digest, "Size": pushed.size}})
        self._publish("push", ref.familiar, {"name": ref.familiar})

    # archives

    def save(self, names: list[str], out: BinaryIO) -> None:
        """docker save: the named images as one tar (OCI layout plus docker manifest.json)."""
        refs = []
        for name in names:
            image, record = self._lookup(name)
            chosen = [record] if record is not None else image.named
            if not chosen:
                raise errdefs.InvalidArgument(f"cannot save {name}: the image has no name")
            refs.extend(r.name for r in chosen)
        archive.export_archive(self._daemon.channel, self._config.containerd_namespace, refs, out, platform=PLATFORM)
        for name in names:
            self._publish("save", self._lookup(name)[0].id, {"name": name})

    def check_saveable(self, names: list[str]) -> None:
        """Fail before the reply starts if a name is unknown (the tar stream cannot carry errors)."""
        if not names:
            raise errdefs.InvalidArgument("no images given")
        for name in names:
            self._lookup(name)

    def load(self, source: BinaryIO, *, quiet: bool = True) -> Iterator[dict]:
        """docker load from a seekable tar: `Loaded image: busybox:latest` per name."""
        return _streamed(lambda emit: self._load(source, quiet, emit))

    def _load(self, source: BinaryIO, quiet: bool, emit: Callable[[dict], None]) -> None:
        before = {r.name: r.target for r in self._records()}
        with self._write_lock:
            loaded = archive.import_archive(self._daemon.channel, self._config.containerd_namespace, source,
                                            platform=PLATFORM, snapshotter=SNAPSHOTTER)
            for image in loaded:
                self._drop_dangling(image.target)
                old = before.get(image.name)
                if old is not None and old.digest != image.target.digest:
                    self._keep_dangling(old)
        if not loaded:
            raise errdefs.InvalidArgument("the archive names no image: nothing was loaded")
        for image in loaded:
            name = familiar(image.name)
            emit({"stream": f"Loaded image: {name}\n"})
            try:
                image_id = self._content(image.target).id
            except errdefs.Error:
                image_id = image.target.digest
            self._publish("load", image_id, {"name": name})

    def import_image(self, source: BinaryIO, *, repo: str = "", tag: str = "", changes: Iterable[str] = (),
                     message: str = "", platform: str = "") -> Iterator[dict]:
        """docker import: one layer from a rootfs tar (plain or gzip), named repo:tag if given."""
        ref = parse(_join(repo, tag)) if repo else None
        if ref is not None and ref.digest:
            raise errdefs.InvalidArgument("cannot import to a digest reference")
        container_config = apply_changes({}, changes)
        return _streamed(lambda emit: self._import(source, ref, container_config, message, emit))

    def _import(self, source: BinaryIO, ref: Reference | None, container_config: dict, message: str,
                emit: Callable[[dict], None]) -> None:
        source.seek(0)
        head = source.read(4)
        source.seek(0)
        digest, size = _digest_of(source)
        if head.startswith(b"\x1f\x8b"):
            media_type = DOCKER_LAYER_GZIP
            diff_id = _gunzip_digest(source)
        elif head[:3] in (b"BZh",) or head.startswith(b"\xfd7zX") or head.startswith(b"\x28\xb5\x2f\xfd"):
            raise errdefs.InvalidArgument("docker import takes a plain or gzip-compressed tar")
        else:
            media_type = DOCKER_LAYER
            diff_id = digest
        layer = Descriptor(media_type, digest, size)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        arch, os_ = PLATFORM.split("/")
        image_config = {
            "architecture": arch, "os": os_, "created": now, "config": container_config,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": now, "created_by": "", "comment": message or "Imported from -"}],
        }
        config_data = json.dumps(image_config, separators=(",", ":")).encode()
        config = Descriptor.of(DOCKER_CONFIG, config_data)
        manifest = Manifest(config, (layer,))
        manifest_data = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": config.to_json(),
                                    "layers": [layer.to_json()]}, separators=(",", ":")).encode()
        target = Descriptor.of(DOCKER_MANIFEST, manifest_data)

        def open_from(offset: int):
            source.seek(offset)
            return nullcontext(iter(lambda: source.read(1 << 20), b""))

        with self._client.lease() as leased:
            write_blob(leased, ingest_ref(layer, "import"), layer, open_from)
            write_bytes(leased, ingest_ref(config, "import"), config, config_data)
            write_bytes(leased, ingest_ref(target, "import"), target, manifest_data,
                        labels=manifest_gc_labels(manifest))
            chain_id = unpack_layers(leased, [layer], [diff_id], snapshotter=SNAPSHOTTER)
            leased.set_content_labels(config.digest, {snapshot_gc_label(SNAPSHOTTER): chain_id})
            if ref is not None:
                self._put(str(ref), target)
            else:
                leased.put_image(DANGLING_PREFIX + target.digest, target)
        emit({"status": config.digest})
        self._publish("import", config.digest, {"name": ref.familiar if ref else config.digest})


# helpers


def _join(name: str, tag: str) -> str:
    """fromImage and tag as one reference: a tag given apart replaces one in the name, as
    moby's WithTag does; a digest goes after an @."""
    if not tag:
        return name
    base = parse(name).name if name else name
    return f"{base}@{tag}" if ":" in tag else f"{base}:{tag}"


def _until(value: str) -> float:
    """An `until` filter as moby reads it (a duration before now, a time, unix seconds), in seconds."""
    return F.timestamp_nano(value) / 1e9


def _bar(current: int, total: int) -> str:
    """The old text progress bar (`progress`), for clients that print it rather than progressDetail."""
    if total <= 0:
        return ""
    width = 50
    filled = min(width, int(width * current / total))
    arrow = ("=" * max(filled - 1, 0) + ">") if filled else ""
    return f"[{arrow.ljust(width)}] {_human(current)}/{_human(total)}"


def _human(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.4g}{unit}"
        size /= 1000
    return f"{size}"


def _digest_of(source: BinaryIO) -> tuple[str, int]:
    source.seek(0)
    hasher = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: source.read(1 << 20), b""):
        hasher.update(chunk)
        size += len(chunk)
    source.seek(0)
    return "sha256:" + hasher.hexdigest(), size


def _gunzip_digest(source: BinaryIO) -> str:
    source.seek(0)
    hasher = hashlib.sha256()
    try:
        with gzip.GzipFile(fileobj=source, mode="rb") as unzipped:
            for chunk in iter(lambda: unzipped.read(1 << 20), b""):
                hasher.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise errdefs.InvalidArgument(f"the gzip stream is damaged: {exc}") from None
    source.seek(0)
    return "sha256:" + hasher.hexdigest()


def _last_comment(config: dict) -> str:
    history = config.get("history") or []
    return history[-1].get("comment", "") if history else ""


def _container_config(config: dict) -> dict:
    """The image's runtime defaults in the shape of inspect's Config (a container config)."""
    return {
        "Hostname": "", "Domainname": "", "User": config.get("User", ""),
        "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
        "ExposedPorts": config.get("ExposedPorts") or None,
        "Tty": False, "OpenStdin": False, "StdinOnce": False,
        "Env": config.get("Env") or None, "Cmd": config.get("Cmd") or None,
        "Image": "", "Volumes": config.get("Volumes") or None,
        "WorkingDir": config.get("WorkingDir", ""), "Entrypoint": config.get("Entrypoint") or None,
        "OnBuild": config.get("OnBuild") or None, "Labels": config.get("Labels") or None,
        **({"StopSignal": config["StopSignal"]} if config.get("StopSignal") else {}),
        **({"Healthcheck": config["Healthcheck"]} if config.get("Healthcheck") else {}),
        **({"Shell": config["Shell"]} if config.get("Shell") else {}),
    }


def _words(rest: str, instruction: str) -> list[str]:
    """A Dockerfile argument in JSON form (`["sh","-c"]`), or else shell form."""
    rest = rest.strip()
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    if instruction in ("CMD", "ENTRYPOINT"):
        return ["/bin/sh", "-c", rest]
    return rest.split()


def _pairs(rest: str) -> list[tuple[str, str]]:
    """ENV/LABEL arguments: `k=v k2="v 2"`, or the legacy `k v` form."""
    words = shlex.split(rest)
    if words and "=" not in words[0]:
        return [(words[0], rest.strip()[len(words[0]):].strip())]
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            raise errdefs.InvalidArgument(f"invalid change: {word!r} has no '='")
        pairs.append((key, value))
    return pairs


def apply_changes(config: dict, changes: Iterable[str]) -> dict:
    """The Dockerfile instructions `docker import -c` and `commit -c` allow, applied to a config."""
    config = dict(config)
    for change in changes:
        change = change.strip()
        if not change:
            continue
        instruction, _, rest = change.partition(" ")
        instruction = instruction.upper()
        if instruction not in IMPORT_CHANGES:
            raise errdefs.InvalidArgument(f"{instruction} is not a valid change command")
        if instruction == "CMD":
            config["Cmd"] = _words(rest, instruction)
        elif instruction == "ENTRYPOINT":
            config["Entrypoint"] = _words(rest, instruction)
        elif instruction == "ENV":
            env = [e for e in config.get("Env") or []]
            for key, value in _pairs(rest):
                env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
            config["Env"] = env
        elif instruction == "LABEL":
            config["Labels"] = {**(config.get("Labels") or {}), **dict(_pairs(rest))}
        elif instruction == "EXPOSE":
            ports = dict(config.get("ExposedPorts") or {})
            for port in rest.split():
                ports[port if "/" in port else f"{port}/tcp"] = {}
            config["ExposedPorts"] = ports
        elif instruction == "VOLUME":
            volumes = dict(config.get("Volumes") or {})
            for path in _words(rest, instruction):
                volumes[path] = {}
            config["Volumes"] = volumes
        elif instruction == "USER":
            config["User"] = rest.strip()
        elif instruction == "WORKDIR":
            config["WorkingDir"] = rest.strip()
        elif instruction == "STOPSIGNAL":
            config["StopSignal"] = rest.strip()
        elif instruction == "ONBUILD":
            config["OnBuild"] = [*(config.get("OnBuild") or []), rest.strip()]
    return config


_DONE = object()


def _streamed(work: Callable[[Callable[[dict], None]], None]) -> Iterator[dict]:
    """Run work(emit) in a thread and yield what it emits as it comes; its error is raised
    after the messages before it (so before the first one, if it failed at once)."""
    messages: queue.Queue = queue.Queue()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work(messages.put)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            failure.append(exc)
        finally:
            messages.put(_DONE)

    def reader() -> Iterator[dict]:
        thread = threading.Thread(target=run, name="image-stream", daemon=True)
        thread.start()
        while (message := messages.get()) is not _DONE:
            yield message
        if failure:
            raise failure[0]

    return reader()



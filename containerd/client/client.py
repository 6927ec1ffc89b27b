"""A gRPC channel to pycontainerd and a namespace: the context every call of this library needs.

Each call carries `containerd-namespace`, and under a lease also `containerd-lease`, as gRPC
metadata, as containerd's Go client does (namespaces/grpc.go, leases/grpc.go). A lease
holds everything created under it (content, ingests, snapshots) out of the garbage
collector's reach until it is deleted or expires: a pull leases what it writes until the
image record and the gc labels keep it alive by themselves (client/pull.go).
"""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import grpc
from google.protobuf import field_mask_pb2

import errdefs
from containerd.client.media import Descriptor
from protos import (
    content_pb2, content_pb2_grpc, diff_pb2_grpc, images_pb2, images_pb2_grpc, leases_pb2, leases_pb2_grpc,
    snapshots_pb2_grpc, types_pb2,
)

LEASE_EXPIRE_LABEL = "containerd.io/gc.expire"
DEFAULT_LEASE_EXPIRY = timedelta(hours=24)  # containerd's client.WithLease default


def error_of(exc: grpc.RpcError) -> errdefs.Error:
    """The errdefs kind a gRPC status stands for, keeping the daemon's message."""
    return errdefs.from_grpc_code(exc.code().value[0], exc.details() or str(exc.code()))


def descriptor_proto(descriptor: Descriptor) -> types_pb2.Descriptor:
    return types_pb2.Descriptor(media_type=descriptor.media_type, digest=descriptor.digest, size=descriptor.size,
                                annotations=descriptor.annotations)


def descriptor_of(proto: types_pb2.Descriptor) -> Descriptor:
    return Descriptor(proto.media_type, proto.digest, proto.size, dict(proto.annotations))


class Client:
    def __init__(self, channel: grpc.Channel, namespace: str, *, lease: str = ""):
        self.channel = channel
        self.namespace = namespace
        self.lease_id = lease
        self.metadata = (("containerd-namespace", namespace), *((("containerd-lease", lease),) if lease else ()))
        self.content = content_pb2_grpc.ContentStub(channel)
        self.images = images_pb2_grpc.ImagesStub(channel)
        self.leases = leases_pb2_grpc.LeasesStub(channel)
        self.snapshots = snapshots_pb2_grpc.SnapshotsStub(channel)
        self.diff = diff_pb2_grpc.DiffStub(channel)

    def call(self, method, request, timeout: float | None = 60):
        """One unary call with this client's metadata; failures come back as errdefs kinds."""
        try:
            return method(request, metadata=self.metadata, timeout=timeout)
        except grpc.RpcError as exc:
            raise error_of(exc) from None

    @contextmanager
    def lease(self, expiry: timedelta = DEFAULT_LEASE_EXPIRY) -> Iterator[Client]:
        """A client whose calls run under a new lease, deleted when the block ends."""
        expire = (datetime.now(timezone.utc) + expiry).strftime("%Y-%m-%dT%H:%M:%SZ")
        lease = self.call(self.leases.Create, leases_pb2.CreateRequest(
            id=f"pull-{secrets.token_hex(8)}", labels={LEASE_EXPIRE_LABEL: expire})).lease
        try:
            yield Client(self.channel, self.namespace, lease=lease.id)
        finally:
            self.call(self.leases.Delete, leases_pb2.DeleteRequest(id=lease.id))

    # images

    def get_image(self, name: str) -> images_pb2.Image:
        return self.call(self.images.Get, images_pb2.GetImageRequest(name=name)).image

    def list_images(self, *filters: str) -> list[images_pb2.Image]:
        return list(self.call(self.images.List, images_pb2.ListImagesRequest(filters=filters)).images)

    def delete_image(self, name: str, *, sync: bool = False) -> None:
        self.call(self.images.Delete, images_pb2.DeleteImageRequest(name=name, sync=sync))

    def put_image(self, name: str, target: Descriptor, labels: dict[str, str] | None = None) -> images_pb2.Image:
        """Create the image record, or point an existing one at target."""
        image = images_pb2.Image(name=name, target=descriptor_proto(target), labels=labels or {})
        try:
            return self.call(self.images.Create, images_pb2.CreateImageRequest(image=image)).image
        except errdefs.AlreadyExists:
            mask = field_mask_pb2.FieldMask(paths=["target", *(f"labels.{key}" for key in labels or {})])
            return self.call(self.images.Update, images_pb2.UpdateImageRequest(image=image, update_mask=mask)).image

    # content

    def content_info(self, digest: str) -> content_pb2.Info | None:
        try:
            return self.call(self.content.Info, content_pb2.InfoRequest(digest=digest)).info
        except errdefs.NotFound:
            return None

    def read_content(self, digest: str) -> Iterator[bytes]:
        try:
            for response in self.content.Read(content_pb2.ReadContentRequest(digest=digest), metadata=self.metadata):
                yield response.data
        except grpc.RpcError as exc:
            raise error_of(exc) from None

    def read_blob(self, digest: str) -> bytes:
        return b"".join(self.read_content(digest))

    def set_content_labels(self, digest: str, labels: dict[str, str]) -> None:
        """Add or change these labels of a blob, leaving its others alone."""
        if labels:
            self.call(self.content.Update, content_pb2.UpdateRequest(
                info=content_pb2.Info(digest=digest, labels=labels),
                update_mask=field_mask_pb2.FieldMask(paths=[f"labels.{key}" for key in labels])))

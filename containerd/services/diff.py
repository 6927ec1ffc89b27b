"""containerd.services.diff.v1.Diff: layers applied onto, and computed between, the mounts of
snapshots, by the differ (diff/walking.py). A layer computed under a lease is held by it."""
from __future__ import annotations

from protos import diff_pb2, diff_pb2_grpc, types_pb2

from ..core.metadata import Descriptor
from ..diff.walking import WalkingDiffer
from ..grpc_errors import translate_errors
from ..registry import DIFF_PLUGIN, GRPC_PLUGIN, Registration
from . import lease_from, required_namespace
from .snapshots import mounts_from_proto

SERVICE = diff_pb2.DESCRIPTOR.services_by_name["Diff"]


def descriptor_to_proto(descriptor: Descriptor) -> types_pb2.Descriptor:
    return types_pb2.Descriptor(media_type=descriptor.media_type, digest=descriptor.digest, size=descriptor.size,
                                annotations=descriptor.annotations)


@translate_errors(SERVICE)
class DiffService(diff_pb2_grpc.DiffServicer):
    def __init__(self, differ: WalkingDiffer):
        self._differ = differ

    def register(self, server) -> None:
        diff_pb2_grpc.add_DiffServicer_to_server(self, server)

    def Apply(self, request, context):
        layer = Descriptor(request.diff.media_type, request.diff.digest, request.diff.size,
                           dict(request.diff.annotations))
        applied = self._differ.apply(required_namespace(context), layer, mounts_from_proto(request.mounts))
        return diff_pb2.ApplyResponse(applied=descriptor_to_proto(applied))

    def Diff(self, request, context):
        layer = self._differ.compare(required_namespace(context), mounts_from_proto(request.left),
                                     mounts_from_proto(request.right), request.media_type, request.ref,
                                     dict(request.labels), lease_from(context))
        return diff_pb2.DiffResponse(diff=descriptor_to_proto(layer))


registration = Registration(
    type=GRPC_PLUGIN, id="diff", requires=(DIFF_PLUGIN,),
    init=lambda ic: DiffService(ic.plugins.get(DIFF_PLUGIN)),
)

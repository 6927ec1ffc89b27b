"""containerd.services.version.v1.Version."""
from protos import version_pb2, version_pb2_grpc

from .. import REVISION, VERSION
from ..grpc_errors import translate_errors
from ..registry import GRPC_PLUGIN, Registration

SERVICE = version_pb2.DESCRIPTOR.services_by_name["Version"]


@translate_errors(SERVICE)
class VersionService(version_pb2_grpc.VersionServicer):
    def register(self, server) -> None:
        version_pb2_grpc.add_VersionServicer_to_server(self, server)

    def Version(self, request, context):
        return version_pb2.VersionResponse(version=VERSION, revision=REVISION)


registration = Registration(type=GRPC_PLUGIN, id="version", init=lambda ic: VersionService())

"""containerd.services.introspection.v1.Introspection: which plugins this daemon is made of,
and which daemon it is (a uuid kept under root, so it survives restarts; its pid and pid
namespace)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from protos import introspection_pb2, introspection_pb2_grpc

from ..core import filters
from ..files import write_atomically
from ..grpc_errors import translate_errors
from ..registry import ALL_TYPES, GRPC_PLUGIN, InitContext, Plugins, Registration

SERVICE = introspection_pb2.DESCRIPTOR.services_by_name["Introspection"]


def server_uuid(directory: Path) -> str:
    """This daemon's uuid, made on first use and kept."""
    path = directory / "uuid"
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomically(path, str(uuid.uuid4()).encode())
    return path.read_text()


@translate_errors(SERVICE)
class IntrospectionService(introspection_pb2_grpc.IntrospectionServicer):
    def __init__(self, plugins: Plugins, root: Path):
        self._plugins = plugins
        self._uuid = server_uuid(root)

    def register(self, server) -> None:
        introspection_pb2_grpc.add_IntrospectionServicer_to_server(self, server)

    def Plugins(self, request, context):
        matcher = filters.parse_all(request.filters)
        plugins = [introspection_pb2.Plugin(type=registration.type, id=registration.id,
                                            requires=registration.requires)
                   for registration, _ in self._plugins.loaded]
        return introspection_pb2.PluginsResponse(
            plugins=[p for p in plugins if matcher.match(lambda fieldpath, p=p: filters.message_field(p, fieldpath))])

    def Server(self, request, context):
        return introspection_pb2.ServerResponse(uuid=self._uuid, pid=os.getpid(),
                                                pidns=os.stat("/proc/self/ns/pid").st_ino)


def _init(ic: InitContext) -> IntrospectionService:
    return IntrospectionService(ic.plugins, ic.root)


registration = Registration(type=GRPC_PLUGIN, id="introspection", requires=(ALL_TYPES,), init=_init)

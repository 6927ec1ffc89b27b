"""containerd.services.leases.v1.Leases: leases, which keep what they hold from garbage
collection, and the resources they hold."""
from __future__ import annotations

from google.protobuf import empty_pb2

from protos import leases_pb2, leases_pb2_grpc

from ..core import filters
from ..core.metadata import Lease, LeaseResource
from ..grpc_errors import translate_errors
from ..leases import LeaseManager
from ..registry import GRPC_PLUGIN, LEASE_PLUGIN, Registration
from . import required_namespace
from .containers import timestamp

SERVICE = leases_pb2.DESCRIPTOR.services_by_name["Leases"]


def lease_to_proto(lease: Lease) -> leases_pb2.Lease:
    return leases_pb2.Lease(id=lease.id, labels=lease.labels, created_at=timestamp(lease.created_at))


def resource_from_proto(message: leases_pb2.Resource) -> LeaseResource:
    return LeaseResource(type=message.type, id=message.id)


@translate_errors(SERVICE)
class LeasesService(leases_pb2_grpc.LeasesServicer):
    def __init__(self, manager: LeaseManager):
        self._manager = manager

    def register(self, server) -> None:
        leases_pb2_grpc.add_LeasesServicer_to_server(self, server)

    def Create(self, request, context):
        lease = self._manager.create(required_namespace(context), request.id, dict(request.labels))
        return leases_pb2.CreateResponse(lease=lease_to_proto(lease))

    def Delete(self, request, context):
        self._manager.delete(required_namespace(context), request.id, sync=request.sync)
        return empty_pb2.Empty()

    def List(self, request, context):
        leases = self._manager.list(required_namespace(context), filters.parse_all(request.filters))
        return leases_pb2.ListResponse(leases=[lease_to_proto(lease) for lease in leases])

    def AddResource(self, request, context):
        self._manager.add_resource(required_namespace(context), request.id, resource_from_proto(request.resource))
        return empty_pb2.Empty()

    def DeleteResource(self, request, context):
        self._manager.delete_resource(required_namespace(context), request.id, resource_from_proto(request.resource))
        return empty_pb2.Empty()

    def ListResources(self, request, context):
        resources = self._manager.list_resources(required_namespace(context), request.id)
        return leases_pb2.ListResourcesResponse(
            resources=[leases_pb2.Resource(id=resource.id, type=resource.type) for resource in resources])


registration = Registration(type=GRPC_PLUGIN, id="leases", requires=(LEASE_PLUGIN,),
                            init=lambda ic: LeasesService(ic.plugins.get(LEASE_PLUGIN)))

"""containerd.services.namespaces.v1.Namespaces: namespaces and their labels. Changes publish
/namespaces/create, /update and /delete, each on behalf of the namespace itself."""
from __future__ import annotations

from google.protobuf import empty_pb2

from protos import event_types_pb2, namespaces_pb2, namespaces_pb2_grpc

from ..core.events import Exchange
from ..core.metadata import MetadataStore, Namespace
from ..grpc_errors import translate_errors
from ..registry import EVENT_PLUGIN, GRPC_PLUGIN, METADATA_PLUGIN, Registration

SERVICE = namespaces_pb2.DESCRIPTOR.services_by_name["Namespaces"]


def namespace_to_proto(namespace: Namespace) -> namespaces_pb2.Namespace:
    return namespaces_pb2.Namespace(name=namespace.name, labels=namespace.labels)


@translate_errors(SERVICE)
class NamespacesService(namespaces_pb2_grpc.NamespacesServicer):
    def __init__(self, store: MetadataStore, exchange: Exchange):
        self._store = store
        self._exchange = exchange

    def register(self, server) -> None:
        namespaces_pb2_grpc.add_NamespacesServicer_to_server(self, server)

    def Get(self, request, context):
        return namespaces_pb2.GetNamespaceResponse(namespace=namespace_to_proto(self._store.get_namespace(request.name)))

    def List(self, request, context):
        return namespaces_pb2.ListNamespacesResponse(
            namespaces=[namespace_to_proto(namespace) for namespace in self._store.list_namespaces()])

    def Create(self, request, context):
        namespace = self._store.create_namespace(request.namespace.name, dict(request.namespace.labels))
        self._exchange.publish(namespace.name, "/namespaces/create",
                               event_types_pb2.NamespaceCreate(name=namespace.name, labels=namespace.labels))
        return namespaces_pb2.CreateNamespaceResponse(namespace=namespace_to_proto(namespace))

    def Update(self, request, context):
        namespace = self._store.update_namespace(request.namespace.name, dict(request.namespace.labels),
                                                 list(request.update_mask.paths))
        self._exchange.publish(namespace.name, "/namespaces/update",
                               event_types_pb2.NamespaceUpdate(name=namespace.name, labels=namespace.labels))
        return namespaces_pb2.UpdateNamespaceResponse(namespace=namespace_to_proto(namespace))

    def Delete(self, request, context):
        self._store.delete_namespace(request.name)
        self._exchange.publish(request.name, "/namespaces/delete", event_types_pb2.NamespaceDelete(name=request.name))
        return empty_pb2.Empty()


registration = Registration(
    type=GRPC_PLUGIN, id="namespaces", requires=(METADATA_PLUGIN, EVENT_PLUGIN),
    init=lambda ic: NamespacesService(ic.plugins.get(METADATA_PLUGIN), ic.plugins.get(EVENT_PLUGIN)),
)

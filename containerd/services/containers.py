"""containerd.services.containers.v1.Containers: container records, kept by the metadata store.
Creating, updating and deleting one publishes /containers/create, /update and /delete."""
from __future__ import annotations

from google.protobuf import empty_pb2, timestamp_pb2

from protos import containers_pb2, containers_pb2_grpc, event_types_pb2

from ..core import filters
from ..core.events import Exchange
from ..core.metadata import Container, MetadataStore, Runtime, TypedValue
from ..grpc_errors import translate_errors
from ..registry import EVENT_PLUGIN, GRPC_PLUGIN, METADATA_PLUGIN, Registration
from . import required_namespace, to_any, typed_value

SERVICE = containers_pb2.DESCRIPTOR.services_by_name["Containers"]


def timestamp(nanoseconds: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(nanoseconds)
    return stamp


def container_from_proto(message: containers_pb2.Container) -> Container:
    return Container(
        id=message.id,
        runtime=Runtime(message.runtime.name, typed_value(message.runtime.options, message.runtime.HasField("options"))),
        spec=typed_value(message.spec, message.HasField("spec")),
        labels=dict(message.labels),
        image=message.image,
        snapshotter=message.snapshotter,
        snapshot_key=message.snapshot_key,
        extensions={key: TypedValue(value.type_url, value.value) for key, value in message.extensions.items()},
    )


def container_to_proto(container: Container) -> containers_pb2.Container:
    return containers_pb2.Container(
        id=container.id,
        labels=container.labels,
        image=container.image,
        runtime=containers_pb2.Container.Runtime(name=container.runtime.name, options=to_any(container.runtime.options)),
        spec=to_any(container.spec),
        snapshotter=container.snapshotter,
        snapshot_key=container.snapshot_key,
        created_at=timestamp(container.created_at),
        updated_at=timestamp(container.updated_at),
        extensions={key: to_any(value) for key, value in container.extensions.items()},
    )


@translate_errors(SERVICE)
class ContainersService(containers_pb2_grpc.ContainersServicer):
    def __init__(self, store: MetadataStore, exchange: Exchange):
        self._store = store
        self._exchange = exchange

    def register(self, server) -> None:
        containers_pb2_grpc.add_ContainersServicer_to_server(self, server)

    def Get(self, request, context):
        container = self._store.get_container(required_namespace(context), request.id)
        return containers_pb2.GetContainerResponse(container=container_to_proto(container))

    def List(self, request, context):
        containers = self._list(request, context)
        return containers_pb2.ListContainersResponse(containers=[container_to_proto(c) for c in containers])

    def ListStream(self, request, context):
        for container in self._list(request, context):
            yield containers_pb2.ListContainerMessage(container=container_to_proto(container))

    def _list(self, request, context) -> list[Container]:
        return self._store.list_containers(required_namespace(context), filters.parse_all(request.filters))

    def Create(self, request, context):
        namespace = required_namespace(context)
        container = self._store.create_container(namespace, container_from_proto(request.container))
        self._exchange.publish(namespace, "/containers/create", event_types_pb2.ContainerCreate(
            id=container.id, image=container.image, runtime=event_types_pb2.ContainerCreate.Runtime(
                name=container.runtime.name, options=to_any(container.runtime.options))))
        return containers_pb2.CreateContainerResponse(container=container_to_proto(container))

    def Update(self, request, context):
        namespace = required_namespace(context)
        container = self._store.update_container(namespace, container_from_proto(request.container),
                                                 list(request.update_mask.paths))
        self._exchange.publish(namespace, "/containers/update", event_types_pb2.ContainerUpdate(
            id=container.id, image=container.image, labels=container.labels, snapshot_key=container.snapshot_key))
        return containers_pb2.UpdateContainerResponse(container=container_to_proto(container))

    def Delete(self, request, context):
        namespace = required_namespace(context)
        self._store.delete_container(namespace, request.id)
        self._exchange.publish(namespace, "/containers/delete", event_types_pb2.ContainerDelete(id=request.id))
        return empty_pb2.Empty()


registration = Registration(
    type=GRPC_PLUGIN, id="containers", requires=(METADATA_PLUGIN, EVENT_PLUGIN),
    init=lambda ic: ContainersService(ic.plugins.get(METADATA_PLUGIN), ic.plugins.get(EVENT_PLUGIN)),
)

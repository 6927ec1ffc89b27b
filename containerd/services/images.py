"""containerd.services.images.v1.Images: image records, kept by the metadata store. Creating,
updating and deleting one publishes /images/create, /update and /delete; a delete with sync
set returns once garbage collection has removed what only the image kept."""
from __future__ import annotations

from google.protobuf import empty_pb2

from protos import event_types_pb2, images_pb2, images_pb2_grpc, types_pb2

from ..core import filters
from ..core.events import Exchange
from ..core.metadata import Descriptor, Image, MetadataStore
from ..gc import GarbageCollector
from ..grpc_errors import translate_errors
from ..registry import EVENT_PLUGIN, GC_PLUGIN, GRPC_PLUGIN, METADATA_PLUGIN, Registration
from . import required_namespace
from .containers import timestamp

SERVICE = images_pb2.DESCRIPTOR.services_by_name["Images"]


def image_from_proto(message: images_pb2.Image) -> Image:
    target = message.target
    return Image(name=message.name, labels=dict(message.labels), target=Descriptor(
        media_type=target.media_type, digest=target.digest, size=target.size, annotations=dict(target.annotations)))


def image_to_proto(image: Image) -> images_pb2.Image:
    target = image.target
    return images_pb2.Image(
        name=image.name, labels=image.labels,
        target=types_pb2.Descriptor(media_type=target.media_type, digest=target.digest, size=target.size,
                                    annotations=target.annotations),
        created_at=timestamp(image.created_at), updated_at=timestamp(image.updated_at))


@translate_errors(SERVICE)
class ImagesService(images_pb2_grpc.ImagesServicer):
    def __init__(self, store: MetadataStore, exchange: Exchange, gc: GarbageCollector):
        self._store = store
        self._exchange = exchange
        self._gc = gc

    def register(self, server) -> None:
        images_pb2_grpc.add_ImagesServicer_to_server(self, server)

    def Get(self, request, context):
        image = self._store.get_image(required_namespace(context), request.name)
        return images_pb2.GetImageResponse(image=image_to_proto(image))

    def List(self, request, context):
        images = self._store.list_images(required_namespace(context), filters.parse_all(request.filters))
        return images_pb2.ListImagesResponse(images=[image_to_proto(i) for i in images])

    def Create(self, request, context):
        namespace = required_namespace(context)
        image = self._store.create_image(namespace, image_from_proto(request.image))
        self._exchange.publish(namespace, "/images/create", event_types_pb2.ImageCreate(name=image.name, labels=image.labels))
        return images_pb2.CreateImageResponse(image=image_to_proto(image))

    def Update(self, request, context):
        namespace = required_namespace(context)
        image = self._store.update_image(namespace, image_from_proto(request.image), list(request.update_mask.paths))
        self._exchange.publish(namespace, "/images/update", event_types_pb2.ImageUpdate(name=image.name, labels=image.labels))
        return images_pb2.UpdateImageResponse(image=image_to_proto(image))

    def Delete(self, request, context):
        namespace = required_namespace(context)
        self._store.delete_image(namespace, request.name)
        self._exchange.publish(namespace, "/images/delete", event_types_pb2.ImageDelete(name=request.name))
        if request.sync:
            self._gc.collect()
        return empty_pb2.Empty()


registration = Registration(
    type=GRPC_PLUGIN, id="images", requires=(METADATA_PLUGIN, EVENT_PLUGIN, GC_PLUGIN),
    init=lambda ic: ImagesService(ic.plugins.get(METADATA_PLUGIN), ic.plugins.get(EVENT_PLUGIN),
                                  ic.plugins.get(GC_PLUGIN)),
)

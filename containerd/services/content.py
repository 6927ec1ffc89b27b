"""containerd.services.content.v1.Content: the blobs a namespace holds, read and written as
containerd's server does it. Deleting one publishes /content/delete."""
from __future__ import annotations

from google.protobuf import empty_pb2

import errdefs
from protos import content_pb2, content_pb2_grpc, event_types_pb2

from ..content.local import Status
from ..content.store import ContentStore
from ..core import filters
from ..core.events import Exchange
from ..core.metadata import ContentInfo
from ..grpc_errors import translate_errors
from ..registry import CONTENT_PLUGIN, EVENT_PLUGIN, GRPC_PLUGIN, Registration
from . import lease_from, required_namespace
from .containers import timestamp

SERVICE = content_pb2.DESCRIPTOR.services_by_name["Content"]
LIST_BLOCK = 100  # infos per List message, as containerd sends them


def info_to_proto(info: ContentInfo) -> content_pb2.Info:
    return content_pb2.Info(digest=info.digest, size=info.size, labels=info.labels,
                            created_at=timestamp(info.created_at), updated_at=timestamp(info.updated_at))


def status_to_proto(status: Status) -> content_pb2.Status:
    return content_pb2.Status(ref=status.ref, offset=status.offset, total=status.total, expected=status.expected,
                              started_at=timestamp(status.started_at), updated_at=timestamp(status.updated_at))


@translate_errors(SERVICE)
class ContentService(content_pb2_grpc.ContentServicer):
    def __init__(self, store: ContentStore, exchange: Exchange):
        self._store = store
        self._exchange = exchange

    def register(self, server) -> None:
        content_pb2_grpc.add_ContentServicer_to_server(self, server)

    def Info(self, request, context):
        return content_pb2.InfoResponse(info=info_to_proto(self._store.info(required_namespace(context), request.digest)))

    def Update(self, request, context):
        update = ContentInfo(request.info.digest, request.info.size, dict(request.info.labels))
        info = self._store.update(required_namespace(context), update, list(request.update_mask.paths))
        return content_pb2.UpdateResponse(info=info_to_proto(info))

    def List(self, request, context):
        infos = self._store.list(required_namespace(context), filters.parse_all(request.filters))
        for start in range(0, len(infos), LIST_BLOCK):
            yield content_pb2.ListContentResponse(info=[info_to_proto(i) for i in infos[start:start + LIST_BLOCK]])

    def Delete(self, request, context):
        namespace = required_namespace(context)
        self._store.delete(namespace, request.digest, lease_from(context))
        self._exchange.publish(namespace, "/content/delete", event_types_pb2.ContentDelete(digest=request.digest))
        return empty_pb2.Empty()

    def Read(self, request, context):
        for offset, data in self._store.read(required_namespace(context), request.digest, request.offset, request.size):
            yield content_pb2.ReadContentResponse(offset=offset, data=data)

    def Status(self, request, context):
        status = self._store.status(required_namespace(context), request.ref)
        return content_pb2.StatusResponse(status=status_to_proto(status))

    def ListStatuses(self, request, context):
        statuses = self._store.list_statuses(required_namespace(context), filters.parse_all(request.filters))
        return content_pb2.ListStatusesResponse(statuses=[status_to_proto(s) for s in statuses])

    def Write(self, request_iterator, context):
        """One write per stream: the first message names the ref and holds it for the
        stream's life; each message is answered; COMMIT ends the stream, as does the client."""
        namespace, lease = required_namespace(context), lease_from(context)
        request = next(request_iterator, None)
        if request is None:
            return
        if not request.ref:
            raise errdefs.InvalidArgument("first message must have a reference: invalid argument")
        total, expected = request.total, request.expected
        writer = self._store.writer(namespace, request.ref, total, expected, lease)
        try:
            while True:
                if request.expected:
                    expected = request.expected
                    if self._store.metadata.lease_content_if_held(namespace, expected, lease):
                        writer.close()
                        self._store.abort(namespace, writer.ref, lease)
                        raise errdefs.AlreadyExists(f"blob with expected digest {expected} exists: already exists")
                if request.total > 0:
                    total = request.total
                response = content_pb2.WriteContentResponse(action=request.action)
                if request.action == content_pb2.STAT:
                    status = writer.status()
                    response.started_at.CopyFrom(timestamp(status.started_at))
                    response.updated_at.CopyFrom(timestamp(status.updated_at))
                    response.total = total
                else:
                    writer.write(request.data, request.offset)
                    if request.action == content_pb2.COMMIT:
                        writer.commit(total, expected, dict(request.labels))
                response.offset = writer.offset
                response.digest = writer.digest
                yield response
                if request.action == content_pb2.COMMIT:
                    return
                request = next(request_iterator, None)
                if request is None:
                    return
        finally:
            writer.close()

    def Abort(self, request, context):
        self._store.abort(required_namespace(context), request.ref, lease_from(context))
        return empty_pb2.Empty()


registration = Registration(
    type=GRPC_PLUGIN, id="content", requires=(CONTENT_PLUGIN, EVENT_PLUGIN),
    init=lambda ic: ContentService(ic.plugins.get(CONTENT_PLUGIN), ic.plugins.get(EVENT_PLUGIN)),
)

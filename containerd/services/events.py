"""containerd.services.events.v1.Events over gRPC (Publish, Forward, Subscribe) and
containerd.services.events.ttrpc.v1.Events over ttrpc (Forward), the one shims publish to."""
from __future__ import annotations

from google.protobuf import empty_pb2

from protos import events_pb2, events_pb2_grpc, ttrpc_events_pb2

from ..core.events import Exchange
from ..grpc_errors import translate_errors
from ..registry import EVENT_PLUGIN, GRPC_PLUGIN, TTRPC_PLUGIN, Registration
from . import required_namespace

SERVICE = events_pb2.DESCRIPTOR.services_by_name["Events"]
TTRPC_SERVICE = ttrpc_events_pb2.DESCRIPTOR.services_by_name["Events"]


@translate_errors(SERVICE)
class EventsService(events_pb2_grpc.EventsServicer):
    def __init__(self, exchange: Exchange):
        self._exchange = exchange

    def register(self, server) -> None:
        events_pb2_grpc.add_EventsServicer_to_server(self, server)

    def Publish(self, request, context):
        self._exchange.publish(required_namespace(context), request.topic, request.event)
        return empty_pb2.Empty()

    def Forward(self, request, context):
        self._exchange.forward(request.envelope)
        return empty_pb2.Empty()

    def Subscribe(self, request, context):
        """Every matching event from now until the subscriber goes away, in order."""
        subscription = self._exchange.subscribe(request.filters)
        if not context.add_callback(subscription.close):  # the subscriber is gone already
            subscription.close()
        try:
            yield from subscription
        finally:
            subscription.close()


class TTRPCEventsService:
    """What shims forward their events to (the address they get as TTRPC_ADDRESS)."""

    def __init__(self, exchange: Exchange):
        self._exchange = exchange

    def register(self, server) -> None:
        server.register_service(TTRPC_SERVICE, self)

    def Forward(self, request, context):
        self._exchange.forward(request.envelope)


registration = Registration(type=GRPC_PLUGIN, id="events", requires=(EVENT_PLUGIN,),
                            init=lambda ic: EventsService(ic.plugins.get(EVENT_PLUGIN)))
ttrpc_registration = Registration(type=TTRPC_PLUGIN, id="events", requires=(EVENT_PLUGIN,),
                                  init=lambda ic: TTRPCEventsService(ic.plugins.get(EVENT_PLUGIN)))

"""The event exchange: every event published in pycontainerd or forwarded by a shim goes to
every subscriber whose filters match, in the order the exchange received them.

Each subscriber has its own unbounded queue, as containerd's go-events queue, so a slow
subscriber never holds up a publisher or another subscriber. Publishing happens under one
lock, so every subscriber sees the events in the same order.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence

from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf import message as _message

import errdefs
from protos import event_types_pb2, events_pb2, typeurl  # noqa: F401 - event_types_pb2 lets unpack find event types

from . import filters, identifiers


def validate_topic(topic: str) -> str:
    if not topic:
        raise errdefs.InvalidArgument("must not be empty: invalid argument")
    if not topic.startswith("/"):
        raise errdefs.InvalidArgument(f'envelope topic "{topic}": must start with "/": invalid argument')
    if len(topic) == 1:
        raise errdefs.InvalidArgument(f'envelope topic "{topic}": must have at least one component: invalid argument')
    for component in topic[1:].split("/"):
        try:
            identifiers.validate(component)
        except errdefs.InvalidArgument as exc:
            raise errdefs.InvalidArgument(
                f'envelope topic "{topic}": failed validation on component "{component}": {exc}') from None
    return topic


def envelope_field(envelope: events_pb2.Envelope, fieldpath: Sequence[str]) -> tuple[str, bool]:
    """What a filter sees of an envelope: namespace, topic, and event.<field> of the event."""
    if not fieldpath:
        return "", False
    if fieldpath[0] == "namespace":
        return envelope.namespace, bool(envelope.namespace)
    if fieldpath[0] == "topic":
        return envelope.topic, bool(envelope.topic)
    if fieldpath[0] == "event":
        try:
            event = typeurl.unpack(envelope.event)
        except (KeyError, _message.DecodeError):
            return "", False
        return filters.message_field(event, fieldpath[1:])
    return "", False


class Subscription:
    """Envelopes for one subscriber, in order; iterate until closed."""

    _CLOSED = object()

    def __init__(self, exchange: Exchange, matcher: filters.AnyOf):
        self._exchange = exchange
        self._matcher = matcher
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def offer(self, envelope: events_pb2.Envelope) -> None:
        if self._matcher.match(lambda fieldpath: envelope_field(envelope, fieldpath)):
            self._queue.put(envelope)

    def close(self) -> None:
        """Stop the subscription; a reader blocked in iteration returns. Idempotent."""
        if self._exchange.remove(self):
            self._queue.put(self._CLOSED)

    def __iter__(self) -> Iterator[events_pb2.Envelope]:
        while (item := self._queue.get()) is not self._CLOSED:
            yield item


class Exchange:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []

    def publish(self, namespace: str, topic: str, event: _message.Message | any_pb2.Any) -> None:
        """Publish an event on behalf of namespace, stamped now."""
        identifiers.validate(namespace)
        validate_topic(topic)
        packed = event if isinstance(event, any_pb2.Any) else typeurl.pack(event)
        timestamp = timestamp_pb2.Timestamp()
        timestamp.GetCurrentTime()
        self._broadcast(events_pb2.Envelope(timestamp=timestamp, namespace=namespace, topic=topic, event=packed))

    def forward(self, envelope: events_pb2.Envelope) -> None:
        """Pass on an envelope someone else (a shim) published, as it is."""
        try:
            identifiers.validate(envelope.namespace)
        except errdefs.InvalidArgument as exc:
            raise errdefs.InvalidArgument(f"event envelope has invalid namespace: {exc}") from None
        validate_topic(envelope.topic)
        if not envelope.HasField("timestamp") or envelope.timestamp == timestamp_pb2.Timestamp():
            raise errdefs.InvalidArgument("timestamp must be set on forwarded event: invalid argument")
        self._broadcast(envelope)

    def subscribe(self, filter_texts: Iterable[str] = ()) -> Subscription:
        subscription = Subscription(self, filters.parse_all(filter_texts))
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> bool:
        with self._lock:
            if subscription not in self._subscriptions:
                return False
            self._subscriptions.remove(subscription)
            return True

    def _broadcast(self, envelope: events_pb2.Envelope) -> None:
        with self._lock:
            for subscription in self._subscriptions:
                subscription.offer(envelope)

"""The events bus behind `GET /events`: services publish, streams subscribe.

Publishing is thread-safe and never blocks: the services publish from FastAPI's thread pool
and from their event monitors, while the subscribers are /events streams on the event loop
(or threads). A bounded history serves `since`, as moby keeps its last events in memory.
"""
from __future__ import annotations

import asyncio
import collections
import queue
import threading
import time
from collections.abc import Callable

HISTORY = 1000  # moby keeps 256; a little more costs nothing and helps `docker events --since`

Event = dict  # the wire message, exactly as /events writes it


def message(type_: str, action: str, actor_id: str, attributes: dict[str, str] | None,
            scope: str, time_nano: int) -> Event:
    attributes = {k: str(v) for k, v in (attributes or {}).items()}
    event: Event = {}
    # The legacy fields: moby still fills them for containers (all three) and images, and
    # leaves out the empty ones (omitempty): a prune has no actor, nor an image.
    if type_ in ("container", "image"):
        image = attributes.get("image", "") if type_ == "container" else ""
        legacy = {"status": action, "id": actor_id, "from": image}
        event.update((key, value) for key, value in legacy.items() if value)
    event.update(Type=type_, Action=action, Actor={"ID": actor_id, "Attributes": attributes}, scope=scope,
                 time=time_nano // 1_000_000_000, timeNano=time_nano)
    return event


class Subscription:
    """Events published after `EventBus.subscribe`, in order; `backlog` holds the replayed ones.
    Read with `get` from a thread or `await next()` on the loop it was made on."""

    def __init__(self, bus: EventBus, backlog: list[Event], accept: Callable[[Event], bool],
                 loop: asyncio.AbstractEventLoop | None):
        self.backlog = backlog
        self._bus = bus
        self._accept = accept
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._loop = loop
        self._ready = asyncio.Event() if loop is not None else None

    def _deliver(self, event: Event) -> None:
        if not self._accept(event):
            return
        self._queue.put(event)
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:
                pass  # the loop has closed: nobody is reading any more

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after timeout seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    async def next(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after timeout seconds (only for a subscription made with a loop)."""
        while True:
            try:
                return self._queue.get_nowait()
            except queue.Empty:
                pass
            self._ready.clear()
            if not self._queue.empty():
                continue
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None

    def close(self) -> None:
        self._bus._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EventBus:
    def __init__(self, history: int = HISTORY):
        self._lock = threading.Lock()
        self._history: collections.deque[Event] = collections.deque(maxlen=history)
        self._subscribers: list[Subscription] = []

    def publish(self, type_: str, action: str, actor_id: str, attributes: dict[str, str] | None = None,
                scope: str = "local") -> Event:
        """Record and deliver one event (type_ is the wire `Type`: container, image, volume,
        network, daemon...); attribute values are sent as strings."""
        with self._lock:
            # Under the lock so that history and every stream see one order of events.
            event = message(type_, action, actor_id, attributes, scope, time.time_ns())
            self._history.append(event)
            subscribers = list(self._subscribers)
            for subscription in subscribers:
                subscription._deliver(event)
        return event

    def subscribe(self, accept: Callable[[Event], bool] = lambda event: True, since_nano: int | None = None,
                  until_nano: int | None = None, loop: asyncio.AbstractEventLoop | None = None) -> Subscription:
        """Events accepted by `accept` from now on; with since_nano or until_nano, the stored
        ones between them come first, in `backlog` (moby replays its whole buffer up to `until`
        when no `since` is given). Pass the running loop to read with `next`."""
        with self._lock:
            backlog = [] if since_nano is None and until_nano is None else [
                e for e in self._history
                if e["timeNano"] >= (since_nano or 0) and (until_nano is None or e["timeNano"] <= until_nano)
                and accept(e)]
            subscription = Subscription(self, backlog, accept, loop)
            self._subscribers.append(subscription)
        return subscription

    @property
    def listeners(self) -> int:
        """How many streams follow the events now (/info's NEventsListener)."""
        with self._lock:
            return len(self._subscribers)

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)


FILTERS = {"config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope",
           "secret", "service", "type", "volume"}


def matcher(filters: dict[str, list[str]]) -> Callable[[Event], bool]:
    """The events `filters` accept, by moby's rules: every named filter must match, and any
    of a filter's values will do; objects match by ID or name, an ID or name by prefix."""
    def exact(name: str, *values: str) -> bool:
        return name not in filters or any(v in filters[name] for v in values)

    def fuzzy(name: str, *values: str) -> bool:
        return name not in filters or any(v.startswith(f) for f in filters[name] for v in values if v)

    def labels(attributes: dict[str, str]) -> bool:
        for wanted in filters.get("label", []):
            key, has_value, value = wanted.partition("=")
            if key not in attributes or (has_value and attributes[key] != value):
                return False
        return True

    def accept(event: Event) -> bool:
        actor = event["Actor"]
        attributes = actor["Attributes"]
        image_name = attributes.get("name" if event["Type"] == "image" else "image", "")
        return (exact("event", event["Action"], event["Action"].split(":", 1)[0])
                and exact("type", event["Type"])
                and exact("scope", event["scope"])
                and exact("image", actor["ID"], image_name, _strip_tag(actor["ID"]), _strip_tag(image_name))
                and all(fuzzy(kind, actor["ID"], attributes.get("name", ""))
                        for kind in ("container", "daemon", "volume", "network", "plugin", "node", "service",
                                     "secret", "config"))
                and labels(attributes))

    return accept


def _strip_tag(reference: str) -> str:
    """name:tag and name@digest → name; an image ID stays whole."""
    if reference.startswith("sha256:"):
        return reference
    reference = reference.split("@", 1)[0]
    name, _, tail = reference.rpartition(":")
    return name if name and "/" not in tail else reference

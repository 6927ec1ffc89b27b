"""Task events, from the shim to containerd: Events.Forward over ttrpc, in order.

containerd's own shim drops an event after 5 failed tries (~15 s), so an exit that happens
while containerd is down is never announced. Ours keeps every event queued, in order, and
retries until containerd is back; the exit itself is also on disk (process.py), so a
restarted containerd can ask for it either way.
"""
import collections
import threading
import time

from google.protobuf import timestamp_pb2

from protos import events_pb2, ttrpc, ttrpc_events_pb2, typeurl

_SERVICE = "containerd.services.events.ttrpc.v1.Events"
_MAX_DELAY = 1.0


class Publisher:
    def __init__(self, ttrpc_address: str, namespace: str):
        self.address = ttrpc_address
        self.namespace = namespace
        self._queue: collections.deque = collections.deque()
        self._ready = threading.Condition()
        self._client: ttrpc.Client | None = None
        self._sending = False  # a sender thread runs only while events wait: an idle shim has none

    def publish(self, topic: str, event) -> None:
        envelope = events_pb2.Envelope(timestamp=timestamp_pb2.Timestamp(), namespace=self.namespace, topic=topic,
                                       event=typeurl.pack(event))
        envelope.timestamp.GetCurrentTime()
        with self._ready:
            self._queue.append(envelope)
            if not self._sending:
                self._sending = True
                threading.Thread(target=self._send_loop, name="publisher", daemon=True).start()

    def drain(self, timeout: float) -> bool:
        """Wait until every event was delivered (before the shim exits); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._queue:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._ready.wait(remaining)
        return True

    def _send_loop(self) -> None:
        delay = 0.05
        while True:
            with self._ready:
                if not self._queue:
                    self._sending = False
                    self._disconnect()
                    return
                envelope = self._queue[0]
            try:
                self._forward(envelope)
            except (ttrpc.RPCError, OSError):
                self._disconnect()
                time.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY)
                continue
            delay = 0.05
            with self._ready:
                self._queue.popleft()
                self._ready.notify_all()

    def _forward(self, envelope) -> None:
        if self._client is None or self._client.closed:
            self._client = ttrpc.Client(self.address.removeprefix("unix://"))
        self._client.call(_SERVICE, "Forward", ttrpc_events_pb2.ForwardRequest(envelope=envelope), timeout=10)

    def _disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

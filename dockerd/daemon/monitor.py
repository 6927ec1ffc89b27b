"""Task events from pycontainerd → container state (moby's daemon/monitor.go).

One thread follows pycontainerd's event stream for Docker's namespace. Each time the stream
is (re)established, after pydockerd starts or pycontainerd restarts, the containers are
reconciled with the tasks, so an exit that happened while nobody listened is not lost.
Exits are handled each in a thread of its own: deleting a task waits on its shim, and one
container's exit must not hold up another's.
"""
from __future__ import annotations

import logging
import queue
import threading

from google.protobuf import empty_pb2

import errdefs
from protos import event_types_pb2, events_pb2, typeurl

from .containerd import exit_of

log = logging.getLogger("pydockerd")

READY_TOPIC = "/pydockerd/subscribed"
RETRY_INTERVAL = 0.5


class Monitor:
    def __init__(self, service):
        self.service = service
        self._stop = threading.Event()
        self._call = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        """Follow the events; return once the first reconciliation is done (or pycontainerd
        could not be reached: then it is retried in the background)."""
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()
        self._ready.wait(30)

    def stop(self) -> None:
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        containerd = self.service.containerd
        while not self._stop.is_set():
            try:
                self._follow(containerd)
            except errdefs.Error as exc:
                if self._stop.is_set():
                    return
                log.info("task events: %s; subscribing again", exc)
            except Exception:  # noqa: BLE001
                log.exception("task events")
            self._ready.set()
            self._stop.wait(RETRY_INTERVAL)

    def _follow(self, containerd) -> None:
        call = containerd.events.Subscribe(events_pb2.SubscribeRequest(
            filters=['topic~="^/tasks/"', f'topic=="{READY_TOPIC}"']))
        self._call = call
        events: queue.Queue = queue.Queue()

        def read():
            try:
                for envelope in call:
                    events.put(envelope)
            except Exception as exc:  # noqa: BLE001 - the stream's end, whatever its cause
                events.put(exc)
            else:
                events.put(errdefs.Unavailable("event stream ended"))
        threading.Thread(target=read, name="monitor-reader", daemon=True).start()
        # The subscription is live once our own probe comes back through it.
        live = False
        early = []
        for attempt in range(100):
            containerd._call(containerd.events.Publish, events_pb2.PublishRequest(
                topic=READY_TOPIC, event=typeurl.pack(empty_pb2.Empty())), timeout=5)
            try:
                # A probe published before the subscription is in place is lost: try again
                # soon (2, 4, 8 ms...), not after a fixed 100 ms (a restart's ps waits on it).
                item = events.get(timeout=min(0.1, 0.002 * 2 ** attempt))
            except queue.Empty:
                continue
            if isinstance(item, Exception):
                raise errdefs.Unavailable(str(item))
            if item.topic == READY_TOPIC:
                live = True
                break
            early.append(item)  # a real event: handled after the reconciliation
        if not live:
            raise errdefs.Unavailable("the event subscription never went live")
        self.service.reconcile()
        self._ready.set()
        for item in early:
            if item.namespace == containerd.namespace and item.topic != READY_TOPIC:
                self._dispatch(item)
        while not self._stop.is_set():
            item = events.get()
            if isinstance(item, Exception):
                raise errdefs.Unavailable(str(item))
            if item.namespace != containerd.namespace or item.topic == READY_TOPIC:
                continue
            self._dispatch(item)

    def _dispatch(self, envelope) -> None:
        try:
            event = typeurl.unpack(envelope.event)
        except (KeyError, TypeError):
            return
        if envelope.topic == "/tasks/exit" and isinstance(event, event_types_pb2.TaskExit):
            exit = exit_of(event)
            if exit.id == exit.container_id:
                threading.Thread(target=self.service.handle_exit, name="exit", daemon=True,
                                 args=(exit.container_id, exit.pid, exit.exit_status, exit.exited_at_ns)).start()
            else:
                self.service.execs.handle_exit(exit)
        elif envelope.topic == "/tasks/oom" and isinstance(event, event_types_pb2.TaskOOM):
            self.service.handle_oom(event.container_id)

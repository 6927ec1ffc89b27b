"""The event exchange: ordered delivery to every subscriber whose filters match, containerd's
topic and envelope rules."""
import threading

import pytest
from google.protobuf import timestamp_pb2

import errdefs
from containerd.core.events import Exchange
from protos import event_types_pb2, events_pb2, typeurl


def drain(subscription, count):
    received = []
    for envelope in subscription:
        received.append(envelope)
        if len(received) == count:
            return received
    return received


def test_every_subscriber_sees_the_same_order():
    exchange = Exchange()
    first, second = exchange.subscribe(), exchange.subscribe()

    def publish(prefix):
        for number in range(200):
            exchange.publish("ns", f"/test/{prefix}{number}", event_types_pb2.TaskOOM(container_id=prefix))

    threads = [threading.Thread(target=publish, args=(prefix,)) for prefix in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    topics = [e.topic for e in drain(first, 600)]
    assert topics == [e.topic for e in drain(second, 600)]
    for prefix in "abc":  # and each publisher's events in the order it published them
        assert [t for t in topics if t.startswith(f"/test/{prefix}")] == [f"/test/{prefix}{n}" for n in range(200)]


def test_filters_select_by_namespace_topic_and_event_fields():
    exchange = Exchange()
    exits = exchange.subscribe(['topic=="/tasks/exit"'])
    moby_tasks = exchange.subscribe(["namespace==moby,topic~=|^/tasks/|"])
    by_container = exchange.subscribe(["event.container_id==c2", "topic==\"/containers/create\""])
    exchange.publish("moby", "/tasks/exit", event_types_pb2.TaskExit(container_id="c1", exit_status=3))
    exchange.publish("other", "/tasks/exit", event_types_pb2.TaskExit(container_id="c2"))
    exchange.publish("moby", "/tasks/start", event_types_pb2.TaskStart(container_id="c3"))
    exchange.publish("moby", "/containers/create", event_types_pb2.ContainerCreate(id="c4"))
    assert [(e.namespace, e.topic) for e in drain(exits, 2)] == [("moby", "/tasks/exit"), ("other", "/tasks/exit")]
    assert [e.topic for e in drain(moby_tasks, 2)] == ["/tasks/exit", "/tasks/start"]
    assert [e.topic for e in drain(by_container, 2)] == ["/tasks/exit", "/containers/create"]


def test_published_envelopes():
    exchange = Exchange()
    subscription = exchange.subscribe()
    exchange.publish("ns", "/tasks/oom", event_types_pb2.TaskOOM(container_id="c1"))
    envelope = drain(subscription, 1)[0]
    assert envelope.event.type_url == "containerd.events.TaskOOM"
    assert typeurl.unpack(envelope.event) == event_types_pb2.TaskOOM(container_id="c1")
    assert envelope.timestamp.seconds > 0
    subscription.close()
    subscription.close()
    assert list(subscription) == []


@pytest.mark.parametrize("topic", ["", "tasks/exit", "/", "/tasks//exit", "/tasks/ex it"])
def test_bad_topics(topic):
    with pytest.raises(errdefs.InvalidArgument):
        Exchange().publish("ns", topic, event_types_pb2.TaskOOM())


def test_forwarded_envelopes_are_checked_and_passed_on_as_they_are():
    exchange = Exchange()
    subscription = exchange.subscribe()
    stamp = timestamp_pb2.Timestamp(seconds=1234)
    envelope = events_pb2.Envelope(timestamp=stamp, namespace="ns", topic="/tasks/exit",
                                   event=typeurl.pack(event_types_pb2.TaskExit(container_id="c1")))
    exchange.forward(envelope)
    assert drain(subscription, 1) == [envelope]
    for broken in (events_pb2.Envelope(namespace="ns", topic="/tasks/exit"),
                   events_pb2.Envelope(timestamp=stamp, namespace="", topic="/tasks/exit"),
                   events_pb2.Envelope(timestamp=stamp, namespace="ns", topic="exit")):
        with pytest.raises(errdefs.InvalidArgument):
            exchange.forward(broken)

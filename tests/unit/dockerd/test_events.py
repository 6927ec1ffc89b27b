"""The events bus: messages as the CLI decodes them, history for since/until, moby's filters."""
import asyncio
import threading

from dockerd.daemon.events import EventBus, matcher


def test_container_events_carry_the_legacy_fields():
    event = EventBus().publish("container", "start", "c" * 64, {"image": "busybox", "name": "web", "n": 1})
    assert event["status"] == "start" and event["id"] == "c" * 64 and event["from"] == "busybox"
    assert event["Actor"] == {"ID": "c" * 64, "Attributes": {"image": "busybox", "name": "web", "n": "1"}}
    assert event["scope"] == "local"
    assert isinstance(event["time"], int) and event["time"] == event["timeNano"] // 10**9


def test_image_events_have_status_and_id_only_and_others_none():
    bus = EventBus()
    assert "from" not in bus.publish("image", "pull", "busybox:latest")
    assert "status" not in bus.publish("volume", "create", "v1")


def test_history_is_replayed_from_since_to_until():
    bus = EventBus()
    first = bus.publish("volume", "create", "a")
    second = bus.publish("volume", "create", "b")
    bus.publish("volume", "create", "c")
    with bus.subscribe(since_nano=second["timeNano"]) as subscription:
        assert [e["Actor"]["ID"] for e in subscription.backlog] == ["b", "c"]
    with bus.subscribe(since_nano=0, until_nano=first["timeNano"]) as subscription:
        assert [e["Actor"]["ID"] for e in subscription.backlog] == ["a"]


def test_the_history_is_bounded():
    bus = EventBus(history=2)
    for name in "abc":
        bus.publish("volume", "create", name)
    with bus.subscribe(since_nano=0) as subscription:
        assert [e["Actor"]["ID"] for e in subscription.backlog] == ["b", "c"]


def test_live_events_reach_a_thread_and_a_loop():
    bus = EventBus()
    with bus.subscribe() as subscription:
        threading.Thread(target=bus.publish, args=("network", "create", "n1")).start()
        assert subscription.get(timeout=5)["Actor"]["ID"] == "n1"

    async def on_the_loop():
        with bus.subscribe(loop=asyncio.get_running_loop()) as subscription:
            threading.Thread(target=bus.publish, args=("network", "create", "n2")).start()
            event = await subscription.next(timeout=5)
            assert await subscription.next(timeout=0.01) is None
            return event

    assert asyncio.run(on_the_loop())["Actor"]["ID"] == "n2"


def test_a_closed_subscription_gets_nothing():
    bus = EventBus()
    subscription = bus.subscribe()
    subscription.close()
    bus.publish("volume", "create", "v")
    assert subscription.get(timeout=0.01) is None


def _container(action="start", name="web", labels=None, image="busybox:latest", cid="abc123" + "0" * 58):
    return EventBus().publish("container", action, cid, {"name": name, "image": image, **(labels or {})})


def test_filters_by_type_and_event():
    assert matcher({"type": ["container"]})(_container())
    assert not matcher({"type": ["image"]})(_container())
    assert matcher({"event": ["stop", "start"]})(_container())
    assert matcher({"event": ["exec_start"]})(_container(action="exec_start: sh -c true"))


def test_filters_containers_by_name_or_id_prefix():
    assert matcher({"container": ["web"]})(_container())
    assert matcher({"container": ["abc1"]})(_container())
    assert not matcher({"container": ["db"]})(_container())
    assert not matcher({"container": ["web"]})(EventBus().publish("volume", "create", "v"))


def test_filters_by_image_with_or_without_tag():
    assert matcher({"image": ["busybox"]})(_container())
    assert matcher({"image": ["busybox:latest"]})(_container())
    assert not matcher({"image": ["alpine"]})(_container())
    assert matcher({"image": ["busybox"]})(EventBus().publish("image", "pull", "busybox:latest"))


def test_filters_by_labels():
    event = _container(labels={"a": "b", "c": "d"})
    assert matcher({"label": ["a=b", "c"]})(event)
    assert not matcher({"label": ["a=x"]})(event)
    assert not matcher({"label": ["missing"]})(event)

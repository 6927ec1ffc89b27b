"""The prune routes (POST /containers/prune, and the until=/label= terms the others share with
it), /build/prune, and the event and info details the observing commands read: driven by the
real Docker CLI and raw HTTP against pydockerd."""
from __future__ import annotations

import json
import re
import time
import urllib.parse

import pytest

pytestmark = pytest.mark.root


def _prune(pydocker, path: str, filters: dict | None = None) -> tuple[int, dict]:
    query = f"?filters={urllib.parse.quote(json.dumps(filters))}" if filters else ""
    status, _, body = pydocker.raw("POST", f"/v1.50{path}{query}")
    return status, json.loads(body)


def _ids(docker, *args: str) -> set[str]:
    return set(docker("ps", "-aq", "--no-trunc", *args).stdout.split())


def test_container_prune_removes_what_does_not_run(pydocker, docker):
    running = docker("run", "-d", "--name", "up", "busybox", "sleep", "60").stdout.strip()
    paused = docker("run", "-d", "--name", "held", "busybox", "sleep", "60").stdout.strip()
    docker("pause", "held")
    docker("run", "--name", "done", "busybox", "sh", "-c", "echo x > /file")
    exited = docker("inspect", "--format", "{{.Id}}", "done").stdout.strip()
    created = docker("create", "--name", "fresh", "busybox", "true").stdout.strip()

    status, reply = _prune(pydocker, "/containers/prune")
    assert status == 200
    assert sorted(reply["ContainersDeleted"]) == sorted([exited, created])
    assert reply["SpaceReclaimed"] > 0  # the exited one wrote a file in its layer
    assert _ids(docker) == {running, paused}
    docker("unpause", "held")

    status, reply = _prune(pydocker, "/containers/prune")
    assert (status, reply) == (200, {"ContainersDeleted": None, "SpaceReclaimed": 0})


def test_container_prune_by_label_and_until(pydocker, docker):
    old = docker("create", "--name", "old", "-l", "tier=web", "busybox", "true").stdout.strip()
    time.sleep(1.1)
    cut = int(time.time())
    time.sleep(1.1)
    new_web = docker("create", "--name", "newweb", "-l", "tier=web", "-l", "keep", "busybox", "true").stdout.strip()
    new_db = docker("create", "--name", "newdb", "-l", "tier=db", "busybox", "true").stdout.strip()

    assert _prune(pydocker, "/containers/prune", {"until": [str(cut)]})[1]["ContainersDeleted"] == [old]
    assert _prune(pydocker, "/containers/prune", {"label": ["tier=db"]})[1]["ContainersDeleted"] == [new_db]
    assert _prune(pydocker, "/containers/prune", {"label!": ["keep"]})[1]["ContainersDeleted"] is None
    assert _prune(pydocker, "/containers/prune", {"until": ["10m"]})[1]["ContainersDeleted"] is None
    assert _ids(docker) == {new_web}
    result = docker("container", "prune", "-f", "--filter", "label=tier")
    assert re.fullmatch(f"Deleted Containers:\n{new_web}\n\nTotal reclaimed space: [0-9.]+k?B\n", result.stdout)


def test_prune_filters_are_checked(pydocker):
    for path in ("/containers/prune", "/images/prune", "/volumes/prune", "/networks/prune"):
        status, reply = _prune(pydocker, path, {"colour": ["red"]})
        assert (status, reply["message"]) == (400, "invalid filter 'colour'"), path
    for path in ("/containers/prune", "/images/prune", "/networks/prune"):
        status, reply = _prune(pydocker, path, {"until": ["1h", "2h"]})
        assert (status, reply["message"]) == (400, "more than one until filter specified"), path
        status, reply = _prune(pydocker, path, {"until": ["soon"]})
        assert (status, reply["message"]) == (400, 'failed to parse value as time or duration: "soon"'), path


def test_until_takes_durations_and_times_as_moby_does(pydocker, docker):
    for value in ("1h", "90m", "2006-01-02", "2006-01-02T15:04:05Z", "1136214245", "1136214245.5"):
        assert _prune(pydocker, "/images/prune", {"until": [value]})[0] == 200, value
    result = docker("image", "prune", "-f", "--filter", "until=24h")
    assert result.stdout == "Total reclaimed space: 0B\n"


def test_volume_prune_label_terms(pydocker, docker):
    docker("volume", "create", "--label", "a=1", "--label", "b=2", "both")
    docker("volume", "create", "--label", "a=1", "justa")
    status, reply = _prune(pydocker, "/volumes/prune", {"all": ["true"], "label!": ["a", "b"]})
    assert reply["VolumesDeleted"] == ["justa"]  # only a volume with every label! term is spared
    status, reply = _prune(pydocker, "/volumes/prune", {"all": ["true"], "label": ["b=2"]})
    assert reply["VolumesDeleted"] == ["both"]


def test_system_prune_through_the_cli(pydocker, docker):
    docker("run", "--name", "gone", "busybox", "true")
    exited = docker("inspect", "--format", "{{.Id}}", "gone").stdout.strip()
    status, _, body = pydocker.raw("POST", "/v1.50/build/prune?all=1")
    assert (status, json.loads(body)) == (200, {"CachesDeleted": None, "SpaceReclaimed": 0})
    result = docker("system", "prune", "-f")
    assert re.fullmatch(f"Deleted Containers:\n{exited}\n\nTotal reclaimed space: [0-9.]+k?B\n", result.stdout)
    assert _ids(docker) == set()


def test_prunes_are_events_without_an_actor(pydocker, docker):
    start = time.time()
    for path in ("/containers/prune", "/images/prune", "/volumes/prune", "/networks/prune"):
        assert _prune(pydocker, path)[0] == 200
    status, _, body = pydocker.raw("GET", f"/v1.50/events?since={start:.9f}&until={time.time():.9f}"
                                          '&filters={"event":["prune"]}')
    events = [json.loads(line) for line in body.splitlines()]
    assert [(e["Type"], e["Actor"]) for e in events] == [
        (kind, {"ID": "", "Attributes": {"reclaimed": "0"}}) for kind in ("container", "image", "volume", "network")]
    # moby leaves the empty legacy fields out: a prune has no id, and no image to come from
    assert [sorted(k for k in e if k in ("status", "id", "from")) for e in events][:2] == [["status"], ["status"]]


def test_events_with_only_until_replay_the_buffer(pydocker, docker):
    docker("volume", "create", "replayed")
    time.sleep(1)
    result = docker("events", "--until", "0s", "--filter", "type=volume", timeout=20)
    assert "volume create replayed (driver=local)" in result.stdout


def test_info_counts_event_listeners_and_top_is_an_event(pydocker, docker):
    from tests.fixtures.pydockerd import UnixHTTPConnection

    connection = UnixHTTPConnection(str(pydocker.socket), timeout=30)
    try:
        connection.request("GET", f"/v1.50/events?until={time.time() + 30:.9f}")
        assert connection.getresponse().status == 200
        info = json.loads(pydocker.raw("GET", "/v1.50/info")[2])
        assert info["NEventsListener"] >= 1
    finally:
        connection.close()
    cid = docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
    start = time.time()
    docker("top", cid)
    status, _, body = pydocker.raw("GET", f"/v1.50/events?since={start:.9f}&until={time.time():.9f}"
                                          '&filters={"event":["top"]}')
    assert [json.loads(line)["id"] for line in body.splitlines()] == [cid]

"""The app behind the real server: version prefixes, Docker's headers, error replies, and the
system routes on a stand-in daemon."""
import json
import time

import pytest
from fastapi import Request

import errdefs
from dockerd.api import errors, versions

from .engine_server import EngineServer


@pytest.fixture(scope="module")
def served():
    with EngineServer() as server:
        yield server


@pytest.mark.parametrize("path", ["/_ping", "/v1.24/_ping", "/v1.44/_ping", "/v1.50/_ping"])
def test_prefixes_from_1_24_to_1_50_and_none_are_served(served, path):
    assert served.request("GET", path)[::2] == (200, b"OK")


def test_versions_out_of_range_are_400_in_mobys_words(served):
    status, headers, body = served.request("GET", "/v1.51/_ping")
    assert (status, headers["content-type"]) == (400, "application/json")
    assert json.loads(body) == {"message": "client version 1.51 is too new. Maximum supported API version is 1.50"}
    status, _, body = served.request("GET", "/v1.12/_ping")
    assert status == 400
    assert json.loads(body)["message"] == ("client version 1.12 is too old. Minimum supported API version is 1.24, "
                                           "please upgrade your client to a newer version")


def test_the_version_reaches_the_route(served):
    @served.app.get("/test/api-version")
    def api_version(request: Request) -> dict:
        return {"version": request.state.api_version}

    assert json.loads(served.request("GET", "/v1.41/test/api-version")[2]) == {"version": "1.41"}
    assert json.loads(served.request("GET", "/test/api-version")[2]) == {"version": "1.50"}


def test_every_reply_carries_dockers_headers_and_no_uvicorn(served):
    for path in ("/_ping", "/nowhere", "/v1.99/_ping"):
        _, headers, _ = served.request("GET", path)
        assert headers["api-version"] == "1.50"
        assert headers["ostype"] == "linux"
        assert headers["docker-experimental"] == "false"
        assert headers["server"] == versions.SERVER_HEADER
    assert "uvicorn" not in json.dumps(served.request("GET", "/_ping")[1]).lower()


def test_head_ping_has_no_body_and_the_connection_stays_usable(served):
    sock = served.connect()
    with sock:
        sock.sendall(b"HEAD /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"OK"):
            data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"content-length: 0" in head.lower()
    assert rest.startswith(b"HTTP/1.1 200")


def test_unknown_paths_and_methods_are_404_page_not_found(served):
    for method, path in (("GET", "/nowhere"), ("DELETE", "/_ping"), ("POST", "/version")):
        status, headers, body = served.request(method, path)
        assert (status, headers["content-type"], json.loads(body)) == (404, "application/json",
                                                                        {"message": "page not found"})


@pytest.mark.parametrize("error, status", [
    (errdefs.NotFound("No such container: x"), 404),
    (errdefs.InvalidArgument("bad"), 400),
    (errdefs.AlreadyExists("exists"), 409),
    (errdefs.Conflict("conflict"), 409),
    (errdefs.FailedPrecondition("container x is not running"), 409),
    (errdefs.Unauthenticated("login"), 401),
    (errdefs.PermissionDenied("forbidden"), 403),
    (errdefs.Unavailable("down"), 503),
    (errdefs.Internal("bug"), 500),
    (FileNotFoundError(2, "gone"), 404),
    (RuntimeError("a bug"), 500),
])
def test_error_kinds_map_to_statuses(error, status):
    assert errors.status_of(error) == status


def test_errors_are_json_messages_exactly(served):
    @served.app.get("/test/fail/{kind}")
    def fail(kind: str):
        raise errdefs.KINDS[kind](f"it failed: {kind}")

    for kind, status in (("NotFound", 404), ("Conflict", 409), ("InvalidArgument", 400), ("Unknown", 500)):
        got, headers, body = served.request("GET", f"/v1.50/test/fail/{kind}")
        assert (got, headers["content-type"], json.loads(body)) == (status, "application/json",
                                                                    {"message": f"it failed: {kind}"})
    status, headers, body = served.request("GET", "/test/fail/NotModified")
    assert (status, body) == (304, b"")


def test_validation_errors_are_400_not_422(served):
    from pydantic import BaseModel

    class Body(BaseModel):
        Name: str

    @served.app.post("/test/validated")
    def validated(body: Body) -> dict:
        return {}

    for body in (b"{not json", b'{"Name": 3}', b"[]"):
        status, headers, reply = served.request("POST", "/test/validated", body,
                                                {"Content-Type": "application/json"})
        assert (status, headers["content-type"]) == (400, "application/json"), reply
        assert "message" in json.loads(reply)


def test_info_counts_from_the_services(served):
    info = json.loads(served.request("GET", "/info")[2])
    assert (info["Containers"], info["ContainersRunning"], info["ContainersPaused"], info["ContainersStopped"]) == (
        3, 1, 1, 1)
    assert info["Images"] == 2
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    assert info["LiveRestoreEnabled"] is True
    assert info["DockerRootDir"] == served.daemon.config.data_root
    assert info["ID"] == json.loads(served.request("GET", "/info")[2])["ID"]


def test_system_df(served):
    df = json.loads(served.request("GET", "/system/df")[2])
    assert df["LayersSize"] == 15 and len(df["Images"]) == 2
    assert df["Containers"] == [] and df["BuildCache"] == []
    assert df["Volumes"][0]["UsageData"] == {"Size": -1, "RefCount": 0}
    only = json.loads(served.request("GET", "/system/df?type=volume")[2])
    assert "Images" not in only and "Volumes" in only
    assert served.request("GET", "/system/df?type=nonsense")[0] == 400


def _events(served, query: str) -> list[dict]:
    status, headers, body = served.request("GET", f"/events?{query}")
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_events_since_until_replay_and_end(served):
    bus = served.daemon.events
    start = time.time()
    bus.publish("volume", "create", "events-a")
    bus.publish("container", "start", "events-b", {"name": "web", "image": "busybox"})
    now = time.time()
    seen = _events(served, f"since={start:.9f}&until={now:.9f}")
    assert [e["Actor"]["ID"] for e in seen] == ["events-a", "events-b"]
    filtered = _events(served, f"since={start:.9f}&until={now:.9f}&filters=" + '{"type":["container"]}')
    assert [e["Actor"]["ID"] for e in filtered] == ["events-b"]


def test_events_until_in_the_future_replays_then_streams_live_events_then_ends(served):
    import threading

    served.daemon.events.publish("network", "create", "events-past")
    timer = threading.Timer(0.3, served.daemon.events.publish, ("network", "create", "events-live"))
    timer.start()
    seen = _events(served, f"until={time.time() + 1.5:.9f}")
    timer.join()
    # moby replays its whole buffer when only `until` is given
    assert [e["Actor"]["ID"] for e in seen][-2:] == ["events-past", "events-live"]


def test_events_refuse_until_before_since_and_unknown_filters(served):
    status, _, body = served.request("GET", "/events?since=20&until=10")
    assert status == 400 and "cannot be after" in json.loads(body)["message"]
    status, _, body = served.request("GET", "/events?filters=" + '{"colour":["red"]}')
    assert status == 400 and json.loads(body)["message"] == "invalid filter 'colour'"


def test_version_names_the_components(served):
    version = json.loads(served.request("GET", "/version")[2])
    assert (version["ApiVersion"], version["MinAPIVersion"], version["Os"]) == ("1.50", "1.24", "linux")
    components = {c["Name"]: c for c in version["Components"]}
    assert components["Engine"]["Details"]["ApiVersion"] == "1.50"
    assert all(isinstance(v, str) for v in components["Engine"]["Details"].values())
    assert components["pycontainerd"]["Version"] == "9.8.7"
    assert components["pyrunc"]["Version"]


def test_a_bug_is_a_500_message_with_dockers_headers(served):
    @served.app.get("/test/bug")
    def bug():
        raise RuntimeError("a bug")

    status, headers, body = served.request("GET", "/test/bug")
    assert (status, headers["content-type"], body) == (500, "application/json", b'{"message":"a bug"}\n')
    assert headers["api-version"] == "1.50"

"""System routes through the real Docker CLI, docker-py and raw HTTP: version negotiation,
version, info, events and the error paths every route shares."""
import json
import time

import pytest

from tests.fixtures.pydockerd import UnixHTTPConnection

pytestmark = pytest.mark.root


def test_cli_version_shows_the_server_components(pydocker):
    out = pydocker.docker("version").stdout
    assert "Server: pydocker Engine" in out
    assert "API version:      1.50 (minimum version 1.24)" in out
    assert "(downgraded" not in out
    for component in (" Engine:", " pycontainerd:", " pyrunc:"):
        assert component in out


def test_cli_version_format_reads_the_api_version(pydocker):
    assert pydocker.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip() == "1.50"


def test_cli_info(pydocker):
    result = pydocker.docker("info", "--format", "{{json .}}")
    info = json.loads(result.stdout)
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    assert info["LiveRestoreEnabled"] is True
    assert info["Driver"] == "overlayfs"
    assert info["DockerRootDir"] == str(pydocker.data_root)
    assert info["NCPU"] >= 1 and info["MemTotal"] > 0
    plain = pydocker.docker("info")
    assert "Is Manager" not in plain.stdout
    assert "Logging Driver: json-file" in plain.stdout


@pytest.mark.parametrize("path", ["/_ping", "/v1.50/_ping", "/v1.24/_ping"])
def test_ping_head_and_get(pydocker, path):
    status, headers, body = pydocker.raw("HEAD", path)
    assert (status, body, headers["content-length"]) == (200, b"", "0")
    assert headers["api-version"] == "1.50"
    assert headers["ostype"] == "linux"
    assert headers["docker-experimental"] == "false"
    assert headers["server"].startswith("Docker/") and headers["server"].endswith(" (linux)")
    assert "uvicorn" not in json.dumps(headers)
    status, headers, body = pydocker.raw("GET", path)
    assert (status, body) == (200, b"OK")


def test_a_version_above_the_maximum_is_refused_in_mobys_words(pydocker):
    status, headers, body = pydocker.raw("GET", "/v1.51/version")
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "client version 1.51 is too new. Maximum supported API version is 1.50"}


def test_a_version_below_the_minimum_is_refused(pydocker):
    status, _, body = pydocker.raw("GET", "/v1.23/version")
    assert status == 400
    assert json.loads(body)["message"].startswith("client version 1.23 is too old. Minimum supported API version is 1.24")


@pytest.mark.parametrize("method, path", [("GET", "/nothing/here"), ("DELETE", "/_ping"), ("GET", "/v1.50/nothing")])
def test_unknown_routes_are_404_with_a_message(pydocker, method, path):
    status, headers, body = pydocker.raw(method, path)
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "page not found"}


def test_a_malformed_query_is_400_never_500(pydocker):
    status, headers, body = pydocker.raw("GET", "/events?since=yesterday")
    assert status == 400 and headers["content-type"] == "application/json"
    assert "message" in json.loads(body)
    status, _, body = pydocker.raw("GET", "/events?filters=%7Bnot-json")
    assert status == 400, body


def test_a_malformed_json_body_is_400_never_500(pydocker):
    # Every POST route that takes a body must refuse bad JSON as the client's fault.
    status, headers, body = pydocker.raw("POST", "/containers/create", body=b"{not json",
                                         headers={"Content-Type": "application/json"})
    assert status == 400, body
    assert headers["content-type"] == "application/json"
    assert "message" in json.loads(body)


def test_events_with_until_end(pydocker):
    result = pydocker.docker("events", "--since", "1m", "--until", "0s", timeout=20)
    assert result.returncode == 0
    start = time.monotonic()
    pydocker.docker("events", "--until", "1s", timeout=20)
    assert time.monotonic() - start < 10


def test_events_until_before_since_is_400(pydocker):
    status, _, body = pydocker.raw("GET", "/events?since=20&until=10")
    assert status == 400
    assert "cannot be after" in json.loads(body)["message"]


def test_events_send_their_headers_before_any_event(pydocker):
    # The Go client's request returns only with the headers: they must not wait for an event.
    connection = UnixHTTPConnection(str(pydocker.socket), timeout=30)
    try:
        sent = time.monotonic()
        connection.request("GET", f"/v1.50/events?until={time.time() + 20:.9f}")
        response = connection.getresponse()
        assert time.monotonic() - sent < 10
        assert response.status == 200
        assert response.getheader("Content-Type") == "application/json"
        assert response.getheader("Transfer-Encoding") == "chunked"
    finally:
        connection.close()


def test_docker_py_version_and_ping(pydocker):
    client = pydocker.docker_py()
    version = client.version()
    assert version["ApiVersion"] == "1.50"
    assert version["MinAPIVersion"] == "1.24"
    assert {c["Name"] for c in version["Components"]} == {"Engine", "pycontainerd", "pyrunc"}
    assert client.ping() is True


def test_docker_py_events_since_until(pydocker):
    client = pydocker.docker_py()
    now = time.time()
    assert list(client.events(since=now - 60, until=now, decode=True)) is not None


def test_pydockerd_stops_on_sigterm_and_starts_again(pydocker):
    assert pydocker.stop() == 0
    assert not pydocker.socket.exists()
    assert not pydocker.pidfile.exists()
    pydocker.start()
    assert pydocker.raw("GET", "/_ping")[2] == b"OK"


def test_pydockerd_starts_again_after_kill_9(pydocker):
    pydocker.kill9()
    assert pydocker.socket.exists()  # stale: the next start removes it
    pydocker.start()
    assert pydocker.docker("version", "--format", "{{.Server.Version}}").stdout.strip()

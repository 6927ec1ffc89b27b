"""WWW-Authenticate challenges and the authorizer's choices, with a mock token server."""
import base64

import httpx
import pytest

import errdefs
from containerd.client.auth import Authorizer, Challenge, parse_challenges

HUB = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'


@pytest.mark.parametrize(("header", "expected"), [
    (HUB, [Challenge("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                                "scope": "repository:library/busybox:pull"})]),
    ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
    ('Basic realm="a", Bearer realm="https://t/token",service=s',
     [Challenge("basic", {"realm": "a"}), Challenge("bearer", {"realm": "https://t/token", "service": "s"})]),
    ('bearer REALM="x" , error="invalid_token"', [Challenge("bearer", {"realm": "x", "error": "invalid_token"})]),
    (r'Bearer realm="quo\"ted"', [Challenge("bearer", {"realm": 'quo"ted'})]),
    ("Negotiate", [Challenge("negotiate", {})]),
    ("", []),
])
def test_challenges_are_parsed(header, expected):
    assert parse_challenges(header) == expected


def _unauthorized(header: str) -> httpx.Response:
    return httpx.Response(401, headers={"WWW-Authenticate": header})


def _token_server(seen: list[httpx.Request], status: int = 200, body: dict | None = None) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body if body is not None else {"token": f"t{len(seen)}", "expires_in": 300})
    return httpx.Client(transport=httpx.MockTransport(handle))


def test_anonymous_until_challenged_then_one_token_per_scope():
    seen = []
    authorizer = Authorizer(_token_server(seen))
    assert authorizer.header("registry-1.docker.io", "repository:library/busybox:pull") == {}
    assert authorizer.challenged("registry-1.docker.io", _unauthorized(HUB))
    pull = authorizer.header("registry-1.docker.io", "repository:library/busybox:pull")
    assert pull == {"Authorization": "Bearer t1"}
    assert authorizer.header("registry-1.docker.io", "repository:library/busybox:pull") == pull
    assert authorizer.header("registry-1.docker.io", "repository:library/busybox:pull,push") == {"Authorization": "Bearer t2"}
    assert len(seen) == 2
    assert seen[0].url.params["scope"] == "repository:library/busybox:pull"
    assert seen[0].url.params["service"] == "registry.docker.io"
    assert "Authorization" not in seen[0].headers  # no credentials: an anonymous token


def test_token_requests_carry_the_hosts_basic_credentials():
    seen = []
    authorizer = Authorizer(_token_server(seen), {"registry.example": ("me", "pw")})
    authorizer.challenged("registry.example", _unauthorized('Bearer realm="https://auth.example/token"'))
    authorizer.header("registry.example", "repository:x:pull")
    assert seen[0].headers["Authorization"] == "Basic " + base64.b64encode(b"me:pw").decode()


def test_the_same_challenge_twice_means_refused():
    authorizer = Authorizer(_token_server([]), {"r": ("me", "pw")})
    assert authorizer.challenged("r", _unauthorized('Basic realm="x"'))
    assert authorizer.header("r", "s") == {"Authorization": "Basic " + base64.b64encode(b"me:pw").decode()}
    assert not authorizer.challenged("r", _unauthorized('Basic realm="x"'))


def test_basic_without_credentials_and_a_refusing_token_server_are_unauthenticated():
    authorizer = Authorizer(_token_server([], status=401))
    authorizer.challenged("a", _unauthorized('Basic realm="x"'))
    with pytest.raises(errdefs.Unauthenticated, match="no basic auth credentials"):
        authorizer.header("a", "s")
    authorizer.challenged("b", _unauthorized('Bearer realm="https://t/token"'))
    with pytest.raises(errdefs.Unauthenticated, match="failed to fetch anonymous token from https://t/token: 401"):
        authorizer.header("b", "s")


def test_an_unknown_scheme_is_not_retried():
    assert not Authorizer(_token_server([])).challenged("a", _unauthorized("Negotiate"))

"""Registry authorisation: anonymous, basic, and bearer tokens from a challenge.

A registry that wants credentials answers 401 with `WWW-Authenticate`. For `Basic`, the
caller's user and password for that host go on every request. For `Bearer realm=...,
service=..., scope=...`, a token is fetched from the realm (with the basic credentials, if
any, else anonymously) and cached per host and scope until it expires, as containerd's
authorizer.go and auth/fetch.go do; a pull and a push of the same repository ask for
different scopes, so they hold different tokens.
"""
from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

import errdefs

Credentials = Mapping[str, tuple[str, str]]  # registry host[:port] -> (user, password)

DEFAULT_TOKEN_LIFETIME = 60  # seconds; the token spec's default when expires_in is absent
_EARLY_REFRESH = 10  # seconds before expiry a token is no longer handed out

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = re.compile(rf"\s*({_TOKEN})\s*=\s*({_TOKEN}|{_QUOTED})\s*")
_SCHEME = re.compile(rf"\s*({_TOKEN})(?:\s+|$)")


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic", "bearer"
    params: dict[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """The challenges of a WWW-Authenticate header, which may hold several, each with parameters.

    After a comma comes either another parameter (`key=value`) or a new challenge (`Scheme key=value`):
    a parameter cannot match a scheme, since a space separates the scheme from its first key."""
    challenges = []
    rest = header
    while scheme := _SCHEME.match(rest):
        rest = rest[scheme.end():]
        params = {}
        while param := _PARAM.match(rest):
            key, value = param.groups()
            params[key.lower()] = re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith('"') else value
            rest = rest[param.end():]
            if not rest.startswith(","):
                break
            rest = rest[1:]
        challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges


@dataclass
class _Token:
    value: str
    expires: float


class Authorizer:
    """Answers "which Authorization header for this host and scope?" and learns from 401s."""

    def __init__(self, http: httpx.Client, credentials: Credentials | None = None):
        self._http = http
        self._credentials = dict(credentials or {})
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = threading.Lock()

    def header(self, host: str, scope: str) -> dict[str, str]:
        with self._lock:
            challenge = self._challenges.get(host)
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            return {"Authorization": "Basic " + self._basic(host, required=True)}
        return {"Authorization": "Bearer " + self._token(host, challenge, scope)}

    def challenged(self, host: str, response: httpx.Response) -> bool:
        """Learn from a 401; True if a retry with new credentials could succeed."""
        known = {"basic", "bearer"}
        offered = [c for c in parse_challenges(response.headers.get("WWW-Authenticate", "")) if c.scheme in known]
        if not offered:
            return False
        # Bearer first: a registry offering both expects token clients to use it.
        challenge = sorted(offered, key=lambda c: c.scheme != "bearer")[0]
        with self._lock:
            previous = self._challenges.get(host)
            self._challenges[host] = challenge
            if previous == challenge:
                # The same challenge again: our credentials or token were refused, not missing.
                self._tokens = {key: token for key, token in self._tokens.items() if key[0] != host}
                return False
        return True

    def _basic(self, host: str, *, required: bool) -> str:
        if host not in self._credentials:
            if required:
                raise errdefs.Unauthenticated(f"{host}: authentication required: no basic auth credentials")
            return ""
        user, password = self._credentials[host]
        return base64.b64encode(f"{user}:{password}".encode()).decode()

    def _token(self, host: str, challenge: Challenge, scope: str) -> str:
        key = (host, scope)
        with self._lock:
            token = self._tokens.get(key)
        if token and token.expires > time.monotonic():
            return token.value
        token = self._fetch_token(host, challenge, scope)
        with self._lock:
            self._tokens[key] = token
        return token.value

    def _fetch_token(self, host: str, challenge: Challenge, scope: str) -> _Token:
        realm = challenge.params.get("realm")
        if not realm:
            raise errdefs.Unauthenticated(f"{host}: bearer challenge without a realm: {challenge.params}")
        params = {"scope": scope, **({"service": challenge.params["service"]} if "service" in challenge.params else {})}
        basic = self._basic(host, required=False)
        headers = {"Authorization": f"Basic {basic}"} if basic else {}
        try:
            response = self._http.get(realm, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise errdefs.Unavailable(f"failed to fetch token from {realm}: {exc}") from exc
        if response.status_code in (401, 403):
            raise errdefs.Unauthenticated(
                f"failed to authorize: failed to fetch {'' if basic else 'anonymous '}token from {realm}: "
                f"{response.status_code} {response.reason_phrase}")
        if response.status_code != 200:
            raise errdefs.Unavailable(f"failed to fetch token from {realm}: {response.status_code} {response.reason_phrase}")
        try:
            body = response.json()
            value = body.get("token") or body.get("access_token")
            lifetime = int(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError):
            value = None
        if not value:
            raise errdefs.Unauthenticated(f"token server {realm} answered without a token")
        return _Token(value, time.monotonic() + max(lifetime - _EARLY_REFRESH, 1))

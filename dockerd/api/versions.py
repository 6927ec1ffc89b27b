"""API versions (engine-api.md §0): advertise 1.50, accept the /v1.24 to /v1.50 prefixes
and none, and refuse the others with moby's words."""
from __future__ import annotations

import platform
import re

import errdefs

API_VERSION = "1.50"
MIN_API_VERSION = "1.24"
# The Docker release whose API we speak: clients show it, and read the OS from Server.
ENGINE_VERSION = "28.2.2"
SERVER_HEADER = f"Docker/{ENGINE_VERSION} (linux)"

_PREFIX = re.compile(r"^/v([0-9][0-9.]*)(/.*)$")

# Sent on every reply, as moby's middleware does.
HEADERS = [
    (b"api-version", API_VERSION.encode()),
    (b"docker-experimental", b"false"),
    (b"ostype", b"linux"),
    (b"server", SERVER_HEADER.encode()),
]


def strip(path: str) -> str:
    """path without any /v<version> prefix, whatever the version."""
    match = _PREFIX.match(path)
    return match.group(2) if match else path


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part or 0) for part in version.split("."))


def split(path: str) -> tuple[str, str]:
    """(version, path without the prefix); a path without one is the newest version.
    Raises InvalidArgument for a version out of range."""
    match = _PREFIX.match(path)
    if match is None:
        return API_VERSION, path
    version, rest = match.groups()
    if _key(version) < _key(MIN_API_VERSION):
        raise errdefs.InvalidArgument(
            f"client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, "
            "please upgrade your client to a newer version")
    if _key(version) > _key(API_VERSION):
        raise errdefs.InvalidArgument(
            f"client version {version} is too new. Maximum supported API version is {API_VERSION}")
    return version, rest


def architecture() -> str:
    """Go's name for this machine, as Docker reports it."""
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)

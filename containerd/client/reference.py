"""Image references as Docker reads them: `busybox` means `docker.io/library/busybox:latest`.

The grammar is distribution/reference's (reference.go, regexp.go) and the defaulting is its
normalize.go: a first path component is a registry host only if it has a dot or a port, or is
`localhost`; anything else is a Docker Hub repository, and a one-component Hub name lives under
`library/`. A name with neither tag nor digest means `:latest`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import errdefs

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPOSITORY_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Reference:
    """A fully qualified reference: domain and path always set; tag, digest or both."""

    domain: str  # "docker.io", "127.0.0.1:5000"
    path: str  # the repository inside the registry: "library/busybox"
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """The repository's full name: "docker.io/library/busybox"."""
        return f"{self.domain}/{self.path}"

    @property
    def object(self) -> str:
        """What to ask the registry's manifests endpoint for: the digest when pinned, else the tag."""
        return self.digest or self.tag

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def familiar_name(self) -> str:
        """The repository as a Docker user writes it: "busybox", "user/x", "127.0.0.1:5000/x"."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        return self.path.removeprefix(OFFICIAL_REPOSITORY_PREFIX) if self.path.count("/") == 1 else self.path

    @property
    def familiar(self) -> str:
        """The whole reference as `docker images` shows it: "busybox:latest"."""
        return self.familiar_name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def validate_digest(digest: str) -> str:
    if not _DIGEST.fullmatch(digest):
        raise errdefs.InvalidArgument(f"invalid reference format: invalid digest {digest!r}")
    if digest.startswith("sha256:") and not _SHA256.fullmatch(digest):
        raise errdefs.InvalidArgument(f"invalid reference format: invalid checksum digest length or format in {digest!r}")
    return digest


def _split_domain(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if not slash or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPOSITORY_PREFIX + remainder
    return domain, remainder


def parse(text: str) -> Reference:
    """Parse a reference as `docker pull` does, filling in docker.io, library/ and :latest."""
    if not text:
        raise errdefs.InvalidArgument("invalid reference format: empty reference")
    if _HEX64.fullmatch(text):
        raise errdefs.InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    name, at, digest = text.partition("@")
    if at:
        validate_digest(digest)
    tag = ""
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise errdefs.InvalidArgument(f"invalid reference format: invalid tag {tag!r}")
    domain, path = _split_domain(name)
    if path.lower() != path:
        raise errdefs.InvalidArgument(
            f"invalid reference format: repository name ({path}) must be lowercase")
    if not _DOMAIN.fullmatch(domain) or not _PATH.fullmatch(path):
        raise errdefs.InvalidArgument(f"invalid reference format: {text!r}")
    if len(f"{domain}/{path}") > NAME_TOTAL_LENGTH_MAX:
        raise errdefs.InvalidArgument(
            f"invalid reference format: repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


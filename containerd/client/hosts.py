"""Which URLs serve a registry, in the order Docker tries them.

Docker's daemon settings decide it (moby's registry/config.go and service_v2.go):
`registry-mirrors` stand in front of Docker Hub for pulls only, each tried in turn before
the Hub itself; `insecure-registries` (host[:port] or CIDR) may be reached over HTTPS
without verifying the certificate, then over plain HTTP; loopback hosts are insecure
without being listed, as Docker treats 127.0.0.0/8, and containerd treats localhost.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import errdefs
from containerd.client.reference import DEFAULT_DOMAIN

DOCKER_HUB_HOST = "registry-1.docker.io"
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@dataclass(frozen=True)
class Endpoint:
    """One base URL to try: "https://registry-1.docker.io", "http://127.0.0.1:5000"."""

    url: str
    verify_tls: bool = True
    mirror: bool = False

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


def _host_without_port(host: str) -> str:
    if host.startswith("["):
        return host[1:host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _addresses(hostname: str, *, look_up: bool) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(hostname)]
    except ValueError:
        if not look_up:
            return []
    try:
        return [ipaddress.ip_address(info[4][0]) for info in socket.getaddrinfo(hostname, None)]
    except (OSError, ValueError):
        return []


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise errdefs.InvalidArgument(f"insecure registry {entry!r} is not a valid CIDR") from None


def is_insecure(host: str, insecure: Iterable[str]) -> bool:
    """Whether host ("name[:port]") may be reached without TLS verification, as Docker decides."""
    hostname = _host_without_port(host)
    entries = list(insecure)
    if hostname == "localhost" or host in entries or hostname in entries:
        return True
    networks = [_network(entry) for entry in entries if "/" in entry]
    # Docker resolves every name to match it against 127.0.0.0/8; a name is looked up here only
    # when the caller listed a CIDR, so that a plain pull costs no extra DNS query.
    addresses = _addresses(hostname, look_up=bool(networks))
    return any(address in LOOPBACK or any(address in network for network in networks) for address in addresses)


def _mirror_endpoint(url: str) -> Endpoint:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise errdefs.InvalidArgument(f"invalid registry mirror {url!r}: expected http(s)://host[:port]")
    return Endpoint(f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", mirror=True)


def endpoints(domain: str, *, mirrors: Iterable[str] = (), insecure: Iterable[str] = (),
              push: bool = False) -> list[Endpoint]:
    """The base URLs for a reference's domain, first to try first."""
    insecure = list(insecure)
    if domain == DEFAULT_DOMAIN:
        found = [] if push else [_mirror_endpoint(url) for url in mirrors]
        return [*found, Endpoint(f"https://{DOCKER_HUB_HOST}")]
    if is_insecure(domain, insecure):
        return [Endpoint(f"https://{domain}", verify_tls=False), Endpoint(f"http://{domain}")]
    return [Endpoint(f"https://{domain}")]

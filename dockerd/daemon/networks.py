"""Networks, until the networking issue: the three Docker always has, `bridge`, `host` and
`none`, listed and inspected in moby's shapes; user-defined networks are not supported yet.

The IDs are 64 hex digits derived from the name, so they are stable across restarts.
Containers attached to a network are asked of `daemon.containers.network_endpoints(name)`
(-> {container id: EndpointResource dict}) once that exists.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import errdefs

from . import filters as F

PREDEFINED = ("bridge", "host", "none")
_DRIVERS = {"bridge": "bridge", "host": "host", "none": "null"}
BRIDGE_SUBNET = "172.17.0.0/16"
BRIDGE_GATEWAY = "172.17.0.1"


def network_id(name: str) -> str:
    return hashlib.sha256(f"pydocker network {name}".encode()).hexdigest()


class NetworkService:
    def __init__(self, daemon):
        self._daemon = daemon
        self._created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _endpoints(self, name: str) -> dict:
        endpoints = getattr(self._daemon.containers, "network_endpoints", None)
        return dict(endpoints(name)) if endpoints is not None else {}

    def _network(self, name: str) -> dict:
        bridge = name == "bridge"
        return {
            "Name": name,
            "Id": network_id(name),
            "Created": self._created,
            "Scope": "local",
            "Driver": _DRIVERS[name],
            "EnableIPv4": bridge,
            "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None,
                     "Config": [{"Subnet": BRIDGE_SUBNET, "Gateway": BRIDGE_GATEWAY}] if bridge else []},
            "Internal": False,
            "Attachable": False,
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": self._endpoints(name),
            "Options": {
                "com.docker.network.bridge.default_bridge": "true",
                "com.docker.network.bridge.enable_icc": "true",
                "com.docker.network.bridge.enable_ip_masquerade": "true",
                "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                "com.docker.network.bridge.name": "docker0",
                "com.docker.network.driver.mtu": "1500",
            } if bridge else {},
            "Labels": {},
        }

    def _find(self, ref: str) -> str:
        """The predefined network named ref, or whose ID (or a unique ID prefix) it is."""
        if ref in PREDEFINED:
            return ref
        if ref:
            found = [name for name in PREDEFINED if network_id(name).startswith(ref)]
            if len(found) == 1:
                return found[0]
        raise errdefs.NotFound(f"network {ref} not found")

    def inspect(self, ref: str) -> dict:
        return self._network(self._find(ref))

    def exists(self, ref: str) -> bool:
        try:
            self._find(ref)
        except errdefs.NotFound:
            return False
        return True

    def list(self, filters: F.Filters | None = None) -> list[dict]:
        filters = filters or {}
        F.validate(filters, ("dangling", "driver", "id", "label", "name", "scope", "type"))
        for kind in filters.get("type") or []:
            if kind not in ("custom", "builtin"):
                raise errdefs.InvalidArgument(f"invalid filter: 'type'='{kind}'")
        dangling = F.boolean(filters, "dangling")
        listed = []
        for name in PREDEFINED:
            network = self._network(name)
            if not (F.match_any(filters, "driver", network["Driver"])
                    and F.match_any(filters, "id", network["Id"], how="prefix")
                    and F.match_any(filters, "name", name, how="substring")
                    and F.match_any(filters, "scope", network["Scope"])
                    and F.match_any(filters, "type", "builtin")
                    and F.match_labels(filters, network["Labels"])):
                continue
            # moby: predefined networks are never dangling
            if dangling is True:
                continue
            listed.append(network)
        return listed

    def create(self, name: str, **_options) -> dict:
        if name in PREDEFINED:
            raise errdefs.Conflict(f"network with name {name} already exists")
        if not name:
            raise errdefs.InvalidArgument("network name is required")
        raise errdefs.NotImplemented(
            f"cannot create network {name}: user-defined networks are not supported yet "
            "(bridge, host and none are available)")

    def remove(self, ref: str) -> None:
        name = self._find(ref)
        raise errdefs.PermissionDenied(f"{name} is a pre-defined network and cannot be removed")

    def prune(self, filters: F.Filters | None = None) -> dict:
        """Only user-defined networks are pruned: there are none yet."""
        filters = filters or {}
        F.validate(filters, ("label", "label!", "until"))
        F.until_nano(filters)
        publish = getattr(self._daemon.events, "publish", None)
        if publish is not None:
            publish("network", "prune", "", {"reclaimed": "0"})
        return {"NetworksDeleted": None}

    def connect(self, ref: str, container: str) -> None:
        name = self._find(ref)
        raise errdefs.NotImplemented(f"connecting a container to network {name} is not supported yet")

    def disconnect(self, ref: str, container: str) -> None:
        name = self._find(ref)
        raise errdefs.NotImplemented(f"disconnecting a container from network {name} is not supported yet")

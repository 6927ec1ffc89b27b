"""Plugins, the unit pycontainerd is built from, as in containerd: each names its type, its id
and the types it needs, and the server initialises them in dependency order.

A plugin's init gets an InitContext: its own directories under root and state (named
"<type>.<id>", as containerd names them) and the plugins initialised before it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import errdefs

from .config import Config

# The plugin types in use (containerd's plugins/types.go names).
EVENT_PLUGIN = "io.containerd.event.v1"
METADATA_PLUGIN = "io.containerd.metadata.v1"
RUNTIME_PLUGIN_V2 = "io.containerd.runtime.v2"
GRPC_PLUGIN = "io.containerd.grpc.v1"
TTRPC_PLUGIN = "io.containerd.ttrpc.v1"
CONTENT_PLUGIN = "io.containerd.content.v1"
SNAPSHOT_PLUGIN = "io.containerd.snapshotter.v1"
DIFF_PLUGIN = "io.containerd.differ.v1"
LEASE_PLUGIN = "io.containerd.lease.v1"
GC_PLUGIN = "io.containerd.gc.v1"

ALL_TYPES = "*"  # requires every other type, e.g. a plugin that reports on all the others


@dataclass(frozen=True)
class Registration:
    type: str
    id: str
    init: Callable[[InitContext], object]
    requires: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"{self.type}.{self.id}"


@dataclass
class InitContext:
    registration: Registration
    config: Config
    plugins: Plugins

    @property
    def root(self) -> Path:
        """This plugin's persistent directory (not created)."""
        return Path(self.config.root) / self.registration.uri

    @property
    def state(self) -> Path:
        """This plugin's transient directory (not created)."""
        return Path(self.config.state) / self.registration.uri


@dataclass
class Plugins:
    """The plugins initialised so far, in the order they were."""

    loaded: list[tuple[Registration, object]] = field(default_factory=list)

    def add(self, registration: Registration, instance: object) -> None:
        self.loaded.append((registration, instance))

    def get(self, plugin_type: str) -> object:
        """The one plugin of a type."""
        found = [instance for registration, instance in self.loaded if registration.type == plugin_type]
        if len(found) != 1:
            raise errdefs.NotFound(f"{len(found)} plugins of type {plugin_type}, expected one")
        return found[0]

    def of_type(self, plugin_type: str) -> list[tuple[Registration, object]]:
        return [(registration, instance) for registration, instance in self.loaded if registration.type == plugin_type]


def dependency_order(registrations: Iterable[Registration]) -> list[Registration]:
    """Registrations ordered so that every plugin comes after all plugins of the types it
    requires; otherwise in registration order. A cycle, or a duplicate type and id, is an error."""
    registrations = list(registrations)
    seen_uris = set()
    for registration in registrations:
        if registration.uri in seen_uris:
            raise errdefs.AlreadyExists(f"plugin {registration.uri} registered twice")
        seen_uris.add(registration.uri)

    ordered: list[Registration] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(registration: Registration) -> None:
        if registration.uri in placed:
            return
        if registration.uri in visiting:
            raise errdefs.FailedPrecondition(f"plugin {registration.uri} depends on itself through its requirements")
        visiting.add(registration.uri)
        for required in registrations:
            if required is not registration and (
                    required.type in registration.requires
                    or (ALL_TYPES in registration.requires and ALL_TYPES not in required.requires)):
                place(required)
        visiting.discard(registration.uri)
        placed.add(registration.uri)
        ordered.append(registration)

    for registration in registrations:
        place(registration)
    return ordered

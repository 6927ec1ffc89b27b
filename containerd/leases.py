"""The lease manager (containerd's core/leases and metadata.LeaseManager): leases kept in the
metadata store, and garbage collected at once when a delete asks for it."""
from __future__ import annotations

import secrets
import time

from .core import filters
from .core.metadata import Lease, LeaseResource, MetadataStore
from .gc import GarbageCollector


class LeaseManager:
    def __init__(self, metadata: MetadataStore, gc: GarbageCollector):
        self._metadata = metadata
        self._gc = gc

    def create(self, namespace: str, lease_id: str = "", labels: dict[str, str] | None = None) -> Lease:
        """A new lease; without an id it gets a random one, as containerd's WithRandomID makes."""
        lease_id = lease_id or f"{time.time_ns()}-{secrets.token_hex(4)}"
        return self._metadata.create_lease(namespace, Lease(lease_id, labels or {}))

    def delete(self, namespace: str, lease_id: str, sync: bool = False) -> None:
        """Drop the lease; with sync, what only it held is gone when this returns."""
        self._metadata.delete_lease(namespace, lease_id)
        if sync:
            self._gc.collect()

    def list(self, namespace: str, matcher: filters.AnyOf = filters.AnyOf()) -> list[Lease]:
        return self._metadata.list_leases(namespace, matcher)

    def add_resource(self, namespace: str, lease_id: str, resource: LeaseResource) -> None:
        self._metadata.add_lease_resource(namespace, lease_id, resource.type, resource.id)

    def delete_resource(self, namespace: str, lease_id: str, resource: LeaseResource) -> None:
        self._metadata.delete_lease_resource(namespace, lease_id, resource.type, resource.id)

    def list_resources(self, namespace: str, lease_id: str) -> list[LeaseResource]:
        return self._metadata.list_lease_resources(namespace, lease_id)

"""containerd.services.snapshots.v1.Snapshots: every loaded snapshotter, chosen by name in
each request. Preparing, committing and removing a snapshot publishes /snapshot/prepare,
/commit and /remove. A snapshot created under a lease (containerd-lease metadata) is held by
it, as "snapshots/<snapshotter>" resources."""
from __future__ import annotations

import contextlib

from google.protobuf import empty_pb2

import errdefs
from protos import event_types_pb2, snapshots_pb2, snapshots_pb2_grpc, types_pb2

from ..core import filters
from ..core.events import Exchange
from ..core.metadata import LeaseResource, MetadataStore
from ..grpc_errors import translate_errors
from ..registry import EVENT_PLUGIN, GRPC_PLUGIN, METADATA_PLUGIN, SNAPSHOT_PLUGIN, Registration
from ..snapshots import Info, Kind, Mount
from . import lease_from, required_namespace
from .containers import timestamp

SERVICE = snapshots_pb2.DESCRIPTOR.services_by_name["Snapshots"]
LIST_BATCH = 100  # infos per List response, as containerd sends them

_KINDS = {Kind.VIEW: snapshots_pb2.VIEW, Kind.ACTIVE: snapshots_pb2.ACTIVE, Kind.COMMITTED: snapshots_pb2.COMMITTED}


def mounts_to_proto(mounts: list[Mount]) -> list[types_pb2.Mount]:
    return [types_pb2.Mount(type=m.type, source=m.source, options=list(m.options)) for m in mounts]


def mounts_from_proto(mounts) -> list[Mount]:
    return [Mount(m.type, m.source, tuple(m.options)) for m in mounts]


def info_to_proto(info: Info) -> snapshots_pb2.Info:
    return snapshots_pb2.Info(name=info.key, parent=info.parent, kind=_KINDS[info.kind], labels=info.labels,
                              created_at=timestamp(info.created_at), updated_at=timestamp(info.updated_at))


@translate_errors(SERVICE)
class SnapshotsService(snapshots_pb2_grpc.SnapshotsServicer):
    def __init__(self, snapshotters: dict[str, object], store: MetadataStore, exchange: Exchange):
        self._snapshotters = snapshotters
        self._store = store
        self._exchange = exchange

    def register(self, server) -> None:
        snapshots_pb2_grpc.add_SnapshotsServicer_to_server(self, server)

    def _snapshotter(self, name: str):
        if not name:
            raise errdefs.InvalidArgument("snapshotter argument must be specified: invalid argument")
        try:
            return self._snapshotters[name]
        except KeyError:
            raise errdefs.NotFound(f"snapshotter not loaded: {name}: not found") from None

    @contextlib.contextmanager
    def _held(self, context, namespace: str, snapshotter_name: str, key: str):
        """Hold key in the request's lease, if any, before the block makes the snapshot: a
        collection that listed the snapshot between its making and the hold would take it.
        If the block fails, a hold this call added is let go again."""
        lease = lease_from(context)
        if not lease:
            yield
            return
        resource = LeaseResource(f"snapshots/{snapshotter_name}", key)
        already_held = resource in self._store.list_lease_resources(namespace, lease)
        self._store.add_lease_resource(namespace, lease, resource.type, resource.id)
        try:
            yield
        except BaseException:
            if not already_held:
                self._store.delete_lease_resource(namespace, lease, resource.type, resource.id)
            raise

    def Prepare(self, request, context):
        namespace, snapshotter = required_namespace(context), self._snapshotter(request.snapshotter)
        with self._held(context, namespace, request.snapshotter, request.key):
            mounts = snapshotter.prepare(namespace, request.key, request.parent, dict(request.labels))
        self._exchange.publish(namespace, "/snapshot/prepare", event_types_pb2.SnapshotPrepare(
            key=request.key, parent=request.parent, snapshotter=request.snapshotter))
        return snapshots_pb2.PrepareSnapshotResponse(mounts=mounts_to_proto(mounts))

    def View(self, request, context):
        namespace, snapshotter = required_namespace(context), self._snapshotter(request.snapshotter)
        with self._held(context, namespace, request.snapshotter, request.key):
            mounts = snapshotter.view(namespace, request.key, request.parent, dict(request.labels))
        return snapshots_pb2.ViewSnapshotResponse(mounts=mounts_to_proto(mounts))

    def Mounts(self, request, context):
        namespace, snapshotter = required_namespace(context), self._snapshotter(request.snapshotter)
        return snapshots_pb2.MountsResponse(mounts=mounts_to_proto(snapshotter.mounts(namespace, request.key)))

    def Commit(self, request, context):
        namespace, snapshotter = required_namespace(context), self._snapshotter(request.snapshotter)
        with self._held(context, namespace, request.snapshotter, request.name):
            snapshotter.commit(namespace, request.name, request.key, dict(request.labels))
        self._exchange.publish(namespace, "/snapshot/commit", event_types_pb2.SnapshotCommit(
            key=request.key, name=request.name, snapshotter=request.snapshotter))
        return empty_pb2.Empty()

    def Remove(self, request, context):
        namespace, snapshotter = required_namespace(context), self._snapshotter(request.snapshotter)
        snapshotter.remove(namespace, request.key)
        self._exchange.publish(namespace, "/snapshot/remove", event_types_pb2.SnapshotRemove(
            key=request.key, snapshotter=request.snapshotter))
        return empty_pb2.Empty()

    def Stat(self, request, context):
        namespace, snapshotter = required_namespace(context), self._snapshotter(request.snapshotter)
        return snapshots_pb2.StatSnapshotResponse(info=info_to_proto(snapshotter.stat(namespace, request.key)))

    def Update(self, request, context):
        namespace, snapshotter = required_namespace(context), self._snapshotter(request.snapshotter)
        info = snapshotter.update(namespace, request.info.name, dict(request.info.labels),
                                  list(request.update_mask.paths))
        return snapshots_pb2.UpdateSnapshotResponse(info=info_to_proto(info))

    def List(self, request, context):
        namespace, snapshotter = required_namespace(context), self._snapshotter(request.snapshotter)
        infos = snapshotter.list(namespace, filters.parse_all(request.filters))
        for start in range(0, len(infos), LIST_BATCH):
            yield snapshots_pb2.ListSnapshotsResponse(info=[info_to_proto(i) for i in infos[start:start + LIST_BATCH]])

    def Usage(self, request, context):
        namespace, snapshotter = required_namespace(context), self._snapshotter(request.snapshotter)
        usage = snapshotter.usage(namespace, request.key)
        return snapshots_pb2.UsageResponse(size=usage.size, inodes=usage.inodes)

    def Cleanup(self, request, context):
        required_namespace(context)
        self._snapshotter(request.snapshotter).cleanup()
        return empty_pb2.Empty()


registration = Registration(
    type=GRPC_PLUGIN, id="snapshots", requires=(SNAPSHOT_PLUGIN, METADATA_PLUGIN, EVENT_PLUGIN),
    init=lambda ic: SnapshotsService(
        {registration.id: instance for registration, instance in ic.plugins.of_type(SNAPSHOT_PLUGIN)},
        ic.plugins.get(METADATA_PLUGIN), ic.plugins.get(EVENT_PLUGIN)),
)

"""The plugins pycontainerd is made of (containerd's cmd/containerd/builtins), in registration order."""
from .content.local import LocalStore
from .content.store import ContentStore
from .core.events import Exchange
from .core.metadata import MetadataStore
from .diff.walking import WalkingDiffer
from .gc import GarbageCollector
from .leases import LeaseManager
from .registry import (
    CONTENT_PLUGIN, DIFF_PLUGIN, EVENT_PLUGIN, GC_PLUGIN, LEASE_PLUGIN, METADATA_PLUGIN, RUNTIME_PLUGIN_V2,
    SNAPSHOT_PLUGIN, InitContext, Registration,
)
from .runtime.tasks import TaskManager
from .services import (
    containers, content, diff, events, images, introspection, leases, namespaces, snapshots, tasks, version,
)
from .snapshots.overlay import OverlaySnapshotter


def _task_manager(ic: InitContext) -> TaskManager:
    manager = TaskManager(ic.state, ic.plugins.get(EVENT_PLUGIN), grpc_address=ic.config.address,
                          ttrpc_address=ic.config.ttrpc_address, debug=ic.config.log_level in ("debug", "trace"))
    manager.load_existing()
    return manager



def _garbage_collector(ic: InitContext) -> GarbageCollector:
    snapshotters = {registration.id: snapshotter for registration, snapshotter in ic.plugins.of_type(SNAPSHOT_PLUGIN)}
    return GarbageCollector(ic.plugins.get(METADATA_PLUGIN), ic.plugins.get(CONTENT_PLUGIN), snapshotters)


PLUGINS = (
    Registration(type=EVENT_PLUGIN, id="exchange", init=lambda ic: Exchange()),
    Registration(type=METADATA_PLUGIN, id="sqlite", init=lambda ic: MetadataStore(ic.root)),
    Registration(type=RUNTIME_PLUGIN_V2, id="task", requires=(EVENT_PLUGIN,), init=_task_manager),
    Registration(type=CONTENT_PLUGIN, id="content", requires=(METADATA_PLUGIN,),
                 init=lambda ic: ContentStore(LocalStore(ic.root), ic.plugins.get(METADATA_PLUGIN))),
    Registration(type=SNAPSHOT_PLUGIN, id="overlayfs", init=lambda ic: OverlaySnapshotter(ic.root)),
    Registration(type=DIFF_PLUGIN, id="walking", requires=(CONTENT_PLUGIN,),
                 init=lambda ic: WalkingDiffer(ic.plugins.get(CONTENT_PLUGIN))),
    Registration(type=GC_PLUGIN, id="scheduler", requires=(METADATA_PLUGIN, CONTENT_PLUGIN, SNAPSHOT_PLUGIN),
                 init=_garbage_collector),
    Registration(type=LEASE_PLUGIN, id="manager", requires=(METADATA_PLUGIN, GC_PLUGIN),
                 init=lambda ic: LeaseManager(ic.plugins.get(METADATA_PLUGIN), ic.plugins.get(GC_PLUGIN))),
    containers.registration,
    namespaces.registration,
    tasks.registration,
    events.registration,
    events.ttrpc_registration,
    version.registration,
    content.registration,
    images.registration,
    leases.registration,
    snapshots.registration,
    diff.registration,
    introspection.registration,
)

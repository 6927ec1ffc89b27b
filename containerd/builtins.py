"""The plugins pycontainerd is made of (containerd's cmd/containerd/builtins), in registration order."""
from .core.events import Exchange
from .core.metadata import MetadataStore
from .registry import EVENT_PLUGIN, METADATA_PLUGIN, RUNTIME_PLUGIN_V2, InitContext, Registration
from .runtime.tasks import TaskManager
from .services import containers, events, introspection, namespaces, tasks, version


def _task_manager(ic: InitContext) -> TaskManager:
    manager = TaskManager(ic.state, ic.plugins.get(EVENT_PLUGIN), grpc_address=ic.config.address,
                          ttrpc_address=ic.config.ttrpc_address, debug=ic.config.log_level in ("debug", "trace"))
    manager.load_existing()
    return manager


PLUGINS = (
    Registration(type=EVENT_PLUGIN, id="exchange", init=lambda ic: Exchange()),
    Registration(type=METADATA_PLUGIN, id="sqlite", init=lambda ic: MetadataStore(ic.root)),
    Registration(type=RUNTIME_PLUGIN_V2, id="task", requires=(EVENT_PLUGIN,), init=_task_manager),
    containers.registration,
    namespaces.registration,
    tasks.registration,
    events.registration,
    events.ttrpc_registration,
    version.registration,
    introspection.registration,
)

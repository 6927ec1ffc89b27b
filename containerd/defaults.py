"""Where pycontainerd keeps things unless told otherwise: containerd's layout under our own names.

root holds what must survive a reboot (metadata); state holds what must not (bundles, sockets).
"""
DEFAULT_ADDRESS = "/run/pycontainerd/pycontainerd.sock"
DEFAULT_ROOT = "/var/lib/pycontainerd"
DEFAULT_STATE = "/run/pycontainerd"
DEFAULT_CONFIG = "/etc/pycontainerd/config.toml"
DEFAULT_LOG_LEVEL = "info"


def ttrpc_address(grpc_address: str) -> str:
    """The ttrpc socket shims publish events to sits next to the gRPC one, as containerd's does."""
    return grpc_address + ".ttrpc"

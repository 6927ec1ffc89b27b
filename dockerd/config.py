"""pydockerd's configuration: dockerd's command-line flags merged over daemon.json."""
from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_HOST = "unix:///run/pydocker.sock"
DEFAULT_CONTAINERD = "/run/pycontainerd/pycontainerd.sock"
DEFAULT_DATA_ROOT = "/var/lib/pydocker"
DEFAULT_EXEC_ROOT = "/run/pydocker"
DEFAULT_CONFIG_FILE = "/etc/pydocker/daemon.json"
DEFAULT_CGROUP_PARENT = "/pydocker"
# The containerd namespace Docker keeps its containers and images in.
CONTAINERD_NAMESPACE = "moby"


@dataclass
class Config:
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_HOST])
    containerd: str = DEFAULT_CONTAINERD
    data_root: str = DEFAULT_DATA_ROOT
    exec_root: str = DEFAULT_EXEC_ROOT
    pidfile: str = ""
    config_file: str = DEFAULT_CONFIG_FILE
    debug: bool = False
    log_level: str = "info"
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    cgroup_parent: str = DEFAULT_CGROUP_PARENT  # --cgroup-parent: containers go in <parent>/<id>
    containerd_namespace: str = CONTAINERD_NAMESPACE

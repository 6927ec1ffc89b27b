"""pydockerd's configuration: dockerd's command-line flags merged over daemon.json.

    config = build(flags, path)   # flags: the daemon.json keys given on the command line
    changed, for_restart = reload(config)   # SIGHUP: daemon.json read again

Every error names the key it is about. A key set both by a flag and in the file is an
error, as in dockerd. A reload gives the reloadable keys the values a restart would give
them, in place on the one Config object every service holds (the image service reads the
mirrors at each pull); the other keys keep theirs until pydockerd restarts.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

import errdefs

from .logger import options as log_options

DEFAULT_HOST = "unix:///run/pydocker.sock"
DEFAULT_CONTAINERD = "/run/pycontainerd/pycontainerd.sock"
DEFAULT_DATA_ROOT = "/var/lib/pydocker"
DEFAULT_EXEC_ROOT = "/run/pydocker"
DEFAULT_CONFIG_FILE = "/etc/pydocker/daemon.json"
DEFAULT_CGROUP_PARENT = "/pydocker"
DEFAULT_GROUP = "pydocker"  # the unix socket's group, made by the installer
# The containerd namespace Docker keeps its containers and images in.
CONTAINERD_NAMESPACE = "moby"

# dockerd's level names, and the logging level each stands for.
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING,
              "error": logging.ERROR, "fatal": logging.CRITICAL, "panic": logging.CRITICAL}
# setrlimit's resources by the names Docker's ulimits use.
ULIMITS = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
           "rtprio", "rttime", "sigpending", "stack")
# What pydockerd says when daemon.json turns live-restore off.
LIVE_RESTORE_ALWAYS_ON = ("live-restore is always on in pydockerd: containers keep running while it is down "
                          "or restarting; live-restore: false is ignored")
RELOADABLE = ("debug", "log-level", "registry-mirrors", "insecure-registries", "live-restore")


def _cert_path() -> str:
    """Where the TLS files are unless named, as dockerd and the Docker CLI look for them."""
    return os.environ.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")


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
    log_driver: str = "json-file"  # for containers that name none
    log_opts: dict[str, str] = field(default_factory=dict)  # merged under a container's own
    live_restore: bool = True  # always on: false is only warned about
    default_ulimits: dict[str, dict] = field(default_factory=dict)  # {"nofile": {"Name":, "Hard":, "Soft":}}
    group: str = DEFAULT_GROUP
    tls: bool | None = None  # None: not given (--tlsverify given says TLS)
    tlsverify: bool | None = None  # None: not given (then --tls says it)
    tlscacert: str = field(default_factory=lambda: os.path.join(_cert_path(), "ca.pem"))
    tlscert: str = field(default_factory=lambda: os.path.join(_cert_path(), "cert.pem"))
    tlskey: str = field(default_factory=lambda: os.path.join(_cert_path(), "key.pem"))
    containerd_namespace: str = CONTAINERD_NAMESPACE
    # The directives given as flags, by daemon.json key: a reload merges the file under them again.
    flags: dict[str, object] = field(default_factory=dict)

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls) or self.tlsverify is not None

    @property
    def verifies_clients(self) -> bool:
        """Whether TLS clients must show a certificate signed by tlscacert: --tlsverify, or
        --tls with tlsverify left unsaid (dockerd's rule)."""
        return bool(self.tlsverify if self.tlsverify is not None else self.tls)

    @property
    def level(self) -> int:
        return logging.DEBUG if self.debug else LOG_LEVELS[self.log_level]


def _string(key, value):
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _boolean(key, value):
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be a boolean")
    return value


def _strings(key, value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings")
    return value


def _log_level(key, value):
    if _string(key, value) not in LOG_LEVELS:
        raise ValueError(f"{key} {value!r} is not one of {', '.join(sorted(LOG_LEVELS))}")
    return value


def _string_map(key, value):
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{key} must be an object of strings")
    return value


def _ulimits(key, value):
    if not isinstance(value, dict):
        raise ValueError(f'{key} must be an object: {{"nofile": {{"Name": "nofile", "Hard": 64000, "Soft": 64000}}}}')
    ulimits = {}
    for name, limit in value.items():
        if not isinstance(limit, dict) or set(limit) - {"Name", "Hard", "Soft"}:
            raise ValueError(f"{key}: {name} must be an object with Name, Hard and Soft")
        if name not in ULIMITS or limit.get("Name", name) != name:
            raise ValueError(f"{key}: invalid ulimit type: {limit.get('Name', name)}")
        hard, soft = limit.get("Hard"), limit.get("Soft")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (hard, soft)):
            raise ValueError(f"{key}: {name}: Hard and Soft must be integers")
        if soft > hard:
            raise ValueError(f"{key}: {name}: ulimit soft limit must be less than or equal to hard limit: "
                             f"{soft} > {hard}")
        ulimits[name] = {"Name": name, "Hard": hard, "Soft": soft}
    return ulimits


# daemon.json key → Config field and the check (and conversion) its value goes through.
KEYS = {
    "hosts": ("hosts", _strings),
    "containerd": ("containerd", _string),
    "data-root": ("data_root", _string),
    "exec-root": ("exec_root", _string),
    "pidfile": ("pidfile", _string),
    "debug": ("debug", _boolean),
    "log-level": ("log_level", _log_level),
    "insecure-registries": ("insecure_registries", _strings),
    "registry-mirrors": ("registry_mirrors", _strings),
    "cgroup-parent": ("cgroup_parent", _string),
    "log-driver": ("log_driver", _string),
    "log-opts": ("log_opts", _string_map),
    "live-restore": ("live_restore", _boolean),
    "default-ulimits": ("default_ulimits", _ulimits),
    "group": ("group", _string),
    "tls": ("tls", _boolean),
    "tlsverify": ("tlsverify", _boolean),
    "tlscacert": ("tlscacert", _string),
    "tlscert": ("tlscert", _string),
    "tlskey": ("tlskey", _string),
}


def read_file(path: str, explicit: bool) -> dict:
    """daemon.json's directives, checked. A missing file is an error only if it was named."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        if explicit:
            raise errdefs.NotFound(f"unable to configure the daemon with file {path}: no such file") from None
        return {}
    if not text.strip():
        return {}
    try:
        values = json.loads(text)
    except json.JSONDecodeError as e:
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: {e}") from None
    if not isinstance(values, dict):
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: not a JSON object")
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: the following directives "
                                      f"don't match any configuration option: {', '.join(unknown)}")
    try:
        return {key: KEYS[key][1](key, value) for key, value in values.items()}
    except ValueError as e:
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: {e}") from None


def build(flags: dict[str, object], path: str) -> Config:
    """The configuration from flags (daemon.json keys given on the command line, with
    "config-file" if it was) over the file at path."""
    from_file = read_file(path, explicit="config-file" in flags)
    both = [key for key in KEYS if key in from_file and key in flags]
    if both:
        details = ", ".join(f"{key}: (from flag: {flags[key]}, from file: {from_file[key]})" for key in both)
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: the following directives "
                                      f"are specified both as a flag and in the configuration file: {details}")
    config = Config(config_file=path, flags=dict(flags))
    for key, (name, _) in KEYS.items():
        if key in flags or key in from_file:
            setattr(config, name, flags[key] if key in flags else from_file[key])
    try:
        log_options.check(config.log_driver, config.log_opts)
    except ValueError as e:
        key = "log-driver" if config.log_driver not in log_options.DRIVERS else "log-opts"
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: {key}: {e}") from None
    return config


def reload(config: Config) -> tuple[list[str], list[str]]:
    """Read config's file again: the reloadable keys that changed are set on config, in place;
    returns (the keys set, the other keys that changed and wait for a restart). On any error
    (InvalidArgument, NotFound) config is left as it was."""
    fresh = build(config.flags, config.config_file)
    changed, for_restart = [], []
    for key, (name, _) in KEYS.items():
        if getattr(fresh, name) == getattr(config, name):
            continue
        if key in RELOADABLE:
            changed.append(key)
        else:
            for_restart.append(key)
    for key in changed:
        name = KEYS[key][0]
        setattr(config, name, getattr(fresh, name))
    return changed, for_restart


def apply_log_levels(config: Config) -> None:
    """Set the loggers' levels from debug and log-level: at start and on every reload. The
    access log (uvicorn's, a line per request) shows in debug mode only."""
    logging.getLogger().setLevel(config.level)
    for name in ("uvicorn.error", "uvicorn.asgi"):
        logging.getLogger(name).setLevel(config.level)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO if config.debug else logging.WARNING)


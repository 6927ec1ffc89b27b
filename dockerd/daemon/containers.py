"""Containers: records on disk, their tasks in pycontainerd (moby's daemon/create.go, start.go,
stop.go, kill.go, delete.go, wait.go, monitor.go, restart policies and live restore).

A container is a record under <data-root>/containers/<id>/ (container.py), a containerd
container of the same id in namespace "moby" with the OCI spec (spec.py) and a snapshot
keyed by the id, and, while it runs, a task whose output goes to the json-file log through
pydockerd-logger, started by the shim (so output never waits for pydockerd). Task exits come
back as events (monitor.py), which update the state, apply the restart policy and AutoRemove.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import signal as signals
import socket
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import errdefs

from ..logger import options as log_options
from . import filters as F
from . import logs as logfile
from . import spec as oci
from .container import (
    CREATED, DEAD, EXITED, PAUSED, REMOVING, RESTARTING, RUNNING, Container, State, random_name, rfc3339, write_fifo,
)
from .containerd import Containerd
from .monitor import Monitor

log = logging.getLogger("pydockerd")

_VALID_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_ID = re.compile(r"^[0-9a-f]{64}$")
RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
DEFAULT_STOP_TIMEOUT = 10
BACKOFF_START, BACKOFF_MAX, BACKOFF_RESET = 0.1, 60.0, 10.0
MISSING_TASK_EXIT = 255

# Config and HostConfig fields are matched without regard to case, as Go decodes them.
CONFIG_FIELDS = [
    "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "Tty",
    "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir",
    "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild", "Labels", "StopSignal", "StopTimeout", "Shell",
]
HOST_CONFIG_FIELDS = [
    "Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy", "AutoRemove",
    "VolumeDriver", "VolumesFrom", "ConsoleSize", "Annotations", "CapAdd", "CapDrop", "CgroupnsMode", "Dns",
    "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode", "Cgroup", "Links", "OomScoreAdj", "PidMode",
    "Privileged", "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt", "StorageOpt", "Tmpfs", "UTSMode",
    "UsernsMode", "ShmSize", "Sysctls", "Runtime", "Isolation", "CpuShares", "Memory", "NanoCpus",
    "CgroupParent", "BlkioWeight", "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod",
    "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "Devices", "DeviceCgroupRules", "DeviceRequests",
    "MemoryReservation", "MemorySwap", "MemorySwappiness", "OomKillDisable", "PidsLimit", "Ulimits", "CpuCount",
    "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth", "Mounts", "MaskedPaths", "ReadonlyPaths", "Init",
]


def _canonical(data: dict | None, names: list[str]) -> dict:
    lower = {name.lower(): name for name in names}
    return {lower.get(key.lower(), key): value for key, value in (data or {}).items()}


def _strings(value) -> list[str] | None:
    """Cmd/Entrypoint/Env as a list: a string is one element, null stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def logger_binary() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "pydockerd-logger")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("pydockerd-logger")
    if not found:
        raise errdefs.Internal("pydockerd-logger is not installed")
    return found


def init_binary() -> str | None:
    for name in ("docker-init", "tini-static", "tini"):
        found = shutil.which(name)
        if found:
            return os.path.realpath(found)
    return None


class ContainerService:
    def __init__(self, daemon):
        self._daemon = daemon
        self.config = daemon.config
        self.root = Path(self.config.data_root) / "containers"
        self.run_root = Path(self.config.exec_root) / "containers"
        self.containerd = Containerd(daemon.channel, self.config.containerd_namespace)
        self._lock = threading.RLock()
        self._containers: dict[str, Container] = {}
        self._names: dict[str, str] = {}  # "/name" → id
        self._half_made: list[Container] = []  # records of creates a kill -9 interrupted
        self.monitor = Monitor(self)
        from .exec import ExecService
        self.execs = ExecService(self)
        self._closed = False

    # --- plumbing -------------------------------------------------------------------------

    def publish(self, container: Container, action: str, extra: dict | None = None) -> None:
        publish = getattr(self._daemon.events, "publish", None)
        if publish is None:
            return
        attributes = dict(container.config.get("Labels") or {})
        attributes.update({"image": container.config.get("Image") or container.image, "name": container.short_name})
        attributes.update(extra or {})
        try:
            publish("container", action, container.id, attributes)
        except Exception:  # noqa: BLE001 - an event is never worth failing the operation
            log.exception("publishing %s failed", action)

    def get(self, ref: str) -> Container:
        """By full ID, name (with or without /), or unique ID prefix."""
        with self._lock:
            if ref in self._containers:
                return self._containers[ref]
            by_name = self._names.get("/" + ref.lstrip("/"))
            if by_name:
                return self._containers[by_name]
            if ref and re.fullmatch(r"[0-9a-f]+", ref):
                found = [c for i, c in self._containers.items() if i.startswith(ref)]
                if len(found) == 1:
                    return found[0]
                if len(found) > 1:
                    raise errdefs.InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise errdefs.NotFound(f"No such container: {ref}")

    def all(self) -> list[Container]:
        with self._lock:
            return list(self._containers.values())

    # --- create ---------------------------------------------------------------------------

    def create(self, name: str | None, body: dict) -> tuple[str, list[str]]:
        body = body or {}
        host_config = _canonical(body.get("HostConfig") or body.get("hostConfig") or {}, HOST_CONFIG_FIELDS)
        config = _canonical({k: v for k, v in body.items() if k.lower() not in ("hostconfig", "networkingconfig")},
                            CONFIG_FIELDS)
        for key in ("Cmd", "Entrypoint", "Env"):
            config[key] = _strings(config.get(key))
        image_ref = config.get("Image") or ""
        if not image_ref:
            raise errdefs.InvalidArgument("config cannot be empty in order to create a container")
        if name and not _VALID_NAME.match(name):
            raise errdefs.InvalidArgument(
                f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        self._validate_host_config(host_config)
        image = self._daemon.images.resolve(image_ref)
        image_config = image.config or {}
        warnings: list[str] = []

        config = self._merge_image_config(config, image_config)
        entrypoint = config.get("Entrypoint") or []
        cmd = config.get("Cmd") or []
        argv = [*entrypoint, *cmd]
        if not argv:
            raise errdefs.InvalidArgument("no command specified")
        network_mode = host_config.get("NetworkMode") or "default"
        if network_mode == "default":
            network_mode = "bridge"
        if network_mode not in ("bridge", "host", "none"):
            if network_mode.startswith("container:"):
                raise errdefs.InvalidArgument("network mode container:<id> is not supported")
            if not getattr(self._daemon.networks, "exists", lambda n: False)(network_mode):
                raise errdefs.NotFound(f"network {network_mode} not found")
        host_config["NetworkMode"] = host_config.get("NetworkMode") or "default"
        host_config["LogConfig"] = self._log_config(host_config.get("LogConfig") or {})
        policy = host_config.get("RestartPolicy") or {}
        host_config["RestartPolicy"] = {"Name": policy.get("Name") or "no",
                                        "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0)}
        init = None
        if host_config.get("Init"):
            init = init_binary()
            if init is None:
                raise errdefs.InvalidArgument("--init is not supported: no docker-init or tini binary on this host")

        container_id = secrets.token_hex(32)
        host_network = network_mode == "host"
        hostname = config.get("Hostname") or (socket.gethostname() if host_network else container_id[:12])
        config["Hostname"] = hostname
        directory = self.root / container_id
        with self._lock:
            if name:
                full = "/" + name.lstrip("/")
                if full in self._names:
                    raise errdefs.Conflict(
                        f'Conflict. The container name "{full}" is already in use by container '
                        f'"{self._names[full]}". You have to remove (or rename) that container to be able to '
                        f"reuse that name.")
            else:
                full = "/" + random_name()
                retry = 0
                while full in self._names:
                    retry += 1
                    full = "/" + random_name(retry)
            container = Container(id=container_id, name=full, created=time.time_ns(), path=argv[0],
                                  args=argv[1:], config=config, host_config=host_config, image=image.id,
                                  directory=directory, snapshot_parent=image.chain_id)
            self._names[full] = container_id
            self._containers[container_id] = container
        try:
            directory.mkdir(parents=True)
            self._write_etc_files(container, host_network)
            mounts = self._mounts(container)
            container.save()  # the record first: it owns everything made from here on
            # The containerd container before its snapshot: it keeps the snapshot from the
            # garbage collector. Its spec is completed once the user can be looked up.
            self.containerd.create_container(container_id, {}, image.name or image.id,
                                             {k: str(v) for k, v in (config.get("Labels") or {}).items()})
            rootfs = self.containerd.prepare(container_id, image.chain_id)
            files = oci.RootfsFiles(rootfs)
            user = oci.resolve_user(config.get("User") or "", files, host_config.get("GroupAdd"))
            env = config.get("Env") or []
            if not any(e.startswith("HOME=") for e in env):
                env = [*env, f"HOME={oci.home_of(user['uid'], files)}"]
            spec_config = {**config, "Env": env}
            container.spec = oci.build(
                container_id=container_id, config=spec_config, host_config=host_config, args=argv, user=user,
                hostname=hostname, mounts=mounts, cgroups_path=f"{self.config.cgroup_parent}/{container_id}",
                host_network=host_network, init_binary=init, default_ulimits=self.config.default_ulimits)
            self.containerd.update_spec(container_id, container.spec)
            container.save()
        except BaseException:
            self._remove_resources(container, volumes=True)
            raise
        self.publish(container, "create")
        return container_id, warnings

    def _log_config(self, requested: dict) -> dict:
        """The container's log driver and options: the daemon's (log-driver, log-opts) for
        what it leaves out, as moby merges them, checked with Docker's words."""
        driver = requested.get("Type") or self.config.log_driver
        options = dict(requested.get("Config") or {})
        if driver == self.config.log_driver:
            options = {**self.config.log_opts, **options}
        try:
            log_options.check(driver, options)
        except ValueError as e:
            raise errdefs.InvalidArgument(str(e)) from None
        return {"Type": driver, "Config": options}

    @staticmethod
    def _log_uri(container: Container) -> str:
        """Where the task's output goes: pydockerd-logger with the container's json-file
        options, or nowhere (log driver none)."""
        log_config = container.host_config.get("LogConfig") or {}
        if log_config.get("Type") == "none":
            return ""
        try:
            arguments = log_options.check("json-file", log_config.get("Config") or {})
        except ValueError as e:  # a record from before the options were checked
            raise errdefs.InvalidArgument(str(e)) from None
        return f"binary://{logger_binary()}?" + urllib.parse.urlencode({"log": container.log_path, **arguments})

    def _validate_host_config(self, host_config: dict) -> None:
        policy = host_config.get("RestartPolicy") or {}
        name = policy.get("Name") or ""
        if name not in RESTART_POLICIES:
            raise errdefs.InvalidArgument(f"invalid restart policy: unknown policy '{name}'; use one of 'no', "
                                          "'always', 'on-failure', or 'unless-stopped'")
        retries = int(policy.get("MaximumRetryCount") or 0)
        if retries < 0:
            raise errdefs.InvalidArgument("invalid restart policy: maximum retry count must be a positive integer")
        if retries and name != "on-failure":
            raise errdefs.InvalidArgument(f"invalid restart policy: maximum retry count can only be used with "
                                          f"'on-failure'")
        if host_config.get("AutoRemove") and name not in ("", "no"):
            raise errdefs.InvalidArgument("can't create 'AutoRemove' container with restart policy")
        for key in ("Memory", "NanoCpus", "CpuShares", "PidsLimit"):
            value = host_config.get(key)
            if value is not None and not isinstance(value, int):
                raise errdefs.InvalidArgument(f"invalid {key}: {value!r}")
        if (host_config.get("Memory") or 0) < 0:
            raise errdefs.InvalidArgument("invalid Memory: must be positive")
        if host_config.get("NanoCpus") and host_config.get("CpuQuota"):
            raise errdefs.InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
        for mount in host_config.get("Mounts") or []:
            _validate_mount(mount)

    @staticmethod
    def _merge_image_config(config: dict, image: dict) -> dict:
        """moby's merge (daemon/commit.go): the request's fields win; null ones take the image's."""
        merged = dict(config)
        entrypoint = merged.get("Entrypoint")
        if entrypoint == [""]:
            entrypoint = []
        if not entrypoint:
            if not merged.get("Cmd"):
                merged["Cmd"] = image.get("Cmd")
            if entrypoint is None:
                entrypoint = image.get("Entrypoint")
        merged["Entrypoint"] = entrypoint
        merged["Env"] = oci.merge_env(image.get("Env"), config.get("Env"))
        if not merged.get("WorkingDir"):
            merged["WorkingDir"] = image.get("WorkingDir") or ""
        if not merged.get("User"):
            merged["User"] = image.get("User") or ""
        labels = dict(image.get("Labels") or {})
        labels.update(config.get("Labels") or {})
        merged["Labels"] = labels
        volumes = dict(image.get("Volumes") or {})
        volumes.update(config.get("Volumes") or {})
        merged["Volumes"] = volumes or None
        ports = dict(image.get("ExposedPorts") or {})
        ports.update(config.get("ExposedPorts") or {})
        merged["ExposedPorts"] = ports or None
        if not merged.get("StopSignal") and image.get("StopSignal"):
            merged["StopSignal"] = image["StopSignal"]
        for key in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"):
            merged[key] = bool(merged.get(key))
        merged.setdefault("Domainname", "")
        merged.setdefault("OnBuild", None)
        return merged

    def _write_etc_files(self, container: Container, host_network: bool) -> None:
        hostname = container.config["Hostname"]
        Path(container.hostname_path).write_text(hostname + "\n")
        if host_network:
            try:
                hosts = Path("/etc/hosts").read_text()
            except OSError:
                hosts = "127.0.0.1\tlocalhost\n"
        else:
            hosts = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                     "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
        for extra in container.host_config.get("ExtraHosts") or []:
            host, _, address = extra.partition(":")
            hosts += f"{address}\t{host}\n"
        Path(container.hosts_path).write_text(hosts)
        resolv = ""
        for candidate in ("/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"):
            try:
                resolv = Path(candidate).read_text()
                break
            except OSError:
                continue
        dns = container.host_config.get("Dns") or []
        if dns or container.host_config.get("DnsSearch") or container.host_config.get("DnsOptions"):
            lines = [f"nameserver {d}" for d in dns] or [l for l in resolv.splitlines() if l.startswith("nameserver")]
            if container.host_config.get("DnsSearch"):
                lines.append("search " + " ".join(container.host_config["DnsSearch"]))
            if container.host_config.get("DnsOptions"):
                lines.append("options " + " ".join(container.host_config["DnsOptions"]))
            resolv = "\n".join(lines) + "\n"
        Path(container.resolv_conf_path).write_text(resolv)

    def _mounts(self, container: Container) -> list[dict]:
        """Binds, named and anonymous volumes, tmpfs and the /etc files, as OCI mounts; the
        volumes and binds also as inspect's Mounts."""
        mounts: list[dict] = []
        points: list[dict] = []
        taken: set[str] = set()
        volumes = self._daemon.volumes
        for bind in container.host_config.get("Binds") or []:
            source, destination, options = oci.parse_bind(bind)
            if destination in taken:
                raise errdefs.InvalidArgument(f"Duplicate mount point: {destination}")
            taken.add(destination)
            read_only = "ro" in options
            propagation = next((o for o in options if o in ("private", "rprivate", "shared", "rshared", "slave",
                                                                 "rslave")), "rprivate")
            mode = ",".join(o for o in options)
            if source.startswith("/"):
                if not os.path.exists(source):
                    os.makedirs(source, exist_ok=True)  # moby makes a missing bind source
                mounts.append(oci.bind_mount(source, destination, read_only, propagation))
                points.append({"Type": "bind", "Source": source, "Destination": destination, "Mode": mode,
                               "RW": not read_only, "Propagation": propagation})
            else:
                volume = volumes.get_or_create(source)
                mounts.append(oci.bind_mount(volume.mountpoint, destination, read_only))
                points.append({"Type": "volume", "Name": volume.name, "Source": volume.mountpoint,
                               "Destination": destination, "Driver": "local", "Mode": mode, "RW": not read_only,
                               "Propagation": ""})
        for destination in sorted((container.config.get("Volumes") or {})):
            destination = os.path.normpath(destination)
            if destination in taken:
                continue
            taken.add(destination)
            volume = volumes.create_anonymous()
            mounts.append(oci.bind_mount(volume.mountpoint, destination, False))
            points.append({"Type": "volume", "Name": volume.name, "Source": volume.mountpoint,
                           "Destination": destination, "Driver": "local", "Mode": "", "RW": True, "Propagation": "",
                           "Anonymous": True})
        for mount in container.host_config.get("Mounts") or []:
            destination = os.path.normpath(mount["Target"])
            if destination in taken:
                raise errdefs.InvalidArgument(f"Duplicate mount point: {destination}")
            taken.add(destination)
            read_only = bool(mount.get("ReadOnly"))
            if mount["Type"] == "bind":
                propagation = (mount.get("BindOptions") or {}).get("Propagation") or "rprivate"
                mounts.append(oci.bind_mount(mount["Source"], destination, read_only, propagation))
                points.append({"Type": "bind", "Source": mount["Source"], "Destination": destination, "Mode": "",
                               "RW": not read_only, "Propagation": propagation})
            elif mount["Type"] == "volume":
                volume = volumes.get_or_create(mount["Source"]) if mount.get("Source") else volumes.create_anonymous()
                mounts.append(oci.bind_mount(volume.mountpoint, destination, read_only))
                points.append({"Type": "volume", "Name": volume.name, "Source": volume.mountpoint,
                               "Destination": destination, "Driver": "local", "Mode": "z", "RW": not read_only,
                               "Propagation": ""})
            else:
                tmpfs = mount.get("TmpfsOptions") or {}
                options = [f"size={tmpfs['SizeBytes']}"] if tmpfs.get("SizeBytes") else []
                if tmpfs.get("Mode"):
                    options.append(f"mode={tmpfs['Mode']:o}")
                mounts.append(oci.tmpfs_mount(destination, ",".join(options + (["ro"] if read_only else []))))
                points.append({"Type": "tmpfs", "Source": "", "Destination": destination, "Mode": "",
                               "RW": not read_only, "Propagation": ""})
        for destination, options in (container.host_config.get("Tmpfs") or {}).items():
            if destination in taken:
                raise errdefs.InvalidArgument(f"Duplicate mount point: {destination}")
            taken.add(destination)
            mounts.append(oci.tmpfs_mount(destination, options))
        for path, destination in ((container.resolv_conf_path, "/etc/resolv.conf"),
                                  (container.hostname_path, "/etc/hostname"),
                                  (container.hosts_path, "/etc/hosts")):
            if destination not in taken:
                mounts.append(oci.bind_mount(path, destination, bool(container.host_config.get("ReadonlyRootfs"))))
        container.mount_points = points
        return mounts

    # --- start ----------------------------------------------------------------------------

    def start(self, ref: str) -> None:
        container = self.get(ref)
        with container.lock:
            status = container.state.status
            if status == RUNNING:
                raise errdefs.NotModified("container already started")
            if status == PAUSED:
                raise errdefs.Conflict("cannot start a paused container, try unpause instead")
            if status in (REMOVING, DEAD) or container.removed:
                raise errdefs.Conflict(f"container is marked for removal and cannot be started")
            self._cancel_restart(container)
            container.has_been_manually_stopped = False
            try:
                self._start_task(container)
            except errdefs.Error as exc:
                failed = True
                error = exc
            else:
                failed = False
        if failed:
            if container.host_config.get("AutoRemove"):
                self._remove(container, volumes=True)
            raise error

    def _start_task(self, container: Container) -> None:
        """Create and start the task (container.lock held); on failure the state records the
        error with moby's exit code and the error is raised as a 400 with the runtime's text."""
        try:
            self._ensure_containerd(container)
            rootfs = self.containerd.mounts(container.id)
            stdin = self._open_stdin(container) if container.config.get("OpenStdin") else ""
            uri = self._log_uri(container)
            self.containerd.delete_task(container.id)  # a stopped task left by a crash
            self.containerd.create_task(container.id, rootfs, stdin=stdin, stdout=uri,
                                        stderr="" if container.tty else uri, terminal=container.tty)
            try:
                pid = self.containerd.start(container.id)
            except errdefs.Error:
                self.containerd.delete_task(container.id)
                raise
        except errdefs.Error as exc:
            self._close_stdin(container)
            message = str(exc)
            container.state.error = message
            container.state.exit_code = _exit_code_of(message)
            if container.state.status != CREATED:
                container.state.status = EXITED
            container.state.finished_at = time.time_ns()
            container.exits += 1
            container.save()
            container.notify()
            if isinstance(exc, (errdefs.NotFound, errdefs.Unknown, errdefs.Internal, errdefs.FailedPrecondition,
                                errdefs.InvalidArgument, errdefs.PermissionDenied)):
                raise errdefs.InvalidArgument(message) from None
            raise
        container.state = State(status=RUNNING, pid=pid, started_at=time.time_ns(),
                                exit_code=0, finished_at=container.state.finished_at)
        container.has_been_started_before = True
        container.starts += 1
        container.save()
        container.notify()
        self.publish(container, "start")

    def _ensure_containerd(self, container: Container) -> None:
        """The containerd container and snapshot, made again if a crash came between the
        record and them."""
        if not self.containerd.container_exists(container.id):
            self.containerd.create_container(container.id, container.spec, container.image, {})
        self.containerd.prepare(container.id, container.snapshot_parent)

    def _open_stdin(self, container: Container) -> str:
        directory = self.run_root / container.id
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "init-stdin"
        if not path.exists():
            os.mkfifo(path, 0o600)
        self._close_stdin(container)
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        container.stdin_fd = fd
        return str(path)

    def _reopen_stdin(self, container: Container) -> None:
        path = self.run_root / container.id / "init-stdin"
        if container.config.get("OpenStdin") and path.exists() and container.stdin_fd is None:
            container.stdin_fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)

    @staticmethod
    def _close_stdin(container: Container) -> None:
        if container.stdin_fd is not None:
            os.close(container.stdin_fd)
            container.stdin_fd = None

    def write_stdin(self, container: Container, data: bytes) -> None:
        write_fifo(container.stdin_fd, data)

    def close_stdin(self, container: Container) -> None:
        """The attached client's stdin ended: pass the end on (StdinOnce)."""
        try:
            self.containerd.close_stdin(container.id)
        except errdefs.Error:
            pass

    # --- exits (from the monitor) ---------------------------------------------------------

    def handle_exit(self, container_id: str, pid: int, exit_status: int | None, exited_at: int) -> None:
        """The task's init process exited: delete the task, record the exit, then restart
        or remove as the container's policy says."""
        try:
            container = self.get(container_id)
        except errdefs.NotFound:
            return
        with container.lock:
            if container.state.status not in (RUNNING, PAUSED):
                return
            if pid and container.state.pid and pid != container.state.pid:
                return  # an earlier task's exit
            if exit_status is None:
                try:
                    task = self.containerd.get(container.id)
                except errdefs.Error:
                    task = None
                if task is not None and task.status != "stopped":
                    return  # still running after all
                exit_status, exited_at = (task.exit_status, task.exited_at_ns) if task else \
                    (MISSING_TASK_EXIT, time.time_ns())
            # The exit is on record before the task (which holds the exit code) is deleted:
            # a kill -9 between the two must not turn it into a vanished task's 255.
            started = container.state.started_at
            container.state = State(status=EXITED, exit_code=exit_status, started_at=started,
                                    finished_at=exited_at or time.time_ns(), oom_killed=container.state.oom_killed)
            container.exits += 1
            restart, delay = self._should_restart(container)
            if restart:
                container.state.status = RESTARTING
            container.save()
            try:
                self.containerd.delete_task(container.id)
            except errdefs.Error as exc:
                log.warning("deleting the task of %s: %s", container.id, exc)
            logfile.wait_logger(container.log_path)
            self._close_stdin(container)
            duration = max(0, (container.state.finished_at - started) // 1_000_000_000) if started else 0
            self.publish(container, "die", {"exitCode": str(exit_status), "execDuration": str(duration)})
            container.notify()
            self.execs.container_exited(container)
            if restart:
                self._schedule_restart(container, delay)
                return
        if container.host_config.get("AutoRemove"):
            self._remove(container, volumes=True)

    def handle_oom(self, container_id: str) -> None:
        try:
            container = self.get(container_id)
        except errdefs.NotFound:
            return
        container.state.oom_killed = True
        self.publish(container, "oom")

    def _should_restart(self, container: Container) -> tuple[bool, float]:
        policy = container.host_config.get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if self._closed or container.has_been_manually_stopped or container.removed or name == "no":
            return False, 0
        if name == "on-failure":
            if container.state.exit_code == 0:
                return False, 0
            maximum = int(policy.get("MaximumRetryCount") or 0)
            if maximum and container.restart_count >= maximum:
                return False, 0
        ran = (container.state.finished_at - container.state.started_at) / 1e9 if container.state.started_at else 0
        backoff = getattr(container, "_backoff", 0.0)
        backoff = BACKOFF_START if (ran >= BACKOFF_RESET or not backoff) else min(backoff * 2, BACKOFF_MAX)
        container._backoff = backoff  # type: ignore[attr-defined]
        return True, backoff

    def _schedule_restart(self, container: Container, delay: float) -> None:
        def restart():
            with container.lock:
                if container.state.status != RESTARTING or container.removed or self._closed:
                    return
                container.restart_count += 1
                try:
                    self._start_task(container)
                except errdefs.Error as exc:
                    log.warning("restarting %s: %s", container.id, exc)
                    container.state.status = EXITED
                    container.save()
                    container.notify()
        timer = threading.Timer(delay, restart)
        timer.daemon = True
        container.restart_timer = timer
        timer.start()

    @staticmethod
    def _cancel_restart(container: Container) -> None:
        if container.restart_timer is not None:
            container.restart_timer.cancel()
            container.restart_timer = None
        if container.state.status == RESTARTING:
            container.state.status = EXITED

    # --- stop, kill, restart, pause -------------------------------------------------------

    def kill(self, ref: str, sig: str | int | None = None) -> None:
        container = self.get(ref)
        number = oci.parse_signal(sig, signals.SIGKILL)
        with container.lock:
            if container.state.status not in (RUNNING, PAUSED):
                raise errdefs.Conflict(f"container {container.id} is not running")
            # moby's killWithSignal: a killed container is not restarted by its policy
            container.has_been_manually_stopped = True
            container.save()
            self._signal(container, number)
        self.publish(container, "kill", {"signal": str(number)})

    def _signal(self, container: Container, number: int, *, all_processes: bool = False) -> None:
        try:
            self.containerd.kill(container.id, number, all=all_processes)
        except errdefs.NotFound:
            pass  # exited meanwhile
        except errdefs.FailedPrecondition as exc:
            raise errdefs.Conflict(f"container {container.id} is not running: {exc}") from None

    def _wait_exit(self, container: Container, since_exits: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with container.changed:
            while container.exits <= since_exits and container.state.status in (RUNNING, PAUSED):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                container.changed.wait(min(remaining, 0.5))
                if container.exits <= since_exits and container.state.status in (RUNNING, PAUSED):
                    self._poll_exit(container)
        return True

    def _poll_exit(self, container: Container) -> None:
        """Events may be missed while pycontainerd restarts: ask for the task's state."""
        try:
            state = self.containerd.get(container.id)
        except errdefs.Error:
            return
        if state is None or state.status == "stopped":
            threading.Thread(target=self.handle_exit, daemon=True, args=(
                container.id, 0, None if state is None else state.exit_status,
                0 if state is None else state.exited_at_ns)).start()

    def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        container = self.get(ref)
        with container.lock:
            if container.state.status == RESTARTING:
                self._cancel_restart(container)
                container.has_been_manually_stopped = True
                container.save()
                container.notify()
                return
            if container.state.status not in (RUNNING, PAUSED):
                raise errdefs.NotModified("container already stopped")
            container.has_been_manually_stopped = True
            container.save()
            exits = container.exits
        self._stop(container, exits, timeout, sig)
        self.publish(container, "stop")

    def _stop(self, container: Container, exits: int, timeout: int | None, sig: str | None) -> None:
        stop_signal = oci.parse_signal(sig or container.config.get("StopSignal") or "SIGTERM", signals.SIGTERM)
        if timeout is None:
            timeout = container.config.get("StopTimeout")
            timeout = DEFAULT_STOP_TIMEOUT if timeout is None else int(timeout)
        if container.state.status == PAUSED and stop_signal != signals.SIGKILL:
            try:
                self.containerd.resume(container.id)
            except errdefs.Error:
                pass
        if timeout != 0:
            self._signal_quietly(container, stop_signal)
            self.publish(container, "kill", {"signal": str(stop_signal)})
            if self._wait_exit(container, exits, timeout if timeout > 0 else 10 ** 9):
                return
        self._signal_quietly(container, signals.SIGKILL, all_processes=True)
        self.publish(container, "kill", {"signal": str(int(signals.SIGKILL))})
        if not self._wait_exit(container, exits, 30):
            raise errdefs.Unknown(f"container {container.id} did not exit after SIGKILL")

    def _signal_quietly(self, container: Container, number: int, *, all_processes: bool = False) -> None:
        try:
            self._signal(container, number, all_processes=all_processes)
        except errdefs.Error:
            pass

    def restart(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        container = self.get(ref)
        with container.lock:
            running = container.state.status in (RUNNING, PAUSED)
            exits = container.exits
            if running:
                container.has_been_manually_stopped = True  # the exit must not trigger the policy
        if running:
            self._stop(container, exits, timeout, sig)
        with container.lock:
            self._cancel_restart(container)
            container.has_been_manually_stopped = False
            self._start_task(container)
        self.publish(container, "restart")

    def pause(self, ref: str) -> None:
        container = self.get(ref)
        with container.lock:
            if container.state.status == PAUSED:
                raise errdefs.Conflict(f"Container {container.id} is already paused")
            if container.state.status != RUNNING:
                raise errdefs.Conflict(f"container {container.id} is not running")
            self.containerd.pause(container.id)
            container.state.status = PAUSED
            container.save()
        self.publish(container, "pause")

    def unpause(self, ref: str) -> None:
        container = self.get(ref)
        with container.lock:
            if container.state.status != PAUSED:
                raise errdefs.Conflict(f"Container {container.id} is not paused")
            self.containerd.resume(container.id)
            container.state.status = RUNNING
            container.save()
        self.publish(container, "unpause")

    def rename(self, ref: str, new_name: str) -> None:
        container = self.get(ref)
        if not new_name or not _VALID_NAME.match(new_name):
            raise errdefs.InvalidArgument(
                f"Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        full = "/" + new_name.lstrip("/")
        with self._lock:
            if full == container.name:
                raise errdefs.InvalidArgument("Renaming a container with the same name as its current name")
            if full in self._names:
                raise errdefs.Conflict(
                    f'Conflict. The container name "{full}" is already in use by container "{self._names[full]}". '
                    f"You have to remove (or rename) that container to be able to reuse that name.")
            old = container.name
            del self._names[old]
            self._names[full] = container.id
            container.name = full
        with container.lock:
            container.save()
        self.publish(container, "rename", {"oldName": old})

    def resize(self, ref: str, height: int, width: int) -> None:
        container = self.get(ref)
        if container.state.status not in (RUNNING, PAUSED):
            raise errdefs.Conflict(f"container {container.id} is not running")
        try:
            self.containerd.resize(container.id, width, height)
        except errdefs.FailedPrecondition as exc:
            raise errdefs.Conflict(str(exc)) from None

    # --- remove ---------------------------------------------------------------------------

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        container = self.get(ref)
        with container.lock:
            status = container.state.status
            if status == REMOVING and not container.removed:
                raise errdefs.Conflict(f"removal of container {container.id} is already in progress")
            if status in (RUNNING, PAUSED, RESTARTING) and not force:
                verb = "paused" if status == PAUSED else ("restarting" if status == RESTARTING else "running")
                raise errdefs.Conflict(f'cannot remove container "{container.name}": container is {verb}: stop the '
                                       f"container before removing or force remove")
            container.has_been_manually_stopped = True
            self._cancel_restart(container)
            exits = container.exits
            running = container.state.status in (RUNNING, PAUSED)
            if running:
                container.save()  # a kill -9 before the removal must not let its policy restart it
        if running:
            self._signal_quietly(container, signals.SIGKILL, all_processes=True)
            if container.state.status == PAUSED:
                try:
                    self.containerd.resume(container.id)
                except errdefs.Error:
                    pass
            self._wait_exit(container, exits, 30)
        self._remove(container, volumes=volumes)

    def prune(self, filters: dict | None = None) -> dict:
        """docker container prune: remove every container that is not running (created,
        exited, dead), as moby's ContainersPrune, keeping those the until= and label= terms
        spare; the space reclaimed is their writable layers'."""
        filters = filters or {}
        F.validate(filters, ("label", "label!", "until"))
        until = F.until_nano(filters)
        deleted, reclaimed = [], 0
        for container in sorted(self.all(), key=lambda c: c.created):
            if container.state.status in (RUNNING, PAUSED, RESTARTING):
                continue
            if until is not None and container.created > until:
                continue
            if not F.match_prune_labels(filters, container.config.get("Labels")):
                continue
            size = self.containerd.snapshot_usage(container.id)
            try:
                self.remove(container.id)
            except errdefs.Error as exc:
                log.warning("prune: %s: %s", container.id, exc)
                continue
            deleted.append(container.id)
            reclaimed += size
        publish = getattr(self._daemon.events, "publish", None)
        if publish is not None:
            publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def _remove(self, container: Container, *, volumes: bool) -> None:
        with container.lock:
            if container.removed:
                return
            container.state.status = REMOVING
            try:
                container.save()
            except OSError:
                pass
            try:
                self._remove_resources(container, volumes=volumes)
            except BaseException:
                # Left "removing", it could never be removed again ("already in progress"):
                # dead, as moby marks a failed removal, it can (once pycontainerd answers).
                container.state.status = DEAD
                try:
                    container.save()
                except OSError:
                    pass
                raise
            container.removed = True
            container.notify()
        self.publish(container, "destroy")

    def _remove_resources(self, container: Container, *, volumes: bool) -> None:
        self.execs.container_removed(container)
        try:
            self.containerd.delete_task(container.id)
        except errdefs.Error as exc:
            log.warning("deleting the task of %s: %s", container.id, exc)
        self._close_stdin(container)
        self.containerd.delete_container(container.id)
        self.containerd.remove_snapshot(container.id)
        if volumes:
            for point in container.mount_points:
                if point.get("Anonymous") and point.get("Name"):
                    try:
                        self._daemon.volumes.remove(point["Name"], force=True)
                    except errdefs.Error as exc:
                        log.warning("removing volume %s: %s", point["Name"], exc)
        shutil.rmtree(container.directory, ignore_errors=True)
        shutil.rmtree(self.run_root / container.id, ignore_errors=True)
        with self._lock:
            self._containers.pop(container.id, None)
            if self._names.get(container.name) == container.id:
                del self._names[container.name]

    # --- wait -----------------------------------------------------------------------------

    def waiter(self, ref: str, condition: str):
        """For POST /wait: checks the container and the condition now (before the reply's
        headers), and returns a blocking function(cancelled) → the reply body."""
        condition = condition or "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise errdefs.InvalidArgument(f"invalid condition: {condition!r}")
        container = self.get(ref)
        with container.lock:
            exits = container.exits

        def wait(cancelled=lambda: False) -> dict:
            with container.changed:
                while True:
                    status = container.state.status
                    if condition == "removed":
                        done = container.removed
                    elif condition == "next-exit":
                        done = container.exits > exits or container.removed
                    else:
                        done = status not in (RUNNING, PAUSED, RESTARTING) or container.exits > exits \
                            or container.removed
                    if done:
                        break
                    if cancelled():
                        return {}
                    container.changed.wait(0.5)
            reply = {"StatusCode": container.state.exit_code}
            if container.state.error:
                reply["Error"] = {"Message": container.state.error}
            return reply
        return wait

    # --- reading ----------------------------------------------------------------------------

    def inspect(self, ref: str, size: bool = False) -> dict:
        from .views import inspect
        return inspect(self, self.get(ref), size)

    def list(self, *, all: bool = False, limit: int = -1, size: bool = False,  # noqa: A002
             filters: dict | None = None) -> list[dict]:
        from .views import list_containers
        return list_containers(self, all=all, limit=limit, size=size, filters=filters or {})

    def summaries(self, size: bool = False) -> list[dict]:
        return self.list(all=True, size=size)

    def counts(self) -> dict[str, int]:
        containers = self.all()
        running = sum(1 for c in containers if c.state.status == RUNNING)
        paused = sum(1 for c in containers if c.state.status == PAUSED)
        return {"total": len(containers), "running": running, "paused": paused,
                "stopped": len(containers) - running - paused}

    def image_users(self, image_id: str) -> list[str]:
        return [c.id for c in self.all() if c.image == image_id]

    def volume_users(self, name: str) -> list[str]:
        return [c.id for c in self.all() if any(p.get("Name") == name for p in c.mount_points)]

    def network_endpoints(self, name: str) -> dict[str, dict]:
        endpoints = {}
        for c in self.all():
            mode = c.host_config.get("NetworkMode") or "default"
            if (mode if mode != "default" else "bridge") == name and c.state.status in (RUNNING, PAUSED):
                endpoints[c.id] = {"Name": c.short_name, "EndpointID": "", "MacAddress": "", "IPv4Address": "",
                                   "IPv6Address": ""}
        return endpoints

    def logs(self, ref: str, *, stdout: bool, stderr: bool, follow: bool, tail: int | None, since_ns: int | None,
             until_ns: int | None, timestamps: bool, cancelled=lambda: False):
        """(container, iterator of (stream, data)); the container is looked up now."""
        container = self.get(ref)
        if (container.host_config.get("LogConfig") or {}).get("Type") == "none":
            raise errdefs.NotImplemented("configured logging driver does not support reading")
        if not (stdout or stderr):
            raise errdefs.InvalidArgument("Bad parameters: you must choose at least one stream")
        follow_until = None
        if follow:
            follow_until = self.output_finished(container, container.exits)
        return container, logfile.read_logs(container.log_path, stdout=stdout, stderr=stderr, tail=tail,
                                            since_ns=since_ns, until_ns=until_ns, timestamps=timestamps,
                                            follow_until=follow_until, cancelled=cancelled)

    def output_finished(self, container: Container, exits: int, *, wait_start: bool = False):
        """A check for followers: true once the container is not running (or has exited
        since `exits`) and its logger has written everything. With wait_start, a created
        container is waited for (attach before start)."""
        def finished() -> bool:
            if container.removed:
                return True
            status = container.state.status
            if container.exits > exits or (status not in (RUNNING, PAUSED, RESTARTING) and
                                           not (wait_start and status == CREATED)):
                return logfile.logger_done(container.log_path)
            return False
        return finished

    def top(self, ref: str, ps_args: str = "") -> dict:
        from .views import top
        return top(self, self.get(ref), ps_args)

    def stats(self, ref: str):
        from .views import stats_reader
        return stats_reader(self, self.get(ref))

    # --- live restore ---------------------------------------------------------------------

    def restore(self) -> None:
        """Load every record, then reconcile with pycontainerd (once its events are followed,
        so no exit falls between the two)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.run_root.mkdir(parents=True, exist_ok=True)
        for directory in sorted(self.root.iterdir()):
            if not _ID.match(directory.name):
                continue
            try:
                container = Container.load(directory)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("container %s: unreadable record, removing what is left: %s", directory.name, exc)
                self._remove_half_made(directory.name)
                continue
            if not container.spec:
                # Killed during create: the spec is the last thing create writes, so this
                # container never was. It is not listed and its name is free; what was made of
                # it goes once pycontainerd answers (reconcile).
                self._half_made.append(container)
                continue
            with self._lock:
                if container.name in self._names:
                    container.name = f"/{container.short_name}_{container.id[:12]}"
                self._containers[container.id] = container
                self._names[container.name] = container.id
        self.monitor.start()

    def _remove_half_made(self, container_id: str) -> None:
        try:
            self.containerd.delete_task(container_id)
            self.containerd.delete_container(container_id)
            self.containerd.remove_snapshot(container_id)
        except errdefs.Error as exc:
            log.warning("cleaning up %s: %s", container_id, exc)
        shutil.rmtree(self.root / container_id, ignore_errors=True)
        shutil.rmtree(self.run_root / container_id, ignore_errors=True)

    def reconcile(self) -> None:
        """Bring each record in line with its task (after a restart of either daemon)."""
        try:
            tasks = self.containerd.list_tasks()
        except errdefs.Error as exc:
            log.warning("listing tasks: %s", exc)
            return
        while self._half_made:
            container = self._half_made[-1]
            try:
                self._remove_resources(container, volumes=True)
            except errdefs.Error as exc:
                log.warning("removing the half-made container %s: %s", container.id, exc)
                break
            self._half_made.pop()
        for container in self.all():
            try:
                self._reconcile_one(container, tasks.get(container.id))
            except Exception:  # noqa: BLE001 - one bad record must not stop the others
                log.exception("reconciling container %s", container.id)

    def _reconcile_one(self, container: Container, task) -> None:
        status = container.state.status
        if status == REMOVING:
            self._remove(container, volumes=False)
            return
        if status not in (RUNNING, PAUSED) and task is not None:
            # A kill -9 came between a task's creation or start and the record's update (start,
            # restart), or between an exit's record and the task's deletion.
            if task.status == "created":  # never started: not ours to keep
                try:
                    self.containerd.kill(container.id, signals.SIGKILL, all=True)
                except errdefs.Error:
                    pass
                self.containerd.delete_task(container.id)
            elif task.status == "stopped" and task.exited_at_ns <= container.state.finished_at:
                self.containerd.delete_task(container.id)  # an exit already on record
            else:
                # It started: it runs (a container whose task runs is running), or its exit
                # is not on record yet (handled below as any exit).
                with container.lock:
                    if container.restart_timer is not None:
                        container.restart_timer.cancel()
                        container.restart_timer = None
                    container.state = State(status=RUNNING, pid=task.pid, started_at=time.time_ns(),
                                            finished_at=container.state.finished_at)
                    container.has_been_started_before = True
                    container.starts += 1
                    container.save()
                    container.notify()
                status = RUNNING
        if status == RESTARTING:
            with container.lock:
                if container.restart_timer is None:
                    self._schedule_restart(container, BACKOFF_START)
            return
        if status not in (RUNNING, PAUSED):
            if container.host_config.get("AutoRemove") and status != CREATED:
                # exited, but a kill -9 came before its removal (moby's restore removes it too)
                self._remove(container, volumes=True)
            return
        if task is None:
            self.handle_exit(container.id, 0, MISSING_TASK_EXIT, time.time_ns())
        elif task.status == "stopped":
            self.handle_exit(container.id, task.pid, task.exit_status, task.exited_at_ns)
        else:
            with container.lock:
                container.state.pid = task.pid
                new_status = PAUSED if task.status == "paused" else RUNNING
                if new_status != container.state.status:
                    container.state.status = new_status
                    container.save()
                self._reopen_stdin(container)

    def close(self) -> None:
        self._closed = True
        self.monitor.stop()
        for container in self.all():
            if container.restart_timer is not None:
                container.restart_timer.cancel()
            self._close_stdin(container)


def _exit_code_of(message: str) -> int:
    """moby's start.go: the exit code a failed start reports."""
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered:
        return 126
    return 128


__all__ = ["ContainerService", "rfc3339", "DEAD"]


def _validate_mount(mount: dict) -> None:
    """HostConfig.Mounts (`--mount`) checked at create, in moby's words (volume/mounts/validate)."""
    kind = mount.get("Type")
    if kind not in ("bind", "volume", "tmpfs"):
        raise errdefs.InvalidArgument(f"mount type unknown: {kind!r}" if kind else "mount type unknown")

    def invalid(reason: str) -> errdefs.InvalidArgument:
        return errdefs.InvalidArgument(f'invalid mount config for type "{kind}": {reason}')

    target = mount.get("Target") or ""
    if not target:
        raise invalid("field Target must not be empty")
    if not target.startswith("/"):
        raise invalid(f"invalid mount path: '{target}' mount path must be absolute")
    source = mount.get("Source") or ""
    if kind == "bind":
        if not source:
            raise invalid("field Source must not be empty")
        if not source.startswith("/"):
            raise invalid(f"invalid mount path: '{source}' mount path must be absolute")
        if not os.path.exists(source):
            raise invalid(f"bind source path does not exist: {source}")
    elif kind == "tmpfs" and source:
        raise invalid("field Source must not be specified")

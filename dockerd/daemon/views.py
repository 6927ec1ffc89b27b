"""What the read-only routes show of containers, in moby's shapes: inspect, the ps list with
its Status words, top, and stats from the container's cgroup (v1 or v2)."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import errdefs

from . import filters as F
from .container import CREATED, DEAD, EXITED, PAUSED, REMOVING, RESTARTING, RUNNING, Container, rfc3339

STATUSES = (CREATED, RESTARTING, RUNNING, REMOVING, PAUSED, EXITED, DEAD)


# --- inspect -------------------------------------------------------------------------------------

def _network_mode(container: Container) -> str:
    mode = container.host_config.get("NetworkMode") or "default"
    return "bridge" if mode == "default" else mode


def _networks(container: Container) -> dict:
    mode = _network_mode(container)
    return {mode: {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "", "DriverOpts": None,
                   "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                   "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                   "DNSNames": None}}


def _mounts(container: Container) -> list[dict]:
    return [{k: v for k, v in point.items() if k != "Anonymous"} for point in container.mount_points]


def inspect(service, container: Container, size: bool = False) -> dict:
    state = container.state
    reply = {
        "Id": container.id,
        "Created": rfc3339(container.created),
        "Path": container.path,
        "Args": container.args,
        "State": state.to_json(),
        "Image": container.image,
        "ResolvConfPath": container.resolv_conf_path,
        "HostnamePath": container.hostname_path,
        "HostsPath": container.hosts_path,
        "LogPath": container.log_path,
        "Name": container.name,
        "RestartCount": container.restart_count,
        "Driver": "overlayfs",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": sorted(container.exec_ids) or None,
        "HostConfig": _host_config(container),
        "GraphDriver": {"Name": "overlayfs", "Data": None},
        "Mounts": _mounts(container),
        "Config": _config(container),
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "SandboxKey": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": {}, "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
            "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "", "Networks": _networks(container),
        },
    }
    if size:
        reply["SizeRw"] = service.containerd.snapshot_usage(container.id)
        reply["SizeRootFs"] = reply["SizeRw"]
    return reply


def _config(container: Container) -> dict:
    config = dict(container.config)
    config.setdefault("Labels", {})
    for key in ("Cmd", "Entrypoint"):
        if config.get(key) == []:
            config[key] = None
    return config


def _host_config(container: Container) -> dict:
    defaults = {
        "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0], "CapAdd": None,
        "CapDrop": None, "CgroupnsMode": "private", "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None,
        "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "",
        "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "",
        "UsernsMode": "", "ShmSize": 67108864, "Runtime": "runc", "Isolation": "", "CpuShares": 0, "Memory": 0,
        "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0,
        "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
        "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0, "MemorySwap": 0,
        "MemorySwappiness": None, "OomKillDisable": None, "PidsLimit": None, "Ulimits": [], "CpuCount": 0,
        "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": None, "ReadonlyPaths": None,
    }
    host_config = {**defaults, **{k: v for k, v in container.host_config.items() if v is not None or k in defaults}}
    for key, value in defaults.items():
        if host_config.get(key) is None:
            host_config[key] = value
    return host_config


# --- ps --------------------------------------------------------------------------------------------

def human_duration(seconds: float) -> str:
    """go-units HumanDuration."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = seconds / 60
    if int(minutes) == 1:
        return "About a minute"
    if minutes < 60:
        return f"{int(minutes)} minutes"
    hours = seconds / 3600
    if round(hours) == 1:
        return "About an hour"
    if hours < 48:
        return f"{int(hours)} hours"
    if hours < 24 * 7 * 2:
        return f"{int(hours / 24)} days"
    if hours < 24 * 30 * 2:
        return f"{int(hours / 24 / 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{int(hours / 24 / 30)} months"
    return f"{int(hours / 24 / 365)} years"


def status_text(container: Container) -> str:
    state = container.state
    now = time.time_ns()
    if state.status == RUNNING:
        return f"Up {human_duration((now - state.started_at) / 1e9)}"
    if state.status == PAUSED:
        return f"Up {human_duration((now - state.started_at) / 1e9)} (Paused)"
    if state.status == RESTARTING:
        return f"Restarting ({state.exit_code}) {human_duration((now - state.finished_at) / 1e9)} ago"
    if state.status == REMOVING:
        return "Removal In Progress"
    if state.status == DEAD:
        return "Dead"
    if state.status == CREATED:
        return "Created"
    if not state.finished_at:
        return ""
    return f"Exited ({state.exit_code}) {human_duration((now - state.finished_at) / 1e9)} ago"


def _command(container: Container) -> str:
    return " ".join([container.path, *container.args]).strip()


def summary(service, container: Container, size: bool) -> dict:
    image_name = container.config.get("Image") or container.image
    reply = {
        "Id": container.id,
        "Names": [container.name],
        "Image": image_name,
        "ImageID": container.image,
        "Command": _command(container),
        "Created": container.created // 1_000_000_000,
        "Ports": [],
        "Labels": container.config.get("Labels") or {},
        "State": container.state.status,
        "Status": status_text(container),
        "HostConfig": {"NetworkMode": container.host_config.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": _networks(container)},
        "Mounts": _mounts(container),
    }
    if size:
        reply["SizeRw"] = service.containerd.snapshot_usage(container.id)
        reply["SizeRootFs"] = reply["SizeRw"]
    return reply


ACCEPTED_FILTERS = ("status", "name", "label", "id", "ancestor", "exited", "before", "since", "volume", "network",
                    "health", "isolation", "is-task", "publish", "expose")


def list_containers(service, *, all: bool, limit: int, size: bool, filters: dict) -> list[dict]:  # noqa: A002
    F.validate(filters, ACCEPTED_FILTERS)
    for status in filters.get("status") or []:
        if status not in STATUSES:
            raise errdefs.InvalidArgument(f"invalid filter 'status={status}'")
    containers = sorted(service.all(), key=lambda c: c.created, reverse=True)
    before = _reference_time(service, filters.get("before"))
    since = _reference_time(service, filters.get("since"))
    exited = []
    for value in filters.get("exited") or []:
        try:
            exited.append(int(value))
        except ValueError:
            raise errdefs.InvalidArgument(f"invalid filter 'exited={value}'") from None
    ancestors = _ancestor_ids(service, filters.get("ancestor") or [])
    out = []
    if filters.get("status") or exited or limit > 0 or since is not None or before is not None:
        all = True  # noqa: A001 - as moby: these imply -a
    for container in containers:
        state = container.state.status
        if not all and state not in (RUNNING, PAUSED, RESTARTING):
            continue
        if filters.get("status") and state not in filters["status"]:
            continue
        if not F.match_any(filters, "id", container.id, how="prefix"):
            continue
        if filters.get("name") and not any(re.search(n, container.name) or n.lstrip("/") in container.short_name
                                           for n in filters["name"]):
            continue
        if not F.match_labels(filters, container.config.get("Labels")):
            continue
        if exited and (state != EXITED or container.state.exit_code not in exited):
            continue
        if before is not None and container.created >= before:
            continue
        if since is not None and container.created <= since:
            continue
        if ancestors is not None and container.image not in ancestors:
            continue
        if filters.get("volume") and not any(p.get("Name") in filters["volume"] or p.get("Destination") in
                                             filters["volume"] or p.get("Source") in filters["volume"]
                                             for p in container.mount_points):
            continue
        if filters.get("network") and _network_mode(container) not in filters["network"]:
            continue
        out.append(summary(service, container, size))
        if limit > 0 and len(out) >= limit:
            break
    return out


def _reference_time(service, refs: list[str] | None) -> int | None:
    if not refs:
        return None
    return service.get(refs[0]).created


def _ancestor_ids(service, refs: list[str]) -> set[str] | None:
    if not refs:
        return None
    ids = set()
    for ref in refs:
        try:
            ids.add(service._daemon.images.resolve(ref, unpack=False).id)
        except errdefs.NotFound:
            continue
    return ids


# --- top -------------------------------------------------------------------------------------------

def top(service, container: Container, ps_args: str) -> dict:
    if container.state.status not in (RUNNING, PAUSED):
        raise errdefs.Conflict(f"container {container.id} is not running")
    pids = set(service.containerd.pids(container.id))
    args = ps_args.split() if ps_args else ["-ef"]
    try:
        result = subprocess.run(["ps", *args], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise errdefs.Internal(f"running ps: {exc}") from None
    if result.returncode != 0:
        raise errdefs.InvalidArgument(f"ps: {result.stderr.strip()}")
    lines = result.stdout.splitlines()
    if not lines:
        return {"Titles": [], "Processes": []}
    titles = lines[0].split()
    try:
        pid_index = titles.index("PID")
    except ValueError:
        raise errdefs.InvalidArgument("Couldn't find PID field in ps output") from None
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) <= pid_index:
            continue
        try:
            pid = int(fields[pid_index])
        except ValueError:
            continue
        if pid in pids:
            processes.append([str(f) for f in fields])
    service.publish(container, "top")
    return {"Titles": titles, "Processes": processes}


# --- stats -----------------------------------------------------------------------------------------

def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text.strip().split()[0])
    except (ValueError, IndexError):
        return default


def _keyed(text: str) -> dict[str, int]:
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                values[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return values


def _system_cpu_usage() -> int:
    """Host CPU time in nanoseconds, from /proc/stat (as moby reads it)."""
    for line in _read(Path("/proc/stat")).splitlines():
        if line.startswith("cpu "):
            ticks = sum(int(v) for v in line.split()[1:8])
            return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    return 0


class Sampler:
    def __init__(self, service, container: Container):
        self.container = container
        self.relative = f"{service.config.cgroup_parent.strip('/')}/{container.id}"
        self.v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        self.previous: dict | None = None

    def _v1(self, controller: str) -> Path:
        return Path("/sys/fs/cgroup") / controller / self.relative

    def sample(self) -> dict:
        if self.v2:
            base = Path("/sys/fs/cgroup") / self.relative
            cpu = _keyed(_read(base / "cpu.stat"))
            total = cpu.get("usage_usec", 0) * 1000
            percpu = None
            memory_stat = _keyed(_read(base / "memory.stat"))
            usage = _int(_read(base / "memory.current"))
            limit_text = _read(base / "memory.max").strip()
            limit = int(limit_text) if limit_text.isdigit() else _host_memory()
            pids = _int(_read(base / "pids.current"))
            blkio = []
            for line in _read(base / "io.stat").splitlines():
                device, *pairs = line.split()
                major, _, minor = device.partition(":")
                values = dict(p.split("=", 1) for p in pairs if "=" in p)
                for op, key in (("read", "rbytes"), ("write", "wbytes")):
                    blkio.append({"major": int(major), "minor": int(minor), "op": op, "value": int(values.get(key, 0))})
        else:
            total = _int(_read(self._v1("cpuacct") / "cpuacct.usage"))
            percpu = [int(v) for v in _read(self._v1("cpuacct") / "cpuacct.usage_percpu").split()] or None
            memory = self._v1("memory")
            memory_stat = _keyed(_read(memory / "memory.stat"))
            usage = _int(_read(memory / "memory.usage_in_bytes"))
            limit = min(_int(_read(memory / "memory.limit_in_bytes"), _host_memory()), _host_memory())
            pids = _int(_read(self._v1("pids") / "pids.current"))
            blkio = []
            for line in _read(self._v1("blkio") / "blkio.throttle.io_service_bytes").splitlines():
                parts = line.split()
                if len(parts) == 3 and ":" in parts[0]:
                    major, _, minor = parts[0].partition(":")
                    blkio.append({"major": int(major), "minor": int(minor), "op": parts[1].lower(),
                                  "value": int(parts[2])})
        return {
            "read": rfc3339(time.time_ns()),
            "pids_stats": {"current": pids},
            "blkio_stats": {"io_service_bytes_recursive": blkio or None, "io_serviced_recursive": None,
                            "io_queue_recursive": None, "io_service_time_recursive": None,
                            "io_wait_time_recursive": None, "io_merged_recursive": None,
                            "io_time_recursive": None, "sectors_recursive": None},
            "num_procs": 0,
            "storage_stats": {},
            "cpu_stats": {"cpu_usage": {"total_usage": total, "percpu_usage": percpu, "usage_in_kernelmode": 0,
                                        "usage_in_usermode": 0},
                          "system_cpu_usage": _system_cpu_usage(), "online_cpus": os.cpu_count() or 1,
                          "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
            "memory_stats": {"usage": usage, "stats": memory_stat, "limit": limit},
        }

    def next(self) -> dict:
        current = self.sample()
        previous = self.previous or {"read": "0001-01-01T00:00:00Z",
                                     "cpu_stats": {"cpu_usage": {"total_usage": 0}, "system_cpu_usage": 0,
                                                   "throttling_data": {}}}
        self.previous = current
        running = self.container.state.status in (RUNNING, PAUSED)
        reply = {**current, "preread": previous["read"], "precpu_stats": previous["cpu_stats"],
                 "id": self.container.id, "name": self.container.name}
        if not running:
            reply = {"read": "0001-01-01T00:00:00Z", "preread": "0001-01-01T00:00:00Z", "id": self.container.id,
                     "name": self.container.name, "pids_stats": {}, "blkio_stats": {}, "num_procs": 0,
                     "storage_stats": {}, "cpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
                     "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}, "memory_stats": {}}
        reply["networks"] = {"eth0": {"rx_bytes": 0, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
                                      "tx_bytes": 0, "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0}} \
            if _network_mode(self.container) != "none" else {}
        return reply


def _host_memory() -> int:
    for line in _read(Path("/proc/meminfo")).splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def stats_reader(service, container: Container) -> Sampler:
    return Sampler(service, container)

"""System routes: _ping, version, info, events, system df (engine-api.md §2, §3.4, §4)."""
from __future__ import annotations

import asyncio
import importlib.metadata
import os
import platform
import shutil
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from google.protobuf import empty_pb2

import errdefs
from protos import version_pb2_grpc

from ..daemon import events as events_module
from . import query, versions
from .streams import encode

router = APIRouter()

_PING_HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Builder-Version": "1",
    "Swarm": "inactive",
}
_STARTED = datetime.now(timezone.utc)


@router.get("/_ping")
def ping() -> Response:
    return Response("OK", media_type="text/plain", headers=_PING_HEADERS)


@router.head("/_ping")
def ping_head() -> Response:
    # Content-Length 0 and no body: both clients reuse the connection after a HEAD.
    return Response(b"", media_type="text/plain", headers=_PING_HEADERS)


def _package_version() -> str:
    return importlib.metadata.version("pydocker")


def _commit() -> str:
    return f"pydocker-{_package_version()}"


def _containerd_version(daemon) -> tuple[str, str]:
    try:
        reply = version_pb2_grpc.VersionStub(daemon.channel).Version(empty_pb2.Empty(), timeout=5)
    except grpc.RpcError as e:
        raise errdefs.Unavailable(f"pycontainerd at {daemon.config.containerd} does not answer: {e.details()}") from e
    return reply.version, reply.revision


def _kernel() -> str:
    return platform.release()


@router.get("/version")
def version(request: Request) -> dict:
    daemon = request.app.state.daemon
    containerd_version, containerd_revision = _containerd_version(daemon)
    engine = {
        "Version": versions.ENGINE_VERSION,
        "ApiVersion": versions.API_VERSION,
        "MinAPIVersion": versions.MIN_API_VERSION,
        "GitCommit": _commit(),
        "GoVersion": f"python{platform.python_version()}",
        "Os": "linux",
        "Arch": versions.architecture(),
        "KernelVersion": _kernel(),
        "BuildTime": _STARTED.isoformat(timespec="seconds"),
        "Experimental": False,
    }
    return {
        "Platform": {"Name": f"pydocker Engine {_package_version()}"},
        "Components": [
            {"Name": "Engine", "Version": versions.ENGINE_VERSION,
             "Details": {k: str(v).lower() if isinstance(v, bool) else v for k, v in engine.items()
                         if k not in ("Version",)}},
            {"Name": "pycontainerd", "Version": containerd_version, "Details": {"GitCommit": containerd_revision}},
            # pyrunc ships in our package: asking the binary would only repeat its version.
            {"Name": "pyrunc", "Version": _package_version(), "Details": {"GitCommit": _commit()}},
        ],
        **engine,
    }


def _engine_id(data_root: str) -> str:
    """A stable ID for this engine, kept in the data root as moby keeps its engine-id."""
    path = Path(data_root) / "engine-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        engine_id = str(uuid.uuid4())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(engine_id + "\n")
        return engine_id


def _os_name() -> str:
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
    except OSError:
        return "Linux"
    fields = dict(line.split("=", 1) for line in lines if "=" in line)
    return fields.get("PRETTY_NAME", "Linux").strip('"')


def _mem_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _registry_config(config) -> dict:
    index_configs = {"docker.io": {"Name": "docker.io", "Mirrors": list(config.registry_mirrors), "Secure": True,
                                   "Official": True}}
    for registry in config.insecure_registries:
        index_configs[registry] = {"Name": registry, "Mirrors": [], "Secure": False, "Official": False}
    return {"InsecureRegistryCIDRs": ["::1/128", "127.0.0.0/8"], "IndexConfigs": index_configs,
            "Mirrors": list(config.registry_mirrors)}


@router.get("/info")
def info(request: Request) -> dict:
    daemon = request.app.state.daemon
    config = daemon.config
    counts = daemon.containers.counts()
    containerd_version, containerd_revision = _containerd_version(daemon)
    cgroup_v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    return {
        "ID": _engine_id(config.data_root),
        "Containers": counts["total"],
        "ContainersRunning": counts["running"],
        "ContainersPaused": counts["paused"],
        "ContainersStopped": counts["stopped"],
        "Images": daemon.images.count(),
        "Driver": "overlayfs",
        "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": None,
                    "Log": ["json-file"]},
        "MemoryLimit": True,
        "SwapLimit": cgroup_v2,
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "IPv4Forwarding": Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1",
        "Debug": config.debug,
        "NFd": len(os.listdir("/proc/self/fd")),
        "OomKillDisable": False,
        "NGoroutines": threading.active_count(),
        "SystemTime": datetime.now(timezone.utc).astimezone().isoformat(),
        "LoggingDriver": config.log_driver,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2" if cgroup_v2 else "1",
        "NEventsListener": daemon.events.listeners,
        "KernelVersion": _kernel(),
        "OperatingSystem": _os_name(),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": platform.machine(),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": _registry_config(config),
        "NCPU": os.cpu_count() or 1,
        "MemTotal": _mem_total(),
        "DockerRootDir": config.data_root,
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": platform.node(),
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": versions.ENGINE_VERSION,
        # Containers run through our shim, which runs pyrunc: named runc so `--runtime runc` works.
        "Runtimes": {"runc": {"path": shutil.which("pyrunc") or "pyrunc", "runtimeType": "io.containerd.pydocker.v1"}},
        "DefaultRuntime": "runc",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "docker-init",
        "ContainerdCommit": {"ID": containerd_revision or containerd_version},
        "RuncCommit": {"ID": _commit()},
        "InitCommit": {"ID": ""},
        "SecurityOptions": ["name=cgroupns"] if cgroup_v2 else [],
        "CDISpecDirs": [],
        "Warnings": None,
    }


@router.get("/events")
async def events(request: Request) -> Response:
    since = query.timestamp_nano(request.query_params.get("since"))
    until = query.timestamp_nano(request.query_params.get("until"))
    if until is not None and since is not None and until < since:
        raise errdefs.InvalidArgument(f"`since` time ({request.query_params['since']}) cannot be after "
                                      f"`until` time ({request.query_params['until']})")
    accept = events_module.matcher(query.request_filters(request, events_module.FILTERS))
    only_past = until is not None and until < time.time_ns()
    subscription = request.app.state.daemon.events.subscribe(
        accept, since_nano=since, until_nano=until, loop=asyncio.get_running_loop())

    async def body():
        # The reply's headers go out before the first event: the Go client waits for them.
        with subscription:
            for event in subscription.backlog:
                yield encode(event)
            if only_past:
                return
            while True:
                remaining = None if until is None else (until - time.time_ns()) / 1e9
                if remaining is not None and remaining <= 0:
                    return
                event = await subscription.next(remaining)
                if event is not None:
                    yield encode(event)

    return StreamingResponse(body(), media_type="application/json")


@router.post("/build/prune")
def build_prune() -> dict:
    """There is no builder, so no build cache: `docker system prune` asks all the same."""
    return {"CachesDeleted": None, "SpaceReclaimed": 0}


@router.get("/system/df")
def system_df(request: Request) -> JSONResponse:
    daemon = request.app.state.daemon
    wanted = set(request.query_params.getlist("type")) or {"container", "image", "volume", "build-cache"}
    unknown = wanted - {"container", "image", "volume", "build-cache"}
    if unknown:
        raise errdefs.InvalidArgument(f"unknown object type: {sorted(unknown)[0]}")
    reply: dict = {"LayersSize": 0, "BuildCache": [] if "build-cache" in wanted else None}
    if "image" in wanted:
        images = daemon.images.summaries()
        reply["Images"] = images
        reply["LayersSize"] = sum(image.get("Size", 0) for image in images)
    if "container" in wanted:
        reply["Containers"] = daemon.containers.summaries(size=True)
    if "volume" in wanted:
        reply["Volumes"] = daemon.volumes.df()
    return JSONResponse(reply)

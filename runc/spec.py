"""Loading and validating a bundle's config.json.

Two layers of checks, both before anything is created, so a bad config leaves nothing behind:
the OCI JSON schema (compiled ahead of time into runc/spec_validator.py), then the rules
runc adds on top of the schema (a non-empty args, an absolute cwd, a hostname only with a
private UTS namespace, sysctls only for namespaces the container owns...). Every error names
the offending field.
"""
import json
import os

import errdefs

# runc and moby write these r-prefixed propagations, which the schema's enum lacks; runc
# accepts them, and Docker sends them for rslave/rshared bind mounts, so accept them too.
_RECURSIVE_PROPAGATION = {"rprivate": "private", "rshared": "shared", "rslave": "slave", "runbindable": "unbindable"}

# The rlimit types Linux has, with their setrlimit(2) numbers. The schema lets any RLIMIT_*
# name through.
RLIMITS = {
    "RLIMIT_AS": 9, "RLIMIT_CORE": 4, "RLIMIT_CPU": 0, "RLIMIT_DATA": 2, "RLIMIT_FSIZE": 1,
    "RLIMIT_LOCKS": 10, "RLIMIT_MEMLOCK": 8, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_NOFILE": 7, "RLIMIT_NPROC": 6, "RLIMIT_RSS": 5, "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15, "RLIMIT_SIGPENDING": 11, "RLIMIT_STACK": 3,
}

# Sysctls the kernel namespaces, and the namespace a container must own to set them.
_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}


def load(bundle: str) -> dict:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise errdefs.NotFound(f"JSON specification file {path} not found") from None
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise errdefs.InvalidArgument(f"config.json: invalid JSON: {e}") from None
    validate(config)
    return config


def validate(config: dict) -> None:
    candidate = config
    propagation = config.get("linux", {}).get("rootfsPropagation") if isinstance(config, dict) else None
    if isinstance(propagation, str) and propagation in _RECURSIVE_PROPAGATION:
        candidate = {**config, "linux": {**config["linux"], "rootfsPropagation": _RECURSIVE_PROPAGATION[propagation]}}
    check_schema(candidate, "config.json")
    _check_runtime_rules(config)


def check_schema(document: dict, source: str) -> None:
    """Check `document` against the OCI config schema; the error names `source` and the field."""
    from . import spec_validator  # here: exec needs only the rlimit table, not the schema

    try:
        spec_validator.validate(document)
    except spec_validator.ValidationError as e:
        field = (e.name or "data").removeprefix("data").lstrip(".") or "(the document)"
        message = e.message.removeprefix(e.name or "data").strip()
        raise errdefs.InvalidArgument(f"{source}: {field}: {message}") from None


def _invalid(field: str, message: str) -> errdefs.InvalidArgument:
    return errdefs.InvalidArgument(f"config.json: {field}: {message}")


def _check_runtime_rules(config: dict) -> None:
    process = config.get("process")
    if process is None:
        raise _invalid("process", "is required to create a container")
    if not process.get("args"):
        raise _invalid("process.args", "must name the program to run (it is empty)")
    if not os.path.isabs(process.get("cwd", "")):
        raise _invalid("process.cwd", f"must be an absolute path, not {process.get('cwd')!r}")
    check_rlimits(process, "config.json: process")
    if "root" not in config:
        raise _invalid("root", "is required")
    linux = config.get("linux", {})
    kinds = [ns["type"] for ns in linux.get("namespaces", [])]
    duplicated = {k for k in kinds if kinds.count(k) > 1}
    if duplicated:
        raise _invalid("linux.namespaces", f"{', '.join(sorted(duplicated))} listed more than once")
    owned = {ns["type"] for ns in linux.get("namespaces", []) if not ns.get("path")}
    if config.get("hostname") and "uts" not in kinds:
        raise _invalid("hostname", "needs a private UTS namespace (add {\"type\": \"uts\"} to linux.namespaces)")
    if config.get("domainname") and "uts" not in kinds:
        raise _invalid("domainname", "needs a private UTS namespace")
    if "user" in owned and not (linux.get("uidMappings") and linux.get("gidMappings")):
        raise _invalid("linux.uidMappings", "a new user namespace needs uid and gid mappings")
    if (linux.get("uidMappings") or linux.get("gidMappings")) and "user" not in kinds:
        raise _invalid("linux.uidMappings", "mappings need a user namespace in linux.namespaces")
    for key in linux.get("sysctl", {}):
        _check_sysctl(key, kinds)
    if linux.get("timeOffsets") and "time" not in owned:
        raise _invalid("linux.timeOffsets", "need a new time namespace")
    for index, mount in enumerate(config.get("mounts", [])):
        if not mount["destination"].startswith("/"):
            raise _invalid(f"mounts[{index}].destination", f"must be absolute, not {mount['destination']!r}")
    seccomp = linux.get("seccomp")
    if seccomp and seccomp.get("listenerPath"):
        raise errdefs.NotImplemented("config.json: linux.seccomp.listenerPath: seccomp user notification is not supported")


def check_rlimits(process: dict, field: str) -> None:
    for index, rlimit in enumerate(process.get("rlimits", [])):
        if rlimit["type"] not in RLIMITS:
            raise errdefs.InvalidArgument(f"{field}.rlimits[{index}].type: unknown rlimit type {rlimit['type']!r}")


def _check_sysctl(key: str, kinds: list[str]) -> None:
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        needed = "ipc"
    elif key.startswith("net."):
        needed = "network"
    elif key in ("kernel.hostname", "kernel.domainname"):
        needed = "uts"
    else:
        raise _invalid(f"linux.sysctl.{key}", "is not namespaced: setting it would change the host")
    if needed not in kinds:
        raise _invalid(f"linux.sysctl.{key}", f"needs a private {needed} namespace")

"""Print what pyrunc supports, in the runtime-spec "features" JSON format (features-linux.json)."""
import json
import sys

from .. import OCI_VERSION, VERSION
from ..libcontainer import namespaces, rootfs


def features() -> dict:
    from ..libcontainer import capabilities, seccomp

    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": sorted({*rootfs.MOUNT_FLAG_OPTIONS, *rootfs.PROPAGATION}),
        "linux": {
            "namespaces": sorted(namespaces.CLONE_FLAGS),
            "capabilities": list(capabilities.NAMES[:capabilities.last_cap() + 1]),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": False},
            "seccomp": {
                "enabled": True,
                "actions": list(seccomp.ACTIONS),
                "operators": list(seccomp.OPERATORS),
                "archs": list(seccomp.ARCHITECTURES),
                "knownFlags": list(seccomp.FLAGS),
                "supportedFlags": list(seccomp.FLAGS),
            },
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
        },
        "annotations": {"pydocker.pyrunc.version": VERSION},
    }


OPTIONS: list = []
ARGUMENTS: list = []


def run(ctx, args) -> int:
    sys.stdout.write(json.dumps(features(), indent=2) + "\n")
    return 0

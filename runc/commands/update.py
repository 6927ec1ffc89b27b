"""Change a running container's resource limits from a runtime-spec linux.resources JSON."""
import json
import sys

import errdefs

from .. import OCI_VERSION, cli, spec
from ..libcontainer.container import Container, effective_resources
from ..libcontainer.status import Status


OPTIONS = [cli.Option("-r", "--resources", help="path to a linux.resources JSON, or - for stdin (required)")]
ARGUMENTS = [cli.Argument("id")]


def merge(current: dict, update: dict) -> dict:
    """Fields given in the update replace the current ones; the rest stay (runc's semantics)."""
    merged = dict(current)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def run(ctx, args) -> int:
    if not args.resources:
        raise errdefs.InvalidArgument("update: --resources is required")
    c = Container.load(ctx.root, args.id)
    if c.status() is Status.STOPPED:
        raise errdefs.FailedPrecondition("container not running")
    source = sys.stdin if args.resources == "-" else open(args.resources)
    with source:
        try:
            update = json.load(source)
        except ValueError as e:
            raise errdefs.InvalidArgument(f"resources: invalid JSON: {e}") from None
    spec.check_schema({"ociVersion": OCI_VERSION, "linux": {"resources": update}}, "resources")
    linux = c.config.setdefault("linux", {})
    resources = merge(linux.get("resources", {}), update)
    c.cgroup.set(effective_resources(resources))
    linux["resources"] = resources
    c.save()
    return 0

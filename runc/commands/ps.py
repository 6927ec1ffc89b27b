"""List a container's processes: pids as JSON, or the host's `ps` output for them."""
import json
import subprocess
import sys

import errdefs

from .. import cli
from ..libcontainer.container import Container


OPTIONS = [cli.Option("-f", "--format", default="table", help="table or json")]
ARGUMENTS = [cli.Argument("id"), cli.Argument("ps_args", rest=True, help="options for ps (default -ef)")]


def run(ctx, args) -> int:
    if args.format not in ("table", "json"):
        raise errdefs.InvalidArgument(f"--format must be table or json, not {args.format!r}")
    c = Container.load(ctx.root, args.id)
    pids = sorted(c.cgroup.pids()) if c.cgroup.exists() else []
    if args.format == "json":
        sys.stdout.write(json.dumps(pids) + "\n")
        return 0
    done = subprocess.run(["ps", *(args.ps_args or ["-ef"])], capture_output=True, text=True)
    if done.returncode != 0:
        raise errdefs.Unknown(f"ps: {done.stderr.strip()}")
    lines = done.stdout.splitlines()
    header = lines[0].split()
    if "PID" not in header:
        raise errdefs.InvalidArgument("ps output has no PID column")
    column = header.index("PID")
    wanted = set(pids)
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in wanted:
            print(line)
    return 0

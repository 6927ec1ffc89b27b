"""List a container's processes: pids as JSON, or the host's `ps` output for them."""
import argparse
import json
import subprocess
import sys

import errdefs

from ..libcontainer.container import Container


def configure(parser) -> None:
    parser.add_argument("-f", "--format", choices=("table", "json"), default="table")
    parser.add_argument("id")
    parser.add_argument("ps_args", nargs=argparse.REMAINDER, help="options for ps (default -ef)")


def run(ctx, args) -> int:
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

"""docker stop, kill, restart, pause, unpause: one POST per container, each name echoed."""
from __future__ import annotations

from client.commands import for_each, parser as make_parser
from client import api

USAGE = {"stop": "Stop one or more running containers", "kill": "Kill one or more running containers",
         "restart": "Restart one or more containers",
         "pause": "Pause all processes within one or more containers",
         "unpause": "Unpause all processes within one or more containers"}


def parser(name):
    p = make_parser(name, f"docker {name} [OPTIONS] CONTAINER [CONTAINER...]", USAGE[name])
    p.add_argument("containers", nargs="+")
    if name in ("stop", "restart"):
        p.add_argument("-t", "--timeout", "--time", type=int, default=None)
    if name in ("stop", "restart", "kill"):
        p.add_argument("-s", "--signal", default=None)
    return p


def run(client, args) -> int:
    # -t 0 is sent as t=0; no -t sends nothing (the container's StopTimeout or 10 s)
    params = {"t": getattr(args, "timeout", None), "signal": getattr(args, "signal", None)}

    def act(name: str) -> None:
        client.post(f"/containers/{api.q(name)}/{args.command}", params)

    return for_each(args.containers, act)

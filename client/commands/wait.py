"""docker wait: POST /containers/{c}/wait for each; prints each StatusCode."""
from __future__ import annotations

from client.commands import for_each, parser as make_parser
from client import api


def parser(name):
    p = make_parser(name, "docker wait CONTAINER [CONTAINER...]",
                    "Block until one or more containers stop, then print their exit codes")
    p.add_argument("containers", nargs="+")
    return p


def run(client, args) -> int:
    def wait(name):
        response = client.request("POST", f"/containers/{api.q(name)}/wait")
        try:
            reply = response.json() or {}
        finally:
            response.close()
        if (reply.get("Error") or {}).get("Message"):
            raise api.APIError(500, reply["Error"]["Message"])
        return str(reply.get("StatusCode", 0))

    return for_each(args.containers, wait)

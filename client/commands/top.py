"""docker top: GET /containers/{c}/top, the ps table aligned as docker's tabwriter does
(columns at least 20 wide)."""
from __future__ import annotations

from client.commands import Parser, write
from client import api, formatting as fmt


class _Parser(Parser):
    """docker top reads no flags after the container (cobra's SetInterspersed(false)): what
    follows is for ps, `-o pid,args` included."""

    def parse_args(self, argv: list[str]):
        for index, arg in enumerate(argv):
            if arg == "--":
                break
            if not arg.startswith("-") or arg == "-":
                argv = argv[:index + 1] + ["--"] + argv[index + 1:]
                break
        return super().parse_args(argv)


def parser(name):
    p = _Parser(f"pydocker {name}", "pydocker top CONTAINER [ps OPTIONS]",
                "Display the running processes of a container", "at least 1 argument")
    p.add_argument("arguments", nargs="+")
    return p


def run(client, args) -> int:
    container, ps_options = args.arguments[0], args.arguments[1:]
    params = {"ps_args": " ".join(ps_options) if ps_options else None}
    processes = client.get_json(f"/containers/{api.q(container)}/top", params)
    lines = ["\t".join(processes.get("Titles") or [])]
    lines.extend("\t".join(process) for process in processes.get("Processes") or [])
    write(fmt.tabwrite(lines, minwidth=20))
    return 0

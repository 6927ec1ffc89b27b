"""docker version: the client's section, then the server's from GET /version."""
from __future__ import annotations

import os
import sys

from client.commands import parser as make_parser, write
from client import __version__, api


def parser(name):
    p = make_parser(name, "docker version [OPTIONS]", "Show the Docker version information")
    p.add_argument("-f", "--format", default="")
    return p


def _go_time(text: str) -> str:
    """The server's BuildTime (RFC 3339) as the CLI prints it: Mon Jan  2 15:04:05 2006."""
    import datetime

    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return when.strftime("%a %b ") + f"{when.day:>2}" + when.strftime(" %H:%M:%S %Y")


def client_data() -> dict:
    return {"Platform": {"Name": "pydocker"}, "Version": __version__, "APIVersion": api.API_VERSION,
            "ApiVersion": api.API_VERSION, "DefaultAPIVersion": api.API_VERSION,
            "GoVersion": "python" + _python_version(), "Os": sys.platform, "Arch": _arch(),
            "Context": "default", "GitCommit": "", "BuildTime": ""}


class _GoVersion(dict):
    """/version as docker's types.Version: templates name its Go field APIVersion, which the
    JSON (and so `{{json .Server}}`) calls ApiVersion."""

    def __contains__(self, key) -> bool:
        return super().__contains__("ApiVersion" if key == "APIVersion" else key)

    def __missing__(self, key):
        if key == "APIVersion":
            return self["ApiVersion"]
        raise KeyError(key)


def server_data(v: dict) -> dict:
    # a component's Details is a Go map, which encoding/json writes with its keys sorted; the
    # CLI rewrites the Engine's BuildTime there as it prints it
    components = []
    for component in v.get("Components") or []:
        details = component.get("Details")
        if details:
            if component.get("Name") == "Engine" and details.get("BuildTime"):
                details = dict(details, BuildTime=_go_time(details["BuildTime"]))
            component = dict(component, Details=dict(sorted(details.items())))
        components.append(component)
    return _GoVersion(v, Components=components) if "Components" in v else _GoVersion(v)


def client_section() -> str:
    return (f"Client:\n"
            f" Version:           {__version__}\n"
            f" API version:       {api.API_VERSION}\n"
            f" Python version:    {_python_version()}\n"
            f" OS/Arch:           {sys.platform}/{_arch()}\n"
            f" Context:           default\n")


def _python_version() -> str:
    # not platform.python_version(): the platform module costs more than the whole command
    return ".".join(map(str, sys.version_info[:3]))


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def server_section(v: dict) -> str:
    lines = [f"Server: {(v.get('Platform') or {}).get('Name', '')}".rstrip()]
    for component in v.get("Components") or []:
        lines.append(f" {component['Name']}:")
        details = component.get("Details") or {}
        if component["Name"] == "Engine":
            lines.append(f"  Version:          {component.get('Version', '')}")
            lines.append(f"  API version:      {v.get('ApiVersion', '')} (minimum version {v.get('MinAPIVersion', '')})")
            lines.append(f"  Go version:       {v.get('GoVersion', '')}")
            lines.append(f"  Git commit:       {v.get('GitCommit', '')}")
            lines.append(f"  Built:            {_go_time(v.get('BuildTime', ''))}")
            lines.append(f"  OS/Arch:          {v.get('Os', '')}/{v.get('Arch', '')}")
            lines.append(f"  Experimental:     {str(bool(v.get('Experimental'))).lower()}")
        else:
            lines.append(f"  Version:          {component.get('Version', '')}")
        for key, value in details.items():
            if component["Name"] == "Engine" and key in ("ApiVersion", "MinAPIVersion", "GoVersion", "GitCommit",
                                                         "BuildTime", "Os", "Arch", "KernelVersion",
                                                         "Experimental"):
                continue
            lines.append(f"  {key + ':':<18}{value}")
    return "\n".join(lines) + "\n"


def run(client, args) -> int:
    from client.__main__ import CommandError

    if args.format:
        from client import formatting as fmt

        try:  # as docker: the template is parsed before the daemon is asked
            template = fmt.Template("{{json .}}" if args.format == "json" else args.format, "version")
        except fmt.TemplateError as error:
            raise CommandError(f"template parsing error: {error}", 64) from None
        server = client.get_json("/version")
        try:
            text = template.render({"Client": client_data(), "Server": server_data(server)})
        except fmt.TemplateError as error:  # docker prints what the template wrote, then the error
            write(fmt.tabwrite([error.output], 20, 1))
            raise CommandError(str(error), 1) from None
        write(fmt.tabwrite([text], 20, 1))  # docker's output goes through a tabwriter
        return 0
    write(client_section())
    try:
        server = client.get_json("/version")
    except api.CannotConnect as error:
        raise CommandError(str(error), 1) from None
    write("\n" + server_section(server))
    return 0

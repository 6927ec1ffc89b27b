"""docker info: a Client: section, then the Server: section from GET /info, line by line in
docker's layout (its prettyPrintInfo), or the two together through --format."""
from __future__ import annotations

import sys

from client.commands import parser as make_parser, write
from client import formatting as fmt


def parser(name):
    p = make_parser(name, "docker info [OPTIONS]", "Display system-wide information", required="no arguments")
    p.add_argument("-f", "--format", default="")
    return p


def client_info() -> dict:
    """docker's clientInfo: the client's version fields, its debug flag and plugins (none)."""
    from client.commands.version import client_data

    data = client_data()
    fields = ("Version", "DefaultAPIVersion", "GitCommit", "GoVersion", "Os", "Arch", "BuildTime", "Context")
    return {"Debug": False, **{name: data[name] for name in fields}, "Plugins": [], "Warnings": None}


def go_value(value) -> str:
    """fmt.Println of a field: booleans in lower case, numbers and text as they are."""
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def security_options(options: list[str]) -> list[tuple[str, dict[str, str]]]:
    """system.DecodeSecurityOptions: `name=seccomp,profile=builtin` or a bare name."""
    decoded = []
    for option in options:
        if "=" not in option:
            decoded.append((option, {}))
            continue
        name, settings = "", {}
        for pair in option.split(","):
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f'invalid security option "{pair}"')
            if not key or not value:
                raise ValueError("invalid empty security option")
            if key == "name":
                name = value
            else:
                settings[key] = value
        decoded.append((name, settings))
    return decoded


def server_lines(info: dict) -> tuple[list[str], list[str]]:
    """The Server: section's lines, and the errors met (printed as ERROR: lines)."""
    lines, errors = [], []

    def line(label: str, value) -> None:
        lines.append(f"{label} {go_value(value)}")

    def line_if(label: str, value) -> None:
        if value:
            line(label, value)

    line(" Containers:", info.get("Containers", 0))
    line("  Running:", info.get("ContainersRunning", 0))
    line("  Paused:", info.get("ContainersPaused", 0))
    line("  Stopped:", info.get("ContainersStopped", 0))
    line(" Images:", info.get("Images", 0))
    line_if(" Server Version:", info.get("ServerVersion"))
    line_if(" Storage Driver:", info.get("Driver"))
    lines.extend(f"  {key}: {value}" for key, value in info.get("DriverStatus") or [])
    lines.extend(f" {key}: {value}" for key, value in info.get("SystemStatus") or [])
    line_if(" Logging Driver:", info.get("LoggingDriver"))
    line_if(" Cgroup Driver:", info.get("CgroupDriver"))
    line_if(" Cgroup Version:", info.get("CgroupVersion"))
    plugins = info.get("Plugins") or {}
    lines.append(" Plugins:")
    line("  Volume:", " ".join(plugins.get("Volume") or []))
    line("  Network:", " ".join(plugins.get("Network") or []))
    if plugins.get("Authorization"):
        line("  Authorization:", " ".join(plugins["Authorization"]))
    line("  Log:", " ".join(plugins.get("Log") or []))
    if info.get("CDISpecDirs"):
        lines.append(" CDI spec directories:")
        lines.extend(f"  {directory}" for directory in info["CDISpecDirs"])
    swarm = info.get("Swarm") or {}
    line(" Swarm:", swarm.get("LocalNodeState", ""))
    if swarm.get("LocalNodeState") not in ("inactive", "locked"):
        line("  NodeID:", swarm.get("NodeID", ""))
        if swarm.get("Error"):
            line("  Error:", swarm["Error"])
        line("  Is Manager:", bool(swarm.get("ControlAvailable")))
        line("  Node Address:", swarm.get("NodeAddr", ""))
    if info.get("Runtimes"):
        line(" Runtimes:", " ".join(info["Runtimes"]))
        line(" Default Runtime:", info.get("DefaultRuntime", ""))
    if info.get("OSType") == "linux":
        line(" Init Binary:", info.get("InitBinary", ""))
        line(" containerd version:", (info.get("ContainerdCommit") or {}).get("ID", ""))
        line(" runc version:", (info.get("RuncCommit") or {}).get("ID", ""))
        line(" init version:", (info.get("InitCommit") or {}).get("ID", ""))
        if info.get("SecurityOptions"):
            try:
                decoded = security_options(info["SecurityOptions"])
            except ValueError as error:
                errors.append(str(error))
            else:
                lines.append(" Security Options:")
                for name, settings in decoded:
                    lines.append("  " + name)
                    if "profile" in settings:
                        line("   Profile:", settings["profile"])
    if info.get("OSType") == "windows":
        line(" Default Isolation:", info.get("Isolation", ""))
    line_if(" Kernel Version:", info.get("KernelVersion"))
    line_if(" Operating System:", info.get("OperatingSystem"))
    line_if(" OSType:", info.get("OSType"))
    line_if(" Architecture:", info.get("Architecture"))
    line(" CPUs:", info.get("NCPU", 0))
    line(" Total Memory:", fmt.bytes_size(info.get("MemTotal") or 0))
    line_if(" Name:", info.get("Name"))
    line_if(" ID:", info.get("ID"))
    line(" Docker Root Dir:", info.get("DockerRootDir", ""))
    line(" Debug Mode:", bool(info.get("Debug")))
    if info.get("Debug"):
        line("  File Descriptors:", info.get("NFd", 0))
        line("  Goroutines:", info.get("NGoroutines", 0))
        line("  System Time:", info.get("SystemTime", ""))
        line("  EventsListeners:", info.get("NEventsListener", 0))
    line_if(" HTTP Proxy:", info.get("HttpProxy"))
    line_if(" HTTPS Proxy:", info.get("HttpsProxy"))
    line_if(" No Proxy:", info.get("NoProxy"))
    if info.get("Labels"):
        lines.append(" Labels:")
        lines.extend(f"  {label}" for label in info["Labels"])
    line(" Experimental:", bool(info.get("ExperimentalBuild")))
    registries = info.get("RegistryConfig") or {}
    if registries.get("InsecureRegistryCIDRs") or registries.get("IndexConfigs"):
        lines.append(" Insecure Registries:")
        lines.extend(f"  {index['Name']}" for index in (registries.get("IndexConfigs") or {}).values()
                     if not index.get("Secure"))
        lines.extend(f"  {cidr}" for cidr in registries.get("InsecureRegistryCIDRs") or [])
    if registries.get("Mirrors"):
        lines.append(" Registry Mirrors:")
        lines.extend(f"  {mirror}" for mirror in registries["Mirrors"])
    line(" Live Restore Enabled:", bool(info.get("LiveRestoreEnabled")))
    if info.get("ProductLicense"):
        line(" Product License:", info["ProductLicense"])
    if info.get("DefaultAddressPools"):
        lines.append(" Default Address Pools:")
        lines.extend(f"   Base: {pool.get('Base')}, Size: {pool.get('Size')}" for pool in info["DefaultAddressPools"])
    lines.append("")
    return lines, errors


def run(client, args) -> int:
    from client.__main__ import CommandError

    ours = client_info()
    if args.format:
        try:  # parsed before the daemon is asked
            template = fmt.Template("{{json .}}" if args.format == "json" else args.format)
        except fmt.TemplateError as error:
            raise CommandError(f"template parsing error: {error}", 64) from None
        info = client.get_json("/info")
        try:
            write(template.render({**info, "ClientInfo": ours}) + "\n")
        except fmt.TemplateError as error:  # docker prints what the template wrote, then the error
            write(error.output + "\n")
            raise CommandError(str(error), 1) from None
        return 0
    write("Client:\n"
          f" Version:    {ours['Version']}\n"
          f" Context:    {ours['Context']}\n"
          f" Debug Mode: {go_value(ours['Debug'])}\n"
          "\nServer:\n")
    info = client.get_json("/info")  # a daemon that does not answer: its error, after "Server:"
    lines, errors = server_lines(info)
    write("\n".join(lines) + "\n")
    for warning in info.get("Warnings") or []:
        print(warning, file=sys.stderr)
    if errors:
        print("\n".join(f"ERROR: {error}" for error in errors), file=sys.stderr)
        raise CommandError("errors pretty printing info", 1)
    return 0

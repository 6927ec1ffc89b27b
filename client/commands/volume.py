"""docker volume create, ls, inspect, rm and prune, on the /volumes routes."""
from __future__ import annotations

from client.commands import parser as make_parser, write
from client import api, formatting as fmt

USAGES = {
    "volume create": "docker volume create [OPTIONS] [VOLUME]",
    "volume ls": "docker volume ls [OPTIONS]",
    "volume inspect": "docker volume inspect [OPTIONS] VOLUME [VOLUME...]",
    "volume rm": "docker volume rm [OPTIONS] VOLUME [VOLUME...]",
    "volume prune": "docker volume prune [OPTIONS]",
}
DESCRIPTIONS = {
    "volume create": "Create a volume", "volume ls": "List volumes",
    "volume inspect": "Display detailed information on one or more volumes",
    "volume rm": "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
    "volume prune": "Remove unused local volumes",
}
TABLE = "table {{.Driver}}\t{{.Name}}"
HEADERS = {"ID": "ID", "Name": "VOLUME NAME", "Group": "GROUP", "Driver": "DRIVER", "Scope": "SCOPE",
           "Availability": "AVAILABILITY", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS",
           "Size": "SIZE", "Status": "STATUS"}
ANONYMOUS_WARNING = "WARNING! This will remove anonymous local volumes not used by at least one container."
ALL_WARNING = "WARNING! This will remove all local volumes not used by at least one container."
# The order of the fields of moby's volume.Volume, in which the CLI marshals an inspected volume
FIELDS = ("ClusterVolume", "CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope", "Status",
          "UsageData")
OMITTED_WHEN_EMPTY = ("ClusterVolume", "CreatedAt", "Status", "UsageData")


def parser(name):
    required = {"volume create": "at most 1 argument", "volume ls": "no arguments",
                "volume prune": "no arguments"}.get(name, "at least 1 argument")
    p = make_parser(name, USAGES[name], DESCRIPTIONS[name], required)
    if name == "volume create":
        p.add_argument("name", nargs="?", default="")
        p.add_argument("-d", "--driver", default="local")
        p.add_argument("-o", "--opt", action="append", default=[])
        p.add_argument("--label", action="append", default=[])
    elif name == "volume ls":
        p.add_argument("-q", "--quiet", action="store_true")
        p.add_argument("--format", default="")
        p.add_argument("-f", "--filter", action="append", default=[])
    elif name == "volume inspect":
        p.add_argument("names", nargs="+")
        p.add_argument("-f", "--format", default="")
    elif name == "volume rm":
        p.add_argument("names", nargs="+")
        p.add_argument("-f", "--force", action="store_true")
    else:
        p.add_argument("-a", "--all", action="store_true")
        p.add_argument("--filter", action="append", default=[])
        p.add_argument("-f", "--force", action="store_true")
    return p


class Volume:
    """What docker's volumeContext offers a template."""

    def __init__(self, volume: dict):
        self._v = volume

    def Name(self):
        return self._v.get("Name") or ""

    def Driver(self):
        return self._v.get("Driver") or ""

    def Scope(self):
        return self._v.get("Scope") or ""

    def Mountpoint(self):
        return self._v.get("Mountpoint") or ""

    def Labels(self):
        return ",".join(f"{k}={v}" for k, v in (self._v.get("Labels") or {}).items())

    def Label(self, name):
        return (self._v.get("Labels") or {}).get(name, "")

    def Links(self):
        usage = self._v.get("UsageData")
        return "N/A" if usage is None else str(usage.get("RefCount", 0))

    def Size(self):
        usage = self._v.get("UsageData")
        return "N/A" if usage is None else fmt.human_size(usage.get("Size", 0))

    def Group(self):
        cluster = self._v.get("ClusterVolume")
        return "N/A" if cluster is None else ((cluster.get("Spec") or {}).get("Group") or "")

    def Availability(self):
        cluster = self._v.get("ClusterVolume")
        return "N/A" if cluster is None else ((cluster.get("Spec") or {}).get("Availability") or "")

    def Status(self):
        cluster = self._v.get("ClusterVolume")
        if cluster is None:
            return "N/A"
        if not (cluster.get("Info") or {}).get("VolumeID"):
            return "pending creation"
        published = len(cluster.get("PublishStatus") or [])
        return {0: "created", 1: "in use (1 node)"}.get(published, f"in use ({published} nodes)")

    def as_json(self):
        names = ["Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size", "Status"]
        return {n: getattr(self, n)() for n in names}


def as_go_struct(volume: dict) -> dict:
    """An inspected volume as the CLI re-marshals it: moby's field order, empty optional
    fields left out, map keys sorted."""
    shaped = {}
    for name in FIELDS:
        value = volume.get(name)
        if name in OMITTED_WHEN_EMPTY and not value:
            continue
        shaped[name] = dict(sorted(value.items())) if isinstance(value, dict) and name != "ClusterVolume" else value
    return shaped


def run(client, args) -> int:
    return {"volume create": create, "volume ls": list_volumes, "volume inspect": inspect, "volume rm": remove,
            "volume prune": prune}[args.command](client, args)


def create(client, args) -> int:
    import json

    from client.commands.system import key_values

    body = {"Driver": args.driver, "DriverOpts": key_values(args.opt), "Labels": key_values(args.label),
            "Name": args.name}
    response = client.request("POST", "/volumes/create", body=json.dumps(body).encode(),
                              headers={"Content-Type": "application/json"})
    try:
        volume = response.json()
    finally:
        response.close()
    write(volume["Name"] + "\n")
    return 0


def list_volumes(client, args) -> int:
    from client.commands.system import encode_filters, filters_param, natural_key, render

    filters = filters_param(args.filter, "-f, --filter", args.command, USAGES[args.command])
    reply = client.get_json("/volumes", {"filters": encode_filters(filters)})
    volumes = sorted(reply.get("Volumes") or [], key=lambda v: natural_key(v.get("Name") or ""))
    format = args.format or "table"
    if format == "table":
        format = "{{.Name}}" if args.quiet else TABLE
    elif format == "raw":
        format = "name: {{.Name}}" if args.quiet else "name: {{.Name}}\\ndriver: {{.Driver}}\\n"
    elif format == "json":
        format = "{{json .}}"
    write(render(format, [Volume(v) for v in volumes], HEADERS))
    return 0


def inspect(client, args) -> int:
    import json

    from client.__main__ import CommandError

    if args.format and args.format != "json":  # parsed as docker does: first, and as given (main words its errors)
        template = fmt.Template(args.format)
    found, errors = [], []
    for name in args.names:
        try:
            found.append(as_go_struct(client.get_json(f"/volumes/{api.q(name)}")))
        except api.APIError as error:
            errors.append(f"Error response from daemon: {error.message}")
    if args.format == "json":
        write("[" + ",".join(fmt.to_json(v) for v in found) + "]\n")
    elif args.format:
        # A template sees Go's zero values where JSON has null: nil maps print as map[]
        text, failures = fmt.inspect_each(template, [{k: ({} if v is None and k in ("Labels", "Options") else v)
                                                      for k, v in volume.items()} for volume in found])
        write(text)
        errors += failures
    elif found:
        write(escape_html(json.dumps(found, indent=4, ensure_ascii=False)) + "\n")
    else:
        write("[]\n")
    if errors:
        raise CommandError("\n".join(errors), 1)
    return 0


def escape_html(text: str) -> str:
    """json.MarshalIndent's escaping of < > & (which Python's encoder leaves)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def remove(client, args) -> int:
    from client.commands import for_each

    params = {"force": "1" if args.force else None}
    return for_each(args.names, lambda name: client.delete(f"/volumes/{api.q(name)}", params))


def prune(client, args) -> int:
    from client.__main__ import CommandError
    from client.commands.system import confirm, filters_param, prune_volumes, reclaimed

    filters = filters_param(args.filter, "--filter", args.command, USAGES[args.command])
    warning = ANONYMOUS_WARNING
    if args.all:
        if "all" in filters:
            raise CommandError("conflicting options: cannot specify both --all and --filter all=1", 1)
        filters["all"] = ["true"]
        warning = ALL_WARNING
    if not args.force and not confirm(warning + "\nAre you sure you want to continue?"):
        return 0
    space, output = prune_volumes(client, filters)
    write(output + reclaimed(space))
    return 0


"""docker network create, ls, inspect, rm, connect, disconnect and prune, on the /networks
routes."""
from __future__ import annotations

import sys

from client.commands import parser as make_parser, write
from client import api, formatting as fmt

USAGES = {
    "network create": "docker network create [OPTIONS] NETWORK",
    "network ls": "docker network ls [OPTIONS]",
    "network inspect": "docker network inspect [OPTIONS] NETWORK [NETWORK...]",
    "network rm": "docker network rm NETWORK [NETWORK...]",
    "network connect": "docker network connect [OPTIONS] NETWORK CONTAINER",
    "network disconnect": "docker network disconnect [OPTIONS] NETWORK CONTAINER",
    "network prune": "docker network prune [OPTIONS]",
}
DESCRIPTIONS = {
    "network create": "Create a network", "network ls": "List networks",
    "network inspect": "Display detailed information on one or more networks",
    "network rm": "Remove one or more networks", "network connect": "Connect a container to a network",
    "network disconnect": "Disconnect a container from a network", "network prune": "Remove all unused networks",
}
REQUIRED = {"network create": "exactly 1 argument", "network ls": "no arguments", "network prune": "no arguments",
            "network connect": "exactly 2 arguments", "network disconnect": "exactly 2 arguments"}
TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
RAW = "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n"
HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
           "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}
PRUNE_WARNING = "WARNING! This will remove all custom networks not used by at least one container."


def parser(name):
    p = make_parser(name, USAGES[name], DESCRIPTIONS[name], REQUIRED.get(name, "at least 1 argument"))
    if name == "network create":
        p.add_argument("name")
        p.add_argument("-d", "--driver", default="bridge")
        p.add_argument("-o", "--opt", action="append", default=[])
        p.add_argument("--label", action="append", default=[])
        p.add_argument("--internal", action="store_true")
        p.add_argument("--attachable", action="store_true")
        p.add_argument("--ingress", action="store_true")
        p.add_argument("--config-only", action="store_true")
        p.add_argument("--config-from", default="")
        p.add_argument("--ipv4", action="store_true")
        p.flags["--ipv4"].default = True  # pflag's BoolVar(..., true): on unless --ipv4=false
        p.add_argument("--ipv6", action="store_true")
        p.add_argument("--scope", default="")
        p.add_argument("--ipam-driver", default="default")
        p.add_argument("--ipam-opt", action="append", default=[])
        p.add_argument("--subnet", action="append", default=[])
        p.add_argument("--gateway", action="append", default=[])
        p.add_argument("--ip-range", action="append", default=[])
    elif name == "network ls":
        p.add_argument("-q", "--quiet", action="store_true")
        p.add_argument("--no-trunc", action="store_true")
        p.add_argument("--format", default="")
        p.add_argument("-f", "--filter", action="append", default=[])
    elif name == "network inspect":
        p.add_argument("names", nargs="+")
        p.add_argument("-f", "--format", default="")
        p.add_argument("-v", "--verbose", action="store_true")
    elif name == "network rm":
        p.add_argument("names", nargs="+")
        p.add_argument("-f", "--force", action="store_true")
    elif name == "network connect":
        p.add_argument("network")
        p.add_argument("container")
        p.add_argument("--alias", action="append", default=[])
        p.add_argument("--ip", default="")
        p.add_argument("--ip6", default="")
        p.add_argument("--link", action="append", default=[])
        p.add_argument("--driver-opt", action="append", default=[])
    elif name == "network disconnect":
        p.add_argument("network")
        p.add_argument("container")
        p.add_argument("-f", "--force", action="store_true")
    else:
        p.add_argument("--filter", action="append", default=[])
        p.add_argument("-f", "--force", action="store_true")
    return p


def go_time_string(rfc3339: str) -> str:
    """time.Time.String() of a time decoded from RFC 3339: '2006-01-02 15:04:05.999999999 -0700 MST',
    the zone named UTC for Z and by its offset otherwise, the fraction without trailing zeros."""
    date, _, clock = rfc3339.partition("T")
    if not clock:
        return rfc3339
    if clock.endswith(("Z", "z")):
        clock, offset, zone = clock[:-1], "+0000", "UTC"
    else:
        split = max(clock.rfind("+"), clock.rfind("-"))
        clock, offset = clock[:split], clock[split:].replace(":", "")
        zone = offset
    whole, _, fraction = clock.partition(".")
    fraction = fraction.rstrip("0")
    return f"{date} {whole}{'.' + fraction if fraction else ''} {offset} {zone}"


class Network:
    """What docker's networkContext offers a template."""

    def __init__(self, network: dict, trunc: bool):
        self._n, self._trunc = network, trunc

    def ID(self):
        ident = self._n.get("Id") or ""
        return fmt.truncate_id(ident) if self._trunc else ident

    def Name(self):
        return self._n.get("Name") or ""

    def Driver(self):
        return self._n.get("Driver") or ""

    def Scope(self):
        return self._n.get("Scope") or ""

    def IPv4(self):
        return str(bool(self._n.get("EnableIPv4"))).lower()

    def IPv6(self):
        return str(bool(self._n.get("EnableIPv6"))).lower()

    def Internal(self):
        return str(bool(self._n.get("Internal"))).lower()

    def Labels(self):
        return ",".join(f"{k}={v}" for k, v in (self._n.get("Labels") or {}).items())

    def Label(self, name):
        return (self._n.get("Labels") or {}).get(name, "")

    def CreatedAt(self):
        return go_time_string(self._n.get("Created") or "")

    def as_json(self):
        names = ["CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels", "Name", "Scope"]
        return {n: getattr(self, n)() for n in names}


def run(client, args) -> int:
    return {"network create": create, "network ls": list_networks, "network inspect": inspect,
            "network rm": remove, "network connect": connect, "network disconnect": disconnect,
            "network prune": prune}[args.command](client, args)


def create(client, args) -> int:
    from client.commands.system import key_values

    ipam_config = [{"Subnet": subnet} for subnet in args.subnet]
    for index, gateway in enumerate(args.gateway):
        if index < len(ipam_config):
            ipam_config[index]["Gateway"] = gateway
    for index, ip_range in enumerate(args.ip_range):
        if index < len(ipam_config):
            ipam_config[index]["IPRange"] = ip_range
    body = {"Name": args.name, "Driver": args.driver, "Scope": args.scope, "EnableIPv4": args.ipv4,
            "EnableIPv6": args.ipv6,
            "IPAM": {"Driver": args.ipam_driver, "Options": key_values(args.ipam_opt), "Config": ipam_config},
            "Internal": args.internal, "Attachable": args.attachable, "Ingress": args.ingress,
            "ConfigOnly": args.config_only,
            "ConfigFrom": {"Network": args.config_from} if args.config_from else None,
            "Options": key_values(args.opt), "Labels": key_values(args.label)}
    reply = _post(client, "/networks/create", body)
    write(reply["Id"] + "\n")
    return 0


def list_networks(client, args) -> int:
    from client.commands.system import encode_filters, filters_param, natural_key, render

    filters = filters_param(args.filter, "-f, --filter", args.command, USAGES[args.command])
    networks = client.get_json("/networks", {"filters": encode_filters(filters)}) or []
    networks.sort(key=lambda n: natural_key(n.get("Name") or ""))
    format = args.format or "table"
    if format == "table":
        format = "{{.ID}}" if args.quiet else TABLE
    elif format == "raw":
        format = "network_id: {{.ID}}" if args.quiet else RAW
    elif format == "json":
        format = "{{json .}}"
    write(render(format, [Network(n, not args.no_trunc) for n in networks], HEADERS))
    return 0


def inspect(client, args) -> int:
    import json

    from client.__main__ import CommandError

    if args.format and args.format != "json":  # parsed as docker does: first, and as given (main words its errors)
        template = fmt.Template(args.format)
    found, errors = [], []
    params = {"verbose": "true" if args.verbose else None}
    for name in args.names:
        try:
            found.append(client.get_json(f"/networks/{api.q(name)}", params))
        except api.APIError as error:
            errors.append(f"Error response from daemon: {error.message}")
    if args.format == "json":
        write("[" + ",".join(json.dumps(n, separators=(",", ":"), ensure_ascii=False) for n in found) + "]\n")
    elif args.format:
        text, failures = fmt.inspect_each(template, found)
        write(text)
        errors += failures
    elif found:
        write(json.dumps(found, indent=4, ensure_ascii=False) + "\n")
    else:
        write("[]\n")
    if errors:
        raise CommandError("\n".join(errors), 1)
    return 0


def remove(client, args) -> int:
    """Each network in turn; a failure is said at once and the others are still removed, then
    docker's StatusError says `exit status 1`."""
    from client.__main__ import CommandError

    failed = False
    for name in args.names:
        try:
            client.delete(f"/networks/{api.q(name)}")
        except api.APIError as error:
            if args.force and error.status == 404:
                continue
            print(f"Error response from daemon: {error.message}", file=sys.stderr, flush=True)
            failed = True
            continue
        write(name + "\n")
    if failed:
        raise CommandError("exit status 1", 1)
    return 0


def connect(client, args) -> int:
    from client.commands.system import key_values

    ipam = {key: value for key, value in (("IPv4Address", args.ip), ("IPv6Address", args.ip6)) if value}
    endpoint = {"IPAMConfig": ipam or None, "Links": args.link or None, "Aliases": args.alias or None,
                "DriverOpts": key_values(args.driver_opt) or None}
    _post(client, f"/networks/{api.q(args.network)}/connect", {"Container": args.container,
                                                                "EndpointConfig": endpoint})
    return 0


def disconnect(client, args) -> int:
    _post(client, f"/networks/{api.q(args.network)}/disconnect", {"Container": args.container,
                                                                   "Force": args.force})
    return 0


def prune(client, args) -> int:
    from client.commands.system import confirm, filters_param, prune_networks

    filters = filters_param(args.filter, "--filter", args.command, USAGES[args.command])
    if not args.force and not confirm(PRUNE_WARNING + "\nAre you sure you want to continue?"):
        return 0
    write(prune_networks(client, filters)[1])
    return 0


def _post(client, path: str, body: dict):
    import json

    response = client.request("POST", path, body=json.dumps(body).encode(),
                              headers={"Content-Type": "application/json"})
    try:
        return response.json()
    finally:
        response.close()

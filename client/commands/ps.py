"""docker ps: GET /containers/json, formatted as docker's container formatter does."""

from client.commands import parser as make_parser, write
from client import formatting as fmt

DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
           "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
           "Names": "NAMES", "Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS",
           "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES", "Platform": "PLATFORM"}


def parser(name):
    p = make_parser(name, "docker ps [OPTIONS]", "List containers")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-n", "--last", type=int, default=-1)
    p.add_argument("-l", "--latest", action="store_true")
    p.add_argument("-s", "--size", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--format", default="")
    return p


def filters_param(filters: list[str]) -> str | None:
    from client.__main__ import CommandError

    if not filters:
        return None
    import json

    merged: dict[str, dict[str, bool]] = {}
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"invalid argument \"{item}\" for \"-f, --filter\" flag: bad format of filter "
                               f"(expected name=value)\nSee 'docker ps --help'.", 125)
        merged.setdefault(key.strip().lower(), {})[value] = True
    return json.dumps(merged, separators=(",", ":"))


class Container:
    """The fields and methods docker's ContainerContext offers a template."""

    GO_TYPE = "*formatter.ContainerContext"  # as template errors name it

    def __init__(self, c: dict, trunc: bool, now: float):
        self._c, self._trunc, self._now = c, trunc, now

    def ID(self):
        ident = self._c.get("Id", "")
        return fmt.truncate_id(ident) if self._trunc else ident

    def Names(self):
        names = [n[1:] if n.startswith("/") else n for n in self._c.get("Names") or []]
        if self._trunc:
            for name in names:
                if "/" not in name:
                    names = [name]
                    break
        return ",".join(names)

    def Image(self):
        image = self._c.get("Image") or ""
        if not image:
            return "<no image>"
        if self._trunc:
            image_id = self._c.get("ImageID") or ""
            if image_id and fmt.truncate_id(image_id) == fmt.truncate_id(image):
                return fmt.truncate_id(image)
            if "@" in image:  # drop the digest
                image = image.split("@", 1)[0]
            image = fmt.familiar_name(image)
        return image

    def Command(self):
        command = self._c.get("Command") or ""
        if self._trunc:
            command = fmt.ellipsis(command, 20)
        return fmt.go_quote(command)

    def CreatedAt(self):
        return fmt.go_time(self._c.get("Created") or 0)

    def RunningFor(self):
        return fmt.since(self._c.get("Created") or 0, self._now)

    def Ports(self):
        return display_ports(self._c.get("Ports") or [])

    def State(self):
        return self._c.get("State") or ""

    def Status(self):
        return self._c.get("Status") or ""

    def Size(self):
        rw, root = self._c.get("SizeRw") or 0, self._c.get("SizeRootFs") or 0
        if not rw and not root:
            return "0B"
        return f"{fmt.human_size(rw, 3)} (virtual {fmt.human_size(root, 3)})"

    def Labels(self):
        labels = self._c.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in labels.items())

    def Label(self, name):
        return (self._c.get("Labels") or {}).get(name, "")

    def Mounts(self):
        names = []
        for m in self._c.get("Mounts") or []:
            name = m.get("Name") or m.get("Source") or ""
            if self._trunc:
                name = fmt.ellipsis(name, 15)
            names.append(name)
        return ",".join(names)

    def Networks(self):
        networks = ((self._c.get("NetworkSettings") or {}).get("Networks") or {})
        return ",".join(sorted(networks))

    def LocalVolumes(self):
        return str(sum(1 for m in self._c.get("Mounts") or [] if m.get("Driver") == "local"))

    def as_json(self):
        names = ["Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks",
                 "Platform", "Ports", "RunningFor", "Size", "State", "Status"]
        return {n: getattr(self, n)() for n in names}

    def Platform(self):
        return None


def _join_host_port(ip: str, port) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def display_ports(ports: list[dict]) -> str:
    """docker's DisplayablePorts: sorted by private port, IP, public port, type; runs of
    consecutive ports with the same key (type, or IP and type when published on the same
    number) grouped as first-last; other host mappings listed after the groups."""
    ports = sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP") or "", p.get("PublicPort") or 0,
                                         p.get("Type") or ""))
    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    mappings: list[str] = []

    def form(key: str, first: int, last: int) -> str:
        ip, _, kind = key.rpartition("/")
        group = str(first) if first == last else f"{first}-{last}"
        if ip:
            group = f"{_join_host_port(ip, group)}->{group}"
        return f"{group}/{kind}"

    for p in ports:
        current, key = p.get("PrivatePort", 0), p.get("Type") or ""
        if p.get("IP"):
            if (p.get("PublicPort") or 0) != current:
                mappings.append(f"{_join_host_port(p['IP'], p.get('PublicPort') or 0)}->{current}/{p.get('Type')}")
                continue
            key = f"{p['IP']}/{key}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]
            order.append(key)
        elif current == group[1] + 1:
            group[1] = current
        else:
            result.append(form(key, *group))
            groups[key] = [current, current]
    result.extend(form(key, *groups[key]) for key in order)
    return ", ".join(result + mappings)


def run(client, args) -> int:
    import time

    from client.__main__ import CommandError

    if args.format:  # as docker: checked, as given, on an empty row before the daemon is asked
        try:
            template = fmt.Template(args.format)
        except fmt.TemplateError as error:
            raise CommandError(f"failed to parse template: {error}", 1) from None
        try:
            template.render(Container({}, True, 0))
        except fmt.TemplateError as error:
            raise CommandError(f"failed to execute template: {error}", 1) from None
    format = args.format
    if args.quiet and not format:
        format = "{{.ID}}"
    if not format:
        format = DEFAULT + ("\t{{.Size}}" if args.size else "")
    elif args.format in ("table",):
        format = DEFAULT
    elif args.format == "json":
        format = "{{json .}}"
    limit = 1 if args.latest else args.last
    # as docker: a template that uses .Size (json . uses every field) asks the daemon for sizes
    # (but not the `json` keyword, which docker does not parse as a template for this)
    size = args.size or ".Size" in format or "json ." in args.format
    params = {"all": "1" if args.all or limit > 0 else None, "limit": str(limit) if limit > 0 else None,
              "size": "1" if size else None, "filters": filters_param(args.filter)}
    containers = client.get_json("/containers/json", params)
    now = time.time()
    rows = [Container(c, not args.no_trunc, now) for c in containers]
    try:
        write(fmt.render(format, rows, HEADERS))
    except fmt.TemplateError as error:
        raise CommandError(f"template parsing error: {error}", 1) from None
    return 0

"""docker history: GET /images/{name}/history, newest layer first, as docker's history
formatter shows it."""
from __future__ import annotations

from client.commands import parser as make_parser, write
from client import api, formatting as fmt
from client.commands.system import render

DEFAULT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
NOT_HUMAN = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
           "Size": "SIZE", "Comment": "COMMENT"}
# before this (2000-01-01), a creation time is not worth saying in human words
EPOCH = 946684800


def parser(name):
    p = make_parser(name, "docker history [OPTIONS] IMAGE", "Show the history of an image", required="1 argument")
    p.add_argument("image")
    p.add_argument("-H", "--human", action="store_true")
    p.flags["--human"].default = True  # pflag's BoolVarP(..., true): on unless -H=false
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--format", default="")
    p.add_argument("--platform", default="")
    return p


def rfc3339(seconds: int) -> str:
    """time.Unix(s, 0).Format(time.RFC3339), in local time: Z for UTC, else the offset."""
    import time

    local = time.localtime(seconds)
    offset = local.tm_gmtoff or 0
    sign = "+" if offset > 0 else "-"
    zone = "Z" if offset == 0 else f"{sign}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + zone


class Layer:
    """What docker's historyContext offers a template."""

    def __init__(self, item: dict, trunc: bool, human: bool, now: float):
        self._h, self._trunc, self._human, self._now = item, trunc, human, now

    def ID(self):
        ident = self._h.get("Id") or ""
        return fmt.truncate_id(ident) if self._trunc else ident

    def CreatedAt(self):
        return rfc3339(self._h.get("Created") or 0)

    def CreatedSince(self):
        if not self._human:
            return self.CreatedAt()
        created = self._h.get("Created") or 0
        if created <= EPOCH:
            return "N/A"
        return fmt.since(created, self._now)

    def CreatedBy(self):
        created_by = (self._h.get("CreatedBy") or "").replace("\t", " ")
        return fmt.ellipsis(created_by, 45) if self._trunc else created_by

    def Size(self):
        size = self._h.get("Size") or 0
        return fmt.human_size(size, 3) if self._human else str(size)

    def Comment(self):
        return self._h.get("Comment") or ""

    def as_json(self):
        names = ["Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"]
        return {n: getattr(self, n)() for n in names}


def platform_param(platform: str) -> str | None:
    """--platform os[/arch[/variant]] as the JSON OCI platform the API takes."""
    if not platform:
        return None
    import json

    os_name, _, rest = platform.lower().partition("/")
    architecture, _, variant = rest.partition("/")
    value = {"architecture": architecture, "os": os_name}
    if variant:
        value["variant"] = variant
    return json.dumps(value, separators=(",", ":"))


def run(client, args) -> int:
    import time

    history = client.get_json(f"/images/{api.q(args.image)}/history", {"platform": platform_param(args.platform)})
    format = args.format or "table"
    if format == "table":
        format = "{{.ID}}" if args.quiet else (DEFAULT if args.human else NOT_HUMAN)
    elif format == "json":
        format = "{{json .}}"
    now = time.time()
    rows = [Layer(item, not args.no_trunc, args.human, now) for item in history or []]
    write(render(format, rows, HEADERS))
    return 0

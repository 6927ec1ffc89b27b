"""docker system df, system prune, container prune and image prune; and what every prune
shares with volume prune and network prune: docker's confirmation prompt, the filter flag,
and the report each prune prints (a list of what went, then the space it gave back)."""
from __future__ import annotations

import sys

from client.commands import parser as make_parser, ps, write
from client import formatting as fmt

USAGES = {
    "system df": "docker system df [OPTIONS]",
    "system prune": "docker system prune [OPTIONS]",
    "container prune": "docker container prune [OPTIONS]",
    "image prune": "docker image prune [OPTIONS]",
}
CONTAINERS_WARNING = "WARNING! This will remove all stopped containers."
DANGLING_IMAGES_WARNING = "WARNING! This will remove all dangling images."
ALL_IMAGES_WARNING = "WARNING! This will remove all images without at least one container associated to them."
# docker's text/template for system prune's question, unrolled
SYSTEM_WARNING = "WARNING! This will remove:\n{items}\n{filters}\nAre you sure you want to continue?"


def parser(name):
    description = {"system df": "Show docker disk usage", "system prune": "Remove unused data",
                   "container prune": "Remove all stopped containers", "image prune": "Remove unused images"}[name]
    p = make_parser(name, USAGES[name], description)
    if name == "system df":
        p.add_argument("-v", "--verbose", action="store_true")
        p.add_argument("--format", default="")
        return p
    if name in ("system prune", "image prune"):
        p.add_argument("-a", "--all", action="store_true")
    if name == "system prune":
        p.add_argument("--volumes", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    p.add_argument("-f", "--force", action="store_true")
    return p


# --- shared by every command that takes filters or prunes --------------------------------

def filters_param(values: list[str], flag: str, command: str, usage: str) -> dict[str, list[str]]:
    """The filter flag's values as docker's opts.FilterOpt reads them (name lower-cased, both
    sides trimmed); a value without '=' is a bad flag, as docker words it (exit 125)."""
    from client.__main__ import CommandError

    filters: dict[str, list[str]] = {}
    for value in values:
        name, sep, wanted = value.partition("=")
        if not sep:
            raise CommandError(
                f'invalid argument "{value}" for "{flag}" flag: bad format of filter (expected name=value)\n\n'
                f"Usage:  {usage.replace('docker ', 'pydocker ', 1)}\n\n"
                f"Run 'pydocker {command} --help' for more information", 125)
        wanted_values = filters.setdefault(name.strip().lower(), [])
        if wanted.strip() not in wanted_values:
            wanted_values.append(wanted.strip())
    return filters


def encode_filters(filters: dict[str, list[str]]) -> str | None:
    """filters.ToJSON: {"name": {"value": true}}, or no parameter at all."""
    if not filters:
        return None
    import json

    return json.dumps({name: {value: True for value in values} for name, values in filters.items()},
                      separators=(",", ":"))


def render(format: str, rows: list, headers: dict[str, str]) -> str:
    """fmt.render, with a template's fault worded as docker's formatter words it."""
    from client.__main__ import CommandError

    try:
        return fmt.render(format, rows, headers)
    except fmt.TemplateError as error:
        raise CommandError(f"template parsing error: {error}", 1) from None


def key_values(items: list[str]) -> dict[str, str]:
    """`k=v` flags (labels, driver options) as a map; a bare `k` is set to the empty string."""
    return dict((item.split("=", 1) + [""])[:2] for item in items)


def confirm(question: str) -> bool:
    """docker's PromptForConfirmation: the question and ' [y/N] ' on stdout, one line read
    from stdin; only y or Y (spaces around allowed) says yes."""
    write(question + " [y/N] ")
    answer = sys.stdin.readline()
    return answer.strip().lower() == "y"


def natural_key(text: str) -> list[tuple]:
    """fvbommel/sortorder's NaturalLess as a sort key: runs of digits compare as numbers (a
    shorter number first; at equal value, fewer leading zeros first) and before any other
    byte; other bytes compare as bytes; a prefix sorts first."""
    key: list[tuple] = []
    data = text.encode()
    i = 0
    while i < len(data):
        if 0x30 <= data[i] <= 0x39:
            start = i
            while i < len(data) and data[i] == 0x30:
                i += 1
            significant = i
            while i < len(data) and 0x30 <= data[i] <= 0x39:
                i += 1
            key.append((0, i - significant, data[significant:i], significant - start))
        else:
            key.append((1, data[i]))
            i += 1
    return key


def report(heading: str, items: list[str]) -> str:
    """A prune's list as docker prints it: the heading, one item a line, then a blank line."""
    return heading + "\n" + "".join(item + "\n" for item in items) + "\n" if items else ""


def prune_containers(client, filters: dict[str, list[str]]) -> tuple[int, str]:
    reply = _prune(client, "/containers/prune", filters)
    deleted = reply.get("ContainersDeleted") or []
    return (reply.get("SpaceReclaimed") or 0) if deleted else 0, report("Deleted Containers:", deleted)


def prune_networks(client, filters: dict[str, list[str]]) -> tuple[int, str]:
    reply = _prune(client, "/networks/prune", filters)
    return 0, report("Deleted Networks:", reply.get("NetworksDeleted") or [])


def prune_volumes(client, filters: dict[str, list[str]]) -> tuple[int, str]:
    reply = _prune(client, "/volumes/prune", filters)
    deleted = reply.get("VolumesDeleted") or []
    return (reply.get("SpaceReclaimed") or 0) if deleted else 0, report("Deleted Volumes:", deleted)


def prune_images(client, filters: dict[str, list[str]], everything: bool) -> tuple[int, str]:
    dangling, values = str(not everything).lower(), list(filters.get("dangling", []))
    if dangling not in values:  # docker adds its term to those --filter gave
        values.append(dangling)
    reply = _prune(client, "/images/prune", {**filters, "dangling": values})
    deleted = reply.get("ImagesDeleted") or []
    lines = [f"untagged: {item['Untagged']}" if item.get("Untagged") else f"deleted: {item.get('Deleted', '')}"
             for item in deleted]
    return (reply.get("SpaceReclaimed") or 0) if deleted else 0, report("Deleted Images:", lines)


def prune_build_cache(client, filters: dict[str, list[str]], everything: bool) -> tuple[int, str]:
    reply = _prune(client, "/build/prune", filters, all="1" if everything else None)
    return reply.get("SpaceReclaimed") or 0, report("Deleted build cache objects:", reply.get("CachesDeleted") or [])


def _prune(client, path: str, filters: dict[str, list[str]], **params) -> dict:
    response = client.request("POST", path, {"filters": encode_filters(filters), **params})
    try:
        return response.json() or {}
    finally:
        response.close()


def reclaimed(space: int) -> str:
    return f"Total reclaimed space: {fmt.human_size(space)}\n"


# --- the commands -----------------------------------------------------------------------

def run(client, args) -> int:
    if args.command == "system df":
        return disk_usage(client, args)
    usage = USAGES[args.command]
    filters = filters_param(args.filter, "--filter", args.command, usage)
    if args.command == "container prune":
        if not args.force and not confirm(CONTAINERS_WARNING + "\nAre you sure you want to continue?"):
            return 0
        space, output = prune_containers(client, filters)
        write(output + reclaimed(space))
        return 0
    if args.command == "image prune":
        warning = ALL_IMAGES_WARNING if args.all else DANGLING_IMAGES_WARNING
        if not args.force and not confirm(warning + "\nAre you sure you want to continue?"):
            return 0
        space, output = prune_images(client, filters, args.all)
        write(output + reclaimed(space))
        return 0
    return system_prune(client, args, filters)


def system_prune(client, args, filters: dict[str, list[str]]) -> int:
    from client.__main__ import CommandError

    if args.volumes and "until" in filters:
        raise CommandError('ERROR: The "until" filter is not supported with "--volumes"', 1)
    if not args.force and not confirm(system_warning(args.all, args.volumes, filters)):
        return 0
    steps = [lambda: prune_containers(client, filters), lambda: prune_networks(client, filters)]
    if args.volumes:
        steps.append(lambda: prune_volumes(client, filters))
    steps.append(lambda: prune_images(client, filters, args.all))
    steps.append(lambda: prune_build_cache(client, filters, args.all))
    total = 0
    for step in steps:
        space, output = step()
        total += space
        write(output)
    write(reclaimed(total))
    return 0


def system_warning(everything: bool, volumes: bool, filters: dict[str, list[str]]) -> str:
    items = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        items.append("all anonymous volumes not used by at least one container")
    items.append("all images without at least one container associated to them" if everything
                 else "all dangling images")
    items.append("all build cache" if everything else "unused build cache")
    shown = sorted((f"{name}={value}" for name in ("label", "label!", "until") for value in filters.get(name, [])),
                   key=natural_key)
    listed = ("\n  Items to be pruned will be filtered with:\n" + "".join(f"  - {f}\n" for f in shown)) if shown \
        else ""
    return SYSTEM_WARNING.format(items="\n".join(f"  - {item}" for item in items), filters=listed)


# --- system df -----------------------------------------------------------------------------

DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
DF_RAW = ("type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\n"
          "reclaimable: {{.Reclaimable}}\n")
DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
              "Reclaimable": "RECLAIMABLE"}
DF_IMAGES = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t" \
            "{{.UniqueSize}}\t{{.Containers}}"
DF_CONTAINERS = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t" \
                "{{.Status}}\t{{.Names}}"
DF_VOLUMES = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
DF_BUILD_CACHE = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t" \
                 "{{.UsageCount}}\t{{.Shared}}"
BUILD_CACHE_HEADERS = {"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
                       "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED"}


def _percent_of(part: int, total: int) -> str:
    """docker's "<size> (<n>%)" with Go's integer division; the size alone when total is 0."""
    if total > 0:
        return f"{fmt.human_size(part)} ({part * 100 // total}%)"
    return fmt.human_size(part)


class DiskUsage:
    """One row of the summary table (docker's diskUsage*Context): Images, Containers, Local
    Volumes, Build Cache; the fields are the template's names."""

    def __init__(self, kind: str, total: int, active: int, size: int, reclaimable: str):
        self.Type, self.TotalCount, self.Active = kind, str(total), str(active)
        self.Size, self.Reclaimable = fmt.human_size(size), reclaimable

    def as_json(self):
        return {"Active": self.Active, "Reclaimable": self.Reclaimable, "Size": self.Size,
                "TotalCount": self.TotalCount, "Type": self.Type}


def summary_rows(du: dict) -> list[DiskUsage]:
    images, containers = du.get("Images") or [], du.get("Containers") or []
    volumes, caches = du.get("Volumes") or [], du.get("BuildCache") or []
    layers = du.get("LayersSize") or 0
    used = sum(i["Size"] - i["SharedSize"] for i in images
               if i.get("Containers") and i.get("Size", -1) != -1 and i.get("SharedSize", -1) != -1)
    rows = [DiskUsage("Images", len(images), sum(1 for i in images if (i.get("Containers") or 0) > 0), layers,
                      _percent_of(layers - used, layers))]

    def active(container):
        state = container.get("State") or ""
        return "running" in state or "paused" in state or "restarting" in state

    container_size = sum(c.get("SizeRw") or 0 for c in containers)
    idle_size = sum(c.get("SizeRw") or 0 for c in containers if not active(c))
    rows.append(DiskUsage("Containers", len(containers), sum(1 for c in containers if active(c)), container_size,
                          _percent_of(idle_size, container_size)))
    measured = [v["UsageData"] for v in volumes if (v.get("UsageData") or {}).get("Size", -1) != -1]
    volume_size = sum(u["Size"] for u in measured)
    rows.append(DiskUsage("Local Volumes", len(volumes),
                          sum(1 for v in volumes if (v.get("UsageData") or {}).get("RefCount", 0) > 0), volume_size,
                          _percent_of(sum(u["Size"] for u in measured if u.get("RefCount", 0) == 0), volume_size)))
    builder = sum(c.get("Size") or 0 for c in caches if not c.get("Shared"))
    in_use = sum(c.get("Size") or 0 for c in caches if c.get("InUse") and not c.get("Shared"))
    rows.append(DiskUsage("Build Cache", len(caches), sum(1 for c in caches if c.get("InUse")), builder,
                          fmt.human_size(builder - in_use)))
    return rows


def disk_usage(client, args) -> int:
    du = client.get_json("/system/df")
    format = args.format or "table"
    if args.verbose:
        return verbose_disk_usage(du, format)
    if format == "table":
        format = DF_TABLE
    elif format == "raw":
        format = DF_RAW
    elif format == "json":
        format = "{{json .}}"
    write(render(format, summary_rows(du), DF_HEADERS))
    return 0


def verbose_disk_usage(du: dict, format: str) -> int:
    import time

    from client.commands import images as image_rows, volume

    now = time.time()
    trunc = format.startswith("table")
    images = []
    for image in du.get("Images") or []:
        repo, tag = "<none>", "<none>"
        tags, digests = image.get("RepoTags") or [], image.get("RepoDigests") or []
        dangling = (not tags and not digests) or (tags == ["<none>:<none>"] and digests == ["<none>@<none>"])
        if tags and not dangling:  # only the first tag, as docker shows it
            name, sep, first_tag = tags[0].rpartition(":")
            if sep and "/" not in first_tag:
                repo, tag = fmt.familiar_name(name), first_tag
        images.append(image_rows.Image(image, repo, tag, "", trunc, now))
    containers = [DiskUsageContainer(c, trunc, now) for c in du.get("Containers") or []]
    volumes = [volume.Volume(v) for v in du.get("Volumes") or []]
    if format != "table":
        if format == "json":
            def listed(rows):
                return "[" + ",".join(fmt.to_json(row) for row in rows) + "]"
            # docker prints this one JSON document without a newline after it
            write(f'{{"Images":{listed(images)},"Containers":{listed(containers)},'
                  f'"Volumes":{listed(volumes)},"BuildCache":[]}}')
            return 0
        template = fmt.Template(fmt.prepare(format)[1])
        write(template.render({"Images": images, "Containers": containers, "Volumes": volumes, "BuildCache": []}))
        return 0
    builder = sum(c.get("Size") or 0 for c in du.get("BuildCache") or [] if not c.get("Shared"))
    write("Images space usage:\n\n" + fmt.render(DF_IMAGES, images, image_rows.HEADERS)
          + "\nContainers space usage:\n\n" + fmt.render(DF_CONTAINERS, containers, ps.HEADERS)
          + "\nLocal Volumes space usage:\n\n" + fmt.render(DF_VOLUMES, volumes, volume.HEADERS)
          + f"\nBuild cache usage: {fmt.human_size(builder)}\n\n" + fmt.render(DF_BUILD_CACHE, [], BUILD_CACHE_HEADERS))
    return 0


class DiskUsageContainer(ps.Container):
    """A ps row whose SIZE leaves out the virtual size, as docker's df -v shows it."""

    def Size(self):
        return fmt.human_size(self._c.get("SizeRw") or 0, 3)

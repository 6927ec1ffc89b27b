"""docker images: GET /images/json, one row per repository:tag, as docker's image formatter."""
from __future__ import annotations

from client.commands import parser as make_parser, write
from client import formatting as fmt

DEFAULT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
           "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
           "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE"}


def parser(name):
    p = make_parser(name, "docker images [OPTIONS] [REPOSITORY[:TAG]]", "List images")
    p.add_argument("repository", nargs="?")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--digests", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format", default="")
    return p


class Image:
    def __init__(self, image: dict, repo: str, tag: str, digest: str, trunc: bool, now: float):
        self._i, self._repo, self._tag, self._digest, self._trunc, self._now = image, repo, tag, digest, trunc, now

    def ID(self):
        return fmt.truncate_id(self._i["Id"]) if self._trunc else self._i["Id"]

    def Repository(self):
        return self._repo

    def Tag(self):
        return self._tag

    def Digest(self):
        return self._digest

    def CreatedSince(self):
        return fmt.since(self._i.get("Created") or 0, self._now)

    def CreatedAt(self):
        return fmt.go_time(self._i.get("Created") or 0)

    def Size(self):
        return fmt.human_size(self._i.get("Size") or 0, 3)

    def VirtualSize(self):
        return fmt.human_size(self._i.get("Size") or 0)

    def Containers(self):
        count = self._i.get("Containers", -1)
        return "N/A" if count == -1 else str(count)

    def SharedSize(self):
        shared = self._i.get("SharedSize", -1)
        return "N/A" if shared == -1 else fmt.human_size(shared, 3)

    def UniqueSize(self):
        shared = self._i.get("SharedSize", -1)
        return "N/A" if shared == -1 else fmt.human_size((self._i.get("Size") or 0) - shared, 3)

    def as_json(self):
        names = ["Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size",
                 "Tag", "UniqueSize", "VirtualSize"]
        return {n: getattr(self, n)() for n in names}


def rows(image: dict, digests: bool, trunc: bool, now: float) -> list[Image]:
    tags, repo_digests = image.get("RepoTags") or [], image.get("RepoDigests") or []
    if (not tags and not repo_digests) or (tags == ["<none>:<none>"] and repo_digests == ["<none>@<none>"]):
        return [Image(image, "<none>", "<none>", "<none>", trunc, now)]
    by_repo: dict[str, list[str]] = {}
    for ref in tags:
        name, sep, tag = ref.rpartition(":")
        if not sep or "/" in tag or ref.startswith("<none>"):
            continue
        by_repo.setdefault(fmt.familiar_name(name), []).append(tag)
    digests_by_repo: dict[str, list[str]] = {}
    for ref in repo_digests:
        name, sep, digest = ref.partition("@")
        if sep and not ref.startswith("<none>"):
            digests_by_repo.setdefault(fmt.familiar_name(name), []).append(digest)
    out = []
    for repo, repo_tags in by_repo.items():
        repo_digest_list = digests_by_repo.pop(repo, []) if digests else (digests_by_repo.pop(repo, None) and [])
        for tag in repo_tags:
            if not repo_digest_list:
                out.append(Image(image, repo, tag, "<none>", trunc, now))
            for digest in repo_digest_list:
                out.append(Image(image, repo, tag, digest, trunc, now))
    for repo, repo_digest_list in digests_by_repo.items():
        if digests:
            out.extend(Image(image, repo, "<none>", d, trunc, now) for d in repo_digest_list)
        else:
            out.append(Image(image, repo, "<none>", "", trunc, now))
    return out


def run(client, args) -> int:
    import time

    from client.commands.ps import filters_param

    filters = list(args.filter)
    if args.repository:
        filters.append(f"reference={args.repository}")
    params = {"all": "1" if args.all else None, "filters": filters_param(filters)}
    images = client.get_json("/images/json", params)
    now = time.time()
    format = args.format
    if args.quiet and not format:
        format = "{{.ID}}"
    elif not format or format == "table":
        format = DIGESTS if args.digests else DEFAULT
    elif format == "json":
        format = "{{json .}}"
    digests = args.digests or ".Digest" in format  # docker's needDigest
    out = []
    for image in images:
        out.extend(rows(image, digests, not args.no_trunc, now))
    try:
        write(fmt.render(format, out, HEADERS))
    except fmt.TemplateError as error:
        from client.__main__ import CommandError

        raise CommandError(f"template parsing error: {error}", 1) from None  # docker's formatter's words
    return 0

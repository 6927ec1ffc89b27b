"""docker tag: POST /images/{source}/tag?repo=&tag=; prints nothing."""
from __future__ import annotations

from client.commands import parser as make_parser
from client import api


def parser(name):
    p = make_parser(name, "docker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
                    "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", required="2 arguments")
    p.add_argument("source")
    p.add_argument("target")
    return p


def split_reference(ref: str) -> tuple[str, str]:
    """(repository, tag): the tag after the last ':' that is not part of a registry's port."""
    name, sep, tag = ref.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return ref, "latest"


def run(client, args) -> int:
    repo, tag = split_reference(args.target)
    client.post(f"/images/{api.q(args.source)}/tag", {"repo": repo, "tag": tag})
    return 0

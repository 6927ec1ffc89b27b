"""docker pull: POST /images/create, the JSON message stream printed as the CLI does when
stdout is not a terminal (messages with numeric progress are skipped)."""
from __future__ import annotations

import sys

from client.commands import parser as make_parser
from client import api


def parser(name):
    p = make_parser(name, "docker pull [OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry",
                    required="1 argument")
    p.add_argument("image")
    p.add_argument("-a", "--all-tags", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--platform", default=None)
    return p


def normalise(ref: str) -> tuple[str, str, str, bool]:
    """(fully qualified repository, tag or digest, familiar reference, tag was defaulted)."""
    name, digest = ref, ""
    if "@" in ref:
        name, digest = ref.split("@", 1)
    repo, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        repo, tag = name, ""
    first = repo.split("/", 1)[0]
    if "/" not in repo or not ("." in first or ":" in first or first == "localhost"):
        full = ("docker.io/" + ("library/" if "/" not in repo else "") + repo)
    else:
        full = repo
    defaulted = not tag and not digest
    if defaulted:
        tag = "latest"
    familiar = repo if not repo.startswith(("docker.io/library/", "docker.io/")) else \
        repo.removeprefix("docker.io/").removeprefix("library/")
    shown = familiar + (f"@{digest}" if digest else f":{tag}")
    return full, digest or tag, shown, defaulted


def stream_messages(response):
    import json

    decoder = json.JSONDecoder()
    buffer = ""
    while True:
        data = response.read_some()
        if not data:
            break
        buffer += data.decode(errors="replace")
        while True:
            buffer = buffer.lstrip()
            if not buffer:
                break
            try:
                message, end = decoder.raw_decode(buffer)
            except ValueError:
                break
            buffer = buffer[end:]
            yield message


def print_stream(response, out, quiet: bool = False) -> None:
    from client.__main__ import CommandError

    for message in stream_messages(response):
        if message.get("errorDetail"):
            raise CommandError(message["errorDetail"].get("message", ""), 1)
        if quiet or "aux" in message:
            continue
        detail = message.get("progressDetail") or {}
        if detail.get("current") or detail.get("total"):
            continue
        status = message.get("status", "")
        if message.get("id"):
            out.write(f"{message['id']}: {status}\n")
        else:
            out.write(f"{status}\n")
        out.flush()


def run(client, args) -> int:
    full, tag, shown, defaulted = normalise(args.image)
    if defaulted and not args.all_tags and not args.quiet:
        print("Using default tag: latest", flush=True)
    params = {"fromImage": full, "tag": None if args.all_tags else tag, "platform": args.platform}
    response = client.request("POST", "/images/create", params, body=b"",
                              headers={"X-Registry-Auth": "e30="})
    try:
        print_stream(response, sys.stdout, args.quiet)
    finally:
        response.close()
    print(full.removeprefix("") if args.all_tags else
          (f"{full}@{tag}" if tag.startswith("sha256:") else f"{full}:{tag}"), flush=True)
    return 0

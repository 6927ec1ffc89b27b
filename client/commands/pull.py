"""docker pull: POST /images/create, the JSON message stream shown as the CLI shows it
(client/progress.py: per-layer lines redrawn in place on a terminal, plain lines otherwise).

Also what push and run share with pull: reference normalisation and the X-Registry-Auth
header, from the "auths" of the CLI's config.json (basic credentials; no credential helpers)."""
from __future__ import annotations

import sys

from client.commands import parser as make_parser

DOCKER_HUB_KEY = "https://index.docker.io/v1/"  # the config file's key for docker.io's credentials


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


def registry_auth(full_name: str) -> str:
    """X-Registry-Auth for the repository's registry: URL-safe base64 of the credentials the
    config file's "auths" hold for it (docker's EncodeAuthConfig), of {} when it holds none."""
    import base64
    import os

    from client import api

    domain = full_name.split("/", 1)[0]
    key = DOCKER_HUB_KEY if domain == "docker.io" else domain
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    credentials = {}
    try:
        with open(os.path.join(directory, "config.json"), "rb") as file:
            auths = (api.loads(file.read()) or {}).get("auths") or {}
    except (OSError, ValueError):
        auths = {}
    entry = auths.get(key) or next((value for name, value in auths.items() if _hostname(name) == key), None)
    if entry:
        user, _, password = base64.b64decode(entry.get("auth") or "").decode(errors="replace").partition(":")
        credentials = {"username": user or entry.get("username"), "password": password or entry.get("password"),
                       "serveraddress": key, "identitytoken": entry.get("identitytoken"),
                       "registrytoken": entry.get("registrytoken")}
    from _json import encode_basestring_ascii as quoted  # the json package's C encoder, without the package

    encoded = "{" + ",".join(f'"{name}":{quoted(value)}' for name, value in credentials.items() if value) + "}"
    return base64.urlsafe_b64encode(encoded.encode()).decode()


def _hostname(key: str) -> str:
    """registry.ConvertToHostname: an old-style key (https://host/v1/) as its host."""
    return key.removeprefix("http://").removeprefix("https://").split("/", 1)[0]


def print_stream(response, out, quiet: bool = False) -> None:
    """The reply's messages on out (nothing when quiet); an error message as docker's error."""
    from client import progress
    from client.__main__ import CommandError

    try:
        if quiet:
            import os

            with open(os.devnull, "w") as nowhere:
                progress.display(progress.messages(response), nowhere, False)
        else:
            progress.display(progress.messages(response), out, out.isatty())
    except progress.StreamError as error:
        raise CommandError(str(error), 1) from None


def run(client, args) -> int:
    full, tag, shown, defaulted = normalise(args.image)
    if defaulted and not args.all_tags and not args.quiet:
        print("Using default tag: latest", flush=True)
    params = {"fromImage": full, "tag": None if args.all_tags else tag, "platform": args.platform}
    response = client.request("POST", "/images/create", params, body=b"",
                              headers={"X-Registry-Auth": registry_auth(full)})
    try:
        print_stream(response, sys.stdout, args.quiet)
    finally:
        response.close()
    print(full if args.all_tags else (f"{full}@{tag}" if tag.startswith("sha256:") else f"{full}:{tag}"), flush=True)
    return 0

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
    if "/" not in repo or not ("." in first or ":" in first or first == "localhost" or first.lower() != first):
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


_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALNUM = _LOWER_ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WORD = _ALNUM | {"_"}
_HEX = frozenset("0123456789abcdefABCDEF")


def check_reference(ref: str) -> None:
    """reference.ParseNormalizedNamed's verdict, in its words (by hand: re costs `pull` its start-up)."""
    from client.__main__ import CommandError

    if len(ref) == 64 and all(c in "0123456789abcdef" for c in ref):
        raise CommandError(f"invalid repository name ({ref}), cannot specify 64-byte hexadecimal strings", 1)
    first, slash, rest = ref.partition("/")
    if not slash or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, remainder = "docker.io", ref
    else:
        domain, remainder = first, rest
    if domain == "docker.io" and "/" not in remainder:
        remainder = "library/" + remainder
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise CommandError(f"invalid reference format: repository name ({remote}) must be lowercase", 1)
    name_tag, at, digest = remainder.partition("@")
    name, colon, tag = name_tag.partition(":")
    if not (_domain(domain) and all(_path_component(c) for c in name.split("/"))
            and (not colon or _tag(tag)) and (not at or _digest(digest))):
        raise CommandError("invalid reference format", 1)
    if len(domain) + 1 + len(name) > 255:
        raise CommandError("repository name must not be more than 255 characters", 1)


def _path_component(text: str) -> bool:
    """Runs of [a-z0-9] joined by one ".", "_", "__" or a run of "-"."""
    i, n = 0, len(text)
    while True:
        start = i
        while i < n and text[i] in _LOWER_ALNUM:
            i += 1
        if i == start:
            return False
        if i == n:
            return True
        if text[i] == ".":
            i += 1
        elif text[i] == "_":
            i += 2 if text[i + 1:i + 2] == "_" else 1
        elif text[i] == "-":
            while i < n and text[i] == "-":
                i += 1
        else:
            return False


def _domain(text: str) -> bool:
    """A host name or an [IPv6 address], then perhaps :port."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not (bracket and host and all(c in _HEX or c == ":" for c in host)):
            return False
    else:
        host = text.partition(":")[0]
        rest = text[len(host):]
        if not all(label and label[0] != "-" and label[-1] != "-" and all(c in _ALNUM or c == "-" for c in label)
                   for label in host.split(".")):
            return False
    return rest == "" or (rest[0] == ":" and rest[1:].isascii() and rest[1:].isdigit())


def _tag(text: str) -> bool:
    return 0 < len(text) <= 128 and text[0] in _WORD and all(c in _WORD or c in ".-" for c in text)


def _digest(text: str) -> bool:
    algorithm, colon, encoded = text.partition(":")
    pieces = algorithm
    for separator in "-_+.":
        pieces = pieces.replace(separator, " ")
    return (bool(colon) and len(encoded) >= 32 and all(c in _HEX for c in encoded)
            and all(piece and piece[0] in _ALNUM and not piece[0].isdigit() and all(c in _ALNUM for c in piece)
                    for piece in pieces.split(" ")))


def registry_auth(full_name: str) -> str:
    """X-Registry-Auth for the repository's registry: URL-safe base64 of the credentials the
    config file's "auths" hold for it (docker's EncodeAuthConfig), of {} when it holds none."""
    import base64
    import os
    from _json import encode_basestring_ascii as quoted  # the json package's C encoder, without the package

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
    found = key if key in auths else next((name for name in auths if _hostname(name) == key), None)
    if found is not None:
        entry = auths[found] or {}
        user, _, password = base64.b64decode(entry.get("auth") or "").decode(errors="replace").partition(":")
        credentials = {"username": user or entry.get("username"), "password": password or entry.get("password"),
                       "serveraddress": found, "identitytoken": entry.get("identitytoken"),
                       "registrytoken": entry.get("registrytoken")}
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
    from client.__main__ import CommandError

    check_reference(args.image)
    full, tag, shown, defaulted = normalise(args.image)
    if args.all_tags and not defaulted:
        raise CommandError("tag can't be used with --all-tags/-a", 1)
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

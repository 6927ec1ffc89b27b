"""docker push: POST /images/{name}/push with the registry's credentials (X-Registry-Auth, as
pull sends them), the message stream shown as pull's (client/progress.py)."""
from __future__ import annotations

import sys

from client import api
from client.commands import parser as make_parser


def parser(name):
    p = make_parser(name, "docker push [OPTIONS] NAME[:TAG]", "Upload an image to a registry", required="1 argument")
    p.add_argument("image")
    p.add_argument("-a", "--all-tags", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--disable-content-trust", action="store_true")  # accepted: content trust is never on here
    return p


def run(client, args) -> int:
    from client import progress
    from client.__main__ import CommandError
    from client.commands import pull

    pull.check_reference(args.image)
    full, tag, _, defaulted = pull.normalise(args.image)
    if args.all_tags and not defaulted:
        raise CommandError("tag can't be used with --all-tags/-a", 1)
    if tag.startswith("sha256:"):
        raise CommandError("cannot push a digest reference", 1)
    if defaulted and not args.all_tags and not args.quiet:
        print("Using default tag: latest", flush=True)
    familiar = full.removeprefix("docker.io/").removeprefix("library/") if full.startswith("docker.io/") else full
    response = client.request("POST", f"/images/{api.q(familiar)}/push", {"tag": None if args.all_tags else tag},
                              body=b"", headers={"X-Registry-Auth": pull.registry_auth(full)})
    try:
        if args.quiet:
            import os

            with open(os.devnull, "w") as nowhere:
                progress.display(progress.messages(response), nowhere, False)
            print(full if args.all_tags else f"{full}:{tag}", flush=True)
        else:
            progress.display(progress.messages(response), sys.stdout, sys.stdout.isatty())
    except progress.StreamError as error:
        raise CommandError(str(error), 1) from None
    finally:
        response.close()
    return 0

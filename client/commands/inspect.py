"""docker inspect: containers, then images (then volumes and networks), each a 404 to move on;
the server's JSON re-indented in a list, or --format per object."""
from __future__ import annotations

from client.commands import parser as make_parser, write
from client import api

KINDS = {"container": "/containers/{}/json", "image": "/images/{}/json", "network": "/networks/{}",
         "volume": "/volumes/{}"}


def parser(name):
    p = make_parser(name, "docker inspect [OPTIONS] NAME|ID [NAME|ID...]",
                    "Return low-level information on Docker objects")
    p.add_argument("names", nargs="+")
    p.add_argument("-f", "--format", default="")
    p.add_argument("--type", default="")
    p.add_argument("-s", "--size", action="store_true")
    return p


def run(client, args) -> int:
    import json

    from client.__main__ import CommandError
    from client import formatting as fmt

    if args.type and args.type not in KINDS:
        raise CommandError(f"\"{args.type}\" is not a valid value for --type", 1)
    kinds = [args.type] if args.type else list(KINDS)
    if args.format:  # as docker: parsed before the daemon is asked, and as it is (no table, no \t)
        try:
            template = fmt.Template(args.format)
        except fmt.TemplateError as error:
            raise CommandError(f"template parsing error: {error}", 64) from None
    found, errors = [], []
    for name in args.names:
        for kind in kinds:
            try:
                params = {"size": "1"} if args.size and kind == "container" else None
                found.append(client.get_json(KINDS[kind].format(api.q(name)), params))
                break
            except api.APIError as error:
                if error.status != 404:
                    raise
                if args.type:  # one kind asked for: its error is the daemon's
                    errors.append(f"Error response from daemon: {error.message}")
                    break
        else:
            errors.append(f"Error: No such object: {name}")
    if args.format:
        text, failures = fmt.inspect_each(template, found)
        write(text)
        errors += failures
    else:
        text = json.dumps(found, indent=4, ensure_ascii=False)
        write(("[]" if not found else text) + "\n")
    if errors:
        raise CommandError("\n".join(errors), 1)
    return 0

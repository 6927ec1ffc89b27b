"""docker start: POST /containers/{c}/start for each; 304 counts as started. With -a or -i,
one container, attached before it starts (as run does), and its exit status is ours."""
from __future__ import annotations

from client.commands import parser as make_parser
from client import api


def parser(name):
    p = make_parser(name, "docker start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers")
    p.add_argument("containers", nargs="+")
    p.add_argument("-a", "--attach", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("--detach-keys", default="")
    return p


def run(client, args) -> int:
    import sys

    from client.__main__ import CommandError

    if args.attach or args.interactive:
        if len(args.containers) > 1:
            raise CommandError("you cannot start and attach multiple containers at once", 1)
        return start_attached(client, args)
    failed = []
    for name in args.containers:
        try:
            client.post(f"/containers/{api.q(name)}/start")
        except api.APIError as error:
            print(f"Error response from daemon: {error.message}", file=sys.stderr)
            failed.append(name)
            continue
        print(name, flush=True)
    if failed:
        raise CommandError(f"Error: failed to start containers: {', '.join(failed)}", 1)
    return 0


def start_attached(client, args) -> int:
    from client import streams
    from client.commands import run

    container = client.get_json(f"/containers/{api.q(args.containers[0])}/json")
    container_id, config = container["Id"], container.get("Config") or {}
    tty = bool(config.get("Tty"))
    with streams.Signals(client, container_id, proxy=not tty):
        status = run.start_attached(client, container_id, tty=tty,
                                    stdin=args.interactive and bool(config.get("OpenStdin")), stdout=True,
                                    stderr=True, detach_keys=args.detach_keys,
                                    auto_remove=bool((container.get("HostConfig") or {}).get("AutoRemove")))
    return status or 0

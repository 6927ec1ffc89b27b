"""name -> (module, summary); only the command being run is imported (pip's registry)."""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("version", "Show the Docker version information"),
    "ps": ("ps", "List containers"),
    "images": ("images", "List images"),
    "inspect": ("inspect", "Return low-level information on Docker objects"),
    "logs": ("logs", "Fetch the logs of a container"),
    "start": ("start", "Start one or more stopped containers"),
    "stop": ("lifecycle", "Stop one or more running containers"),
    "kill": ("lifecycle", "Kill one or more running containers"),
    "restart": ("lifecycle", "Restart one or more containers"),
    "pause": ("lifecycle", "Pause all processes within one or more containers"),
    "unpause": ("lifecycle", "Unpause all processes within one or more containers"),
    "rm": ("rm", "Remove one or more containers"),
    "rename": ("rename", "Rename a container"),
    "wait": ("wait", "Block until one or more containers stop, then print their exit codes"),
    "tag": ("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "rmi": ("rmi", "Remove one or more images"),
    "pull": ("pull", "Download an image from a registry"),
}
# docker's management commands that map onto the above
SUBCOMMANDS = {
    ("container", "ls"): "ps", ("container", "list"): "ps", ("container", "inspect"): "inspect",
    ("image", "ls"): "images", ("image", "list"): "images", ("image", "inspect"): "inspect",
    ("image", "pull"): "pull", ("image", "tag"): "tag", ("image", "rm"): "rmi",
}


def summary() -> str:
    return "".join(f"  {name:<10}  {text}\n" for name, text in COMMANDS.items())


class Parser(argparse.ArgumentParser):
    """docker's words for bad usage, exit 125 for an unknown flag and 1 for wrong arguments."""

    def error(self, message: str):
        from client.__main__ import CommandError

        name = self.prog
        usage = f"Usage:  {self.usage_text}"
        if "unrecognized arguments" in message:
            flag = message.split(": ", 1)[1].split()[0]
            raise CommandError(f"unknown flag: {flag}\n\n{usage}\n\nRun '{name} --help' for more information", 125)
        if "required" in message or "expected" in message:
            verb = "See" if self.required_text.startswith("at least") else "Run"
            raise CommandError(f"pydocker: '{name}' requires {self.required_text}\n\n{usage}\n\n"
                               f"{verb} '{name} --help' for more information", 1)
        raise CommandError(f"{message}\n\n{usage}\n\nRun '{name} --help' for more information", 125)


def parser(name: str, usage: str, description: str, required: str = "at least 1 argument") -> Parser:
    p = Parser(prog=f"pydocker {name}", usage=usage, description=description, add_help=True)
    p.usage_text = usage.replace("docker ", "pydocker ", 1)
    p.required_text = required
    return p


def load(argv: list[str]):
    from client.__main__ import CommandError

    name, rest = argv[0], argv[1:]
    if (name, rest[0] if rest else None) in SUBCOMMANDS:
        kind = name
        name, rest = SUBCOMMANDS[(name, rest[0])], rest[1:]
        if name == "inspect":
            rest = ["--type", kind] + rest
    if name not in COMMANDS:
        raise CommandError(f"pydocker: '{name}' is not a docker command.\nSee 'pydocker --help'", 1)
    module = importlib.import_module(f"client.commands.{COMMANDS[name][0]}")
    args = module.parser(name).parse_args(rest)
    args.command = name
    return module, args


def for_each(names: list[str], action, echo: bool = True) -> int:
    """Run action(name) for every argument as docker does: print each name that worked, each
    daemon error on stderr, and exit 1 if any failed."""
    from client.api import APIError

    failed = []
    for name in names:
        try:
            result = action(name)
        except APIError as error:
            failed.append(f"Error response from daemon: {error.message}")
            continue
        if echo:
            print(name if result is None else result, flush=True)
    if failed:
        from client.__main__ import CommandError

        raise CommandError("\n".join(failed), 1)
    return 0


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()

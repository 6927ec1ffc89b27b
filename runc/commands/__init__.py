"""pyrunc's verbs, one module each. Only the verb being run is imported, so every command
pays for its own imports and nothing else (pyrunc runs once per container operation)."""
import importlib

from ..record import Record

COMMANDS = {
    "create": "create a container, leaving it waiting for start",
    "start": "run the user program of a created container",
    "run": "create and start a container",
    "state": "print the state of a container",
    "kill": "send a signal to a container's init (or all its processes)",
    "delete": "delete a container and what it holds",
    "list": "list containers",
    "exec": "run a new process inside a container",
    "ps": "list the processes of a container",
    "pause": "freeze every process of a container",
    "resume": "thaw a paused container",
    "events": "print container statistics and OOM events",
    "update": "change a container's resource limits",
    "spec": "write a default config.json",
    "features": "print what this runtime supports, as JSON",
}


class Context(Record):
    root: str
    log: object
    systemd_cgroup: bool = False


def load_command(name: str):
    return importlib.import_module(f"runc.commands.{name}")

"""pyrunc's verbs, one module each. Only the verb being run is imported, so every command
pays for its own imports and nothing else (pyrunc runs once per container operation)."""
import importlib

from ..record import Record

COMMANDS = {
    "create": ("create", "create a container, leaving it waiting for start"),
    "start": ("start", "run the user program of a created container"),
    "run": ("run", "create and start a container"),
    "state": ("state", "print the state of a container"),
    "kill": ("kill", "send a signal to a container's init (or all its processes)"),
    "delete": ("delete", "delete a container and what it holds"),
    "list": ("list", "list containers"),
    "exec": ("exec", "run a new process inside a container"),
    "ps": ("ps", "list the processes of a container"),
    "pause": ("pause", "freeze every process of a container"),
    "resume": ("resume", "thaw a paused container"),
    "events": ("events", "print container statistics and OOM events"),
    "update": ("update", "change a container's resource limits"),
    "spec": ("spec", "write a default config.json"),
    "features": ("features", "print what this runtime supports, as JSON"),
}


class Context(Record):
    root: str
    log: object
    systemd_cgroup: bool = False


def load_command(name: str):
    return importlib.import_module(f"runc.commands.{COMMANDS[name][0]}")

"""pydockerd: dockerd's command line, so that the command line that starts dockerd starts us."""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import sys

import errdefs

from . import config as config_module
from .config import Config

# uvicorn's names for dockerd's log levels.
_LOG_LEVELS = {"debug": "debug", "info": "info", "warn": "warning", "warning": "warning", "error": "error",
               "fatal": "critical", "panic": "critical"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pydockerd", description="A self-sufficient runtime for containers, in Python.")
    # Every default is None: a flag given is one that is not None, which is how a flag that
    # daemon.json also sets is caught, as dockerd does.
    p.add_argument("-H", "--host", dest="hosts", action="append", metavar="HOST",
                   help=f"daemon socket(s) to connect to (default {config_module.DEFAULT_HOST})")
    p.add_argument("--containerd", help=f"pycontainerd's socket (default {config_module.DEFAULT_CONTAINERD})")
    p.add_argument("--data-root",
                   help=f"root directory of persistent state (default {config_module.DEFAULT_DATA_ROOT})")
    p.add_argument("--exec-root", help=f"root directory of execution state (default {config_module.DEFAULT_EXEC_ROOT})")
    p.add_argument("-p", "--pidfile", help="path to use for the daemon PID file")
    p.add_argument("--config-file", help=f"daemon configuration file (default {config_module.DEFAULT_CONFIG_FILE})")
    p.add_argument("-D", "--debug", action="store_const", const=True, help="enable debug mode")
    p.add_argument("-l", "--log-level", choices=sorted(_LOG_LEVELS), help="logging level (default info)")
    p.add_argument("--insecure-registry", dest="insecure_registries", action="append", metavar="REGISTRY",
                   help="registry reached over plain HTTP or with an unverified certificate")
    p.add_argument("--registry-mirror", dest="registry_mirrors", action="append", metavar="URL",
                   help="preferred registry mirror for docker.io")
    p.add_argument("--cgroup-parent",
                   help=f"parent cgroup for all containers (default {config_module.DEFAULT_CGROUP_PARENT})")
    return p


# daemon.json key → Config field and the JSON type it must have.
_FILE_KEYS = {
    "hosts": ("hosts", list),
    "containerd": ("containerd", str),
    "data-root": ("data_root", str),
    "exec-root": ("exec_root", str),
    "pidfile": ("pidfile", str),
    "debug": ("debug", bool),
    "log-level": ("log_level", str),
    "insecure-registries": ("insecure_registries", list),
    "registry-mirrors": ("registry_mirrors", list),
    "cgroup-parent": ("cgroup_parent", str),
}


def _read_file(path: str, explicit: bool) -> dict:
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        if explicit:
            raise errdefs.NotFound(f"unable to configure the daemon with file {path}: no such file") from None
        return {}
    if not text.strip():
        return {}
    try:
        values = json.loads(text)
    except json.JSONDecodeError as e:
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: {e}") from None
    if not isinstance(values, dict):
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: not a JSON object")
    unknown = sorted(set(values) - set(_FILE_KEYS))
    if unknown:
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: the following directives "
                                      f"don't match any configuration option: {', '.join(unknown)}")
    for key, value in values.items():
        kind = _FILE_KEYS[key][1]
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            wanted = "a list of strings" if kind is list else {str: "a string", bool: "a boolean"}[kind]
            raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: {key} must be {wanted}")
    if values.get("log-level") is not None and values["log-level"] not in _LOG_LEVELS:
        levels = ", ".join(sorted(_LOG_LEVELS))
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: "
                                      f"log-level {values['log-level']!r} is not one of {levels}")
    return values


def load_config(argv: list[str]) -> Config:
    """Flags merged over daemon.json; a directive in both is an error, as in dockerd."""
    args = parser().parse_args(argv)
    path = args.config_file or config_module.DEFAULT_CONFIG_FILE
    from_file = _read_file(path, explicit=args.config_file is not None)
    both = [key for key, (name, _) in _FILE_KEYS.items() if key in from_file and getattr(args, name) is not None]
    if both:
        details = ", ".join(f"{key}: (from flag: {getattr(args, _FILE_KEYS[key][0])}, from file: {from_file[key]})"
                            for key in both)
        raise errdefs.InvalidArgument(f"unable to configure the daemon with file {path}: the following directives "
                                      f"are specified both as a flag and in the configuration file: {details}")
    config = Config(config_file=path)
    for key, (name, _) in _FILE_KEYS.items():
        value = getattr(args, name) if getattr(args, name) is not None else from_file.get(key)
        if value is not None:
            setattr(config, name, value)
    return config


def _write_pidfile(path: str) -> None:
    with contextlib.suppress(FileNotFoundError, ValueError):
        with open(path) as f:
            pid = int(f.read().strip())
        if pid != os.getpid() and os.path.exists(f"/proc/{pid}"):
            raise errdefs.AlreadyExists(f"pid file found, ensure pydockerd is not running or delete {path}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(f"{os.getpid()}\n")


def main(argv: list[str] | None = None) -> int:
    try:
        config = load_config(sys.argv[1:] if argv is None else argv)
    except errdefs.Error as e:
        print(f"pydockerd: {e}", file=sys.stderr)
        return 1
    level = "debug" if config.debug else config.log_level
    logging.basicConfig(level=_LOG_LEVELS[level].upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Imported once the command line is known good: --help and its errors stay quick. The
    # collector is off until the daemon serves: the imports (fastapi, pydantic, grpc) make
    # hundreds of thousands of objects that all live, and collecting them only costs time
    # (a restart's `ps` waits on it). Then they are frozen, out of every later collection.
    gc.disable()
    from . import server
    from .api import app  # noqa: F401 - the routes, before the listeners are bound
    from .daemon import Daemon
    from .server import listeners

    try:
        os.makedirs(config.data_root, mode=0o710, exist_ok=True)
        os.makedirs(config.exec_root, mode=0o700, exist_ok=True)
        if config.pidfile:
            _write_pidfile(config.pidfile)
        sockets = listeners.bind(config.hosts)
    except (errdefs.Error, OSError) as e:
        print(f"pydockerd: {e}", file=sys.stderr)
        return 1
    daemon = Daemon(config)
    try:
        daemon.start()
        gc.freeze()
        gc.enable()
        server.run(config, daemon, sockets, log_level=_LOG_LEVELS[level])
    finally:
        daemon.stop()
        if config.pidfile:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(config.pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""pydockerd: dockerd's command line, so that the command line that starts dockerd starts us."""
from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys

import errdefs
from protos.sdnotify import Notifier

from . import config as config_module
from .config import Config

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pydockerd", description="A self-sufficient runtime for containers, in Python.")
    # Every default is None: a flag given is one that is not None, which is how a flag that
    # daemon.json also sets is caught, as dockerd does.
    p.add_argument("-H", "--host", dest="hosts", action="append", metavar="HOST",
                   help=f"daemon socket(s) to connect to (default {config_module.DEFAULT_HOST})")
    p.add_argument("--containerd", help=f"pycontainerd's socket (default {config_module.DEFAULT_CONTAINERD})")
    p.add_argument("--data-root", dest="data_root",
                   help=f"root directory of persistent state (default {config_module.DEFAULT_DATA_ROOT})")
    p.add_argument("--exec-root", dest="exec_root",
                   help=f"root directory of execution state (default {config_module.DEFAULT_EXEC_ROOT})")
    p.add_argument("-p", "--pidfile", help="path to use for the daemon PID file")
    p.add_argument("--config-file", help=f"daemon configuration file (default {config_module.DEFAULT_CONFIG_FILE})")
    p.add_argument("-D", "--debug", action="store_const", const=True, help="enable debug mode")
    p.add_argument("-l", "--log-level", dest="log_level", choices=sorted(config_module.LOG_LEVELS),
                   help="logging level (default info)")
    p.add_argument("--insecure-registry", dest="insecure_registries", action="append", metavar="REGISTRY",
                   help="registry reached over plain HTTP or with an unverified certificate")
    p.add_argument("--registry-mirror", dest="registry_mirrors", action="append", metavar="URL",
                   help="preferred registry mirror for docker.io")
    p.add_argument("--cgroup-parent", dest="cgroup_parent",
                   help=f"parent cgroup for all containers (default {config_module.DEFAULT_CGROUP_PARENT})")
    p.add_argument("-G", "--group", help=f"group for the unix socket (default {config_module.DEFAULT_GROUP})")
    p.add_argument("--tls", action="store_const", const=True, help="use TLS; implied by --tlsverify")
    p.add_argument("--tlsverify", action="store_const", const=True,
                   help="use TLS and verify the remote (clients must show a certificate signed by --tlscacert)")
    p.add_argument("--tlscacert", help="trust certs signed only by this CA (default ~/.docker/ca.pem)")
    p.add_argument("--tlscert", help="path to TLS certificate file (default ~/.docker/cert.pem)")
    p.add_argument("--tlskey", help="path to TLS key file (default ~/.docker/key.pem)")
    return p


def load_config(argv: list[str]) -> Config:
    """Flags merged over daemon.json; a directive in both is an error, as in dockerd. A tcp://
    host needs --tlsverify: anyone who reaches an unauthenticated one is root here."""
    args = parser().parse_args(argv)
    flags = {key: getattr(args, name) for key, (name, _) in config_module.KEYS.items()
             if getattr(args, name, None) is not None}
    if args.config_file is not None:
        flags["config-file"] = args.config_file
    config = config_module.build(flags, args.config_file or config_module.DEFAULT_CONFIG_FILE)
    for host in config.hosts:
        if host.startswith("tcp://") and not config.verifies_clients:
            refuse_unauthenticated(host)
    return config


def refuse_unauthenticated(host: str) -> None:
    raise errdefs.InvalidArgument(
        f"refusing to listen on {host} without TLS client verification: whoever reaches it controls the "
        "containers, and so this machine; start with --tlsverify, --tlscacert, --tlscert and --tlskey "
        "(or use a unix socket)")


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
    logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config_module.apply_log_levels(config)
    if not config.live_restore:
        logging.getLogger("pydockerd").warning(config_module.LIVE_RESTORE_ALWAYS_ON)
    # Imported once the command line is known good: --help and its errors stay quick. The
    # collector is off until the daemon serves: the imports (fastapi, pydantic, grpc) make
    # hundreds of thousands of objects that all live, and collecting them only costs time
    # (a restart's `ps` waits on it). Then they are frozen, out of every later collection.
    gc.disable()
    from . import server
    from .api import app  # noqa: F401 - the routes, before the listeners are bound
    from .daemon import Daemon
    from .server import listeners, tls

    notifier = Notifier.from_environment()
    try:
        tls_context = tls.server_context(config) if config.uses_tls else None
        os.makedirs(config.data_root, mode=0o710, exist_ok=True)
        os.makedirs(config.exec_root, mode=0o700, exist_ok=True)
        if config.pidfile:
            _write_pidfile(config.pidfile)
        sockets = listeners.bind(config.hosts, group=config.group)
        if not config.verifies_clients and any(listeners.is_tcp(sock) for sock in sockets):
            for sock in sockets:
                sock.close()
            listeners.cleanup(config.hosts)
            refuse_unauthenticated("a TCP socket passed by socket activation")
    except (errdefs.Error, OSError) as e:
        print(f"pydockerd: {e}", file=sys.stderr)
        return 1
    daemon = Daemon(config)
    try:
        daemon.start()
        gc.freeze()
        gc.enable()
        server.run(config, daemon, sockets, tls_context=tls_context, notifier=notifier)
    finally:
        daemon.stop()
        if config.pidfile:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(config.pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

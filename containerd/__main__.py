"""pycontainerd: containerd's v1 gRPC API; starts a shim per container and never parents containers.

    pycontainerd [--config FILE] [--address SOCKET] [--root DIR] [--state DIR] [--log-level LEVEL]

Runs until SIGTERM or SIGINT, then stops serving and exits, leaving shims and containers
running for the next start to take back.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time

import errdefs
from protos.sdnotify import Notifier

from . import config as config_module
from . import defaults


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pycontainerd", description="containerd's API, in Python")
    parser.add_argument("-c", "--config", help=f"path to the configuration file (default {defaults.DEFAULT_CONFIG})")
    parser.add_argument("-l", "--log-level", choices=list(config_module.LOG_LEVELS), help="set the logging level")
    parser.add_argument("-a", "--address", help="address for pycontainerd's gRPC server")
    parser.add_argument("--root", help="pycontainerd root directory")
    parser.add_argument("--state", help="pycontainerd state directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    booting = time.monotonic()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = config_module.load(args.config or defaults.DEFAULT_CONFIG, required=args.config is not None)
        config = config.with_overrides(address=args.address, root=args.root, state=args.state,
                                       log_level=args.log_level)
    except errdefs.Error as exc:
        print(f"pycontainerd: {exc}", file=sys.stderr)
        return 1
    logging.basicConfig(level=config_module.LOG_LEVELS[config.log_level], stream=sys.stderr,
                        format="time=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s")
    log = logging.getLogger("containerd")

    from .server import Server  # grpc is heavy: not needed for --help or a bad config

    notifier = Notifier.from_environment()
    stop_signals = _catch_stop_signals()
    server = Server(config)
    try:
        server.start()
    except (errdefs.Error, OSError) as exc:
        log.error("pycontainerd failed to start: %s", exc)
        return 1
    log.info("pycontainerd successfully booted in %.3fs", time.monotonic() - booting)
    notifier.ready()
    signum = os.read(stop_signals, 1)[0]
    log.info("%s: stopping", signal.Signals(signum).name)
    notifier.stopping()
    server.stop()
    return 0


def _catch_stop_signals() -> int:
    """A pipe that receives a byte when SIGTERM or SIGINT arrives. The kernel may deliver the
    signal to any of our threads (grpc's among them), which would leave a main thread blocked
    on a lock asleep; a read on the wakeup pipe is woken wherever the signal landed."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)  # the wakeup byte says it all
    return read_end


if __name__ == "__main__":
    sys.exit(main())

"""pycontainerd's configuration: containerd's config.toml keys for the few settings we have,
overridden by containerd's own command-line flags."""
from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, replace

import errdefs

from . import defaults

# containerd's (logrus's) level names, and the logging level each stands for.
LOG_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
              "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL, "panic": logging.CRITICAL}


@dataclass(frozen=True)
class Config:
    address: str = defaults.DEFAULT_ADDRESS  # the gRPC unix socket
    root: str = defaults.DEFAULT_ROOT  # persistent data
    state: str = defaults.DEFAULT_STATE  # transient data: bundles, sockets
    log_level: str = defaults.DEFAULT_LOG_LEVEL

    @property
    def ttrpc_address(self) -> str:
        return defaults.ttrpc_address(self.address)

    def with_overrides(self, **overrides: str | None) -> Config:
        """This config with every override that is not None applied, paths made absolute."""
        config = replace(self, **{key: value for key, value in overrides.items() if value is not None})
        return replace(config, address=os.path.abspath(config.address), root=os.path.abspath(config.root),
                       state=os.path.abspath(config.state))


def load(path: str, *, required: bool) -> Config:
    """Read a containerd-style config.toml: `root`, `state`, `[grpc] address`, `[debug] level`.
    A missing file is an error only if the user named it; other keys are ignored, as the
    plugin sections of a real containerd config mean nothing here."""
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        if required:
            raise errdefs.NotFound(f"config file {path}: not found") from None
        return Config()
    except tomllib.TOMLDecodeError as exc:
        raise errdefs.InvalidArgument(f"config file {path}: {exc}") from exc
    grpc, debug = _table(path, "grpc", document.get("grpc")), _table(path, "debug", document.get("debug"))
    level = _string(path, "debug.level", debug.get("level")) or None
    if level is not None and level not in LOG_LEVELS:
        raise errdefs.InvalidArgument(f'config file {path}: debug.level: unknown log level "{level}": '
                                      f'use one of {", ".join(LOG_LEVELS)}')
    return Config().with_overrides(
        root=_string(path, "root", document.get("root")),
        state=_string(path, "state", document.get("state")),
        address=_string(path, "grpc.address", grpc.get("address")),
        log_level=level,
    )


def _string(path: str, key: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise errdefs.InvalidArgument(f"config file {path}: {key} must be a string")
    return value


def _table(path: str, key: str, value: object) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errdefs.InvalidArgument(f"config file {path}: [{key}] must be a table")
    return value

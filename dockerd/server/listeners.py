"""The sockets `-H` names, bound before serving: unix://PATH, tcp://HOST:PORT, fd:// and fd://N
(systemd socket activation)."""
from __future__ import annotations

import contextlib
import grp
import logging
import os
import socket
import stat
from pathlib import Path
from urllib.parse import urlsplit

import errdefs

from ..config import DEFAULT_GROUP

UNIX_MODE = 0o660
DEFAULT_TCP_PORT = 2376  # dockerd's port for TLS, the only way pydockerd serves TCP
_SD_LISTEN_FDS_START = 3


def bind(hosts: list[str], group: str = "") -> list[socket.socket]:
    """A listening socket for each host (fd:// may stand for several), a unix socket's file
    owned by group if one is named. Raises InvalidArgument for a host we cannot parse,
    AlreadyExists if a unix socket is served by someone else, NotFound for a group that
    does not exist (but for the default one, as dockerd: then root's group stays)."""
    gid = _group_id(group) if group else None
    sockets: list[socket.socket] = []
    try:
        for host in hosts:
            sockets += _bind_one(host, gid)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def is_tcp(sock: socket.socket) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6)


def _group_id(group: str) -> int | None:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        pass
    if group.isdigit():
        return int(group)
    if group == DEFAULT_GROUP:
        logging.getLogger("pydockerd").debug("group %s not found: the API socket keeps root's group", group)
        return None
    raise errdefs.NotFound(f"group {group} not found")


def _bind_one(host: str, gid: int | None) -> list[socket.socket]:
    scheme, _, rest = host.partition("://")
    if scheme == "unix" and rest:
        return [_unix(rest, gid)]
    if scheme == "tcp":
        return [_tcp(rest)]
    if scheme == "fd":
        return _activated(rest)
    raise errdefs.InvalidArgument(f"invalid host {host!r}: expected unix:///path, tcp://host:port, fd:// or fd://N")


def _unix(path: str, gid: int | None) -> socket.socket:
    _remove_stale(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, UNIX_MODE)
        if gid is not None:
            os.chown(path, -1, gid)
        sock.listen(1024)
    except BaseException:
        sock.close()
        raise
    return sock


def _remove_stale(path: str) -> None:
    """A socket file nobody answers on is what a killed daemon leaves: remove it. One that
    answers belongs to a running daemon: refuse."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise errdefs.AlreadyExists(f"{path} exists and is not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)
            return
    raise errdefs.AlreadyExists(f"another daemon is listening on {path}")


def _tcp(address: str) -> socket.socket:
    parts = urlsplit(f"//{address}")
    try:
        port = parts.port or DEFAULT_TCP_PORT
    except ValueError:
        raise errdefs.InvalidArgument(f"invalid port in tcp://{address}") from None
    hostname = parts.hostname or ""
    family = socket.AF_INET6 if ":" in hostname else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((hostname, port))
        sock.listen(1024)
    except BaseException:
        sock.close()
        raise
    return sock


def _activated(which: str) -> list[socket.socket]:
    """Sockets passed by the service manager (LISTEN_PID is us, LISTEN_FDS of them from fd 3):
    all of them for fd://, one for fd://N."""
    with contextlib.suppress(ValueError):
        if int(os.environ.get("LISTEN_PID", "")) == os.getpid():
            fds = list(range(_SD_LISTEN_FDS_START, _SD_LISTEN_FDS_START + int(os.environ.get("LISTEN_FDS", "0"))))
            if which:
                if not which.isdigit() or int(which) not in fds:
                    raise errdefs.NotFound(f"fd://{which} was not passed by socket activation (fds: {fds})")
                fds = [int(which)]
            if fds:
                return [socket.socket(fileno=fd) for fd in fds]
    raise errdefs.NotFound("fd:// needs sockets passed by socket activation (LISTEN_PID, LISTEN_FDS): none were")


def cleanup(hosts: list[str]) -> None:
    """Remove the unix socket files we made."""
    for host in hosts:
        scheme, _, rest = host.partition("://")
        if scheme == "unix" and rest:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(rest)

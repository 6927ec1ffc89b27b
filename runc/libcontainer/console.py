"""The container's terminal: a pty made inside the container, its master handed to whoever
listens on the console socket (runtime-stack.md §6).

The container side opens /dev/pts/ptmx of the container's own devpts, bind-mounts the peer
over /dev/console, sends the master as exactly one SCM_RIGHTS fd and makes the peer its
controlling terminal on fds 0-2. The receiving side (the shim, or pyrunc itself for a
foreground `run -t`/`exec -t`) keeps the only master fd: closing it hangs up the container.
"""
import fcntl
import os
import select
import signal
import socket
import struct
import termios
import tty

from . import syscalls as S

DEVPTS_SUPER_MAGIC = 0x1CD1
TIOCGPTPEER = 0x5441
TIOCSPTLCK = 0x40045431


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def setup_in_container(sc, console_socket: socket.socket, size: dict | None, *, own_console: bool) -> None:
    """Make the pty and hand its master over; `own_console` (the container's init, not an
    exec'd process) also puts the peer on /dev/console."""
    master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        # The image could ship its own /dev/pts/ptmx node; only the devpts we mounted will do.
        if sc.fstatfs_type(master) != DEVPTS_SUPER_MAGIC:
            raise PermissionError("/dev/pts/ptmx is not on a devpts filesystem")
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        peer = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
        if size:
            set_size(master, size.get("height", 0), size.get("width", 0))
        if own_console:
            if not os.path.exists("/dev/console"):
                os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            sc.mount(os.readlink(f"/proc/self/fd/{peer}"), "/dev/console", None, S.MS_BIND)
        socket.send_fds(console_socket, [b"/dev/ptmx"], [master])
    finally:
        os.close(master)
    for fd in (0, 1, 2):
        os.dup2(peer, fd)
    if peer > 2:
        os.close(peer)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def receive_master(sock: socket.socket) -> int:
    """Accept exactly one fd, as runc's own receiver does; anything else is an error."""
    _, fds, _, _ = socket.recv_fds(sock, 4096, 2, socket.MSG_CMSG_CLOEXEC)
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise ConnectionError(f"console socket: expected exactly one file descriptor, got {len(fds)}")
    return fds[0]


def own_size() -> dict | None:
    """Our terminal's size as a runtime-spec consoleSize, or None without a terminal."""
    if not os.isatty(0):
        return None
    rows, cols = struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))[:2]
    return {"height": rows, "width": cols}


def copy_size(master: int) -> None:
    size = own_size()
    if size:
        set_size(master, size["height"], size["width"])


def relay(master: int, is_done) -> None:
    """Foreground terminal: copy our stdin to the pty and the pty to our stdout until the
    container has exited and the pty is drained; keep the window size in step with ours."""
    stdin_tty = os.isatty(0)
    saved = termios.tcgetattr(0) if stdin_tty else None
    previous = signal.signal(signal.SIGWINCH, lambda *_: copy_size(master))
    copy_size(master)
    if stdin_tty:
        tty.setraw(0)
    sources = [master, 0]
    try:
        while True:
            try:
                readable, _, _ = select.select(sources, [], [], 0.1)
            except InterruptedError:
                continue
            if master in readable:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave fd is closed
                    data = b""
                if not data:
                    return
                os.write(1, data)
            if 0 in readable:
                data = os.read(0, 65536)
                if data:
                    os.write(master, data)
                else:
                    sources.remove(0)
            if not readable and is_done():
                return
    finally:
        signal.signal(signal.SIGWINCH, previous)
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)

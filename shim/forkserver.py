"""The shim fork server: one warm interpreter that forks a shim per container.

A shim per container is the design (it must outlive every daemon above it), but a fresh
Python interpreter with protobuf and the shim's modules costs ~9 MiB PSS, four times Go's
shim. Forked from a process that has already imported everything (and frozen its objects
out of the garbage collector's reach, so nothing touches those pages again), each shim costs
only what it writes itself: the imported code and data stay shared among all shims.

    shim start  --(unix socket: request JSON + the shim's listening socket)-->  fork server
    fork server --fork--> shim (setsid: its own session)

The fork server may exit (it does, after IDLE_SECONDS without requests) without the shims
noticing: they are re-parented and go on. It forks once, not twice: a shim inherits, as its
own, every page the process it was forked from wrote, so an intermediate process would only
add its pages to each shim's. The server ignores SIGCHLD, so its exited shims are reaped by
the kernel. Its socket name carries a digest of the code it runs, so an upgraded install
starts a fresh one.
"""
import fcntl
import gc
import hashlib
import json
import os
import pathlib
import signal
import socket
import sys
import time

IDLE_SECONDS = 60
_PACKAGE_DIRS = ("shim", "protos", "errdefs")


def code_digest() -> str:
    """Which code a fork server runs: the shim's, protos' and errdefs' files, by name, size and mtime."""
    root = pathlib.Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for directory in _PACKAGE_DIRS:
        for path in sorted((root / directory).glob("*.py")):
            st = path.stat()
            h.update(f"{directory}/{path.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def forkserver_path(socket_dir: str) -> str:
    return os.path.join(socket_dir, f"forkserver-{code_digest()}.sock")


# --- the client side: `shim start` ----------------------------------------------------------
def request_shim(socket_dir: str, request: dict, listener: socket.socket) -> int:
    """Have a fork server start a shim serving on `listener`; returns the shim's pid."""
    path = forkserver_path(socket_dir)
    for attempt in range(2):
        try:
            return _ask(path, request, listener)
        except (FileNotFoundError, ConnectionRefusedError):
            if attempt:
                raise
            _start_server(socket_dir, path)
    raise AssertionError("unreachable")


def _ask(path: str, request: dict, listener: socket.socket) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        socket.send_fds(conn, [json.dumps(request).encode()], [listener.fileno()])
        reply = json.loads(_read_line(conn))
    if "error" in reply:
        raise RuntimeError(f"fork server: {reply['error']}")
    return reply["pid"]


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("fork server closed the connection without an answer")
        data += chunk
    return data


def _start_server(socket_dir: str, path: str) -> None:
    """Start a fork server in its own session and wait until it listens. A lock file keeps
    two concurrent `shim start`s from starting two."""
    os.makedirs(socket_dir, mode=0o711, exist_ok=True)
    with open(os.path.join(socket_dir, "forkserver.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if listening(path):
            return
        try:
            os.unlink(path)  # a dead server's socket
        except FileNotFoundError:
            pass
        devnull = os.open(os.devnull, os.O_RDWR)
        os.posix_spawn(sys.executable, [sys.executable, "-m", "shim", "forkserver", path], os.environ,
                       file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                                     (os.POSIX_SPAWN_DUP2, devnull, 2)], setsid=True)
        os.close(devnull)
        deadline = time.monotonic() + 30
        while not listening(path):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the shim fork server did not come up on {path}")
            time.sleep(0.01)


def listening(path: str) -> bool:
    """Whether something accepts connections on the unix socket `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
            return True
        except OSError:
            return False


# --- the server ------------------------------------------------------------------------------
def serve(path: str) -> None:
    """Import everything a shim runs, then fork shims on request until idle."""
    from . import serve as shim_serve  # the shim's whole import graph, loaded once, here

    # Objects now alive are never collected or moved by the GC again, so forked shims keep
    # sharing their pages instead of copying them on the first collection.
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{path}.{os.getpid()}"
    listener.bind(tmp)
    os.rename(tmp, path)  # appears only once listening is possible: `start` waits for it
    listener.listen(64)
    with open(f"{path}.pid", "w") as f:
        f.write(str(os.getpid()))
    listener.settimeout(IDLE_SECONDS)
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return
            with conn:
                try:
                    _handle(conn, listener, shim_serve.run)
                except OSError:
                    pass  # a client that went away: its problem, not the server's
    finally:
        for leftover in (path, f"{path}.pid"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


def _handle(conn: socket.socket, server_socket: socket.socket, run_shim) -> None:
    try:
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 1)
        if not message:
            return  # a probe: `start` checking that we listen
        request = json.loads(message)
    except (OSError, ValueError) as e:
        conn.sendall(json.dumps({"error": f"bad request: {e}"}).encode() + b"\n")
        return
    if len(fds) != 1:
        conn.sendall(json.dumps({"error": "expected the shim's listening socket"}).encode() + b"\n")
        for fd in fds:
            os.close(fd)
        return
    pid = os.fork()
    if pid == 0:
        _become_shim(conn, server_socket, fds[0], request, run_shim)
    os.close(fds[0])
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _become_shim(conn: socket.socket, server_socket: socket.socket, listener_fd: int, request: dict, run_shim):
    """In the forked child: leave the server's session and socket behind, and be the shim.
    Never returns: a forked child must not go back to the server's loop."""
    try:
        # The server ignores SIGCHLD; the shim reaps its children itself.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        server_socket.close()
        conn.close()
        os.setsid()
        run_shim(request, listener_fd)
    except BaseException:  # noqa: BLE001 - said on stderr (containerd's log FIFO), then gone
        import traceback

        traceback.print_exc()
        os._exit(1)
    os._exit(0)

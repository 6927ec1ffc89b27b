"""pycontainerd-shim (also installed as containerd-shim-pydocker-v1): containerd's shim v2
command line, as containerd runs it.

    <shim> -namespace NS -address ADDR -publish-binary BIN -id ID start     (cwd = bundle)
        start a long-lived shim for task ID, print its ttrpc address, exit
    <shim> -namespace NS -address ADDR -publish-binary BIN -id ID -bundle B delete
        clean up after a shim that died: force-delete the container, unmount its rootfs,
        print a containerd.task.v2.DeleteResponse (protobuf) for containerd
    <shim> forkserver PATH        (internal) the fork server `start` talks to
    <shim> -v                     version

Flags are Go's: one dash, as containerd writes them (two dashes work too).
"""
import hashlib
import json
import os
import socket
import sys
import time

from . import layout

VERSION = "0.1.0"
_FLAGS = {"namespace", "address", "publish-binary", "id", "bundle", "socket"}
_SWITCHES = {"debug", "v", "version"}


def parse(argv: list[str]) -> tuple[dict, list[str]]:
    flags, rest = {}, []
    words = iter(argv)
    for word in words:
        if word.startswith("-") and not rest:
            name, has_value, value = word.lstrip("-").partition("=")
            if name in _SWITCHES:
                flags[name] = True
            elif name in _FLAGS:
                flags[name] = value if has_value else next(words, "")
            else:
                raise SystemExit(f"pycontainerd-shim: flag provided but not defined: -{name}")
        else:
            rest.append(word)
    return flags, rest


def socket_dir(containerd_address: str) -> str:
    """Shim sockets live beside the daemon's socket, in s/: short enough for sun_path."""
    return os.path.join(os.path.dirname(containerd_address.removeprefix("unix://")), "s")


def socket_path(containerd_address: str, namespace: str, container_id: str) -> str:
    digest = hashlib.sha256(f"{containerd_address}/{namespace}/{container_id}".encode()).hexdigest()
    return os.path.join(socket_dir(containerd_address), digest)


def start(flags: dict) -> int:
    from . import forkserver

    address, namespace, container_id = flags["address"], flags["namespace"], flags["id"]
    bundle = os.getcwd()
    path = socket_path(address, namespace, container_id)
    if forkserver.listening(path):
        # A start for a task whose shim already runs (containerd retried): the same shim.
        print(f"unix://{path}")
        return 0
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    try:
        os.unlink(path)  # a dead shim's socket
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(128)
    daemon_dir = os.path.dirname(address.removeprefix("unix://"))
    request = {
        "bundle": bundle,
        "namespace": namespace,
        "ttrpc_address": os.environ.get("TTRPC_ADDRESS") or f"{address}.ttrpc",
        "socket_path": path,
        # pyrunc's state for this daemon's containers sits beside the daemon, one root per namespace.
        "runtime_root": os.path.join(daemon_dir, "pyrunc"),
        "runtime_binary": os.path.join(os.path.dirname(sys.executable), "pyrunc"),
        "env": dict(os.environ),
    }
    pid = forkserver.request_shim(socket_dir(address), request, listener)
    listener.close()
    with open(os.path.join(bundle, layout.SHIM_PID), "w") as f:
        f.write(str(pid))
    print(f"unix://{path}")
    return 0


def delete(flags: dict) -> int:
    """After a shim died: make sure nothing of its container keeps running unsupervised."""
    import subprocess

    from protos import shim_pb2

    from . import mounts
    from .service import timestamp

    bundle = flags.get("bundle") or os.getcwd()
    container_id = flags["id"]
    try:
        with open(os.path.join(bundle, layout.RUNTIME)) as f:
            runtime = json.load(f)
    except FileNotFoundError:
        runtime = None  # the shim died before Create: no container was made
    if runtime is not None:
        subprocess.run([runtime["binary"], "--root", runtime["root"], "delete", "--force", container_id],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mounts.unmount(os.path.join(bundle, "rootfs"))
    recorded = layout.read_init_exit(bundle)
    if recorded:
        response = shim_pb2.DeleteResponse(pid=recorded["pid"], exit_status=recorded["exit_status"],
                                           exited_at=timestamp(recorded["exited_at"]))
    else:
        # The exit was never seen: report it as containerd does for a dead shim, SIGKILL.
        response = shim_pb2.DeleteResponse(pid=_init_pid(bundle), exit_status=128 + 9, exited_at=timestamp(time.time()))
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


def _init_pid(bundle: str) -> int:
    try:
        return layout.read_pid(os.path.join(bundle, layout.INIT_PID))
    except (FileNotFoundError, ValueError):
        return 0


def main() -> None:
    flags, rest = parse(sys.argv[1:])
    if flags.get("v") or flags.get("version"):
        print(f"pycontainerd-shim version {VERSION}")
        sys.exit(0)
    action = rest[0] if rest else ""
    if action == "forkserver" and len(rest) == 2:
        from . import forkserver

        forkserver.serve(rest[1])
        sys.exit(0)
    missing = [name for name in ("namespace", "address", "id") if not flags.get(name)]
    if action not in ("start", "delete") or missing:
        print("usage: pycontainerd-shim -namespace NS -address ADDR -id ID [-bundle B] start|delete", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(start(flags) if action == "start" else delete(flags))
    except Exception as e:  # noqa: BLE001 - containerd shows the shim's stderr
        print(f"pycontainerd-shim {action}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

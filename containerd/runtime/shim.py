"""Shims from pycontainerd's side: finding the binary for a runtime name, its start and delete
actions (containerd's runtime v2 shim contract, docs/runtime-v2.md), and the ttrpc
connection to a running shim's containerd.task.v2.Task service.

start runs `<shim> -namespace NS -address A -publish-binary P -id ID start` in the bundle
and reads what it prints until it exits: the long-lived shim it launched has detached, so
pycontainerd is never its parent. delete runs the same binary with `-bundle B delete` once
a shim is gone (it died, or was shut down after a failed create), to clean up behind it
(kill the container, unmount its rootfs); it prints a task.v2 DeleteResponse.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from google.protobuf import any_pb2
from google.protobuf import message as _message

import errdefs
from protos import shim_pb2, ttrpc

from .. import trace

log = logging.getLogger(__name__)

TASK_SERVICE = "containerd.task.v2.Task"
START_TIMEOUT = 30.0  # a shim's start action that takes longer has hung
DELETE_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0  # containerd's budget for dialling a shim


def binary_name(runtime: str) -> str:
    """The shim binary for a runtime name: io.containerd.<name>.<version> -> containerd-shim-<name>-<version>."""
    parts = runtime.split(".")
    if len(parts) < 2 or not parts[-2] or not parts[-1]:
        raise errdefs.InvalidArgument(
            f"invalid runtime name {runtime}, correct runtime name should be either format like "
            "`io.containerd.runc.v1` or a full path to the binary")
    return f"containerd-shim-{parts[-2]}-{parts[-1]}"


def find_binary(runtime: str) -> str:
    """The shim binary's path: an absolute runtime name is the binary itself; otherwise the
    binary is looked for next to the running interpreter (our virtualenv's bin), then on PATH."""
    if os.path.isabs(runtime):
        if os.access(runtime, os.X_OK):
            return runtime
        raise errdefs.NotFound(f'runtime "{runtime}" binary not installed: not found')
    name = binary_name(runtime)
    beside_interpreter = Path(sys.executable).parent / name
    if os.access(beside_interpreter, os.X_OK):
        return str(beside_interpreter)
    found = shutil.which(name)
    if found is None:
        raise errdefs.NotFound(f'runtime "{runtime}" binary not installed "{name}": not found')
    return found


def parse_start_output(output: bytes) -> str:
    """The shim's address from what its start action printed: `unix:///path`, or the JSON
    bootstrap form {"version": 2, "address": "unix:///path", "protocol": "ttrpc"}."""
    text = output.decode(errors="replace").strip()
    if text.startswith("{"):
        try:
            params = json.loads(text)
        except json.JSONDecodeError as exc:
            raise errdefs.InvalidArgument(f"shim start printed malformed bootstrap parameters {text!r}: {exc}") from None
        if params.get("protocol", "ttrpc") != "ttrpc":
            raise errdefs.NotImplemented(f"shim protocol {params['protocol']!r} is not supported, only ttrpc")
        text = str(params.get("address", ""))
    if not text.startswith("unix://") or len(text) == len("unix://"):
        raise errdefs.InvalidArgument(f"shim start printed {text!r}, not a unix:// address")
    return text


def socket_path(address: str) -> str:
    return address.removeprefix("unix://")


class ShimBinary:
    """A shim binary and the daemon it reports to."""

    def __init__(self, path: str, *, namespace: str, grpc_address: str, ttrpc_address: str, debug: bool):
        self.path = path
        self.namespace = namespace
        self.grpc_address = grpc_address
        self.ttrpc_address = ttrpc_address
        self.debug = debug

    def _run(self, action_args: list[str], cwd: Path, stdin: bytes, timeout: float) -> subprocess.CompletedProcess:
        argv = [self.path, "-namespace", self.namespace, "-address", self.grpc_address,
                "-publish-binary", _publish_binary(), *(["-debug"] if self.debug else []), *action_args]
        env = {**os.environ, "TTRPC_ADDRESS": self.ttrpc_address, "GRPC_ADDRESS": self.grpc_address,
               "NAMESPACE": self.namespace}
        try:
            # A session of its own: whatever the action leaves running is never in our process
            # group, so nothing that signals pycontainerd's group reaches a shim.
            done = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, timeout=timeout,
                                  start_new_session=True)
        except subprocess.TimeoutExpired:
            raise errdefs.DeadlineExceeded(f"{' '.join(argv)}: no answer within {timeout}s") from None
        except OSError as exc:
            raise errdefs.Unknown(f"{self.path}: {exc}") from exc
        if done.stderr:
            for line in done.stderr.decode(errors="replace").splitlines():
                log.info("shim %s: %s", action_args[-1], line)
        if done.returncode != 0:
            raise errdefs.Unknown(f"{self.path} {action_args[-1]}: {done.stdout.decode(errors='replace').strip()} "
                                  f"{done.stderr.decode(errors='replace').strip()}: exit status {done.returncode}")
        return done

    def start(self, bundle_path: Path, container_id: str, options: any_pb2.Any | None) -> str:
        """Run the start action; returns the address of the shim it launched. The runtime
        options go on its stdin, where containerd puts them (the runc shim reads its cgroup there)."""
        with trace.span("shim start"):
            done = self._run(["-id", container_id, "start"], bundle_path,
                             options.SerializeToString() if options is not None else b"", START_TIMEOUT)
        return parse_start_output(done.stdout)

    def delete(self, bundle_path: Path, container_id: str) -> shim_pb2.DeleteResponse:
        """Run the delete action once the shim is gone (it died, or was shut down after a failed
        create): it kills what the shim left running and answers with the task's exit (137,
        SIGKILL, for a container it had to kill)."""
        done = self._run(["-id", container_id, "-bundle", str(bundle_path), "delete"], bundle_path, b"",
                         DELETE_TIMEOUT)
        try:
            return shim_pb2.DeleteResponse.FromString(done.stdout)
        except _message.DecodeError as exc:
            raise errdefs.DataLoss(f"shim delete printed something other than a DeleteResponse: {exc}") from None


def _publish_binary() -> str:
    """What shims are told to publish events with: this daemon's own command. Shims that
    publish over TTRPC_ADDRESS (ours and runc's) never run it; the flag must name a file."""
    return os.path.abspath(sys.argv[0])


class ShimConnection:
    """A ttrpc connection to one shim; errors come back as errdefs kinds. on_lost(connection)
    is called if the shim ends the connection before close() does, as ttrpc.Client's on_lost."""

    def __init__(self, address: str, namespace: str, *, timeout: float = CONNECT_TIMEOUT,
                 on_lost: Callable[[ShimConnection], None] | None = None):
        self.namespace = namespace
        try:
            self._client = ttrpc.Client(socket_path(address), connect_timeout=timeout,
                                        on_lost=None if on_lost is None else lambda: on_lost(self))
        except ttrpc.RPCError as exc:  # the client chains the OSError of its connect
            raise errdefs.Unavailable(f"connect to shim at {address}: {exc.__cause__}") from None

    def call(self, method: str, request: _message.Message, response_type: type[_message.Message],
             timeout: float | None = None):
        metadata = {ttrpc.NAMESPACE_KEY: self.namespace}
        if trace.active():
            with trace.tracer().client_span(f"Task/{method}") as context:
                return self._call(method, request, response_type, timeout, metadata | context)
        return self._call(method, request, response_type, timeout, metadata)

    def _call(self, method: str, request: _message.Message, response_type: type[_message.Message],
              timeout: float | None, metadata: dict[str, str]):
        try:
            return self._client.call(TASK_SERVICE, method, request, response_type, metadata=metadata, timeout=timeout)
        except ttrpc.RPCError as exc:
            raise errdefs.from_grpc_code(int(exc.code), exc.message) from None

    def wait_closed(self, timeout: float) -> bool:
        """Wait until the shim has closed the connection; False if it has not within timeout."""
        return self._client.wait_closed(timeout)

    def close(self) -> None:
        self._client.close()

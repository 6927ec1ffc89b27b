"""The long-lived shim: one per container, forked by the fork server.

It makes itself a child subreaper (so the container's init becomes its child once pyrunc
exits), starts the reaper, serves containerd.task.v2.Task over ttrpc on the listening socket
`shim start` made, and exits once its task is deleted and containerd says Shutdown.
"""
import os
import socket
import sys
import threading

import errdefs
from protos import shim_pb2, trace, ttrpc

from .publisher import Publisher
from .reaper import Reaper, become_subreaper, block_signals
from .service import TaskService

TASK_SERVICE = shim_pb2.DESCRIPTOR.services_by_name["Task"]


class Traced:
    """The Task service, each call of a traced request (its ttrpc metadata carries the trace
    context, protos/trace.py) served in a span that the runtime's commands are traced under."""

    def __init__(self, service: TaskService):
        self._service = service

    def __getattr__(self, name: str):
        handler = getattr(self._service, name)

        def serve(request, context: ttrpc.Context):
            parent = trace.TraceContext.from_carrier(context.get)
            if parent is None:
                return handler(request, context)
            with trace.Span(name, "shim", parent):
                return handler(request, context)

        return serve


def _redirect_stdio(bundle: str) -> None:
    """stdin/stdout to /dev/null; stderr to the bundle's `log` FIFO when containerd made one
    (it reads the shim's log from there), else /dev/null. O_RDWR: a FIFO opened so never
    blocks and never raises EPIPE while containerd is away."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    log = os.path.join(bundle, "log")
    if os.path.exists(log):
        fd = os.open(log, os.O_RDWR)
        os.dup2(fd, 2)
        os.close(fd)
    else:
        os.dup2(devnull, 2)
    os.close(devnull)


def run(request: dict, listener_fd: int) -> None:
    """Serve until shut down. `request` is what `shim start` sent (see __main__.start)."""
    bundle = request["bundle"]
    os.chdir(bundle)
    _redirect_stdio(bundle)
    become_subreaper()
    block_signals()  # before any other thread starts: they all inherit the mask
    reaper = Reaper()
    done = threading.Event()

    def shut_down() -> None:
        done.set()
        reaper.wake()

    publisher = Publisher(request["ttrpc_address"], request["namespace"])
    # containerd's environment goes to the programs the shim runs, not into os.environ:
    # rewriting that would copy ~250 KiB of the fork server's pages into every shim.
    service = TaskService(namespace=request["namespace"], bundle=bundle, runtime_root=request["runtime_root"],
                          runtime_binary=request["runtime_binary"], env=request["env"], reaper=reaper,
                          publisher=publisher, on_shutdown=shut_down)
    server = ttrpc.Server(error_mapper=errdefs.status)
    # The rpcs the service lacks (Checkpoint) answer Unimplemented.
    server.register_service(TASK_SERVICE, Traced(service))
    listener = socket.socket(fileno=listener_fd)
    server.start(listener)
    reaper.run(until=done)
    # Shutdown is called from a handler: stop the server from here, after its answer left.
    server.shutdown(timeout=5)
    publisher.drain(timeout=5)
    try:
        os.unlink(request["socket_path"])
    except FileNotFoundError:
        pass
    sys.stderr.flush()

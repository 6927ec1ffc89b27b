"""pycontainerd: containerd's v1 gRPC API; starts a shim per container and never parents containers.

    __main__.py      flags and config file -> Config -> Server
    server.py        builds the plugins in dependency order, serves gRPC and ttrpc on unix sockets
    registry.py      Registration(type, id, requires, init) and the dependency order
    builtins.py      the plugins this daemon is made of
    grpc_errors.py   errdefs kinds -> gRPC status on the way out (a shim's ttrpc statuses
                     become kinds on the way in, in runtime/shim.py)
    core/            what the services manage, with no transport in it: metadata, events, filters
    runtime/         bundles, shim processes and their connections, the tasks they run
    services/        one gRPC (or ttrpc) servicer per containerd API service
"""
VERSION = "0.1.0"
REVISION = f"pydocker-{VERSION}"

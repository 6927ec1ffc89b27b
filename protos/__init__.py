"""The wire contract between pydockerd, pycontainerd and the shim: .proto files and their committed stubs.

Each .proto keeps containerd's own package, so gRPC paths, ttrpc service names and Any type
URLs are containerd's and the real components can take any side of a boundary:

    types.proto          containerd.types            Mount, Metric, Platform, Descriptor
    task.proto           containerd.v1.types         Status, Process, ProcessInfo
    containers.proto     containerd.services.containers.v1     Containers (gRPC)
    tasks.proto          containerd.services.tasks.v1          Tasks (gRPC)
    events.proto         containerd.services.events.v1         Events (gRPC), Envelope
    namespaces.proto     containerd.services.namespaces.v1     Namespaces (gRPC)
    version.proto        containerd.services.version.v1        Version (gRPC)
    introspection.proto  containerd.services.introspection.v1  Introspection (gRPC)
    ttrpc_events.proto   containerd.services.events.ttrpc.v1   Events.Forward (ttrpc, shims -> containerd)
    shim.proto           containerd.task.v2          Task (ttrpc, containerd -> shim)
    event_types.proto    containerd.events           TaskExit, ContainerCreate, ... (Envelope.event)
    runc_options.proto   containerd.runc.v1          Options, ProcessDetails
    ttrpc.proto          ttrpc                       Request, Response (ttrpc's own envelope)

ttrpc.py speaks ttrpc (client and server, no grpc); typeurl.py packs Any the way containerd
names types; gen.py regenerates the stubs. The shim imports only *_pb2 modules, ttrpc and
typeurl: *_pb2_grpc modules import grpc.
"""

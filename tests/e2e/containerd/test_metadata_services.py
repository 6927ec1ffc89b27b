"""pycontainerd's daemon-level services over gRPC: Version, Introspection, Namespaces and
Containers, their events, and records that survive a kill -9."""
import grpc
import pytest
from google.protobuf import empty_pb2, field_mask_pb2

from containerd import REVISION, VERSION
from protos import containers_pb2, event_types_pb2, introspection_pb2, namespaces_pb2, typeurl
from tests.fixtures.pycontainerd import NAMESPACE

pytestmark = pytest.mark.root


def test_version_and_introspection(pycontainerd):
    version = pycontainerd.version.Version(empty_pb2.Empty())
    assert (version.version, version.revision) == (VERSION, REVISION)
    server = pycontainerd.introspection.Server(empty_pb2.Empty())
    assert server.pid == pycontainerd.process.pid
    assert server.pidns > 0 and len(server.uuid) == 36
    plugins = pycontainerd.introspection.Plugins(introspection_pb2.PluginsRequest(
        filters=["type==io.containerd.grpc.v1", "id==task"])).plugins
    assert sorted((p.type, p.id) for p in plugins) == [
        ("io.containerd.grpc.v1", name)
        for name in ("containers", "content", "diff", "events", "images", "introspection", "leases", "namespaces",
                     "snapshots", "tasks", "version")
    ] + [("io.containerd.runtime.v2", "task")]
    tasks_plugin = next(p for p in plugins if p.id == "tasks")
    assert "io.containerd.runtime.v2" in tasks_plugin.requires

    pycontainerd.kill()
    pycontainerd.start()
    assert pycontainerd.introspection.Server(empty_pb2.Empty()).uuid == server.uuid


def test_namespaces_and_their_events(pycontainerd):
    events = pycontainerd.subscribe('topic~="^/namespaces/"')
    stub = pycontainerd.namespaces
    created = stub.Create(namespaces_pb2.CreateNamespaceRequest(
        namespace=namespaces_pb2.Namespace(name="team-a", labels={"owner": "alice", "tier": "gold"}))).namespace
    assert dict(created.labels) == {"owner": "alice", "tier": "gold"}
    with pytest.raises(grpc.RpcError) as raised:
        stub.Create(namespaces_pb2.CreateNamespaceRequest(namespace=namespaces_pb2.Namespace(name="team-a")))
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS

    updated = stub.Update(namespaces_pb2.UpdateNamespaceRequest(
        namespace=namespaces_pb2.Namespace(name="team-a", labels={"tier": "silver"}),
        update_mask=field_mask_pb2.FieldMask(paths=["labels.tier", "labels.owner"]))).namespace
    assert dict(updated.labels) == {"tier": "silver"}
    assert dict(stub.Get(namespaces_pb2.GetNamespaceRequest(name="team-a")).namespace.labels) == {"tier": "silver"}
    names = [n.name for n in stub.List(namespaces_pb2.ListNamespacesRequest()).namespaces]
    assert "team-a" in names

    stub.Delete(namespaces_pb2.DeleteNamespaceRequest(name="team-a"))
    with pytest.raises(grpc.RpcError) as raised:
        stub.Get(namespaces_pb2.GetNamespaceRequest(name="team-a"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    seen = [events.next() for _ in range(3)]
    assert [(e.topic, e.namespace) for e in seen] == [
        ("/namespaces/create", "team-a"), ("/namespaces/update", "team-a"), ("/namespaces/delete", "team-a")]
    assert dict(typeurl.unpack(seen[1].event, event_types_pb2.NamespaceUpdate).labels) == {"tier": "silver"}


def test_containers_crud_filters_and_persistence(pycontainerd):
    events = pycontainerd.subscribe(f'topic~="^/containers/",namespace=={NAMESPACE}')
    web = pycontainerd.create_container("true", labels={"app": "web", "com.example/tier": "front"})
    db = pycontainerd.create_container("true", labels={"app": "db"})
    # Creating a container made its namespace.
    assert NAMESPACE in [n.name for n in pycontainerd.namespaces.List(namespaces_pb2.ListNamespacesRequest()).namespaces]

    def listed(*filters):
        return [c.id for c in pycontainerd.containers("List", containers_pb2.ListContainersRequest(filters=filters)).containers]

    assert listed() == sorted([web.id, db.id])
    assert listed("labels.app==web") == [web.id]
    assert listed('labels."com.example/tier"') == [web.id]
    assert listed("labels.app==web", f"id=={db.id}") == sorted([web.id, db.id])
    assert listed(f"runtime.name=={pycontainerd.runtime},labels.app~=^d") == [db.id]
    streamed = pycontainerd.containers_stub.ListStream(containers_pb2.ListContainersRequest(filters=["labels.app==db"]),
                                                       metadata=pycontainerd.metadata)
    assert [m.container.id for m in streamed] == [db.id]
    with pytest.raises(grpc.RpcError) as raised:
        listed("labels.app=web")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    original = pycontainerd.containers("Get", containers_pb2.GetContainerRequest(id=web.id)).container
    assert original.runtime.name == pycontainerd.runtime and original.created_at.seconds > 0
    update = containers_pb2.Container(id=web.id, labels={"app": "website"}, image="busybox:latest")
    updated = pycontainerd.containers("Update", containers_pb2.UpdateContainerRequest(
        container=update, update_mask=field_mask_pb2.FieldMask(paths=["labels.app", "image"]))).container
    assert dict(updated.labels) == {"app": "website", "com.example/tier": "front"}
    assert updated.image == "busybox:latest" and updated.spec == original.spec
    assert updated.created_at == original.created_at and updated.updated_at.ToNanoseconds() > original.updated_at.ToNanoseconds()
    with pytest.raises(grpc.RpcError) as raised:
        pycontainerd.containers("Update", containers_pb2.UpdateContainerRequest(
            container=update, update_mask=field_mask_pb2.FieldMask(paths=["snapshotter"])))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    pycontainerd.kill()
    pycontainerd.start()
    assert pycontainerd.containers("Get", containers_pb2.GetContainerRequest(id=web.id)).container == updated
    pycontainerd.containers("Delete", containers_pb2.DeleteContainerRequest(id=db.id))
    assert listed() == [web.id]
    with pytest.raises(grpc.RpcError) as raised:
        pycontainerd.containers("Create", containers_pb2.CreateContainerRequest(container=updated))
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as raised:
        pycontainerd.namespaces.Delete(namespaces_pb2.DeleteNamespaceRequest(name=NAMESPACE))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # The subscription died with the first daemon; it had seen the first three changes.
    assert [e.topic for e in (events.next() for _ in range(3))] == [
        "/containers/create", "/containers/create", "/containers/update"]
    assert events.next() is None

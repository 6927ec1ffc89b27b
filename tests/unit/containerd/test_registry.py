"""Plugins are built in dependency order, as containerd's plugin graph orders them."""
import pytest

import errdefs
from containerd.builtins import PLUGINS
from containerd.registry import ALL_TYPES, Registration, dependency_order


def plugin(plugin_type: str, plugin_id: str, *requires: str) -> Registration:
    return Registration(type=plugin_type, id=plugin_id, requires=requires, init=lambda ic: None)


def uris(registrations) -> list[str]:
    return [r.uri for r in registrations]


def test_requirements_come_first_otherwise_registration_order():
    registrations = [
        plugin("grpc", "tasks", "runtime", "metadata"),
        plugin("grpc", "version"),
        plugin("runtime", "task", "event"),
        plugin("metadata", "sqlite"),
        plugin("event", "exchange"),
        plugin("grpc", "introspection", ALL_TYPES),
        plugin("grpc", "containers", "metadata", "event"),
    ]
    assert uris(dependency_order(registrations)) == [
        "event.exchange", "runtime.task", "metadata.sqlite", "grpc.tasks", "grpc.version",
        "grpc.containers", "grpc.introspection",
    ]


def test_every_plugin_of_a_required_type_comes_first():
    registrations = [plugin("user", "a", "store"), plugin("store", "one"), plugin("store", "two")]
    assert uris(dependency_order(registrations)) == ["store.one", "store.two", "user.a"]


def test_cycles_and_duplicates_are_refused():
    with pytest.raises(errdefs.FailedPrecondition):
        dependency_order([plugin("a", "x", "b"), plugin("b", "y", "a")])
    with pytest.raises(errdefs.AlreadyExists):
        dependency_order([plugin("a", "x"), plugin("a", "x")])


def test_the_daemons_own_plugins():
    ordered = uris(dependency_order(PLUGINS))
    assert ordered.index("io.containerd.event.v1.exchange") < ordered.index("io.containerd.runtime.v2.task")
    assert ordered.index("io.containerd.runtime.v2.task") < ordered.index("io.containerd.grpc.v1.tasks")
    assert ordered.index("io.containerd.metadata.v1.sqlite") < ordered.index("io.containerd.grpc.v1.containers")
    assert ordered[-1] == "io.containerd.grpc.v1.introspection"

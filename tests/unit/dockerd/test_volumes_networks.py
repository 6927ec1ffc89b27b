"""Local volumes on a temporary data root, and the predefined networks, with their filters."""
import json
from types import SimpleNamespace

import pytest

import errdefs
from dockerd.config import Config
from dockerd.daemon.filters import boolean, match_any, match_labels, validate
from dockerd.daemon.networks import NetworkService, network_id
from dockerd.daemon.volumes import ANONYMOUS_LABEL, VolumeService


@pytest.fixture
def daemon(tmp_path):
    events, users = [], {}
    return SimpleNamespace(
        config=Config(data_root=str(tmp_path)), events=SimpleNamespace(publish=lambda *a: events.append(a)),
        containers=SimpleNamespace(volume_users=lambda name: users.get(name, [])), recorded=events, users=users)


def test_volume_create_is_idempotent_and_kept_on_disk(daemon, tmp_path):
    volumes = VolumeService(daemon)
    made = volumes.create("data", labels={"a": "b"}, driver_opts={"type": "tmpfs", "device": "tmpfs"})
    assert made.mountpoint == str(tmp_path / "volumes" / "data" / "_data")
    assert (tmp_path / "volumes" / "data" / "_data").is_dir()
    assert volumes.create("data").labels == {"a": "b"}  # the existing one
    again = VolumeService(daemon).inspect("data")  # a new service reads it back from disk
    assert again["Name"] == "data" and again["Labels"] == {"a": "b"} and again["Scope"] == "local"
    assert again["Options"] == {"type": "tmpfs", "device": "tmpfs"} and again["Driver"] == "local"
    assert ("volume", "create", "data", {"driver": "local"}) in daemon.recorded


def test_volume_names_generated_or_checked(daemon):
    volumes = VolumeService(daemon)
    anonymous = volumes.create_anonymous()
    assert len(anonymous.name) == 64 and anonymous.labels == {ANONYMOUS_LABEL: ""}
    with pytest.raises(errdefs.InvalidArgument, match='includes invalid characters for a local volume name'):
        volumes.create("../x")
    with pytest.raises(errdefs.NotFound, match='plugin "nfs" not found'):
        volumes.create("x1", driver="nfs")
    with pytest.raises(errdefs.NotFound, match="^get nope: no such volume$"):
        volumes.get("nope")


def test_volume_rm_refused_in_use_and_force_ignores_missing(daemon, tmp_path):
    volumes = VolumeService(daemon)
    volumes.create("busy")
    daemon.users["busy"] = ["c" * 64]
    with pytest.raises(errdefs.Conflict, match=r"^remove busy: volume is in use - \[c{64}\]$"):
        volumes.remove("busy")
    daemon.users.clear()
    volumes.remove("busy")
    assert not (tmp_path / "volumes" / "busy").exists()
    with pytest.raises(errdefs.NotFound):
        volumes.remove("busy")
    volumes.remove("busy", force=True)
    assert ("volume", "destroy", "busy", {"driver": "local"}) in daemon.recorded


def test_volume_list_filters_prune_and_df(daemon, tmp_path):
    volumes = VolumeService(daemon)
    volumes.create("web-data", labels={"app": "web"})
    volumes.create("db-data", labels={"app": "db"})
    anonymous = volumes.create_anonymous()
    (tmp_path / "volumes" / "db-data" / "_data" / "f").write_bytes(b"x" * 10000)
    daemon.users["db-data"] = ["d" * 64]
    names = lambda listed: sorted(v["Name"] for v in listed)  # noqa: E731
    assert names(volumes.list({"name": ["data"]})) == ["db-data", "web-data"]
    assert names(volumes.list({"label": ["app=web"]})) == ["web-data"]
    assert names(volumes.list({"dangling": ["false"]})) == ["db-data"]
    assert names(volumes.list({"dangling": ["true"], "label": ["app"]})) == ["web-data"]
    assert names(volumes.list({"driver": ["local"]})) == sorted(["db-data", "web-data", anonymous.name])
    df = {v["Name"]: v["UsageData"] for v in volumes.df()}
    assert df["db-data"]["RefCount"] == 1 and df["db-data"]["Size"] >= 10000 and df["web-data"]["RefCount"] == 0
    assert volumes.prune()["VolumesDeleted"] == [anonymous.name]  # named volumes stay unless all=true
    assert volumes.prune({"all": ["true"]})["VolumesDeleted"] == ["web-data"]  # db-data is in use
    assert names(volumes.list()) == ["db-data"]


def test_networks_are_the_three_predefined(tmp_path):
    networks = NetworkService(SimpleNamespace(config=Config(data_root=str(tmp_path)), containers=SimpleNamespace()))
    listed = networks.list()
    assert [n["Name"] for n in listed] == ["bridge", "host", "none"]
    assert [n["Driver"] for n in listed] == ["bridge", "host", "null"]
    assert all(len(n["Id"]) == 64 and n["Created"].endswith("Z") for n in listed)
    assert networks.inspect(network_id("host")[:12])["Name"] == "host"
    assert networks.inspect("bridge")["IPAM"]["Config"] == [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]
    assert [n["Name"] for n in networks.list({"driver": ["null"]})] == ["none"]
    assert [n["Name"] for n in networks.list({"name": ["ost"]})] == ["host"]
    assert networks.list({"type": ["custom"]}) == []
    assert len(networks.list({"type": ["builtin"]})) == 3
    with pytest.raises(errdefs.NotFound, match="^network mynet not found$"):
        networks.inspect("mynet")
    with pytest.raises(errdefs.PermissionDenied, match="^bridge is a pre-defined network and cannot be removed$"):
        networks.remove("bridge")
    with pytest.raises(errdefs.NotImplemented, match="not supported yet"):
        networks.create("mynet")
    with pytest.raises(errdefs.Conflict, match="network with name host already exists"):
        networks.create("host")
    json.dumps(listed)


def test_filter_helpers():
    validate({"label": ["a"]}, ["label"])
    with pytest.raises(errdefs.InvalidArgument, match="invalid filter 'x'"):
        validate({"x": ["1"]}, ["label"])
    assert boolean({}, "dangling") is None and boolean({"dangling": ["1"]}, "dangling") is True
    assert match_labels({"label": ["a", "b=c", "d!=e"]}, {"a": "", "b": "c", "d": "f"})
    assert not match_labels({"label": ["b=c"]}, {"b": "x"}) and not match_labels({"label": ["d!=e"]}, {"d": "e"})
    assert match_any({}, "name", "x") and match_any({"name": ["we"]}, "name", "web", how="substring")
    assert not match_any({"id": ["ab"]}, "id", "cab", how="prefix")

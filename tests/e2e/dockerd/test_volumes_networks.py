"""Volumes and networks through pydockerd: the real Docker CLI, docker-py and raw HTTP."""
import json

import pytest

pytestmark = pytest.mark.root


def test_volume_create_ls_inspect_rm_prune_with_the_cli(pydocker):
    assert pydocker.docker("volume", "create", "--label", "a=b", "myvol").stdout.strip() == "myvol"
    anonymous = pydocker.docker("volume", "create").stdout.strip()
    assert len(anonymous) == 64
    listed = pydocker.docker("volume", "ls").stdout.splitlines()
    assert listed[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert ["local", "myvol"] in [line.split() for line in listed[1:]]
    assert pydocker.docker("volume", "ls", "-q", "--filter", "label=a=b").stdout.split() == ["myvol"]
    inspected = json.loads(pydocker.docker("volume", "inspect", "myvol").stdout)[0]
    assert inspected["Name"] == "myvol" and inspected["Driver"] == "local" and inspected["Labels"] == {"a": "b"}
    assert inspected["Mountpoint"] == str(pydocker.data_root / "volumes" / "myvol" / "_data")
    assert (pydocker.data_root / "volumes" / "myvol" / "_data").is_dir()
    # `volume create` without a name sends only the driver: the name is generated, not anonymous
    pruned = pydocker.docker("volume", "prune", "-a", "-f", "--filter", "label=a=b").stdout
    assert "myvol" in pruned
    assert pydocker.docker("volume", "rm", anonymous).stdout.strip() == anonymous
    missing = pydocker.docker("volume", "rm", "myvol", check=False)
    assert missing.returncode == 1 and "get myvol: no such volume" in missing.stderr
    assert pydocker.docker("volume", "ls", "-q").stdout.split() == []


def test_volume_df_and_docker_py(pydocker):
    client = pydocker.docker_py()
    volume = client.volumes.create("pyvol", labels={"x": "y"})
    assert volume.name == "pyvol" and volume.attrs["Labels"] == {"x": "y"}
    assert client.volumes.create("pyvol").name == "pyvol"  # the same name returns the existing volume
    assert [v.name for v in client.volumes.list(filters={"name": "pyv"})] == ["pyvol"]
    df = pydocker.docker("system", "df", "-v", check=False)
    if "ContainerService" not in df.stderr:  # df also lists containers: checked once they exist
        assert df.returncode == 0 and "pyvol" in df.stdout
    status, _, body = pydocker.raw("GET", "/v1.50/volumes/nope")
    assert (status, json.loads(body)) == (404, {"message": "get nope: no such volume"})
    status, _, body = pydocker.raw("POST", "/v1.50/volumes/create", {"Name": "../bad"})
    assert status == 400
    volume.remove()
    assert client.volumes.prune()["VolumesDeleted"] is None


def test_network_ls_shows_bridge_host_none(pydocker):
    listed = [line.split() for line in pydocker.docker("network", "ls").stdout.splitlines()]
    assert listed[0] == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert sorted(row[1:] for row in listed[1:]) == [["bridge", "bridge", "local"], ["host", "host", "local"],
                                                      ["none", "null", "local"]]
    assert all(len(row[0]) == 12 for row in listed[1:])
    inspected = json.loads(pydocker.docker("network", "inspect", "bridge").stdout)[0]
    assert inspected["Driver"] == "bridge" and inspected["IPAM"]["Config"][0]["Subnet"] == "172.17.0.0/16"
    assert pydocker.docker("network", "ls", "-q", "--filter", "driver=host").stdout.split() == \
        [inspected_id[:12] for inspected_id in [json.loads(pydocker.docker("network", "inspect", "host").stdout)[0]["Id"]]]
    refused = pydocker.docker("network", "rm", "bridge", check=False)
    assert refused.returncode == 1 and "bridge is a pre-defined network and cannot be removed" in refused.stderr
    missing = pydocker.docker("network", "rm", "mynet", check=False)
    assert missing.returncode == 1 and "network mynet not found" in missing.stderr
    created = pydocker.docker("network", "create", "mynet", check=False)
    assert created.returncode == 1 and "not supported yet" in created.stderr
    assert {n.name for n in pydocker.docker_py().networks.list()} == {"bridge", "host", "none"}

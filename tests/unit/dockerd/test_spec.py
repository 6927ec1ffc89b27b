"""The OCI spec pydockerd writes, from Config/HostConfig, without running anything."""
import signal

import pytest

import errdefs
from dockerd.daemon import spec
from dockerd.daemon.containers import ContainerService


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text("root:x:0:\nwheel:x:10:root,user\nuser:x:1000:\nstaff:x:50:\n")
    return spec.RootfsFiles([{"type": "bind", "source": str(tmp_path), "options": ["rbind"]}])


def test_users_resolve_as_runc_does(rootfs):
    assert spec.resolve_user("", rootfs) == {"uid": 0, "gid": 0, "additionalGids": [0, 10]}
    assert spec.resolve_user("user", rootfs) == {"uid": 1000, "gid": 1000, "additionalGids": [10, 1000]}
    assert spec.resolve_user("1000:50", rootfs) == {"uid": 1000, "gid": 50}
    assert spec.resolve_user("user:staff", rootfs) == {"uid": 1000, "gid": 50}
    assert spec.resolve_user("4242", rootfs) == {"uid": 4242, "gid": 0, "additionalGids": [0]}
    with pytest.raises(errdefs.InvalidArgument, match="unable to find user nobody"):
        spec.resolve_user("nobody", rootfs)


def test_an_overlay_is_read_top_down(tmp_path):
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    for layer, text in ((upper, "upper\n"), (lower, "lower\n")):
        (layer / "etc").mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("lower\n")
    (lower / "etc" / "group").write_text("g\n")
    (upper / "etc" / "passwd").write_text("upper\n")
    files = spec.RootfsFiles([{"type": "overlay", "source": "overlay",
                               "options": [f"upperdir={upper}", f"lowerdir={lower}", "workdir=/w"]}])
    assert (files.read("/etc/passwd"), files.read("/etc/group"), files.read("/nope")) == ("upper\n", "g\n", None)


def test_cmd_and_entrypoint_merge_as_moby():
    image = {"Entrypoint": ["/entry"], "Cmd": ["default"], "Env": ["PATH=/bin", "A=1"]}
    merge = ContainerService._merge_image_config
    assert merge({"Cmd": None, "Entrypoint": None}, image)[("Entrypoint")] == ["/entry"]
    assert merge({"Cmd": None, "Entrypoint": None}, image)["Cmd"] == ["default"]
    assert merge({"Cmd": ["x"], "Entrypoint": None}, image)["Cmd"] == ["x"]
    cleared = merge({"Cmd": None, "Entrypoint": [""]}, image)
    assert (cleared["Entrypoint"], cleared["Cmd"]) == ([], ["default"])
    own = merge({"Cmd": None, "Entrypoint": ["/mine"]}, image)
    assert (own["Entrypoint"], own["Cmd"]) == (["/mine"], None)
    assert merge({"Env": ["A=2", "B=3"]}, image)["Env"] == ["PATH=/bin", "A=2", "B=3"]


def test_capabilities_add_drop_all_and_privileged(monkeypatch):
    assert spec.capabilities(None, None, False) == spec.DEFAULT_CAPABILITIES
    caps = spec.capabilities(["net_admin"], ["CAP_CHOWN", "kill"], False)
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps and "CAP_KILL" not in caps
    assert spec.capabilities(None, ["ALL"], False) == []
    held = [name for name in spec.ALL_CAPABILITIES if name != "CAP_SYS_RESOURCE"]
    monkeypatch.setattr(spec, "_bounding_capabilities", lambda: held)
    assert spec.capabilities(["ALL"], None, False) == held
    assert spec.capabilities(None, None, True) == held
    with pytest.raises(errdefs.InvalidArgument):
        spec.capabilities(["bogus"], None, False)


@pytest.mark.parametrize("text, number", [("9", 9), ("KILL", 9), ("sigterm", 15), ("Hup", 1), ("SIGRTMIN+1", None)])
def test_signals_by_name_or_number_in_any_case(text, number):
    expected = number if number is not None else int(signal.SIGRTMIN) + 1
    assert spec.parse_signal(text) == expected


def test_bad_signals_and_binds_are_invalid_arguments():
    for bad in ("NOPE", "0", "99"):
        with pytest.raises(errdefs.InvalidArgument):
            spec.parse_signal(bad)
    assert spec.parse_bind("/src:/dst:ro") == ("/src", "/dst", ["ro"])
    assert spec.parse_bind("vol:/data") == ("vol", "/data", [])
    for bad in ("/only", "/a:relative", "/a:/b:bogus"):
        with pytest.raises(errdefs.InvalidArgument):
            spec.parse_bind(bad)


def test_the_whole_spec_has_dockers_defaults_and_the_request():
    built = spec.build(container_id="c" * 64, config={"Tty": True, "Env": ["FOO=bar"], "WorkingDir": "/srv"},
                       host_config={"Memory": 64 << 20, "NanoCpus": 1_500_000_000, "PidsLimit": 100,
                                    "ReadonlyRootfs": True, "CapAdd": ["SYS_ADMIN"]},
                       args=["sh"], user={"uid": 0, "gid": 0}, hostname="h", mounts=[spec.tmpfs_mount("/run", "")],
                       cgroups_path="/pydocker/" + "c" * 64, host_network=False)
    process = built["process"]
    assert process["terminal"] and process["cwd"] == "/srv"
    assert process["env"][:2] == [spec.DEFAULT_PATH, "HOSTNAME=h"] and "TERM=xterm" in process["env"]
    assert "FOO=bar" in process["env"]
    assert built["root"] == {"path": "rootfs", "readonly": True}
    assert {"type": "network"} in built["linux"]["namespaces"]
    resources = built["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 << 20}
    assert resources["cpu"] == {"period": 100000, "quota": 150000}
    assert resources["pids"] == {"limit": 100}
    assert built["linux"]["maskedPaths"] == spec.MASKED_PATHS
    blocked = built["linux"]["seccomp"]["syscalls"][0]["names"]
    assert "reboot" in blocked and "mount" not in blocked  # CAP_SYS_ADMIN unblocks mount
    assert any(m["destination"] == "/run" and m["type"] == "tmpfs" for m in built["mounts"])
    host = spec.build(container_id="c" * 64, config={}, host_config={"Privileged": True}, args=["sh"],
                      user={"uid": 0, "gid": 0}, hostname="h", mounts=[], cgroups_path="/x", host_network=True)
    assert {"type": "network"} not in host["linux"]["namespaces"]
    assert "seccomp" not in host["linux"] and "maskedPaths" not in host["linux"]

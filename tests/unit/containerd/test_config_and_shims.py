"""Configuration (containerd's config.toml keys, flags win) and the shim helpers that need no
shim: binary names and lookup, and what a start action may print."""
import os
import sys
from pathlib import Path

import pytest

import errdefs
from containerd import config
from containerd.__main__ import parse_args
from containerd.runtime.shim import binary_name, find_binary, parse_start_output


def test_defaults():
    loaded = config.load("/nonexistent/config.toml", required=False)
    assert (loaded.address, loaded.root, loaded.state) == (
        "/run/pycontainerd/pycontainerd.sock", "/var/lib/pycontainerd", "/run/pycontainerd")
    assert loaded.ttrpc_address == "/run/pycontainerd/pycontainerd.sock.ttrpc"
    with pytest.raises(errdefs.NotFound):
        config.load("/nonexistent/config.toml", required=True)


def test_config_file_keys_then_flags(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('version = 2\nroot = "/srv/root"\nstate = "/srv/state"\n'
                    '[grpc]\n  address = "/srv/c.sock"\n[debug]\n  level = "debug"\n'
                    '[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "ignored"\n')
    loaded = config.load(str(path), required=True)
    assert (loaded.address, loaded.root, loaded.state, loaded.log_level) == (
        "/srv/c.sock", "/srv/root", "/srv/state", "debug")
    args = parse_args(["--config", str(path), "--state", "relative/state", "-l", "warn"])
    overridden = loaded.with_overrides(address=args.address, root=args.root, state=args.state, log_level=args.log_level)
    assert (overridden.address, overridden.state, overridden.log_level) == (
        "/srv/c.sock", os.path.abspath("relative/state"), "warn")


@pytest.mark.parametrize("text, complaint", [
    ("root = 3\n", "root must be a string"),
    ("[debug]\nlevel = \"loud\"\n", 'debug.level: unknown log level "loud"'),
    ("[grpc]\naddress = 3\n", "grpc.address must be a string"),
    ("grpc = \"/c.sock\"\n", "[grpc] must be a table"),
    ("root = \n", "config file"),
])
def test_bad_config_files(tmp_path, text, complaint):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(errdefs.InvalidArgument) as raised:
        config.load(str(path), required=True)
    assert complaint in str(raised.value)


def test_shim_binary_names():
    assert binary_name("io.containerd.runc.v2") == "containerd-shim-runc-v2"
    assert binary_name("io.containerd.pydocker.v1") == "containerd-shim-pydocker-v1"
    with pytest.raises(errdefs.InvalidArgument):
        binary_name("runc")


def test_shim_binaries_are_found_beside_the_interpreter_first(tmp_path, monkeypatch):
    beside = Path(sys.executable).parent / "containerd-shim-pydocker-v1"
    assert find_binary("io.containerd.pydocker.v1") == str(beside)
    on_path = tmp_path / "containerd-shim-elsewhere-v1"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_binary("io.containerd.elsewhere.v1") == str(on_path)
    assert find_binary(str(on_path)) == str(on_path)
    with pytest.raises(errdefs.NotFound):
        find_binary("io.containerd.missing.v1")


@pytest.mark.parametrize("output, address", [
    (b"unix:///run/containerd/s/abc\n", "unix:///run/containerd/s/abc"),
    (b'{"version":2,"address":"unix:///run/s/x","protocol":"ttrpc"}', "unix:///run/s/x"),
])
def test_start_output(output, address):
    assert parse_start_output(output) == address


@pytest.mark.parametrize("output", [b"", b"/run/s/x", b'{"address":"unix:///x","protocol":"grpc"}', b"{broken"])
def test_bad_start_output(output):
    with pytest.raises(errdefs.Error):
        parse_start_output(output)


"""dockerd's flags merged over daemon.json, and the listeners -H names."""
import json
import os
import socket
import stat

import pytest

import errdefs
from dockerd.__main__ import load_config, main
from dockerd.config import DEFAULT_HOST
from dockerd.server import listeners


def test_flags(tmp_path):
    config = load_config(["-H", "unix:///a.sock", "--host", "tcp://127.0.0.1:2375", "--containerd", "/c.sock",
                          "--data-root", "/d", "--exec-root", "/e", "--pidfile", "/p", "-D", "--log-level", "warn",
                          "--insecure-registry", "r1:5000", "--insecure-registry", "r2", "--registry-mirror",
                          "http://m", "--cgroup-parent", "/cg", "--config-file", os.devnull])
    assert config.hosts == ["unix:///a.sock", "tcp://127.0.0.1:2375"]
    assert (config.containerd, config.data_root, config.exec_root, config.pidfile) == ("/c.sock", "/d", "/e", "/p")
    assert config.debug and config.log_level == "warn" and config.cgroup_parent == "/cg"
    assert config.insecure_registries == ["r1:5000", "r2"] and config.registry_mirrors == ["http://m"]


def test_daemon_json(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"hosts": ["unix:///x.sock"], "data-root": "/d", "debug": True,
                                "registry-mirrors": ["http://127.0.0.1:5000"], "insecure-registries": ["127.0.0.1:5000"],
                                "cgroup-parent": "/cg"}))
    config = load_config(["--config-file", str(path), "--exec-root", "/e"])
    assert config.hosts == ["unix:///x.sock"] and config.data_root == "/d" and config.exec_root == "/e"
    assert config.debug and config.cgroup_parent == "/cg"
    assert config.registry_mirrors == ["http://127.0.0.1:5000"] and config.insecure_registries == ["127.0.0.1:5000"]
    assert config.config_file == str(path)


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr("dockerd.config.DEFAULT_CONFIG_FILE", str(tmp_path / "absent.json"))
    assert load_config([]).hosts == [DEFAULT_HOST]


def test_a_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(errdefs.NotFound):
        load_config(["--config-file", str(tmp_path / "absent.json")])


@pytest.mark.parametrize("text, words", [
    ("{not json", "unable to configure the daemon"),
    ('{"colour": "red"}', "don't match any configuration option: colour"),
    ('{"debug": "yes"}', "debug must be a boolean"),
    ('{"hosts": "unix:///a"}', "hosts must be a list of strings"),
    ('{"log-level": "loud"}', "log-level 'loud'"),
])
def test_bad_files_name_the_problem(tmp_path, text, words):
    path = tmp_path / "daemon.json"
    path.write_text(text)
    with pytest.raises(errdefs.InvalidArgument, match=words):
        load_config(["--config-file", str(path)])


def test_a_directive_both_in_a_flag_and_the_file_is_an_error(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"data-root": "/from-file"}')
    with pytest.raises(errdefs.InvalidArgument, match="specified both as a flag and in the configuration file: data-root"):
        load_config(["--config-file", str(path), "--data-root", "/from-flag"])


def test_main_exits_1_with_the_message(tmp_path, capsys):
    path = tmp_path / "daemon.json"
    path.write_text('{"colour": "red"}')
    assert main(["--config-file", str(path)]) == 1
    assert "colour" in capsys.readouterr().err


def test_unix_listener_mode_and_stale_socket(tmp_path):
    path = tmp_path / "d.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # a file nobody listens on, as kill -9 leaves it
    [sock] = listeners.bind([f"unix://{path}"])
    with sock:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        with pytest.raises(errdefs.AlreadyExists):  # a live one is not stale
            listeners.bind([f"unix://{path}"])
    listeners.cleanup([f"unix://{path}"])
    assert not path.exists()


def test_tcp_and_several_listeners(tmp_path):
    sockets = listeners.bind(["tcp://127.0.0.1:0", f"unix://{tmp_path}/a.sock"])
    try:
        assert sockets[0].getsockname()[0] == "127.0.0.1"
        assert sockets[1].family == socket.AF_UNIX
    finally:
        for sock in sockets:
            sock.close()


def test_socket_activation(monkeypatch):
    passed = socket.socket()
    passed.bind(("127.0.0.1", 0))
    passed.listen()
    fd = passed.fileno()
    monkeypatch.setattr(listeners, "_SD_LISTEN_FDS_START", fd)
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    monkeypatch.setenv("LISTEN_FDS", "1")
    # Each bind wraps the same fd: detach the wrappers so that only `passed` closes it.
    assert listeners.bind(["fd://"])[0].detach() == fd
    assert listeners.bind([f"fd://{fd}"])[0].detach() == fd
    with pytest.raises(errdefs.NotFound):
        listeners.bind([f"fd://{fd + 1}"])
    passed.close()


def test_socket_activation_needs_passed_sockets(monkeypatch):
    monkeypatch.delenv("LISTEN_PID", raising=False)
    with pytest.raises(errdefs.NotFound):
        listeners.bind(["fd://"])


@pytest.mark.parametrize("host", ["http://x", "unix://", "/var/run/docker.sock", "tcp://127.0.0.1:notaport"])
def test_bad_hosts(host):
    with pytest.raises(errdefs.InvalidArgument):
        listeners.bind([host])

"""dockerd's flags merged over daemon.json (every key, every error naming its key), a
reload of daemon.json, TCP refused without TLS client verification, and the listeners -H
names."""
import grp
import json
import logging
import os
import socket
import ssl
import stat

import pytest

import errdefs
from dockerd import config as config_module
from dockerd.__main__ import load_config, main
from dockerd.config import DEFAULT_HOST
from dockerd.server import listeners, tls
from tests.fixtures.certs import make_certs


def test_flags(tmp_path):
    config = load_config(["-H", "unix:///a.sock", "--host", "tcp://127.0.0.1:2376", "--containerd", "/c.sock",
                          "--data-root", "/d", "--exec-root", "/e", "--pidfile", "/p", "-D", "--log-level", "warn",
                          "--insecure-registry", "r1:5000", "--insecure-registry", "r2", "--registry-mirror",
                          "http://m", "--cgroup-parent", "/cg", "--config-file", os.devnull, "-G", "staff",
                          "--tlsverify", "--tlscacert", "/t/ca.pem", "--tlscert", "/t/cert.pem", "--tlskey", "/t/key.pem"])
    assert config.hosts == ["unix:///a.sock", "tcp://127.0.0.1:2376"]
    assert (config.containerd, config.data_root, config.exec_root, config.pidfile) == ("/c.sock", "/d", "/e", "/p")
    assert config.debug and config.log_level == "warn" and config.cgroup_parent == "/cg"
    assert config.insecure_registries == ["r1:5000", "r2"] and config.registry_mirrors == ["http://m"]
    assert config.group == "staff" and config.uses_tls and config.verifies_clients
    assert (config.tlscacert, config.tlscert, config.tlskey) == ("/t/ca.pem", "/t/cert.pem", "/t/key.pem")


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


def test_every_daemon_json_key(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CERT_PATH", "/certs")
    path = tmp_path / "daemon.json"
    ulimits = {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 1024}, "nproc": {"Hard": 10, "Soft": 5}}
    path.write_text(json.dumps({
        "log-driver": "none", "log-opts": {"anything": "goes with none"}, "live-restore": False,
        "default-ulimits": ulimits, "group": "staff", "tls": True, "log-level": "error",
        "tlscacert": "/x/ca.pem"}))
    config = load_config(["--config-file", str(path)])
    assert (config.log_driver, config.log_opts, config.live_restore) == ("none", {"anything": "goes with none"}, False)
    assert config.default_ulimits == {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 1024},
                                      "nproc": {"Name": "nproc", "Hard": 10, "Soft": 5}}
    assert config.group == "staff" and config.log_level == "error" and config.level == logging.ERROR
    # --tls alone asks for client verification, as dockerd's does; the files default to DOCKER_CERT_PATH's
    assert config.uses_tls and config.verifies_clients
    assert (config.tlscacert, config.tlscert, config.tlskey) == ("/x/ca.pem", "/certs/cert.pem", "/certs/key.pem")


def test_defaults_of_the_new_keys(tmp_path):
    config = load_config(["--config-file", os.devnull])
    assert (config.log_driver, config.log_opts, config.live_restore, config.default_ulimits) == ("json-file", {}, True, {})
    assert config.group == "pydocker" and not config.uses_tls and not config.verifies_clients


@pytest.mark.parametrize("directives, words", [
    ({"log-driver": "syslog"}, "log-driver: logger: no log driver named 'syslog' is registered"),
    ({"log-driver": 3}, "log-driver must be a string"),
    ({"log-opts": {"max-size": "big"}}, "log-opts: invalid size: 'big'"),
    ({"log-opts": {"max-size": "0"}}, "log-opts: max-size must be a positive number"),
    ({"log-opts": {"max-file": "0"}}, "log-opts: max-file cannot be less than 1"),
    ({"log-opts": {"max-file": "two"}}, 'log-opts: strconv.Atoi: parsing "two": invalid syntax'),
    ({"log-opts": {"compress": "true"}}, "log-opts: compress is not supported"),
    ({"log-opts": {"colour": "red"}}, "log-opts: unknown log opt 'colour' for json-file log driver"),
    ({"log-opts": {"max-file": 3}}, "log-opts must be an object of strings"),
    ({"live-restore": "yes"}, "live-restore must be a boolean"),
    ({"default-ulimits": []}, "default-ulimits must be an object"),
    ({"default-ulimits": {"files": {"Hard": 1, "Soft": 1}}}, "default-ulimits: invalid ulimit type: files"),
    ({"default-ulimits": {"nofile": {"Name": "nproc", "Hard": 1, "Soft": 1}}}, "invalid ulimit type: nproc"),
    ({"default-ulimits": {"nofile": {"Hard": "1", "Soft": 1}}}, "default-ulimits: nofile: Hard and Soft must be"),
    ({"default-ulimits": {"nofile": {"Hard": 1, "Soft": 2}}},
     "default-ulimits: nofile: ulimit soft limit must be less than or equal to hard limit: 2 > 1"),
    ({"default-ulimits": {"nofile": {"Hard": 1, "Soft": 1, "Size": 1}}}, "default-ulimits: nofile must be an object"),
    ({"group": 0}, "group must be a string"),
    ({"tls": "on"}, "tls must be a boolean"),
    ({"tlsverify": 1}, "tlsverify must be a boolean"),
    ({"tlscacert": ["/ca.pem"]}, "tlscacert must be a string"),
    ({"tlscert": None}, "tlscert must be a string"),
    ({"tlskey": 1}, "tlskey must be a string"),
])
def test_bad_directives_name_their_key(tmp_path, directives, words):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(directives))
    with pytest.raises(errdefs.InvalidArgument, match="unable to configure the daemon with file") as raised:
        load_config(["--config-file", str(path)])
    assert words in str(raised.value)


def test_bad_json_says_where(tmp_path, capsys):
    path = tmp_path / "daemon.json"
    path.write_text('{\n  "debug": true,\n  "log-level": "info",,\n}')
    assert main(["--config-file", str(path)]) == 1
    assert "line 3 column 23" in capsys.readouterr().err


def test_new_flags_conflict_with_the_file_as_the_others_do(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"group": "staff", "tlsverify": true}')
    with pytest.raises(errdefs.InvalidArgument, match="both as a flag and in the configuration file: group: "
                                                       r"\(from flag: wheel, from file: staff\), tlsverify"):
        load_config(["--config-file", str(path), "-G", "wheel", "--tlsverify"])


@pytest.mark.parametrize("argv, file", [
    (["-H", "tcp://127.0.0.1:2376"], {}),
    (["-H", "tcp://0.0.0.0"], {}),
    (["--tls"], {"hosts": ["tcp://127.0.0.1:2376"], "tlsverify": False}),  # TLS that lets anyone in
])
def test_tcp_without_tls_client_verification_is_refused(tmp_path, capsys, argv, file):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(file))
    argv = [*argv, "--config-file", str(path), "--data-root", str(tmp_path / "d"), "--exec-root", str(tmp_path / "e")]
    with pytest.raises(errdefs.InvalidArgument, match="refusing to listen on tcp://.* without TLS client verification"):
        load_config(argv)
    assert main(argv) == 1
    assert "--tlsverify, --tlscacert, --tlscert and --tlskey" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # refused before anything is made


def test_tls_context_requires_client_certificates_from_the_ca(tmp_path):
    certs = make_certs(tmp_path)
    config = load_config(["-H", "tcp://127.0.0.1:2376", "--tlsverify", "--tlscacert", str(certs.ca), "--tlscert",
                          str(certs.server_cert), "--tlskey", str(certs.server_key), "--config-file", os.devnull])
    context = tls.server_context(config)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "pydocker test CA"),),)]


@pytest.mark.parametrize("flag, key", [("--tlscert", "tlscert"), ("--tlskey", "tlskey"), ("--tlscacert", "tlscacert")])
def test_missing_tls_files_are_named(tmp_path, flag, key):
    certs = make_certs(tmp_path)
    files = {"--tlscacert": str(certs.ca), "--tlscert": str(certs.server_cert), "--tlskey": str(certs.server_key)}
    files[flag] = str(tmp_path / "absent.pem")
    config = load_config(["--tlsverify", *[a for pair in files.items() for a in pair], "--config-file", os.devnull])
    with pytest.raises(errdefs.InvalidArgument, match=f"invalid TLS configuration: .*{key} {tmp_path}/absent.pem"):
        tls.server_context(config)


def test_reload_applies_the_reloadable_keys_in_place(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"registry-mirrors": ["http://old"], "data-root": "/d1"}))
    config = load_config(["--config-file", str(path), "--log-level", "warn"])
    mirrors_before = config.registry_mirrors
    path.write_text(json.dumps({"registry-mirrors": ["http://new"], "insecure-registries": ["new:5000"],
                                "debug": True, "data-root": "/d2", "group": "staff"}))
    changed, for_restart = config_module.reload(config)
    assert changed == ["debug", "insecure-registries", "registry-mirrors"]
    assert for_restart == ["data-root", "group"]
    assert config.registry_mirrors == ["http://new"] and config.insecure_registries == ["new:5000"] and config.debug
    assert mirrors_before == ["http://old"]  # a pull in flight keeps the list it read
    assert config.data_root == "/d1" and config.group == "pydocker" and config.log_level == "warn"  # flags stay


def test_reload_of_a_broken_file_keeps_the_configuration(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"registry-mirrors": ["http://old"]}))
    config = load_config(["--config-file", str(path), "--debug"])
    before = vars(config).copy()
    for text, words in [('{"registry-mirrors": "http://new"}', "registry-mirrors must be a list of strings"),
                        ('{"registry-mirrors": ["http://new"], "mirrors": []}', "configuration option: mirrors"),
                        ('{"registry-mirrors": ["http://new"], "debug": false}', "both as a flag and in the"),
                        ('{"registry-mirrors": ["http://new"],', "line 1 column 37")]:
        path.write_text(text)
        with pytest.raises(errdefs.InvalidArgument, match=words):
            config_module.reload(config)
        assert vars(config) == before


def test_log_levels_change_live(tmp_path):
    root = logging.getLogger()
    level = root.level
    try:
        config = load_config(["--config-file", os.devnull, "--log-level", "error"])
        config_module.apply_log_levels(config)
        assert root.level == logging.ERROR and logging.getLogger("uvicorn.access").level == logging.WARNING
        config.debug = True
        config_module.apply_log_levels(config)
        assert root.level == logging.DEBUG and logging.getLogger("uvicorn.access").level == logging.INFO
    finally:
        root.setLevel(level)


def test_unix_socket_group(tmp_path, monkeypatch):
    group = grp.getgrgid(os.getgid() if os.getgid() else 1)  # not root's own: a change to see
    path = tmp_path / "g.sock"
    [sock] = listeners.bind([f"unix://{path}"], group=group.gr_name)
    with sock:
        assert os.stat(path).st_gid == group.gr_gid
    listeners.cleanup([f"unix://{path}"])
    # the default group missing is no error (root's group stays); another missing one is
    monkeypatch.setattr(listeners, "DEFAULT_GROUP", "pydocker-absent-group")
    [sock] = listeners.bind([f"unix://{path}"], group="pydocker-absent-group")
    with sock:
        assert os.stat(path).st_gid == os.getgid()
    listeners.cleanup([f"unix://{path}"])
    with pytest.raises(errdefs.NotFound, match="group no-such-group-here not found"):
        listeners.bind([f"unix://{path}"], group="no-such-group-here")
    assert not path.exists()

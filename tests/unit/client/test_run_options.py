"""run and create: flags into the create body as the Docker CLI (28.2) builds it, and docker's
words for bad values, at the stage docker reports them (flag, options, daemon)."""
import json

import pytest

from client.__main__ import CommandError, main
from client.commands import load
from client.commands.run import (OptionsError, container_config, encode_json, memory_bytes, mount, nano_cpus,
                                 port_specs, read_kv_file, restart_policy, start_failure_status, volume_spec)

# What Docker CLI 28.2.2 sent for `docker create busybox echo hi`, byte for byte.
DOCKER_CREATE_BODY = (
    '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,'
    '"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["echo","hi"],'
    '"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},'
    '"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},'
    '"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},'
    '"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,'
    '"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,'
    '"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"",'
    '"Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"",'
    '"UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"",'
    '"BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],'
    '"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,'
    '"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,'
    '"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,'
    '"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,'
    '"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},'
    '"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,'
    '"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"",'
    '"IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,'
    '"DNSNames":null}}}}')


def body(*argv: str) -> dict:
    _, args = load(["create", *argv])
    return container_config(args)


def test_the_body_is_the_docker_clis_byte_for_byte():
    assert encode_json(body("busybox", "echo", "hi")).decode() == DOCKER_CREATE_BODY + "\n"


def test_every_flag_lands_where_docker_puts_it(monkeypatch):
    monkeypatch.delenv("A", raising=False)
    got = body("-e", "A=1", "-e", "UNSET_HERE", "-w", "/tmp", "-u", "1:2", "-h", "hst", "-l", "a=b", "-l", "c",
               "--read-only", "--cap-add", "net_admin", "--cap-drop", "CHOWN", "--privileged", "--init",
               "--stop-signal", "USR1", "--stop-timeout", "5", "-p", "8080:80", "-p",
               "127.0.0.1:9000-9001:9000-9001/udp", "--expose", "7000", "-v", "/tmp:/h:ro", "-v", "/anon",
               "--mount", "type=bind,src=/tmp,dst=/m,readonly", "--mount",
               "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1777", "--tmpfs", "/run:size=1m", "-m", "64m",
               "--cpus", "1.5", "--pids-limit", "50", "--restart", "on-failure:3", "--network", "none",
               "--entrypoint", "/bin/sh", "-i", "-t", "busybox", "-c", "true")
    expected = json.loads(DOCKER_CREATE_BODY)
    expected.update(Hostname="hst", User="1:2", AttachStdin=True, Tty=True, OpenStdin=True, StdinOnce=True,
                    Env=["A=1", "UNSET_HERE"], Cmd=["-c", "true"], Volumes={"/anon": {}}, WorkingDir="/tmp",
                    Entrypoint=["/bin/sh"], Labels={"a": "b", "c": ""}, StopSignal="USR1", StopTimeout=5,
                    ExposedPorts={"7000/tcp": {}, "80/tcp": {}, "9000/udp": {}, "9001/udp": {}})
    expected["HostConfig"].update(
        Binds=["/tmp:/h:ro"], NetworkMode="none", RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 3},
        PortBindings={"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                      "9000/udp": [{"HostIp": "127.0.0.1", "HostPort": "9000"}],
                      "9001/udp": [{"HostIp": "127.0.0.1", "HostPort": "9001"}]},
        CapAdd=["CAP_NET_ADMIN"], CapDrop=["CAP_CHOWN"], Privileged=True, ReadonlyRootfs=True,
        Tmpfs={"/run": "size=1m"}, Memory=64 << 20, NanoCpus=1_500_000_000, PidsLimit=50, Init=True,
        Mounts=[{"Type": "bind", "Source": "/tmp", "Target": "/m", "ReadOnly": True},
                {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1777}}])
    expected["NetworkingConfig"]["EndpointsConfig"] = {}
    assert got == expected


def test_attach_interactive_entrypoint_and_networks():
    got = body("-a", "stdout", "-a", "STDERR", "--entrypoint=", "--network", "n1", "--net", "n2", "busybox")
    assert (got["AttachStdin"], got["AttachStdout"], got["AttachStderr"], got["Entrypoint"]) == \
        (False, True, True, [""])
    assert got["HostConfig"]["NetworkMode"] == "n1"
    assert list(got["NetworkingConfig"]["EndpointsConfig"]) == ["n1", "n2"]
    got = body("-a", "stdin", "-i", "busybox")
    assert (got["AttachStdin"], got["AttachStdout"], got["StdinOnce"], got["OpenStdin"]) == (True, False, True, True)
    assert "Init" not in body("busybox")["HostConfig"]
    assert body("--init=false", "busybox")["HostConfig"]["Init"] is False


def test_capabilities_as_the_cli_sends_them():
    got = body("--cap-add", "sys_admin", "--cap-add", "all", "--cap-add", "net_admin", "--cap-add", "NET_ADMIN",
               "--cap-drop", "CAP_chown", "--cap-drop", "sys_admin", "busybox")["HostConfig"]
    assert (got["CapAdd"], got["CapDrop"]) == (["ALL", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"],
                                               ["CAP_CHOWN", "CAP_SYS_ADMIN"])


def test_flags_end_at_the_image():
    _, args = load(["run", "-d", "busybox", "sh", "-c", "exit 3", "-d"])
    assert (args.detach, args.arguments) == (True, ["busybox", "sh", "-c", "exit 3", "-d"])
    _, args = load(["run", "-h", "box", "--", "busybox", "-x"])
    assert (args.hostname, args.arguments) == ("box", ["busybox", "-x"])
    _, args = load(["run", "-it", "-eA=1", "-p80", "busybox"])
    assert (args.interactive, args.tty, args.env, args.publish) == (True, True, ["A=1"], ["80"])
    _, args = load(["exec", "-it", "box", "sh", "-c", "echo -i"])
    assert (args.container, args.arguments, args.interactive) == ("box", ["sh", "-c", "echo -i"], True)
    _, args = load(["attach", "box", "--sig-proxy=false"])
    assert (args.container, args.sig_proxy, "sig_proxy" in args.given) == ("box", False, True)


@pytest.mark.parametrize("text, size", [
    ("512", 512), ("1b", 1), ("64m", 64 << 20), ("64M", 64 << 20), ("1.5g", 3 << 29), ("2KiB", 2048),
    ("10 MB", 10 << 20), ("1kb", 1024), ("1t", 1 << 40),
])
def test_memory_units(text, size):
    assert memory_bytes(text) == size


@pytest.mark.parametrize("text, error", [
    ("1x", "invalid suffix: 'x'"), ("1kbb", "invalid suffix: 'kbb'"), ("1bb", "invalid suffix: 'bb'"),
    ("-1", "invalid size: '-1'"), ("abc", "invalid size: 'abc'"),
    ("1.2.3m", 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'),
])
def test_memory_errors(text, error):
    with pytest.raises(ValueError, match=f"^{error}$".replace(".", r"\.")):
        memory_bytes(text)


def test_cpus():
    assert (nano_cpus("1.5"), nano_cpus("3/2"), nano_cpus("0.000000001")) == (1_500_000_000, 1_500_000_000, 1)
    with pytest.raises(ValueError, match="^value is too precise$"):
        nano_cpus("1.0000000001")
    with pytest.raises(ValueError, match="^failed to parse x as a rational number$"):
        nano_cpus("x")


@pytest.mark.parametrize("argv, message", [
    (["-m", "1x"], 'invalid argument "1x" for "-m, --memory" flag: invalid suffix: \'x\''),
    (["--cpus", "x"], 'invalid argument "x" for "--cpus" flag: failed to parse x as a rational number'),
    (["-a", "bogus"], 'invalid argument "bogus" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR'),
    (["-e", "=x"], 'invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x'),
    (["-l", "=x"], 'invalid argument "=x" for "-l, --label" flag: invalid label \'=x\': empty name'),
    (["--pids-limit", "x"], 'invalid argument "x" for "--pids-limit" flag: strconv.ParseInt: parsing "x": '
                            'invalid syntax'),
    (["--mount", "type=bind"], 'invalid argument "type=bind" for "--mount" flag: target is required'),
])
def test_bad_flag_values_are_usage_errors(argv, message):
    with pytest.raises(CommandError) as error:
        load(["run", *argv, "busybox"])
    assert error.value.status == 125
    assert str(error.value) == (f"{message}\n\nUsage:  pydocker run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                                f"Run 'pydocker run --help' for more information")


@pytest.mark.parametrize("argv, status, first_line", [
    (["run", "-h"], 125, "flag needs an argument: 'h' in -h"),
    (["run", "--name"], 125, "flag needs an argument: --name"),
    (["run", "--bogus", "busybox"], 125, "unknown flag: --bogus"),
    (["run"], 1, "pydocker: 'pydocker run' requires at least 1 argument"),
    (["exec", "box"], 1, "pydocker: 'pydocker exec' requires at least 2 arguments"),
    (["attach", "a", "b"], 1, "pydocker: 'pydocker attach' requires 1 argument"),
])
def test_usage_errors(argv, status, first_line):
    with pytest.raises(CommandError) as error:
        load(argv)
    assert (error.value.status, str(error.value).splitlines()[0]) == (status, first_line)


@pytest.mark.parametrize("argv, message", [
    (["--restart", "always", "--rm"], "conflicting options: cannot specify both --restart and --rm"),
    (["--restart", ":1"], "invalid restart policy format: no policy provided before colon"),
    (["-p", "abc"], "invalid containerPort: abc"),
    (["-v", ":/x"], "invalid spec: :/x: empty section between colons"),
    (["--env-file", "/nonexistent/env"], "open /nonexistent/env: no such file or directory"),
    (["--pull", "sometimes"], 'invalid pull option: \'sometimes\': must be one of "always", "missing" or "never"'),
])
def test_options_that_do_not_go_together(argv, message, capsys):
    assert main(["-H", "unix:///nonexistent.sock", "run", *argv, "busybox"]) == 125
    assert capsys.readouterr().err == f"pydocker: {message}\n\nRun 'pydocker run --help' for more information\n"


def test_mounts():
    assert mount("type=bind,source=/a,target=/b,ro=false") == {"Type": "bind", "Source": "/a", "Target": "/b"}
    assert mount("dst=/v,volume-nocopy,volume-label=a=b,volume-driver=local,volume-opt=o=p,volume-subpath=s") == \
        {"Type": "volume", "Target": "/v", "VolumeOptions": {"NoCopy": True, "Labels": {"a": "b"}, "Subpath": "s",
                                                            "DriverConfig": {"Name": "local", "Options": {"o": "p"}}}}
    assert mount('type=bind,src=/a,"dst=/with,comma",bind-propagation=RSHARED') == \
        {"Type": "bind", "Source": "/a", "Target": "/with,comma", "BindOptions": {"Propagation": "rshared"}}
    assert mount("type=weird,dst=/x") == {"Type": "weird", "Target": "/x"}  # the daemon's to refuse


@pytest.mark.parametrize("text, error", [
    ("target", "invalid field 'target' must be a key=value pair"),
    ("type=bind,target=/x,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
    ("type=tmpfs,target=/x,tmpfs-size=zz", "invalid value for tmpfs-size: zz"),
    ("type=bind,src=/tmp,dst=/x,ro=maybe", "invalid value for ro: maybe"),
    ("type=tmpfs,dst=/x,volume-nocopy", "cannot mix 'volume-*' options with mount type 'tmpfs'"),
    ("type=,dst=/x", "type is required"),
])
def test_mount_errors(text, error):
    with pytest.raises(ValueError) as raised:
        mount(text)
    assert str(raised.value) == error


def test_published_ports():
    exposed, bindings = port_specs(["8080:80", "127.0.0.1::22", "53/udp", "[::1]:5000-5001:5000-5001",
                                    "1000-1003:7", "target=80,published=81,protocol=sctp"])
    assert exposed == {p: {} for p in ("80/tcp", "22/tcp", "53/udp", "5000/tcp", "5001/tcp", "7/tcp", "80/sctp")}
    assert bindings == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                        "22/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                        "53/udp": [{"HostIp": "", "HostPort": ""}],
                        "5000/tcp": [{"HostIp": "::1", "HostPort": "5000"}],
                        "5001/tcp": [{"HostIp": "::1", "HostPort": "5001"}],
                        "7/tcp": [{"HostIp": "", "HostPort": "1000-1003"}],
                        "80/sctp": [{"HostIp": "", "HostPort": "81"}]}


@pytest.mark.parametrize("spec, error", [
    ("80:80:80:80", "invalid IP address: 80:80"), ("abc", "invalid containerPort: abc"),
    ("8080:80/xyz", "invalid proto: xyz"), ("70000:80", "invalid hostPort: 70000"),
    ("1-3:5-6", "invalid ranges specified for container and host Ports: 5-6 and 1-3"),
    ("target=80,published", "invalid publish opts format (should be name=value but got 'published')"),
])
def test_published_port_errors(spec, error):
    with pytest.raises(OptionsError) as raised:
        port_specs([spec])
    assert str(raised.value) == error


def test_restart_policies():
    assert restart_policy("no") == {"Name": "no", "MaximumRetryCount": 0}
    assert restart_policy("on-failure:5") == {"Name": "on-failure", "MaximumRetryCount": 5}
    assert restart_policy("sometimes") == {"Name": "sometimes", "MaximumRetryCount": 0}  # the daemon refuses it
    for bad in ("always:2:3", "on-failure:x", "on-failure:+-1"):
        with pytest.raises(OptionsError, match="^invalid restart policy format: maximum retry count must be"):
            restart_policy(bad)


def test_volume_specs():
    assert volume_spec("/data") == ("", "/data")
    assert volume_spec("vol:/data:ro") == ("vol", "/data")
    assert volume_spec("c:/data:/x") == ("c:/data", "/x")
    with pytest.raises(OptionsError, match="^invalid spec: /a:/b:ro:x: too many colons$"):
        volume_spec("/a:/b:ro:x")


def test_env_files(tmp_path, monkeypatch):
    monkeypatch.setenv("FROM_HOST", "yes")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = tmp_path / "env"
    path.write_bytes(b"\xef\xbb\xbfA=1\n  B= 2 \n# comment\n\nFROM_HOST\nNOT_SET_ANYWHERE\r\nC=x=y")
    import os

    assert read_kv_file(str(path), os.environ.get) == ["A=1", "B= 2 ", "FROM_HOST=yes", "NOT_SET_ANYWHERE", "C=x=y"]
    path.write_text("A B=1\n")
    with pytest.raises(OptionsError, match="^poorly formatted environment: variable 'A B' contains whitespaces$"):
        read_kv_file(str(path))
    path.write_text("=1\n")
    with pytest.raises(OptionsError, match="^poorly formatted environment: no variable name on line '=1'$"):
        read_kv_file(str(path))


def test_exit_status_of_a_start_that_failed():
    assert start_failure_status('exec: "x": executable file not found in $PATH') == 127
    assert start_failure_status('exec: "/etc": permission denied') == 126
    assert start_failure_status("No such image: busybox:latest") == 125

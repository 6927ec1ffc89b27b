"""pydocker against the real Docker CLI, on the same pydockerd: the same command through both,
stdout compared (only times that move between the two calls are normalised), stderr wording
for errors, and exit codes."""
from __future__ import annotations

import subprocess

import pytest

from tests.fixtures.client import PYDOCKER, both, rows_in_any_order, same, without_times

pytestmark = pytest.mark.root

def start_sleeper(stack, name):
    return stack.docker("run", "-d", "--name", name, "busybox", "sh", "-c",
                        "echo out; echo err >&2; while true; do sleep 1; done").stdout.strip()


# ps

def test_ps_default_table_and_flags(stack):
    start_sleeper(stack, "web")
    stack.docker("run", "--name", "done", "busybox", "sh", "-c", "exit 3", check=False)
    stack.docker("create", "--name", "fresh", "-l", "tier=front", "busybox", "echo",
                 "a long command line that gets cut")
    for args in (["ps"], ["ps", "-a"], ["ps", "-q"], ["ps", "-aq"], ["ps", "-a", "--no-trunc"], ["ps", "-n", "2"],
                 ["ps", "-l"], ["ps", "-a", "--filter", "status=exited"], ["ps", "-a", "-f", "name=fre"],
                 ["ps", "-a", "--filter", "label=tier=front"]):
        same(stack, *args, times=True)


def test_ps_format(stack):
    start_sleeper(stack, "web")
    for fmt in ("{{.ID}} {{.Names}} {{.Image}}", "{{.Command}}|{{.Status}}|{{.Ports}}|{{.State}}",
                "table {{.Names}}\t{{.Image}}", "table {{.ID}}: {{.Names}}\t{{.Status}}", "{{.CreatedAt}}",
                "{{.Label \"x\"}}-{{.Names}}", "table"):
        same(stack, "ps", "-a", "--format", fmt, times=True)


def test_json_formats(stack):
    start_sleeper(stack, "web")
    same(stack, "ps", "--format", "{{json .}}", fix=without_times)
    same(stack, "ps", "--format", "json", fix=without_times)
    same(stack, "images", "--format", "{{json .}}", fix=rows_in_any_order)
    same(stack, "inspect", "--format", "{{json .State.Running}} {{json .Config.Labels}} {{.HostConfig.AutoRemove}}",
         "web")


def test_version_format(stack):
    same(stack, "version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}")


def test_control_actions_in_formats(stack):
    start_sleeper(stack, "web")
    stack.docker("create", "--name", "fresh", "-l", "tier=front", "-l", "app=shop", "-e", "A=1", "busybox", "echo",
                 "one", "two")
    for format in ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                   "{{range $name, $net := .NetworkSettings.Networks}}{{$name}} {{$net.NetworkID}};{{end}}",
                   "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{else}}no labels{{end}}",
                   "{{range $i, $e := .Config.Env}}{{if $i}},{{end}}{{$e}}{{end}}",
                   '{{if .State.Running}}up{{else if eq .State.Status "created"}}new{{else}}down{{end}}',
                   '{{with .Config.Labels}}{{index . "tier"}}{{else}}none{{end}} {{with $a := .Args}}{{len $a}}{{end}}',
                   "{{- range .Args -}}\n  [{{.}}]\n{{- end}} {{$.Name}}",
                   "{{range .Mounts}}{{.Destination}}{{else}}no mounts{{end}} {{range 2}}{{.}}{{end}}"):
        same(stack, "inspect", "--format", format, "web", "fresh")
    for format in ('{{.Names}}{{with .Label "tier"}} ({{.}}){{end}}',
                   '{{range $i, $word := split .Command " "}}{{if lt $i 2}}<{{$word}}>{{end}}{{end}}',
                   'table {{.Names}}\t{{if eq .State "running"}}yes{{else}}no{{end}}',
                   "{{.Names}}: {{- range split .Labels \",\"}} {{.}}{{end}}"):
        same(stack, "ps", "-a", "--format", format)
    for format in ("{{range .Server.Components}}{{.Name}} {{end}}",
                   '{{range $c := .Server.Components}}{{if eq $c.Name "Engine"}}{{$c.Version}}{{end}}{{end}}',
                   "{{with .Server}}{{.Os}}/{{.Arch}}{{end}}",
                   "{{range .Server.Components}}{{.Name}}:{{range $k, $v := .Details}} {{$k}}{{end}};{{end}}",
                   "{{.Server.Os}}\t{{.Server.Arch}}\n{{.Client.Context}}\tx"):
        same(stack, "version", "--format", format)


def test_template_errors(stack):
    start_sleeper(stack, "web")
    for args in (["version", "--format", "{{foo}}"], ["ps", "--format", "{{foo}}"],
                 ["inspect", "--format", "{{foo}}", "web"], ["info", "--format", "{{range .X}}"],
                 ["ps", "--format", "{{.Nope}}"], ["ps", "--format", "{{range .Names}}{{end}}"],
                 ["inspect", "--format", "{{range .Name}}{{end}}", "web"],
                 ["inspect", "--format", "{{.Name}}", "nosuch"],
                 ["version", "--format", "a{{range .Server.Version}}{{end}}"],
                 ["network", "inspect", "--format", "{{if}}", "bridge"],
                 ["events", "--format", "{{.Nope}}"], ["images", "--format", "{{foo}}"],
                 ["ps", "--format", '{{if eq .State "running"}}{{index .Names 9}}{{end}}']):
        same(stack, *args)


def test_logs_since_and_until(stack):
    start_sleeper(stack, "web")
    same(stack, "logs", "--since", "10m", "web")
    same(stack, "logs", "--until", "1s", "web")
    same(stack, "logs", "--since", "2000-01-01T00:00:00Z", "--until", "2100-01-01", "web")
    same(stack, "logs", "--since", "soon", "web")


def test_logs_follow_until_the_container_exits(stack):
    stack.docker("run", "-d", "--name", "slow", "busybox", "sh", "-c", "echo one; sleep 2; echo two >&2")
    ours = subprocess.run([PYDOCKER, "logs", "-f", "slow"], capture_output=True, text=True, env=stack.environment,
                          timeout=30)
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, "one\n", "two\n")
    same(stack, "logs", "-f", "slow")


def test_ps_image_column_by_id_digest_and_name(stack):
    image_id = stack.docker("inspect", "--format", "{{.Id}}", "busybox").stdout.strip()
    digest = stack.docker("inspect", "--format", "{{index .RepoDigests 0}}", "busybox").stdout.strip()
    stack.docker("create", "--name", "byid", image_id[7:19], "true")
    stack.docker("create", "--name", "byfullid", image_id, "true")
    if digest:
        stack.docker("create", "--name", "bydigest", digest, "true")
    stack.docker("create", "--name", "byqualified", "docker.io/library/busybox:latest", "true")
    same(stack, "ps", "-a", "--format", "{{.Names}} {{.Image}}")
    same(stack, "ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.Image}}")


def test_ps_ports(stack):
    stack.docker("create", "--name", "pub", "-p", "8080:80", "-p", "127.0.0.1:9000-9001:9000-9001/udp",
                 "--expose", "7000", "busybox", "true")
    stack.docker("run", "-d", "--name", "pubrun", "-p", "8081:80", "busybox", "sleep", "60")
    same(stack, "ps", "-a", "--format", "{{.Names}}: {{.Ports}}")  # pydockerd has no port mappings yet


def test_pull_variants(stack):
    for args in (["pull", "busybox:latest"], ["pull", "-q", "busybox"], ["pull", "docker.io/library/busybox"]):
        same(stack, *args)
    digest = stack.docker("inspect", "--format", "{{index .RepoDigests 0}}", "busybox").stdout.strip()
    stack.docker("pull", digest)  # the daemon's first pull by digest says "Downloaded newer image"; later ones do not
    same(stack, "pull", digest)


def test_ps_size(stack):
    start_sleeper(stack, "web")
    same(stack, "ps", "-s", times=True)


def test_ps_bad_filter_is_a_daemon_error(stack):
    same(stack, "ps", "--filter", "nosuch=1")


# version

def test_version_server_section(stack):
    docker, ours = both(stack, "version")
    assert ours.returncode == docker.returncode == 0
    assert ours.stdout.split("\n\nServer:", 1)[1] == docker.stdout.split("\n\nServer:", 1)[1]
    assert ours.stdout.startswith("Client:\n Version:")


def test_cannot_connect(stack, tmp_path):
    missing = f"unix://{tmp_path}/none.sock"
    docker = subprocess.run(["/usr/local/bin/docker", "-H", missing, "ps"], capture_output=True, text=True,
                            env=stack.environment)
    ours = subprocess.run([PYDOCKER, "-H", missing, "ps"], capture_output=True, text=True, env=stack.environment)
    assert (ours.returncode, ours.stdout, ours.stderr) == (docker.returncode, docker.stdout, docker.stderr)
    env = stack.environment | {"DOCKER_HOST": missing}
    ours = subprocess.run([PYDOCKER, "ps"], capture_output=True, text=True, env=env)
    assert (ours.returncode, ours.stderr) == (docker.returncode, docker.stderr)
    docker = subprocess.run(["/usr/local/bin/docker", "version"], capture_output=True, text=True, env=env)
    ours = subprocess.run([PYDOCKER, "version"], capture_output=True, text=True, env=env)
    assert (ours.returncode, ours.stderr) == (docker.returncode, docker.stderr)
    assert ours.stdout.startswith("Client:\n") and "Server" not in ours.stdout


def test_output_into_a_closed_pipe_is_quiet(stack):
    for n in range(3):
        start_sleeper(stack, f"web{n}")
    ours = subprocess.run(f"{PYDOCKER} ps | head -c 1", shell=True, capture_output=True, text=True,
                          env=stack.environment)
    assert (ours.stdout, ours.stderr) == ("C", "")


# images, tag, rmi, pull

def test_images(stack):
    stack.docker("tag", "busybox", "example.com/team/tool:v1")
    for args in (["images"], ["images", "-a"], ["images", "-q"], ["images", "--digests"], ["images", "--no-trunc"],
                 ["images", "busybox"], ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"],
                 ["images", "--format", "table {{.Repository}}\t{{.Size}}"],
                 ["images", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"], ["images", "-q", "--no-trunc"],
                 ["images", "nosuch"], ["images", "--filter", "reference=busy*"]):
        same(stack, *args, fix=rows_in_any_order)


def test_tag_and_rmi(stack):
    docker, ours = both(stack, "tag", "busybox", "mine:one")
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, "", "") == (docker.returncode, docker.stdout,
                                                                           docker.stderr)
    ours = subprocess.run([PYDOCKER, "tag", "busybox", "mine:two"], capture_output=True, text=True,
                          env=stack.environment)
    assert ours.returncode == 0
    assert "mine:two" in stack.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    docker = stack.docker("rmi", "mine:one", check=False)
    ours = subprocess.run([PYDOCKER, "rmi", "mine:two"], capture_output=True, text=True, env=stack.environment)
    assert (ours.returncode, ours.stdout.replace("two", "one")) == (docker.returncode, docker.stdout)
    same(stack, "rmi", "nosuch:image")
    same(stack, "tag", "nosuch:image", "other:x")


def test_pull_plain_progress(stack):
    docker, ours = both(stack, "pull", "busybox")
    assert (ours.returncode, ours.stdout, ours.stderr) == (docker.returncode, docker.stdout, docker.stderr)
    same(stack, "pull", "nosuchrepo/nosuchimage:1")


# inspect

def test_inspect(stack):
    start_sleeper(stack, "web")
    same(stack, "inspect", "web")
    same(stack, "inspect", "busybox")
    same(stack, "inspect", "--type", "image", "busybox")
    same(stack, "inspect", "--format", "{{.State.Status}} {{.Name}} {{.Config.Image}} {{json .Config.Cmd}}", "web")
    same(stack, "inspect", "nosuch")
    same(stack, "inspect", "web", "nosuch")
    same(stack, "inspect", "--type", "container", "nosuch")


# logs

def test_logs_demultiplexed(stack):
    stack.docker("run", "--name", "talk", "busybox", "sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; done")
    for args in (["logs", "talk"], ["logs", "--tail", "2", "talk"], ["logs", "--since", "10m", "talk"],
                 ["logs", "--until", "1s", "talk"], ["logs", "-t", "talk"], ["logs", "-f", "talk"]):
        same(stack, *args)
    same(stack, "logs", "nosuch")


def test_logs_of_a_tty_container_are_raw(stack):
    stack.docker("run", "-t", "--name", "tty", "busybox", "sh", "-c", "echo hello; echo oops >&2")
    same(stack, "logs", "tty")


# lifecycle

def test_stop_start_restart_kill_pause(stack):
    start_sleeper(stack, "aa")
    start_sleeper(stack, "bb")
    for command in (["pause", "aa"], ["unpause", "aa"], ["stop", "-t", "1", "aa"], ["start", "aa"],
                    ["restart", "-t", "1", "aa"], ["kill", "aa"], ["kill", "-s", "KILL", "bb"]):
        docker = stack.docker(*command, check=False)
        assert (docker.returncode, docker.stdout) == (0, command[-1] + "\n")
        back = {"pause": "unpause", "unpause": "pause", "stop": "start", "start": "stop", "restart": "restart",
                "kill": "start"}[command[0]]
        stack.docker(back, command[-1])
        ours = subprocess.run([PYDOCKER, *command], capture_output=True, text=True, env=stack.environment)
        assert (ours.returncode, ours.stdout, ours.stderr) == (0, command[-1] + "\n", "")
    docker = stack.docker("stop", "-t", "0", "aa", "bb", check=False)
    ours = subprocess.run([PYDOCKER, "stop", "-t", "0", "aa", "bb"], capture_output=True, text=True,
                          env=stack.environment)
    assert (ours.returncode, ours.stdout, ours.stderr) == (docker.returncode, docker.stdout, docker.stderr) == \
        (0, "aa\nbb\n", "")
    for command in (["stop", "nosuch"], ["stop", "aa", "nosuch", "other"], ["kill", "nosuch"], ["start", "nosuch"], ["start", "aa", "nosuch"],
                    ["pause", "nosuch"], ["unpause", "nosuch"], ["restart", "nosuch"]):
        same(stack, *command)


def test_errors_on_stopped_containers(stack):
    stack.docker("create", "--name", "idle", "busybox", "true")
    for command in (["kill", "idle"], ["pause", "idle"], ["unpause", "idle"], ["stop", "idle"]):
        same(stack, *command)


def test_rm_rename_wait(stack):
    stack.docker("run", "--name", "exit7", "busybox", "sh", "-c", "exit 7", check=False)
    same(stack, "wait", "exit7")
    same(stack, "wait", "nosuch")
    docker = stack.docker("rename", "exit7", "seven", check=False)
    ours = subprocess.run([PYDOCKER, "rename", "seven", "exit7"], capture_output=True, text=True,
                          env=stack.environment)
    assert (ours.returncode, ours.stdout, ours.stderr) == (docker.returncode, docker.stdout, docker.stderr) == \
        (0, "", "")
    assert stack.docker("ps", "-a", "--format", "{{.Names}}").stdout == "exit7\n"
    stack.docker("rename", "exit7", "seven")
    same(stack, "rename", "nosuch", "x")
    start_sleeper(stack, "busy")
    same(stack, "rename", "busy", "seven")
    same(stack, "rm", "busy")
    same(stack, "rm", "nosuch")
    same(stack, "rm", "-f", "nosuch")
    ours = subprocess.run([PYDOCKER, "rm", "-f", "-v", "busy", "seven"], capture_output=True, text=True,
                          env=stack.environment)
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, "busy\nseven\n", "")
    assert stack.docker("ps", "-aq").stdout == ""


def test_usage_errors(stack):
    for args in (["stop"], ["rename", "x"], ["ps", "--bogus"], ["logs"], ["inspect"]):
        docker, ours = both(stack, *args)
        assert (ours.returncode, ours.stdout) == (docker.returncode, docker.stdout)
        assert ours.stderr.replace("pydocker", "docker") == docker.stderr

"""pydocker's observing commands (info, top, stats, events, history) against the real Docker
CLI on the same pydockerd: the same output where it cannot move between the two calls; where
it moves (counters, stats figures), the same header and shape of rows, and values checked
against the API."""
from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.fixtures.client import PYDOCKER, both, normalise, same
from tests.fixtures.images import Dir, File, canonical_json, layer_tar, sha256_digest
from tests.fixtures.polling import wait_until

pytestmark = pytest.mark.root


def ours(stack, *args, input=None, env=None):
    return subprocess.run([PYDOCKER, *args], input=input, capture_output=True, text=True,
                          env=env or stack.environment, timeout=120)


def sleeper(stack, name, *options):
    return stack.docker("run", "-d", "--name", name, *options, "busybox", "sleep", "600").stdout.strip()


def api(stack, path):
    status, _, body = stack.raw("GET", f"/v1.50{path}")
    assert status == 200, body
    return json.loads(body)


# info

MOVING = re.compile(r"^(  (File Descriptors|Goroutines|System Time|EventsListeners):) .*$", re.M)


def test_info_server_section_is_docker_s(stack):
    sleeper(stack, "web")
    stack.docker("create", "--name", "fresh", "busybox", "true")
    docker, mine = both(stack, "info")
    assert (mine.returncode, mine.stderr) == (docker.returncode, docker.stderr) == (0, "")
    client, server = mine.stdout.split("\nServer:\n", 1)
    assert re.fullmatch(r"Client:\n Version:    \S+\n Context:    default\n Debug Mode: false\n", client)
    assert MOVING.sub(r"\1 X", server) == MOVING.sub(r"\1 X", docker.stdout.split("\nServer:\n", 1)[1])
    info = api(stack, "/info")
    assert f" Containers: {info['Containers']}\n  Running: {info['ContainersRunning']}\n" in server
    assert (info["Containers"], info["ContainersRunning"]) == (2, 1)
    same(stack, "system", "info", fix=lambda text: MOVING.sub(r"\1 X", text.split("\nServer:\n", 1)[1]))


def test_info_format(stack):
    for format in ("{{.Containers}} {{.Images}} {{.Driver}} {{.ServerVersion}}", "{{json .Plugins}}",
                   "{{.RegistryConfig.Mirrors}} {{.Swarm.LocalNodeState}} {{.DefaultRuntime}}",
                   "{{.ClientInfo.Debug}} {{.ClientInfo.Context}}"):
        same(stack, "info", "--format", format)
    decoded = json.loads(ours(stack, "info", "--format", "json").stdout)
    assert decoded["ServerVersion"] == api(stack, "/info")["ServerVersion"]
    assert decoded["ClientInfo"]["Context"] == "default" and decoded["ClientInfo"]["Plugins"] == []
    docker, mine = both(stack, "info", "extra")
    assert (mine.returncode, docker.returncode) == (1, 1)
    assert mine.stderr.replace("pydocker", "docker") == docker.stderr


def test_info_without_a_daemon(stack, tmp_path):
    env = stack.environment | {"DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    docker = subprocess.run(["/usr/local/bin/docker", "info"], capture_output=True, text=True, env=env)
    mine = ours(stack, "info", env=env)
    assert (mine.returncode, mine.stderr) == (docker.returncode, docker.stderr) == \
        (1, f"Cannot connect to the Docker daemon at unix://{tmp_path}/none.sock. Is the docker daemon running?\n")
    assert mine.stdout.endswith("\n\nServer:\n") and docker.stdout.endswith("\n\nServer:\n")


# top

def test_top(stack):
    sleeper(stack, "web")
    for args in (["top", "web"], ["top", "web", "-o", "pid,args"], ["container", "top", "web", "-o", "pid,comm"],
                 ["top", "web", "-f"]):
        assert "sleep" in same(stack, *args).stdout
    pid = api(stack, "/containers/web/json")["State"]["Pid"]
    mine = ours(stack, "top", "web", "-o", "pid,args").stdout
    assert mine.splitlines()[1].split(None, 1) == [str(pid), "sleep 600"]
    assert mine.splitlines()[0] == "PID                 COMMAND"  # columns at least 20 wide
    stack.docker("create", "--name", "idle", "busybox", "true")
    same(stack, "top", "idle")
    same(stack, "top", "nosuch")


# stats

STATS_HEADER = "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS"
ROW = re.compile(r"(?P<id>[0-9a-f]{12}) +(?P<name>\S+) +(?P<cpu>\d+\.\d\d%) +(?P<used>[\d.]+[KMG]?i?B) / "
                 r"(?P<limit>[\d.]+[KMGT]?i?B) +(?P<mem>\d+\.\d\d%) +(?P<net>\S+ / \S+) +(?P<block>\S+ / \S+) "
                 r"+(?P<pids>\d+)")


def test_stats_no_stream_rows(stack):
    web = sleeper(stack, "web")
    two = stack.docker("run", "-d", "--name", "two", "busybox", "sh", "-c", "sleep 600 & sleep 600").stdout.strip()
    docker, mine = both(stack, "stats", "--no-stream", "web", "two")
    assert (mine.returncode, mine.stderr) == (docker.returncode, docker.stderr) == (0, "")
    for output in (mine.stdout, docker.stdout):
        lines = output.splitlines()
        assert lines[0] == STATS_HEADER
        rows = [ROW.fullmatch(line) for line in lines[1:]]
        assert all(rows), output
        assert [(r["id"], r["name"], r["pids"]) for r in rows] == [(web[:12], "web", "1"), (two[:12], "two", "2")]
    limit = api(stack, "/containers/web/stats?stream=0&one-shot=1")["memory_stats"]["limit"]
    rows = [ROW.fullmatch(line) for line in mine.stdout.splitlines()[1:]]
    from client.formatting import bytes_size

    assert rows[0]["limit"] == bytes_size(limit)
    same(stack, "stats", "--no-stream", "--format", "{{.Container}} {{.Name}} {{.ID}} {{.PIDs}}", "web", "two")
    same(stack, "stats", "--no-stream", "--no-trunc", "--format", "{{.ID}}", "web")
    decoded = json.loads(ours(stack, "stats", "--no-stream", "--format", "json", "web").stdout)
    assert list(decoded) == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"]


def test_stats_no_stream_of_all_and_of_stopped_ones(stack):
    same(stack, "stats", "--no-stream")  # nothing runs: the header alone
    stack.docker("create", "--name", "idle", "busybox", "true")
    same(stack, "stats", "--no-stream", "idle")  # not running: zeros
    same(stack, "stats", "--no-stream", "-a", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}")
    sleeper(stack, "web")
    same(stack, "stats", "--no-stream", "--format", "table {{.Name}}\t{{.PIDs}}")
    same(stack, "stats", "--no-stream", "-a", "--format", "{{.Name}}")
    same(stack, "stats", "--no-stream", "nosuch")
    same(stack, "stats", "--no-stream", "web", "nosuch")


def test_live_stats_redraw_in_place_and_end_on_ctrl_c(stack):
    pexpect = pytest.importorskip("pexpect")
    web = sleeper(stack, "web")
    child = pexpect.spawn(PYDOCKER, ["stats", "web"], env=stack.environment, dimensions=(24, 120))
    try:
        out = b""
        deadline = time.monotonic() + 30
        while out.count(b"\x1b[H") < 4 and time.monotonic() < deadline:
            try:
                out += child.read_nonblocking(65536, timeout=1)
            except pexpect.TIMEOUT:
                pass
        child.sendintr()
        child.expect(pexpect.EOF, timeout=10)
        out += child.before
    finally:
        child.close(force=True)
    assert child.exitstatus == 130 and child.signalstatus is None
    frames = out.split(b"\x1b[H")
    assert frames[0] == b"" and len(frames) >= 4, out
    for frame in frames[1:-1]:  # each: home, the lines each ending in erase-line, erase below
        lines = frame.decode().split("\r\n")
        assert lines[0] == STATS_HEADER + "\x1b[K"
        assert lines[1].endswith("\x1b[K") and ROW.fullmatch(lines[1][:-3])["id"] == web[:12]
        assert lines[2] == "\x1b[J"


def test_live_stats_follow_containers_that_start_and_die(stack):
    pexpect = pytest.importorskip("pexpect")
    sleeper(stack, "first")
    child = pexpect.spawn(PYDOCKER, ["stats"], env=stack.environment, dimensions=(24, 120))
    try:
        child.expect(r"first", timeout=30)
        late = sleeper(stack, "late")
        child.expect(re.escape(late[:12]) + r" +late", timeout=30)
        stack.docker("kill", "late")
        child.expect(r"\x1b\[H" + re.escape(STATS_HEADER) + r"\x1b\[K\r\n[0-9a-f]{12} +first[^\n]*\n\x1b\[J",
                     timeout=30)
        child.sendintr()
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    assert child.exitstatus == 130


# events

def _past_window(stack, actions) -> tuple[str, str]:
    """Run actions inside a window of whole seconds, begun after what came before them and
    ended when this returns."""
    since = int(time.time()) + 1
    time.sleep(since - time.time() + 0.05)
    actions()
    until = int(time.time()) + 1
    time.sleep(max(0.0, until - time.time()) + 0.05)
    return str(since), str(until)


def test_events_in_a_past_window(stack):
    def actions():
        stack.docker("volume", "create", "--label", "z=1", "evvol")
        stack.docker("run", "--name", "evrun", "-l", "tier=x", "busybox", "true")
        stack.docker("rm", "evrun")
        stack.docker("volume", "rm", "evvol")

    since, until = _past_window(stack, actions)
    mine = same(stack, "events", "--since", since, "--until", until)
    actions_seen = [line.split()[1:3] for line in mine.stdout.splitlines()]
    assert actions_seen == [["volume", "create"], ["container", "create"], ["container", "attach"],
                            ["container", "start"], ["container", "die"], ["container", "destroy"],
                            ["volume", "destroy"]]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) volume create evvol "
                        r"\(driver=local\)", mine.stdout.splitlines()[0])
    for extra in (["--filter", "type=container"], ["-f", "event=start", "-f", "event=die"],
                  ["--filter", "container=evrun"], ["--filter", "label=tier=x"], ["--format", "json"],
                  ["--format", "{{json .}}"], ["--format", "{{.Type}} {{.Status}} {{.ID}} {{.From}} {{.Actor.ID}}"],
                  ["--format", "{{.Time}} {{.TimeNano}} {{.Scope}} {{json .Actor.Attributes}}"]):
        same(stack, "events", "--since", since, "--until", until, *extra)
    same(stack, "system", "events", "--since", since, "--until", until)


def test_events_errors(stack):
    same(stack, "events", "--since", "2000", "--until", "1000")  # until before since: the daemon's 400
    same(stack, "events", "--since", "soon", "--until", "0s")
    same(stack, "events", "--until", "0s", "--filter", "colour=red")
    docker, mine = both(stack, "events", "--until", "0s", "--format", "{{.Nope}}")
    assert (mine.returncode, docker.returncode) == (64, 64)
    assert mine.stderr.startswith("Error parsing format: ") and "can't evaluate field Nope" in mine.stderr
    docker, mine = both(stack, "events", "--until", "0s", "-f", "nonsense")
    assert (mine.returncode, docker.returncode) == (125, 125)
    assert mine.stderr.splitlines()[0] == docker.stderr.splitlines()[0]


def test_events_end_at_until(stack):
    start = time.monotonic()
    mine = ours(stack, "events", "--since", "1m", "--until", "2s", "--filter", "type=network")
    assert mine.returncode == 0 and mine.stdout == ""
    assert time.monotonic() - start < 10


# history

def _history_archive(path, repo_tag: str) -> None:
    """A docker-save archive whose image has two layers and a history with empty layers, long
    commands (tabs in them), comments, and a creation before 2000."""
    layers = [layer_tar([Dir("etc"), File("etc/one", b"one\n" * 100)]),
              layer_tar([Dir("srv"), File("srv/two", b"two\n" * 3000)])]
    recent = (datetime.now(timezone.utc) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = canonical_json({
        "architecture": "amd64", "os": "linux", "created": recent,
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer) for layer in layers]},
        "history": [
            {"created": "1999-06-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:0123456789abcdef in / "},
            {"created": "2021-03-04T05:06:07Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": True},
            {"created": recent, "created_by": "RUN /bin/sh -c\tprintf 'a rather long command line' > /srv/two "
                                              "# buildkit", "comment": "buildkit.dockerfile.v0"},
            {"created": recent, "created_by": "LABEL <a>=&b", "comment": "<&>", "empty_layer": True},
        ]})
    config_name = sha256_digest(config).removeprefix("sha256:") + ".json"
    names = [f"layer{index}/layer.tar" for index in range(len(layers))]
    manifest = canonical_json([{"Config": config_name, "RepoTags": [repo_tag], "Layers": names}])
    with tarfile.open(path, "w") as tar:
        for name, data in [(config_name, config), *zip(names, layers), ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def historied(stack, tmp_path):
    archive = tmp_path / "historied.tar"
    _history_archive(archive, "historied:1")
    stack.docker("load", "-i", str(archive))
    yield "historied:1"
    stack.docker("rmi", "-f", "historied:1", check=False)


def test_history(stack, historied):
    for args in ([], ["-H=false"], ["--human=false"], ["--no-trunc"], ["-q"], ["-q", "--no-trunc"],
                 ["--format", "json"], ["--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}"],
                 ["--format", "table {{.ID}}\t{{.CreatedAt}}\t{{.Size}}"], ["--format", "table"],
                 ["-q", "--format", "{{.Size}}"]):
        same(stack, "history", *args, historied, fix=normalise)
    mine = ours(stack, "history", historied).stdout.splitlines()
    assert mine[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert [line.split()[0] for line in mine[1:]] == [api(stack, f"/images/{historied}/json")["Id"][7:19],
                                                       "<missing>", "<missing>", "<missing>"]
    assert mine[-1].split()[1] == "N/A"  # made before 2000
    assert "…" in mine[2]  # a long command cut at 45 characters
    same(stack, "image", "history", "busybox")
    same(stack, "history", "nosuch")


def test_the_commands_exist_under_their_management_names(stack):
    sleeper(stack, "web")
    same(stack, "container", "top", "web", "-o", "pid")
    same(stack, "container", "stats", "--no-stream", "--format", "{{.Name}}", "web")


def test_live_events_stream_until_ctrl_c(stack):
    import signal

    listening = api(stack, "/info")["NEventsListener"]
    follower = subprocess.Popen([PYDOCKER, "events", "-f", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=stack.environment)
    try:
        wait_until(lambda: api(stack, "/info")["NEventsListener"] > listening, what="pydocker events to subscribe")
        stack.docker("volume", "create", "live")
        assert follower.stdout.readline() == "create live\n"
        stack.docker("volume", "rm", "live")
        assert follower.stdout.readline() == "destroy live\n"
        follower.send_signal(signal.SIGINT)
        assert follower.wait(10) == 130
        assert follower.stderr.read() == ""
    finally:
        follower.kill()
        follower.wait()
        follower.stdout.close()
        follower.stderr.close()

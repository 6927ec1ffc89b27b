"""pydocker's managing commands (volume, network, system df and prune, container and image
prune) against the real Docker CLI on the same pydockerd. What a prune removes is gone after
the first call, so each prune runs twice on the same state, made again in between."""
from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile

import pytest

from tests.fixtures.client import PYDOCKER, both, normalise, same
from tests.fixtures.images import Dir, File, canonical_json, layer_tar, sha256_digest

pytestmark = pytest.mark.root

HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def hide_ids(text: str) -> str:
    return HEX64.sub("ID", text)


def any_size(text: str) -> str:
    """The space a prune reclaims: pydockerd counts an image's unpacked layers only once it
    has unpacked them, so the same state made twice need not weigh the same."""
    return re.sub(r"reclaimed space: \S+", "reclaimed space: X", text)


def ours(stack, *args, input=None):
    return subprocess.run([PYDOCKER, *args], input=input, capture_output=True, text=True, env=stack.environment,
                          timeout=120)


def twice(stack, make, *args, input=None, fix=lambda text: text):
    """The state make() builds, then the command through docker; the state again, then through
    pydocker: both results, with fix applied to their stdout."""
    make()
    docker = stack.docker(*args, input=input, check=False)
    make()
    mine = ours(stack, *args, input=input)
    assert (mine.returncode, fix(mine.stdout), mine.stderr) == (docker.returncode, fix(docker.stdout), docker.stderr)
    return docker, mine


# volume

def test_volume_create_ls_inspect(stack):
    for args in (["volume", "create", "plain"], ["volume", "create", "--label", "tier=db", "-o", "type=tmpfs",
                                                  "-o", "device=tmpfs", "--driver", "local", "labelled"]):
        docker, mine = both(stack, *args)  # the second create of a name returns the same volume
        assert (mine.returncode, mine.stdout, mine.stderr) == (docker.returncode, docker.stdout, docker.stderr) == \
            (0, args[-1] + "\n", "")
    anonymous = ours(stack, "volume", "create")
    assert anonymous.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}\n", anonymous.stdout)
    stack.docker("volume", "create", "vol10")
    stack.docker("volume", "create", "vol9")
    stack.docker("run", "-d", "--name", "user", "-v", "plain:/data", "busybox", "sleep", "600")
    for args in ([], ["-q"], ["--format", "json"], ["--format", "{{.Name}}: {{.Driver}} {{.Labels}} {{.Scope}}"],
                 ["--format", "table {{.Name}}\t{{.Mountpoint}}\t{{.Label \"tier\"}}\t{{.Links}}\t{{.Size}}"],
                 ["-f", "dangling=true"], ["--filter", "label=tier"], ["-f", "name=vol"], ["--format", "raw"],
                 ["-q", "--format", "{{.Driver}}"], ["-f", "colour=red"]):
        same(stack, "volume", "ls", *args)
    names = ours(stack, "volume", "ls", "-q").stdout.split()
    assert names.index("vol9") < names.index("vol10")  # natural order, as docker sorts
    for args in (["plain"], ["labelled", "plain"], ["-f", "json", "labelled"], ["nosuch"], ["plain", "nosuch"],
                 ["--format", "{{.Name}} {{.Driver}} {{.Labels}} {{.Options}} {{index .Labels \"tier\"}}",
                  "labelled"], ["--format", "{{json .}}", "labelled"]):
        same(stack, "volume", "inspect", *args)
    same(stack, "volume", "create", "bad name")
    docker, mine = both(stack, "volume", "ls", "-f", "nonsense")
    assert (mine.returncode, mine.stderr.replace("pydocker", "docker")) == (125, docker.stderr)


def test_volume_rm(stack):
    stack.docker("run", "-d", "--name", "user", "-v", "busy:/data", "busybox", "sleep", "600")
    same(stack, "volume", "rm", "busy", "nosuch")
    same(stack, "volume", "rm", "-f", "nosuch")
    stack.docker("volume", "create", "va")
    stack.docker("volume", "create", "vb")
    docker = stack.docker("volume", "rm", "va")
    mine = ours(stack, "volume", "rm", "vb")
    assert (mine.returncode, mine.stdout) == (docker.returncode, "vb\n") == (0, "vb\n")
    assert ours(stack, "volume", "ls", "-q").stdout.split() == ["busy"]


def test_volume_prune(stack):
    def make():
        stack.docker("volume", "create", "--label", "keep=yes", "kept")
        stack.docker("volume", "create", "named")
        stack.docker("run", "--name", "anon", "-v", "/scratch", "busybox", "true")
        stack.docker("rm", "anon")  # its anonymous volume stays, unused

    docker, mine = twice(stack, make, "volume", "prune", "-f", fix=hide_ids)
    assert re.fullmatch(r"Deleted Volumes:\nID\n\nTotal reclaimed space: \S+\n", hide_ids(mine.stdout))
    twice(stack, make, "volume", "prune", "-a", "-f", "--filter", "label!=keep", fix=hide_ids)
    assert ours(stack, "volume", "ls", "-q").stdout == "kept\n"
    twice(stack, make, "volume", "prune", "--all", "--force", "--filter", "label=keep=yes")
    assert [name for name in ours(stack, "volume", "ls", "-q").stdout.split() if not HEX64.match(name)] == ["named"]
    same(stack, "volume", "prune", "-a", "-f", "--filter", "all=1")


def test_prune_asks_first(stack):
    stack.docker("volume", "create", "left")
    for args in (["volume", "prune"], ["volume", "prune", "-a"], ["network", "prune"], ["container", "prune"],
                 ["image", "prune"], ["image", "prune", "-a"], ["system", "prune"], ["system", "prune", "-a"],
                 ["system", "prune", "--volumes", "--filter", "label=a", "--filter", "until=1h"]):
        for answer in ("n\n", "", "yes\n", "\n"):
            same(stack, *args, input=answer)
    assert ours(stack, "volume", "ls", "-q").stdout == "left\n"
    twice(stack, lambda: stack.docker("volume", "create", "left"), "volume", "prune", "--all", input=" Y \n")
    assert ours(stack, "volume", "ls", "-q").stdout == ""


# network

def test_network_ls_and_inspect(stack):
    for args in ([], ["-q"], ["--no-trunc"], ["-q", "--no-trunc"], ["--format", "json"], ["--format", "raw"],
                 ["--format", "table {{.Name}}\t{{.IPv4}}\t{{.IPv6}}\t{{.Internal}}\t{{.CreatedAt}}\t{{.Labels}}"],
                 ["-f", "driver=bridge"], ["--filter", "name=o"], ["-f", "type=custom"], ["-f", "type=builtin"],
                 ["-f", "colour=red"], ["-f", "type=other"]):
        same(stack, "network", "ls", *args)
    for args in (["bridge"], ["host", "none"], ["-f", "json", "none"], ["--format", "{{.Name}} {{.Driver}}", "host"],
                 ["nosuch"], ["none", "nosuch"], ["-v", "none"]):
        same(stack, "network", "inspect", *args)
    ident = ours(stack, "network", "ls", "-q", "-f", "name=bridge").stdout.strip()
    assert ident == json.loads(stack.raw("GET", "/v1.50/networks/bridge")[2])["Id"][:12]


def test_network_changes_the_daemon_refuses(stack):
    stack.docker("run", "-d", "--name", "web", "busybox", "sleep", "600")
    for args in (["rm", "bridge"], ["rm", "bridge", "nosuch"], ["rm", "-f", "nosuch"], ["remove", "host"],
                 ["create", "mynet"], ["create", "--internal", "--label", "a=b", "--subnet", "10.9.0.0/24", "other"],
                 ["create", "bridge"], ["connect", "bridge", "web"], ["disconnect", "-f", "bridge", "web"],
                 ["connect", "nosuch", "web"], ["prune", "-f"], ["prune", "-f", "--filter", "until=1h"],
                 ["prune", "-f", "--filter", "colour=red"]):
        same(stack, "network", *args)


# system df

def test_system_df(stack):
    stack.docker("run", "-d", "--name", "web", "-v", "data:/data", "busybox", "sleep", "600")
    stack.docker("run", "--name", "wrote", "busybox", "sh", "-c", "echo data > /file")
    stack.docker("volume", "create", "--label", "x=1", "idle")
    for args in ([], ["--format", "json"], ["--format", "{{.Type}}: {{.TotalCount}} {{.Active}}"],
                 ["--format", "table {{.Type}}\t{{.Size}}\t{{.Reclaimable}}"], ["--format", "raw"]):
        same(stack, "system", "df", *args)
    same(stack, "system", "df", "-v", fix=normalise)
    docker, mine = both(stack, "system", "df", "-v", "--format", "json")
    assert not mine.stdout.endswith("\n")  # as docker: one document, no newline after it

    def decoded(text):
        document = json.loads(text)
        for container in document["Containers"]:
            container["RunningFor"] = container["Status"] = "X"
        return document

    assert decoded(mine.stdout) == decoded(docker.stdout)
    rows = {row[0]: row for row in (re.split(r" {2,}", line) for line in
                                    ours(stack, "system", "df").stdout.splitlines()[1:])}
    assert rows["Containers"][1:3] == ["2", "1"] and rows["Local Volumes"][1:3] == ["2", "1"]


# the prunes

def _dangling_image(stack, tmp_path, content: bytes) -> None:
    """An image loaded as loaded:dangling, then its name taken by another: the first is left
    without a name."""
    for number, data in enumerate((content, content + b"again")):
        layer = layer_tar([Dir("etc"), File("etc/data", data)])
        config = canonical_json({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                                 "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers",
                                                                       "diff_ids": [sha256_digest(layer)]}})
        name = sha256_digest(config).removeprefix("sha256:") + ".json"
        manifest = canonical_json([{"Config": name, "RepoTags": ["loaded:dangling"], "Layers": ["l/layer.tar"]}])
        archive = tmp_path / f"image{number}.tar"
        with tarfile.open(archive, "w") as tar:
            for member, blob in ((name, config), ("l/layer.tar", layer), ("manifest.json", manifest)):
                info = tarfile.TarInfo(member)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        stack.docker("load", "-i", str(archive))


def test_container_prune(stack):
    stack.docker("run", "-d", "--name", "web", "busybox", "sleep", "600")

    def make():
        stack.docker("run", "-l", "tier=a", "busybox", "sh", "-c", "echo x > /file")
        stack.docker("create", "busybox", "true")

    docker, mine = twice(stack, make, "container", "prune", "-f", "--filter", "label=tier=a", fix=hide_ids)
    assert re.fullmatch(r"Deleted Containers:\nID\n\nTotal reclaimed space: [\d.]+k?B\n", hide_ids(mine.stdout))
    stack.docker("container", "prune", "-f")  # the created ones both makes left
    created = []
    docker, mine = twice(stack, lambda: created.append(stack.docker("create", "busybox", "true").stdout.strip()),
                         "container", "prune", "--force", fix=hide_ids)
    assert mine.stdout.startswith(f"Deleted Containers:\n{created[1]}\n\nTotal reclaimed space: ")
    assert [c["Names"] for c in json.loads(stack.raw("GET", "/v1.50/containers/json?all=1")[2])] == [["/web"]]
    same(stack, "container", "prune", "-f")
    same(stack, "container", "prune", "-f", "--filter", "until=soon")


@pytest.fixture
def loaded(stack, tmp_path):
    """_dangling_image, with everything it loaded removed after the test."""
    yield lambda content: _dangling_image(stack, tmp_path, content)
    stack.docker("rmi", "-f", "loaded:dangling", check=False)
    stack.docker("image", "prune", "-f")


def test_image_prune(stack, loaded):
    twice(stack, lambda: loaded(b"one"), "image", "prune", "-f", fix=any_size)
    assert "<none>" not in ours(stack, "images").stdout
    stack.docker("run", "-d", "--name", "web", "busybox", "sleep", "600")  # busybox is used: -a spares it
    stack.docker("image", "prune", "-a", "-f")
    docker, mine = twice(stack, lambda: loaded(b"two"), "image", "prune", "-a", "-f", fix=any_size)
    assert "\nuntagged: loaded:dangling\n" in mine.stdout and mine.stdout.count("\ndeleted: sha256:") == 2
    assert ours(stack, "images", "--format", "{{.Repository}}").stdout == "busybox\n"
    same(stack, "image", "prune", "-f", "--filter", "until=24h")
    same(stack, "image", "prune", "-f", "--filter", "label=nosuch")


def test_system_prune(stack, loaded):
    stack.docker("run", "-d", "--name", "web", "busybox", "sleep", "600")

    def make():
        stack.docker("run", "-v", "/anon", "busybox", "true")
        stack.docker("volume", "create", "named")
        loaded(b"three")

    docker, mine = twice(stack, make, "system", "prune", "-f", "--volumes", fix=lambda text: any_size(hide_ids(text)))
    assert re.fullmatch(r"Deleted Containers:\nID\n\nDeleted Volumes:\nID\n\nDeleted Images:\ndeleted: sha256:ID\n\n"
                        r"Total reclaimed space: [\d.]+k?B\n", hide_ids(mine.stdout)), mine.stdout
    same(stack, "system", "prune", "-f")
    same(stack, "system", "prune", "-a", "-f", "--filter", "label=nosuch")
    same(stack, "system", "prune", "-f", "--volumes", "--filter", "until=1h")

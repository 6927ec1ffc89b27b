"""pydocker cp, save, load, import, push and pull's terminal display against the real Docker CLI
on the same pydockerd (whose archive endpoints the CLI's cp drives too).

A copy is compared by what it leaves: a local directory tree, or a container's tree read back
as a tar, with names, types, modes, owners, contents, link targets and file times. Each tool
copies into a place of its own made the same way. The hostile cases put symlinks to / and to
../../.. in a container and ../ entries in a tar, and check on the host that nothing outside
the container was read or written."""
from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import secrets
import stat
import subprocess
import tarfile
import threading
from pathlib import Path

import pexpect
import pytest

from tests.fixtures.client import PYDOCKER, both, same
from tests.fixtures.pydockerd import DOCKER

pytestmark = pytest.mark.root

CLIS = {"docker": DOCKER, "pydocker": PYDOCKER}
LOGRUS = re.compile(r'^time="[^"]*" level=\w+ msg=.*\n', re.M)  # the Docker CLI's own tar goroutine complaining


def without_logs(text: str) -> str:
    return LOGRUS.sub("", text)


def run(stack, cli: str, *args: str, input: bytes | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([CLIS[cli], *args], input=input, capture_output=True, env=stack.environment, cwd=cwd,
                          timeout=120)


def outcome(done: subprocess.CompletedProcess, name: str = "") -> tuple[int, bytes, str]:
    """Exit status, stdout and stderr (the CLI's logging out, a container's name made common)."""
    stderr = without_logs(done.stderr.decode())
    return done.returncode, done.stdout, stderr.replace(name, "C") if name else stderr


def local_tree(root: Path) -> dict:
    """Every entry under root: type and mode, owner, content or link target, and (but for
    directories, which the copy touches) modification time."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        content = path.read_bytes() if stat.S_ISREG(info.st_mode) else \
            os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
        when = None if stat.S_ISDIR(info.st_mode) else int(info.st_mtime)
        found[str(path.relative_to(root))] = (oct(info.st_mode), info.st_uid, info.st_gid, content, when)
    return found


def container_tree(stack, container: str, path: str) -> list:
    """What a container holds at path, read back through the archive endpoint."""
    done = run(stack, "docker", "cp", f"{container}:{path}", "-")
    assert done.returncode == 0, done.stderr
    archive = tarfile.open(fileobj=io.BytesIO(done.stdout))
    return [(m.name, m.type, m.mode, m.uid, m.gid, m.linkname, archive.extractfile(m).read() if m.isreg() else None,
             None if m.isdir() else m.mtime) for m in archive]


@pytest.fixture
def local(tmp_path) -> Path:
    """A local tree to copy from: a file owned by 1234:4321, a directory, links to both, a hard link."""
    source = tmp_path / "local"
    (source / "d" / "sub").mkdir(parents=True)
    (source / "d" / "sub" / "x").write_text("x\n")
    (source / "d" / "top").write_text("top\n")
    (source / "f").write_text("hi\n")
    os.chown(source / "f", 1234, 4321)
    os.chmod(source / "d" / "sub", 0o700)
    (source / "lnk").symlink_to("f")
    (source / "lnkdir").symlink_to("d")
    os.link(source / "d" / "top", source / "d" / "hard")
    return source


TREE = ("mkdir -p /data/dir/sub && echo a > /data/dir/a && echo b > /data/dir/sub/b && ln -s a /data/dir/link && "
        "ln /data/dir/a /data/dir/hard && chown 12:34 /data/dir/a && chmod 700 /data/dir/sub && "
        "echo file > /data/file && ln -s /data/file /data/filelink")


# --- cp out of a container ---------------------------------------------------------------------

@pytest.mark.parametrize("source", ["/data/file", "/data/dir", "/data/dir/", "/data/dir/.", "/data/filelink",
                                    "-L /data/filelink"])
def test_cp_from_a_container_lands_where_dockers_does(stack, tmp_path, source):
    stack.docker("run", "-d", "--name", "src", "busybox", "sh", "-c", TREE + " && sleep 300")
    stack.docker("exec", "src", "test", "-L", "/data/filelink")
    *flags, path = source.split()
    for n, destination in enumerate(("new", "exists", "exists/", "newdir/", "file", ".")):
        results = []
        for cli in CLIS:
            base = tmp_path / cli / str(n)
            (base / "exists").mkdir(parents=True)
            (base / "file").write_text("old")
            done = run(stack, cli, "cp", *flags, f"src:{path}", str(base / destination), cwd=base)
            tree = local_tree(base)
            for made in ("exists", "file"):  # made here a moment apart: their times differ
                tree[made] = tree[made][:4]
            results.append((outcome(done), tree))
        assert results[0] == results[1], f"cp {source} {destination}"


def test_cp_to_stdout_is_the_daemons_tar(stack):
    stack.docker("run", "-d", "--name", "src", "busybox", "sh", "-c", TREE + " && sleep 300")
    stack.docker("exec", "src", "test", "-L", "/data/filelink")
    for path in ("/data", "/data/dir/.", "/data/file", "/data/filelink"):
        docker, ours = (run(stack, cli, "cp", f"src:{path}", "-") for cli in CLIS)
        assert outcome(ours) == outcome(docker) and ours.returncode == 0
    names = tarfile.open(fileobj=io.BytesIO(ours.stdout)).getnames()
    assert names == ["filelink"]


# --- cp into a container -----------------------------------------------------------------------

DESTINATIONS = ["new", "exists", "exists/", "newdir/", "file", "dirlink", "filelink"]


def destination_dirs() -> str:
    """A shell script making one /dst<n> per case: an existing directory and file, links to both."""
    return " && ".join(f"mkdir -p /dst{n}/exists && echo old > /dst{n}/file && ln -s /dst{n}/exists /dst{n}/dirlink "
                       f"&& ln -s /dst{n}/file /dst{n}/filelink" for n in range(len(DESTINATIONS)))


@pytest.mark.parametrize("source", ["f", "d", "d/", "d/.", "lnk", "-L lnk", "lnkdir", "lnkdir/"])
def test_cp_into_a_container_lands_where_dockers_does(stack, local, source):
    for cli in CLIS:
        stack.docker("run", "-d", "--name", f"to-{cli}", "busybox", "sh", "-c", destination_dirs() + " && sleep 300")
    for cli in CLIS:
        stack.docker("exec", f"to-{cli}", "test", "-L", f"/dst{len(DESTINATIONS) - 1}/filelink")
    *flags, path = source.split()
    for n, destination in enumerate(DESTINATIONS):
        results = []
        for cli in CLIS:
            done = run(stack, cli, "cp", *flags, path, f"to-{cli}:/dst{n}/{destination}", cwd=local)
            tree = [entry[:-1] if entry[0].split("/")[-1] in ("exists", "file", "dirlink", "filelink") else entry
                    for entry in container_tree(stack, f"to-{cli}", f"/dst{n}")]
            results.append((outcome(done, f"to-{cli}"), tree))
        assert results[0] == results[1], f"cp {source} {destination}"


def test_cp_a_tar_from_stdin(stack, local):
    archive = subprocess.run(["tar", "-C", str(local), "-cf", "-", "d", "f"], capture_output=True, check=True).stdout
    for cli in CLIS:
        stack.docker("run", "-d", "--name", f"in-{cli}", "busybox", "sh", "-c", "mkdir /in && sleep 300")
    for cli in CLIS:
        stack.docker("exec", f"in-{cli}", "test", "-d", "/in")
    results = []
    for cli in CLIS:
        done = run(stack, cli, "cp", "-", f"in-{cli}:/in", input=archive)
        refused = run(stack, cli, "cp", "-", f"in-{cli}:/in/f", input=archive)
        results.append((outcome(done), outcome(refused, f"in-{cli}"), container_tree(stack, f"in-{cli}", "/in")))
    assert results[0] == results[1]
    assert results[1][1] == (1, b"", 'destination "C:/in/f" must be a directory\n')
    assert ("in/f", tarfile.REGTYPE, 0o644, 1234, 4321, "", b"hi\n") == results[1][2][-1][:7]


def test_cp_archive_mode_owns_by_the_containers_user(stack, local):
    stack.docker("run", "-d", "--name", "named", "--user", "user", "busybox", "sleep", "300")
    stack.docker("run", "-d", "--name", "numeric", "--user", "1000", "busybox", "sleep", "300")
    for cli in CLIS:
        assert run(stack, cli, "cp", "-a", str(local / "f"), f"named:/tmp/{cli}-a").returncode == 0
        assert run(stack, cli, "cp", str(local / "f"), f"named:/tmp/{cli}-plain").returncode == 0
    owners = stack.docker("exec", "named", "stat", "-c", "%n %u:%g", "/tmp/docker-a", "/tmp/pydocker-a",
                          "/tmp/docker-plain", "/tmp/pydocker-plain").stdout.split("\n")
    assert owners[:4] == ["/tmp/docker-a 1000:1000", "/tmp/pydocker-a 1000:1000", "/tmp/docker-plain 1234:4321",
                          "/tmp/pydocker-plain 1234:4321"]
    docker, ours = (run(stack, cli, "cp", "-a", str(local / "f"), "numeric:/tmp/") for cli in CLIS)
    assert outcome(ours) == outcome(docker) == (1, b"", "Error response from daemon: user: unknown user 1000\n")


def test_cp_into_a_stopped_container_and_its_volume(stack, local):
    for cli in CLIS:
        stack.docker("create", "--name", f"stopped-{cli}", "-v", f"vol-{cli}:/vol", "busybox", "sh", "-c",
                     "cat /vol/f /root/f; ls /vol/d")
        for destination in ("/vol/", "/root/"):
            assert run(stack, cli, "cp", str(local / "f"), f"stopped-{cli}:{destination}").returncode == 0
        assert run(stack, cli, "cp", str(local / "d"), f"stopped-{cli}:/vol/").returncode == 0
    for cli in CLIS:
        assert stack.docker("start", "-a", f"stopped-{cli}").stdout == "hi\nhi\nhard\nsub\ntop\n"
        assert stack.docker("run", "--rm", "-v", f"vol-{cli}:/v", "busybox", "cat", "/v/f").stdout == "hi\n"


def test_cp_refusals_in_dockers_words_and_statuses(stack, local):
    stack.docker("run", "-d", "--name", "c1", "-v", f"{local}:/ro:ro", "busybox", "sleep", "300")
    for args in (["a", "b"], ["c1:/a", "c1:/b"], ["", "c1:/"], ["c1:/", ""], ["c1:/etc/passwd"],
                 ["nosuch:/etc", str(local / "x")], ["c1:/nonexistent", "-"], ["c1:/etc/passwd", "/nonexistent/x"],
                 ["c1:/etc", str(local / "f")], [str(local / "nonexistent"), "c1:/tmp"],
                 [str(local / "f"), "c1:/nonexistent/dir/"], ["-", "c1:/etc/passwd"], [str(local / "d"), "c1:/etc/hosts"],
                 [str(local / "f"), "c1:/ro/"], ["c1:/etc/passwd", "/dev/null"]):
        docker, ours = both(stack, "cp", *args)
        fixed = [(done.returncode, done.stdout, without_logs(done.stderr).replace("pydocker", "docker"))
                 for done in (docker, ours)]
        assert fixed[0] == fixed[1], args
        assert ours.returncode == 1, args


# --- hostile containers and tars -----------------------------------------------------------------

def test_symlinks_in_a_container_never_reach_the_host(stack, local, tmp_path):
    secret = tmp_path / "host-secret"
    secret.write_text("the host's\n")
    up = "../" * 12
    stack.docker("run", "-d", "--name", "evil", "busybox", "sh", "-c",
                 f"ln -s / /rootlink && ln -s {up} /up && ln -s {secret} /leak && ln -s {up}{tmp_path} /uptmp && "
                 f"mkdir -p {tmp_path} && sleep 300")  # the host's test directory, in the container too
    stack.docker("exec", "evil", "test", "-L", "/uptmp")
    out = tmp_path / "out"
    out.mkdir()
    for cli in CLIS:
        for source in ("evil:/leak/", f"evil:/up{secret}", f"evil:/rootlink{secret}", "evil:/uptmp/host-secret"):
            done = run(stack, cli, "cp", source, str(out / "copy"))
            assert done.returncode == 1 and b"Could not find the file" in done.stderr, (cli, source)
        done = run(stack, cli, "cp", "-L", "evil:/leak", str(out / "copy"))
        assert done.returncode == 1 and b"Could not find the file" in done.stderr
        leaked = run(stack, cli, "cp", "evil:/leak", str(out / "link"))
        assert leaked.returncode == 0 and os.readlink(out / "link") == str(secret)  # the link itself, not its target
        (out / "link").unlink()
    for cli in CLIS:
        for destination in (f"/rootlink{tmp_path}/planted-{cli}", f"/up{tmp_path}/planted-{cli}",
                            f"/uptmp/planted-{cli}", "/leak"):
            assert run(stack, cli, "cp", str(local / "f"), f"evil:{destination}").returncode == 0, destination
        assert stack.docker("exec", "evil", "cat", f"{tmp_path}/planted-{cli}", str(secret)).stdout == "hi\nhi\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["host-secret", "local", "out"]
    assert secret.read_text() == "the host's\n" and list(out.iterdir()) == []


def hostile_tar(tmp_path: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        def add(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "", data: bytes = b"pwned\n"):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, linkname
            if kind == tarfile.REGTYPE:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        add(f"{'../' * 12}{tmp_path}/escaped-dots")  # the ../ stop at the container's root
        add("root", tarfile.SYMTYPE, "/")  # an absolute link is the container's /
        add(f"root{tmp_path}/escaped-via-link")
    return buffer.getvalue()


def test_a_tar_with_dotdot_entries_stays_in_the_container(stack, tmp_path):
    archive = hostile_tar(tmp_path)
    for cli in CLIS:
        stack.docker("run", "-d", "--name", f"untar-{cli}", "busybox", "sleep", "300")
    for cli in CLIS:
        done = run(stack, cli, "cp", "-", f"untar-{cli}:/tmp", input=archive)
        assert outcome(done) == (0, b"", ""), done.stderr
        inside = stack.docker("exec", f"untar-{cli}", "cat", f"{tmp_path}/escaped-dots",
                              f"{tmp_path}/escaped-via-link").stdout
        assert inside == "pwned\npwned\n"
        refused = run(stack, cli, "cp", "-", f"untar-{cli}:/tmp", input=one_entry("x/../../etc/outside"))
        assert outcome(refused) == (1, b"", 'Error response from daemon: "../etc/outside" is outside of "/tmp"\n')
    assert list(tmp_path.iterdir()) == []
    assert not Path("/etc/outside").exists()


def one_entry(name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    return buffer.getvalue()


# --- cp on a terminal ----------------------------------------------------------------------------

def on_a_terminal(stack, cli: str, *args: str) -> tuple[str, int]:
    child = pexpect.spawn(CLIS[cli], list(args), env=stack.environment, timeout=60, encoding="utf-8")
    try:
        child.expect(pexpect.EOF)
    finally:
        child.close()
    return child.before, child.exitstatus


def test_cp_says_what_it_copied_on_a_terminal(stack, local, tmp_path):
    stack.docker("run", "-d", "--name", "tty", "busybox", "sh", "-c", "mkdir /in && sleep 300")
    stack.docker("exec", "tty", "test", "-d", "/in")
    said = {}
    for cli in CLIS:
        said[cli] = [on_a_terminal(stack, cli, "cp", str(local / "f"), "tty:/in/"),
                     on_a_terminal(stack, cli, "cp", str(local / "d"), f"tty:/in/{cli}"),
                     on_a_terminal(stack, cli, "cp", "tty:/etc/passwd", str(tmp_path / f"{cli}-passwd")),
                     on_a_terminal(stack, cli, "cp", "-q", "tty:/etc/passwd", str(tmp_path / f"{cli}-quiet")),
                     on_a_terminal(stack, cli, "cp", "tty:/etc", str(local / "f"))]
    assert [(text.replace("pydocker", "docker"), status) for text, status in said["pydocker"]] == \
        [(text.replace("pydocker", "docker"), status) for text, status in said["docker"]]
    assert said["pydocker"][0] == ("Successfully copied 2.05kB to tty:/in/\r\n", 0)
    assert said["pydocker"][3] == ("", 0)
    assert said["pydocker"][4] == (f"Successfully copied 0B to {local}/f\r\ncannot copy directory\r\n", 1)


# --- save, load, import --------------------------------------------------------------------------

def test_save_and_load_round_trips_between_the_two_clis(stack, tmp_path):
    image_id = stack.inspect("busybox")["Id"]
    saved = subprocess.run([PYDOCKER, "save", "busybox"], capture_output=True, env=stack.environment, check=True)
    assert saved.stdout == subprocess.run([DOCKER, "save", "busybox"], capture_output=True, env=stack.environment,
                                          check=True).stdout
    names = tarfile.open(fileobj=io.BytesIO(saved.stdout)).getnames()
    assert {"oci-layout", "index.json", "manifest.json", f"blobs/sha256/{image_id.removeprefix('sha256:')}"} <= \
        set(names)
    manifest = json.loads(tarfile.open(fileobj=io.BytesIO(saved.stdout)).extractfile("manifest.json").read())
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    stack.docker("rmi", "busybox")
    loaded = subprocess.run([DOCKER, "load"], input=saved.stdout, capture_output=True, env=stack.environment)
    assert (loaded.returncode, loaded.stdout) == (0, b"Loaded image: busybox:latest\n")
    assert stack.inspect("busybox")["Id"] == image_id
    stack.docker("save", "-o", str(tmp_path / "docker.tar"), "busybox")
    stack.docker("rmi", "busybox")
    for args in (["load", "-i", str(tmp_path / "docker.tar")], ["load", "-q", "-i", str(tmp_path / "docker.tar")]):
        assert same(stack, *args).stdout == "Loaded image: busybox:latest\n"
    assert stack.inspect("busybox")["Id"] == image_id
    ours = subprocess.run([PYDOCKER, "load"], input=(tmp_path / "docker.tar").read_bytes(), capture_output=True,
                          env=stack.environment)
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, b"Loaded image: busybox:latest\n", b"")


def test_save_to_a_file_is_written_aside_then_renamed(stack, tmp_path):
    output = tmp_path / "busybox.tar"
    assert same(stack, "save", "-o", str(output), "busybox").stdout == ""
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert tarfile.open(output).getnames()[0] == "oci-layout"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busybox.tar"]
    (tmp_path / "notdir").write_text("")
    for args in (["save"], ["save", "nosuch"], ["save", "-o", str(tmp_path / "missing" / "x.tar"), "busybox"],
                 ["save", "-o", str(tmp_path), "busybox"], ["save", "-o", str(tmp_path / "notdir" / "x"), "busybox"],
                 ["load", "-i", str(tmp_path / "missing.tar")], ["load", "extra"]):
        docker, ours = both(stack, *args)
        assert (ours.returncode, ours.stdout, ours.stderr.replace("pydocker", "docker")) == \
            (docker.returncode, docker.stdout, docker.stderr), args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busybox.tar", "notdir"]  # no half-written archive
    garbage = both(stack, "load", input="not a tar")
    assert garbage[1].returncode == garbage[0].returncode == 1 and garbage[1].stderr == garbage[0].stderr


def test_save_and_load_refuse_a_terminal(stack):
    for cli in CLIS:
        assert on_a_terminal(stack, cli, "save", "busybox") == \
            ("cowardly refusing to save to a terminal. Use the -o flag or redirect\r\n", 1)
        assert on_a_terminal(stack, cli, "load") == ("requested load from stdin, but stdin is empty\r\n", 1)


@pytest.fixture
def rootfs_tar(tmp_path) -> Path:
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "rootfs" / "hello").write_text("imported\n")
    path = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(tmp_path / "rootfs"), "-cf", str(path), "."], check=True)
    return path


@pytest.fixture
def served(tmp_path):
    """An HTTP server on loopback serving tmp_path, for import from a URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def imported(stack, ref: str) -> dict:
    found = stack.inspect(ref)
    return {"Cmd": found["Config"]["Cmd"], "Env": found["Config"]["Env"], "Comment": found["Comment"],
            "Layers": found["RootFS"]["Layers"]}


def test_import_from_a_file_stdin_and_a_url(stack, rootfs_tar, served):
    ways = [(["import", "-m", "from a file", "-c", 'CMD ["cat", "/hello"]', "-c", "ENV A=b", str(rootfs_tar)], None),
            (["import", "-c", "CMD cat /hello", "-"], rootfs_tar.read_bytes()),
            (["import", f"{served}/rootfs.tar"], None)]
    for n, (args, data) in enumerate(ways):
        for cli in CLIS:
            done = run(stack, cli, *args, f"imported/{cli}:{n}", input=data)
            assert done.returncode == 0 and re.fullmatch(rb"sha256:[0-9a-f]{64}\n", done.stdout), done.stderr
        assert imported(stack, f"imported/pydocker:{n}") == imported(stack, f"imported/docker:{n}")
    assert imported(stack, "imported/pydocker:0")["Comment"] == "from a file"
    for n in range(len(ways)):
        stack.docker("create", "--name", f"from-{n}", f"imported/pydocker:{n}", "none")
        copied = run(stack, "pydocker", "cp", f"from-{n}:/hello", "-").stdout
        assert tarfile.open(fileobj=io.BytesIO(copied)).extractfile("hello").read() == b"imported\n"
    for args in (["import", "/nonexistent"], ["import"], ["import", "-c", "BOGUS x", str(rootfs_tar)],
                 ["import", str(rootfs_tar), "Bad:Name"], ["import", f"{served}/missing.tar"]):
        docker, ours = both(stack, *args)
        assert (ours.returncode, ours.stdout, ours.stderr.replace("pydocker", "docker")) == \
            (docker.returncode, docker.stdout, docker.stderr), args


# --- push, and pull's terminal display ------------------------------------------------------------

def new_image(stack, tmp_path, ref: str) -> None:
    """An image of one layer of random bytes, so that no other image shares it."""
    (tmp_path / "random").write_bytes(secrets.token_bytes(3_000_000))
    subprocess.run(["tar", "-C", str(tmp_path), "-cf", str(tmp_path / "random.tar"), "random"], check=True)
    stack.docker("import", str(tmp_path / "random.tar"), ref)


def test_push_to_the_registry_then_pull_it_back(stack, registry, tmp_path):
    ref = f"{registry.host}/files/pushed:1"
    new_image(stack, tmp_path, ref)
    image_id = stack.inspect(ref)["Id"]
    pushed = subprocess.run([PYDOCKER, "push", ref], capture_output=True, text=True, env=stack.environment)
    lines = pushed.stdout.splitlines()
    assert pushed.returncode == 0, pushed.stderr
    assert lines[0] == f"The push refers to repository [{registry.host}/files/pushed]"
    assert re.fullmatch(r"[0-9a-f]{12}: Pushed", lines[-2]) and re.fullmatch(
        r"1: digest: sha256:[0-9a-f]{64} size: \d+", lines[-1])
    same(stack, "push", ref)  # again: the layer already exists, for both
    stack.docker("tag", ref, f"{registry.host}/files/pushed:2")
    assert same(stack, "push", "-a", f"{registry.host}/files/pushed").stdout.count("The push refers to") == 2
    with registry.get("/v2/files/pushed/tags/list") as listed:
        assert sorted(json.load(listed)["tags"]) == ["1", "2"]
    assert same(stack, "push", "-q", ref).stdout == f"{ref}\n"
    for args in (["push", f"{registry.host}/files/pushed"], ["push", "-a", ref], ["push", "Bad"],
                 ["push", f"{registry.host}/files/nothere:1"], ["push", "-a", f"{registry.host}/files/nothere"]):
        docker, ours = both(stack, *args)
        assert (ours.returncode, ours.stdout, ours.stderr) == (docker.returncode, docker.stdout, docker.stderr)
    stack.docker("rmi", ref)
    pulled = subprocess.run([PYDOCKER, "pull", ref], capture_output=True, text=True, env=stack.environment)
    assert pulled.returncode == 0 and f"Status: Downloaded newer image for {ref}" in pulled.stdout
    assert stack.inspect(ref)["Id"] == image_id


def test_pull_on_a_terminal_redraws_a_line_per_layer(stack, registry, tmp_path):
    ref = f"{registry.host}/files/fresh:1"
    new_image(stack, tmp_path, ref)
    stack.docker("push", ref)
    stack.docker("rmi", ref)
    child = pexpect.spawn(PYDOCKER, ["pull", ref], env=stack.environment, dimensions=(30, 160), timeout=60,
                          encoding="utf-8")
    layer = r"([0-9a-f]{12}): "
    child.expect(f"1: Pulling from {re.escape(registry.host)}/files/fresh\r\n")
    child.expect("\x1b\\[2K\r" + layer + r"Pulling fs layer \r")
    layer_id = child.match.group(1)
    child.expect(f"\x1b\\[2K\r{layer_id}: Downloading \\[=*>\\s*\\]\\s+\\S+/3.0\\d\\dMB\r")
    child.expect(f"\x1b\\[1A\x1b\\[2K\r{layer_id}: Pull complete \r\x1b\\[1B")
    child.expect(r"Digest: sha256:[0-9a-f]{64}\r\n")
    child.expect(f"Status: Downloaded newer image for {re.escape(ref)}\r\n{re.escape(ref)}\r\n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    # With the layer there, what both CLIs draw is the same, byte for byte
    drawn = [on_a_terminal(stack, cli, "pull", ref) for cli in CLIS]
    assert drawn[0] == drawn[1] and f"Status: Image is up to date for {ref}" in drawn[0][0]

"""The archive endpoints of docker cp (HEAD, GET and PUT /containers/{id}/archive) through
pydockerd: docker-py's get_archive and put_archive, and raw HTTP for the stat header and the
errors. What the container sees is read from inside it."""
import base64
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.fixtures.processes import processes_mentioning

pytestmark = pytest.mark.root

DIRECTORY_MODE = 1 << 31
SYMLINK_MODE = 1 << 27


def tar_of(*entries: tuple[str, bytes | None]) -> bytes:
    """A tar of (name, content) files; content None makes a directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            else:
                info.size, info.mode = len(content), 0o640
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def stat_header(headers: dict) -> dict:
    return json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))


def test_get_and_put_archive_with_docker_py(docker, pydocker):
    client = pydocker.docker_py()
    container = client.containers.run("busybox", ["sh", "-c", "mkdir -p /data/sub && echo hello > /data/sub/f && "
                                                  "sleep 60"], detach=True)
    pydocker.docker("exec", container.id, "test", "-f", "/data/sub/f")
    chunks, stat = container.get_archive("/data")
    archive = tarfile.open(fileobj=io.BytesIO(b"".join(chunks)))
    assert archive.getnames() == ["data", "data/sub", "data/sub/f"]
    assert archive.extractfile("data/sub/f").read() == b"hello\n"
    assert stat["name"] == "data" and stat["mode"] & DIRECTORY_MODE and stat["linkTarget"] == ""
    assert container.put_archive("/data", tar_of(("new", None), ("new/file", b"put\n"))) is True
    listed = pydocker.docker("exec", container.id, "sh", "-c", "stat -c '%a %Y' /data/new/file; cat /data/new/file")
    assert listed.stdout == "640 1700000000\nput\n"
    container.remove(force=True)


def test_head_stat_header_of_a_file_a_directory_and_a_symlink(docker, pydocker):
    docker("run", "-d", "--name", "stat", "busybox", "sh", "-c", "printf 12345 > /f; ln -s /f /link; sleep 60")
    docker("exec", "stat", "test", "-L", "/link")
    status, headers, body = pydocker.raw("HEAD", "/v1.50/containers/stat/archive?path=/f")
    assert (status, body) == (200, b"")
    found = stat_header(headers)
    assert (found["name"], found["size"], found["mode"], found["linkTarget"]) == ("f", 5, 0o644, "")
    assert found["mtime"].endswith("Z") and found["mtime"][:2] == "20"
    found = stat_header(pydocker.raw("HEAD", "/v1.50/containers/stat/archive?path=/link")[1])
    assert found["name"] == "link" and found["mode"] & SYMLINK_MODE and found["linkTarget"] == "/f"
    found = stat_header(pydocker.raw("HEAD", "/v1.50/containers/stat/archive?path=/etc/")[1])
    assert found["name"] == "etc" and found["mode"] == DIRECTORY_MODE | 0o755


def test_errors_in_dockers_words(docker, pydocker):
    docker("run", "-d", "--name", "err", "busybox", "sleep", "60")
    status, _, body = pydocker.raw("GET", "/v1.50/containers/err/archive?path=/nonexistent")
    assert (status, json.loads(body)) == (404, {"message": "Could not find the file /nonexistent in container err"})
    status, headers, body = pydocker.raw("HEAD", "/v1.50/containers/err/archive?path=/nonexistent")
    assert (status, body) == (404, b"") and "x-docker-container-path-stat" not in headers
    status, _, body = pydocker.raw("GET", "/v1.50/containers/err/archive")
    assert (status, json.loads(body)) == (400, {"message": "bad parameter: pathcannot be empty"})
    status, _, body = pydocker.raw("PUT", "/v1.50/containers/err/archive?path=/etc/passwd", tar_of(("x", b"x")))
    assert (status, json.loads(body)) == (400, {"message": "extraction point is not a directory"})
    status, _, body = pydocker.raw("PUT", "/v1.50/containers/err/archive?path=/nope", tar_of(("x", b"x")))
    assert (status, json.loads(body)) == (404, {"message": "Could not find the file /nope in container err"})
    status, _, body = pydocker.raw("GET", "/v1.50/containers/nosuch/archive?path=/")
    assert (status, json.loads(body)) == (404, {"message": "No such container: nosuch"})
    status, _, body = pydocker.raw("PUT", "/v1.50/containers/err/archive?path=/tmp", b"not a tar, and short")
    assert (status, json.loads(body)) == (500, {"message": "unexpected EOF"})


def test_a_stopped_container_and_its_volumes(docker, pydocker, tmp_path):
    bound = tmp_path / "bound"
    bound.mkdir()
    (bound / "from-host").write_text("host\n")
    docker("create", "--name", "stopped", "-v", "named:/vol", "-v", f"{bound}:/bound:ro", "busybox", "cat",
           "/vol/put", "/bound/from-host")
    client = pydocker.docker_py()
    container = client.containers.get("stopped")
    assert container.put_archive("/vol", tar_of(("put", b"into the volume\n")))
    chunks, _ = container.get_archive("/bound/from-host")
    assert tarfile.open(fileobj=io.BytesIO(b"".join(chunks))).extractfile("from-host").read() == b"host\n"
    status, _, body = pydocker.raw("PUT", "/v1.50/containers/stopped/archive?path=/bound", tar_of(("x", b"x")))
    assert (status, json.loads(body)) == (400, {"message": "mounted volume is marked read-only"})
    assert not (bound / "x").exists()
    assert docker("start", "-a", "stopped").stdout == "into the volume\nhost\n"


def test_nothing_of_the_copy_stays_mounted_or_behind(docker, pydocker):
    docker("run", "-d", "--name", "clean", "-v", "/data", "busybox", "sleep", "60")
    for _ in range(3):
        pydocker.raw("GET", "/v1.50/containers/clean/archive?path=/data")
        pydocker.raw("PUT", "/v1.50/containers/clean/archive?path=/data", tar_of(("f", b"f")))
    # Each copy mounted in a namespace that ended with it: no staging directory, no mount, no process
    assert list((pydocker.exec_root / "archive").iterdir()) == []
    assert str(pydocker.exec_root / "archive") not in Path("/proc/self/mountinfo").read_text()
    assert [line for _, line in processes_mentioning(str(pydocker.exec_root / "archive"))] == []


def test_an_escaping_tar_entry_is_refused_and_touches_nothing_outside(docker, pydocker, tmp_path):
    docker("run", "-d", "--name", "escape", "busybox", "sleep", "60")
    marker = tmp_path / "escaped"
    status, _, body = pydocker.raw("PUT", "/v1.50/containers/escape/archive?path=/tmp",
                                   tar_of(("../../../../../../../../..%s" % marker, b"pwned\n")))
    # ../ beyond the root stays at the container's root: the file lands inside the container
    assert status == 200, body
    assert not marker.exists()
    assert docker("exec", "escape", "cat", str(marker)).stdout == "pwned\n"
    status, _, body = pydocker.raw("PUT", "/v1.50/containers/escape/archive?path=/tmp",
                                   tar_of(("a/../../etc/evil", b"x")))
    assert (status, json.loads(body)) == (500, {"message": '"../etc/evil" is outside of "/tmp"'})
    assert docker("exec", "escape", "ls", "/etc/evil", check=False).returncode == 1

"""Images through pydockerd, driven by the real Docker CLI, docker-py and raw HTTP: pull through
the registry mirror with Docker's progress lines, list, inspect, history, tag, rmi, save and
load, import, the manifest list, and the error replies."""
import json
import time

import pytest


pytestmark = pytest.mark.root


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def messages(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def remove_image(pydocker, ref: str) -> None:
    pydocker.raw("DELETE", f"/v1.50/images/{ref}?force=1")


def test_docker_pull_through_the_mirror_shows_progress(pydocker, busybox_image):
    remove_image(pydocker, "busybox")
    pulled = pydocker.docker("pull", "busybox")
    out = lines(pulled.stdout)
    layer = busybox_image.layer_digests[0].removeprefix("sha256:")[:12]
    assert out[0] == "Using default tag: latest"
    assert out[1] == "latest: Pulling from library/busybox"
    assert f"{layer}: Pull complete" in out
    assert f"Digest: {busybox_image.manifest_digest}" in out
    assert "Status: Downloaded newer image for busybox:latest" in out
    assert out[-1] == "docker.io/library/busybox:latest"

    again = lines(pydocker.docker("pull", "busybox").stdout)
    assert "Status: Image is up to date for busybox:latest" in again

    status, headers, body = pydocker.raw("POST", "/v1.50/images/create?fromImage=docker.io/library/busybox&tag=latest",
                                         headers={"X-Registry-Auth": "e30="})
    assert status == 200 and headers["content-type"] == "application/json"
    assert {"status": "Pulling from library/busybox", "id": "latest"} == messages(body)[0]
    assert {"status": "Already exists", "progressDetail": {}, "id": layer} in messages(body)


def test_docker_images_and_inspect_and_history(pydocker, busybox_image):
    pydocker.docker("pull", "busybox")
    table = lines(pydocker.docker("images").stdout)
    assert table[0].split()[:4] == ["REPOSITORY", "TAG", "IMAGE", "ID"]
    row = next(line.split() for line in table[1:] if line.startswith("busybox "))
    assert row[:3] == ["busybox", "latest", busybox_image.config_digest.removeprefix("sha256:")[:12]]
    assert pydocker.docker("images", "-q", "busybox").stdout.strip() == busybox_image.config_digest[7:19]
    digests = pydocker.docker("images", "--digests", "--format", "{{.Digest}}", "busybox").stdout.strip()
    assert digests == busybox_image.manifest_digest

    inspected = json.loads(pydocker.docker("image", "inspect", "busybox").stdout)[0]
    assert inspected["Id"] == busybox_image.config_digest
    assert inspected["RepoTags"] == ["busybox:latest"]
    assert inspected["RepoDigests"] == [f"busybox@{busybox_image.manifest_digest}"]
    assert inspected["RootFS"]["Layers"] == list(busybox_image.diff_ids)
    assert inspected["Os"] == "linux" and inspected["Architecture"] == "amd64"
    for ref in (busybox_image.config_digest, busybox_image.config_digest[7:19], "docker.io/library/busybox:latest",
                f"busybox@{busybox_image.manifest_digest}"):
        assert pydocker.docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip() == \
            busybox_image.config_digest

    history = lines(pydocker.docker("history", "busybox").stdout)
    assert history[0].split()[:2] == ["IMAGE", "CREATED"]
    assert history[1].startswith(busybox_image.config_digest[7:19])


def test_tag_and_rmi(pydocker, busybox_image):
    pydocker.docker("pull", "busybox")
    pydocker.docker("tag", "busybox", "mine/box:v1")
    assert pydocker.docker("image", "inspect", "--format", "{{.Id}}", "mine/box:v1").stdout.strip() == \
        busybox_image.config_digest
    assert lines(pydocker.docker("rmi", "mine/box:v1").stdout) == ["Untagged: mine/box:v1"]

    pydocker.docker("tag", "busybox", "other:1")
    removed = lines(pydocker.docker("rmi", "busybox", "other:1").stdout)
    # busybox goes first while other:1 still names the image: only the last name deletes it
    assert removed == ["Untagged: busybox:latest", "Untagged: other:1",
                       f"Untagged: other@{busybox_image.manifest_digest}", f"Deleted: {busybox_image.config_digest}"]
    missing = pydocker.docker("rmi", "busybox", check=False)
    assert missing.returncode == 1
    assert "Error response from daemon: No such image: busybox" in missing.stderr
    status, _, body = pydocker.raw("DELETE", "/v1.50/images/nothere:1")
    assert (status, json.loads(body)) == (404, {"message": "No such image: nothere:1"})
    status, _, body = pydocker.raw("POST", "/v1.50/images/nothere/tag?repo=x&tag=y")
    assert status == 404


def test_save_and_load_round_trip(pydocker, busybox_image, tmp_path):
    pydocker.docker("pull", "busybox")
    archive = tmp_path / "busybox.tar"
    pydocker.docker("save", "-o", str(archive), "busybox")
    assert archive.stat().st_size > 100_000
    pydocker.docker("rmi", "busybox")
    loaded = pydocker.docker("load", "-i", str(archive))
    assert lines(loaded.stdout) == ["Loaded image: busybox:latest"]
    assert pydocker.docker("image", "inspect", "--format", "{{.Id}}", "busybox").stdout.strip() == \
        busybox_image.config_digest
    status, headers, body = pydocker.raw("POST", "/v1.50/images/load?quiet=1", body=archive.read_bytes(),
                                         headers={"Content-Type": "application/x-tar"})
    assert status == 200 and headers["content-type"] == "application/json"
    assert messages(body) == [{"stream": "Loaded image: busybox:latest\n"}]
    ran = pydocker.docker("run", "--rm", "busybox", "echo", "loaded", check=False)
    if ran.returncode == 0:  # containers are the other engineer's: checked once they run
        assert ran.stdout == "loaded\n"


def test_docker_import_with_changes(pydocker, tmp_path, busybox_image):
    import tarfile
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        (tmp_path / "hello").write_text("hi\n")
        tar.add(tmp_path / "hello", arcname="hello")
    imported = pydocker.docker("import", "-c", 'CMD ["/hello"]', "-c", "ENV A=1", "-m", "made here",
                               str(rootfs), "imported:1")
    image_id = imported.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    inspected = json.loads(pydocker.docker("image", "inspect", "imported:1").stdout)[0]
    assert inspected["Id"] == image_id
    assert inspected["Config"]["Cmd"] == ["/hello"] and inspected["Config"]["Env"] == ["A=1"]
    assert inspected["Comment"] == "made here"
    pydocker.docker("rmi", "imported:1")


def test_pull_of_a_manifest_list_takes_amd64(pydocker, multiarch_index):
    pydocker.docker("pull", "multiarch")
    inspected = json.loads(pydocker.docker("image", "inspect", "multiarch").stdout)[0]
    amd64 = multiarch_index.images["amd64"]
    assert inspected["Id"] == amd64.config_digest
    assert inspected["RepoDigests"] == [f"multiarch@{multiarch_index.index_digest}"]
    pydocker.docker("rmi", "multiarch")


def test_pull_of_a_missing_repository_is_a_404(pydocker, registry):
    # From the registry itself: through the mirror, a miss falls back to Docker Hub, out of reach here.
    failed = pydocker.docker("pull", f"{registry.host}/nosuchrepo", check=False)
    assert failed.returncode == 1
    assert (f"Error response from daemon: pull access denied for {registry.host}/nosuchrepo, repository does not "
            "exist or may require 'docker login'") in failed.stderr
    status, _, body = pydocker.raw("POST", f"/v1.50/images/create?fromImage={registry.host}/nosuchrepo&tag=latest")
    assert status == 404 and "pull access denied for" in json.loads(body)["message"]
    failed = pydocker.docker("pull", f"{registry.host}/library/busybox:nosuchtag", check=False)
    assert failed.returncode == 1
    assert f"manifest for {registry.host}/library/busybox:nosuchtag not found" in failed.stderr


def test_docker_py_pull_then_get(pydocker, busybox_image):
    remove_image(pydocker, "busybox")
    client = pydocker.docker_py()
    image = client.images.pull("busybox")
    assert image.id == busybox_image.config_digest
    assert image.tags == ["busybox:latest"]
    assert client.images.get(busybox_image.config_digest[7:19]).id == busybox_image.config_digest
    assert busybox_image.config_digest in {i.id for i in client.images.list()}
    assert image.tag("pyrepo/x", "2") is True
    client.images.remove("pyrepo/x:2")
    saved = b"".join(image.save())
    assert client.images.load(saved)[0].id == busybox_image.config_digest


def test_push_to_the_registry_then_pull_it_back(pydocker, registry, busybox_image):
    pydocker.docker("pull", "busybox")
    target = f"{registry.host}/pushed/box:v1"
    pydocker.docker("tag", "busybox", target)
    pushed = lines(pydocker.docker("push", target).stdout)
    assert pushed[0] == f"The push refers to repository [{registry.host}/pushed/box]"
    layer = busybox_image.layer_digests[0].removeprefix("sha256:")[:12]
    assert f"{layer}: Pushed" in pushed or f"{layer}: Layer already exists" in pushed
    assert pushed[-1].startswith("v1: digest: sha256:") and " size: " in pushed[-1]
    with registry.get("/v2/pushed/box/tags/list") as reply:
        assert json.load(reply)["tags"] == ["v1"]

    status, _, body = pydocker.raw("POST", f"/v1.50/images/{registry.host}/pushed/box/push?tag=v1",
                                   headers={"X-Registry-Auth": "e30="})
    assert status == 200
    aux = [m["aux"] for m in messages(body) if "aux" in m]
    assert aux == [{"Tag": "v1", "Digest": pushed[-1].split()[2], "Size": int(pushed[-1].split()[-1])}]
    status, _, body = pydocker.raw("POST", "/v1.50/images/nothere/push?tag=latest")
    assert (status, json.loads(body)) == (404, {"message": "An image does not exist locally with the tag: nothere"})

    pydocker.docker("rmi", target)
    assert "Status: Downloaded newer image" in pydocker.docker("pull", target).stdout
    pydocker.docker("rmi", target)


def test_image_events(pydocker, busybox_image):
    pydocker.docker("pull", "busybox")
    pydocker.docker("tag", "busybox", "evt:1")
    pydocker.docker("rmi", "evt:1")
    status, _, body = pydocker.raw("GET", f"/v1.50/events?since=0&until={time.time() + 1:.0f}"
                                   '&filters={"type":{"image":true}}')
    assert status == 200
    seen = [(e["Action"], e["Actor"]["Attributes"].get("name")) for e in messages(body)]
    assert ("pull", "busybox:latest") in seen
    assert ("tag", "evt:1") in seen and ("untag", "evt:1") in seen


def test_resolve_unpacks_an_image_whose_snapshot_is_missing(pydocker, layered_image, tmp_path):
    """What the container service relies on: resolve gives the config and a committed top snapshot."""
    from types import SimpleNamespace

    import grpc

    from containerd.client import archive
    from containerd.client.unpack import committed
    from dockerd.config import Config
    from dockerd.daemon.images import SNAPSHOTTER, ImageService
    from tests.fixtures.images import write_docker_archive

    source = write_docker_archive(layered_image, tmp_path / "layered.tar", "layered:unpacked")
    config = Config(containerd=str(pydocker.containerd_socket))
    with grpc.insecure_channel(f"unix://{pydocker.containerd_socket}") as channel:
        with source.open("rb") as tar:
            archive.import_archive(channel, config.containerd_namespace, tar, unpack=False)
        service = ImageService(SimpleNamespace(config=config, channel=channel, events=None, containers=None))
        resolved = service.resolve("layered:unpacked", unpack=False)
        client = service._client
        if committed(client, SNAPSHOTTER, resolved.chain_id):
            pytest.skip("the layers were unpacked by an earlier test")
        resolved = service.resolve("layered:unpacked")
        assert committed(client, SNAPSHOTTER, resolved.chain_id)
        assert resolved.id == layered_image.config_digest and resolved.name == "docker.io/library/layered:unpacked"
        assert resolved.config["Cmd"] == ["sh"]
    pydocker.docker("rmi", "layered:unpacked")


def test_an_untagged_import_is_dangling_and_pruned(pydocker, tmp_path):
    import tarfile
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        (tmp_path / "f").write_text("dangling\n")
        tar.add(tmp_path / "f", arcname="f")
    image_id = pydocker.docker("import", str(rootfs)).stdout.strip()
    dangling = pydocker.docker("images", "-q", "--no-trunc", "--filter", "dangling=true").stdout.split()
    assert dangling == [image_id]
    row = next(line.split() for line in pydocker.docker("images").stdout.splitlines() if image_id[7:19] in line)
    assert row[:2] == ["<none>", "<none>"]
    pruned = pydocker.docker("image", "prune", "-f").stdout
    assert f"deleted: {image_id}" in pruned and "Total reclaimed space:" in pruned
    assert pydocker.docker("images", "-q", "--filter", "dangling=true").stdout.split() == []

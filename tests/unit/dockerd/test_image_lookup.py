"""The image service's lookups and listings on a store held in memory: references as Docker
reads them (ID, short ID, name, name:tag, name@digest, familiar or fully qualified), RepoTags
and RepoDigests, and the list filters."""
import hashlib
import json
from types import SimpleNamespace

import pytest

import errdefs
from containerd.client.media import DOCKER_MANIFEST, Descriptor
from dockerd.config import Config
from dockerd.daemon import images as images_module
from dockerd.daemon.images import ImageService, _Content, _Record, apply_changes, credentials_of, decode_auth
from containerd.client.reference import parse


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def content(name: str, created: str, labels: dict | None = None) -> _Content:
    config = {"created": created, "architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["sh"], "Labels": labels},
              "rootfs": {"type": "layers", "diff_ids": [digest(name + "-layer")]},
              "history": [{"created": created, "created_by": f"ADD {name}"}]}
    return _Content(Descriptor(DOCKER_MANIFEST, digest(name + "-manifest"), 500),
                    Descriptor("application/vnd.docker.container.image.v1+json", digest(name + "-config"), 100),
                    config, (Descriptor("x", digest(name + "-blob"), 1000),), (digest(name + "-layer"),),
                    digest(name + "-layer"))


class Store:
    def __init__(self):
        self.records: list[_Record] = []
        self.events: list[tuple] = []
        self.users: dict[str, list[str]] = {}

    def add(self, name: str, target: Descriptor) -> None:
        self.records.append(_Record(name, target, 1.0, 2.0))


@pytest.fixture
def store(monkeypatch):
    store = Store()
    daemon = SimpleNamespace(
        config=Config(), channel=None,
        events=SimpleNamespace(publish=lambda *args: store.events.append(args)),
        containers=SimpleNamespace(image_users=lambda image_id: store.users.get(image_id, [])))
    service = ImageService(daemon)
    contents = {"busybox": content("busybox", "2024-01-02T03:04:05.123456789Z", {"org": "bb"}),
                "alpine": content("alpine", "2024-06-01T00:00:00Z"),
                "local": content("local", "2023-01-01T00:00:00Z", {"org": "mine", "tier": "x"})}
    for value in contents.values():
        service._contents[value.manifest.digest] = value
    store.add("docker.io/library/busybox:latest", contents["busybox"].manifest)
    store.add("docker.io/library/busybox:1.36", contents["busybox"].manifest)
    store.add("docker.io/library/alpine:3", contents["alpine"].manifest)
    store.add("127.0.0.1:5000/team/local:v1", contents["local"].manifest)
    monkeypatch.setattr(service, "_records", lambda: list(store.records))
    monkeypatch.setattr(service, "_unpacked_size", lambda c: 0)
    monkeypatch.setattr(service, "_named", lambda ref: None)  # the one-record fast path asks pycontainerd
    store.service, store.contents = service, contents
    return store


@pytest.mark.parametrize("ref", [
    "busybox", "busybox:latest", "library/busybox", "docker.io/library/busybox:latest",
    "index.docker.io/library/busybox", "busybox:1.36",
])
def test_names_resolve_familiar_or_fully_qualified(store, ref):
    resolved = store.service.resolve(ref, unpack=False)
    assert resolved.id == store.contents["busybox"].id
    assert resolved.config["Cmd"] == ["sh"]
    assert resolved.chain_id == digest("busybox-layer")


def test_ids_resolve_full_bare_and_by_unique_prefix(store):
    image_id = store.contents["alpine"].id
    hex_id = image_id.removeprefix("sha256:")
    for ref in (image_id, hex_id, hex_id[:12], "sha256:" + hex_id[:12], hex_id[:3]):
        assert store.service.resolve(ref, unpack=False).id == image_id
    assert store.service.resolve(image_id, unpack=False).name == "docker.io/library/alpine:3"


def test_an_ambiguous_prefix_is_refused(store):
    for n in "12":
        base = content("twin" + n, "2024-01-01T00:00:00Z")
        twin = _Content(base.manifest, Descriptor(base.config_descriptor.media_type, "sha256:ab" + n * 62, 100),
                        base.image_config, base.layers, base.diff_ids, base.chain_id)
        store.service._contents[twin.manifest.digest] = twin
        store.add(f"docker.io/library/twin{n}:latest", twin.manifest)
    with pytest.raises(errdefs.InvalidArgument, match="multiple IDs found with provided prefix: ab"):
        store.service.resolve("ab", unpack=False)
    assert store.service.resolve("ab1", unpack=False).name == "docker.io/library/twin1:latest"


def test_name_at_digest_finds_the_record_of_that_repository(store):
    target = store.contents["busybox"].manifest.digest
    assert store.service.resolve(f"busybox@{target}", unpack=False).id == store.contents["busybox"].id
    with pytest.raises(errdefs.NotFound, match=f"No such image: alpine@{target}"):
        store.service.resolve(f"alpine@{target}", unpack=False)


@pytest.mark.parametrize("ref", ["busybox:nope", "nothere", "127.0.0.1:5000/team/local", "f" * 64, "sha256:" + "0" * 64])
def test_what_is_not_there_is_no_such_image(store, ref):
    with pytest.raises(errdefs.NotFound, match=f"^No such image: {ref}$"):
        store.service.resolve(ref, unpack=False)


def test_summaries_group_records_by_id_with_familiar_names(store):
    summaries = {s["Id"]: s for s in store.service.summaries()}
    busybox = summaries[store.contents["busybox"].id]
    assert busybox["RepoTags"] == ["busybox:1.36", "busybox:latest"]
    assert busybox["RepoDigests"] == [f"busybox@{store.contents['busybox'].manifest.digest}"]
    assert busybox["Created"] == 1704164645 and isinstance(busybox["Created"], int)
    assert busybox["Labels"] == {"org": "bb"} and busybox["Containers"] == 0 and busybox["SharedSize"] == -1
    assert summaries[store.contents["local"].id]["RepoTags"] == ["127.0.0.1:5000/team/local:v1"]
    assert [s["Id"] for s in store.service.summaries()][0] == store.contents["alpine"].id  # newest first
    assert store.service.count() == 3


def ids(summaries):
    return {s["Id"] for s in summaries}


def test_filters_reference_label_before_since(store):
    c = store.contents
    s = store.service
    assert ids(s.summaries({"reference": ["busybox"]})) == {c["busybox"].id}
    assert ids(s.summaries({"reference": ["busy*"]})) == {c["busybox"].id}
    assert ids(s.summaries({"reference": ["busybox:1.*"]})) == {c["busybox"].id}
    assert ids(s.summaries({"reference": ["alpine:latest"]})) == set()
    assert ids(s.summaries({"reference": ["127.0.0.1:5000/team/*"]})) == {c["local"].id}
    assert ids(s.summaries({"label": ["org"]})) == {c["busybox"].id, c["local"].id}
    assert ids(s.summaries({"label": ["org=mine"]})) == {c["local"].id}
    assert ids(s.summaries({"before": ["alpine:3"]})) == {c["busybox"].id, c["local"].id}
    assert ids(s.summaries({"since": ["busybox"]})) == {c["alpine"].id}
    assert ids(s.summaries({"until": ["1700000000"]})) == {c["local"].id}
    with pytest.raises(errdefs.InvalidArgument, match="invalid filter 'bogus'"):
        s.summaries({"bogus": ["x"]})


def test_dangling_records_show_as_untagged(store):
    store.records = [r for r in store.records if "alpine" not in r.name]
    store.add("moby-dangling@" + store.contents["alpine"].manifest.digest, store.contents["alpine"].manifest)
    s = store.service
    assert ids(s.summaries({"dangling": ["true"]})) == {store.contents["alpine"].id}
    assert store.contents["alpine"].id not in ids(s.summaries({"dangling": ["false"]}))
    dangling = next(x for x in s.summaries() if x["Id"] == store.contents["alpine"].id)
    assert (dangling["RepoTags"], dangling["RepoDigests"]) == ([], [])
    assert s.resolve(store.contents["alpine"].id, unpack=False).name == ""
    with pytest.raises(errdefs.InvalidArgument, match="invalid filter 'dangling=maybe'"):
        s.summaries({"dangling": ["maybe"]})


def test_inspect_and_history_shapes(store):
    inspected = store.service.inspect("busybox")
    assert inspected["Id"] == store.contents["busybox"].id
    assert inspected["Created"] == "2024-01-02T03:04:05.123456789Z"
    assert inspected["Config"]["Cmd"] == ["sh"] and inspected["Config"]["Env"] is None
    assert inspected["RootFS"] == {"Type": "layers", "Layers": [digest("busybox-layer")]}
    assert inspected["Os"] == "linux" and inspected["Architecture"] == "amd64"
    history = store.service.history("busybox")
    assert history == [{"Id": store.contents["busybox"].id, "Created": 1704164645, "CreatedBy": "ADD busybox",
                        "Tags": ["busybox:1.36", "busybox:latest"], "Size": 1000, "Comment": ""}]


def test_delete_by_name_untags_and_the_last_name_deletes(store, monkeypatch):
    deleted = []

    class FakeClient:
        def delete_image(self, name, sync=False):
            deleted.append(name)
            store.records = [r for r in store.records if r.name != name]

        def put_image(self, name, target, labels=None):
            store.add(name, target)

    monkeypatch.setattr(ImageService, "_client", property(lambda self: FakeClient()))
    s = store.service
    assert s.delete("busybox:1.36") == [{"Untagged": "busybox:1.36"}]
    image_id = store.contents["busybox"].id
    assert s.delete("busybox") == [{"Untagged": "busybox:latest"},
                                   {"Untagged": f"busybox@{store.contents['busybox'].manifest.digest}"},
                                   {"Deleted": image_id}]
    assert deleted == ["docker.io/library/busybox:1.36", "docker.io/library/busybox:latest"]
    assert ("image", "delete", image_id, {"name": image_id}) in store.events
    with pytest.raises(errdefs.NotFound, match="No such image: busybox"):
        s.delete("busybox")


def test_delete_refuses_an_image_a_container_uses_unless_forced(store, monkeypatch):
    class FakeClient:
        def delete_image(self, name, sync=False):
            store.records = [r for r in store.records if r.name != name]

        def put_image(self, name, target, labels=None):
            store.add(name, target)

    monkeypatch.setattr(ImageService, "_client", property(lambda self: FakeClient()))
    image_id = store.contents["alpine"].id
    store.users[image_id] = ["c" * 64]
    with pytest.raises(errdefs.Conflict, match='unable to remove repository reference "alpine:3" \\(must force\\) - '
                                               f"container cccccccccccc is using its referenced image {image_id[7:19]}"):
        store.service.delete("alpine:3")
    assert store.service.delete("alpine:3", force=True) == [
        {"Untagged": "alpine:3"}, {"Untagged": f"alpine@{store.contents['alpine'].manifest.digest}"}]
    # still there, dangling, for the container that uses it
    assert store.service.resolve(image_id, unpack=False).id == image_id


def test_delete_by_id_of_an_image_with_several_names_needs_force(store):
    with pytest.raises(errdefs.Conflict, match="image is referenced in multiple repositories"):
        store.service.delete(store.contents["busybox"].id)


def test_import_changes_apply_dockerfile_instructions():
    config = apply_changes({}, ['CMD ["sh", "-c", "echo hi"]', "ENV A=1 B=two", "ENV A=3", "EXPOSE 80 53/udp",
                                "WORKDIR /srv", "USER 1000", 'LABEL a=b "c d"=e', "ENTRYPOINT top -b",
                                'VOLUME ["/data"]', "STOPSIGNAL SIGINT"])
    assert config == {"Cmd": ["sh", "-c", "echo hi"], "Env": ["B=two", "A=3"],
                      "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "WorkingDir": "/srv", "User": "1000",
                      "Labels": {"a": "b", "c d": "e"}, "Entrypoint": ["/bin/sh", "-c", "top -b"],
                      "Volumes": {"/data": {}}, "StopSignal": "SIGINT"}
    with pytest.raises(errdefs.InvalidArgument, match="RUN is not a valid change command"):
        apply_changes({}, ["RUN true"])


def test_registry_auth_header_becomes_credentials_for_the_registry_host():
    import base64
    header = base64.urlsafe_b64encode(json.dumps(
        {"username": "u", "password": "p", "serveraddress": "https://127.0.0.1:5000/v2/"}).encode()).decode().rstrip("=")
    auth = decode_auth(header)
    assert credentials_of(auth, parse("127.0.0.1:5000/x")) == {"127.0.0.1:5000": ("u", "p")}
    hub = credentials_of({"username": "u", "password": "p"}, parse("busybox"))
    assert set(hub) == {"docker.io", "registry-1.docker.io", "index.docker.io"}
    assert decode_auth("e30=") == {} and credentials_of(decode_auth("e30="), parse("busybox")) is None
    assert decode_auth("!!!not base64") is None


def test_times_parse_with_nanoseconds_and_zones():
    assert images_module.parse_time("2024-01-02T03:04:05Z") == 1704164645
    assert images_module.parse_time("2024-01-02T04:04:05.5+01:00") == 1704164645.5
    assert images_module.parse_time("") == 0 and images_module.parse_time("garbage") == 0
    assert images_module.rfc3339(1704164645) == "2024-01-02T03:04:05Z"

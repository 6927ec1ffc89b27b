"""containerd.client's registry client against a real registry (Debian's docker-registry): resolve,
fetch with digest checks, resume with Range, Docker Hub mirrors with fallback, bearer and basic
auth (a token server and an authenticating front written here: docker-registry's own token auth
needs certificates), and a push that skopeo reads back."""
import base64
import hashlib
import http.server
import json
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest

import errdefs
from containerd.client import media
from containerd.client.reference import parse
from containerd.client.registry import Registry
from tests.fixtures.images import File, build_oci_layout
from tests.fixtures.registry import serve_registry

USER, PASSWORD = "pydocker", "s3cret"
TOKEN = "token-for-" + USER


def remote(registry_fixture, path: str, **options) -> Registry:
    return Registry(parse(f"{registry_fixture.host}/{path}"), **options)


def test_resolve_fetch_manifest_config_and_layer(registry, busybox_image):
    with remote(registry, "library/busybox:latest") as client:
        descriptor = client.resolve()
        assert (descriptor.media_type, descriptor.digest) == (media.OCI_MANIFEST, busybox_image.manifest_digest)
        manifest = media.Manifest.parse(client.fetch_manifest(descriptor))
        assert manifest.config.digest == busybox_image.config_digest
        assert media.diff_ids(client.fetch_blob(manifest.config)) == list(busybox_image.diff_ids)
        layer = manifest.layers[0]
        with client.open_blob(layer) as chunks:
            data = b"".join(chunks)
    assert data == busybox_image.blob_path(layer.digest).read_bytes()


def test_a_digest_reference_resolves_without_a_tag(registry, busybox_image):
    with remote(registry, f"library/busybox@{busybox_image.manifest_digest}") as client:
        assert client.resolve().digest == busybox_image.manifest_digest


def test_the_index_of_a_manifest_list_selects_amd64(registry, multiarch_index):
    with remote(registry, "library/multiarch") as client:
        top = client.resolve()
        assert top.media_type in media.INDEXES
        chosen = media.select_platform(media.index_manifests(client.fetch_manifest(top)),
                                       media.Platform.parse("linux/amd64"), "multiarch")
    assert chosen.digest == multiarch_index.images["amd64"].manifest_digest


def test_a_resumed_blob_continues_from_its_offset(registry, busybox_image):
    layer_digest = busybox_image.layer_digests[0]
    whole = busybox_image.blob_path(layer_digest).read_bytes()
    descriptor = media.Descriptor(media.OCI_LAYER_GZIP, layer_digest, len(whole))
    offset = len(whole) // 3
    with remote(registry, "library/busybox") as client, client.open_blob(descriptor, offset) as chunks:
        rest = b"".join(chunks)
    assert rest == whole[offset:]


def test_a_blob_of_another_size_fails_naming_it(registry, busybox_image):
    real = busybox_image.layer_digests[0]
    size = busybox_image.blob_path(real).stat().st_size
    claimed = media.Descriptor(media.OCI_LAYER_GZIP, real, size - 1)
    with remote(registry, "library/busybox") as client:
        with pytest.raises(errdefs.DataLoss, match=f"{real} is longer"):
            with client.open_blob(claimed) as chunks:
                b"".join(chunks)
        config_claimed_larger = media.Descriptor(media.OCI_CONFIG, busybox_image.config_digest, size)
        with pytest.raises(errdefs.DataLoss, match=f"{busybox_image.config_digest} is truncated"):
            with client.open_blob(config_claimed_larger) as chunks:
                b"".join(chunks)


def test_unknown_manifest_and_repository_are_not_found(registry):
    with remote(registry, "library/busybox:nope") as client:
        with pytest.raises(errdefs.NotFound, match="manifest for 127.0.0.1:.*/busybox:nope not found: manifest unknown"):
            client.resolve()
    with remote(registry, "nobody/here") as client, pytest.raises(errdefs.NotFound):
        client.resolve()


def test_an_unreachable_registry_is_unavailable():
    with Registry(parse(f"127.0.0.1:{_dead_port()}/library/busybox")) as client:
        with pytest.raises(errdefs.Unavailable, match="failed to resolve reference .*Connection refused"):
            client.resolve()


# Docker Hub mirrors


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_tls_registry_is_reached_over_https(tmp_path, busybox_image):
    """It serves HTTPS only, so a pull that works went over TLS; 127.0.0.1 is insecure by
    Docker's rules, so the self-signed certificate is accepted, as dockerd accepts it."""
    with serve_registry(tmp_path, tls=True) as tls_registry:
        tls_registry.push(busybox_image, "library/busybox:latest")
        with remote(tls_registry, "library/busybox:latest") as client:
            descriptor = client.resolve()
            manifest = media.Manifest.parse(client.fetch_manifest(descriptor))
            assert media.diff_ids(client.fetch_blob(manifest.config)) == list(busybox_image.diff_ids)
        assert descriptor.digest == busybox_image.manifest_digest
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://{tls_registry.host}/v2/", timeout=5)


def test_a_dead_mirror_falls_back_to_the_next(registry, busybox_image):
    mirrors = [f"http://127.0.0.1:{_dead_port()}", registry.url]
    with Registry(parse("busybox"), mirrors=mirrors) as client:
        descriptor = client.resolve()
        assert descriptor.digest == busybox_image.manifest_digest
        manifest = media.Manifest.parse(client.fetch_manifest(descriptor))
        assert client.fetch_blob(manifest.config) == busybox_image.blob_path(busybox_image.config_digest).read_bytes()


def test_a_mirror_without_the_image_falls_back_to_the_next(registry, busybox_image, tmp_path):
    with serve_registry(tmp_path) as empty:
        with Registry(parse("library/busybox:latest"), mirrors=[empty.url, registry.url]) as client:
            assert client.resolve().digest == busybox_image.manifest_digest


# authentication: a front that demands credentials, before the real registry


class _AuthFront(http.server.BaseHTTPRequestHandler):
    """Demands `Authorization` as the server's mode says, then forwards to the registry."""

    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args):
        pass

    def _challenge(self) -> str:
        if self.server.mode == "basic":
            return 'Basic realm="pydocker-test"'
        scope = f"repository:{self.path.split('/')[2]}/{self.path.split('/')[3]}:pull"
        return f'Bearer realm="{self.server.token_url}",service="pydocker-test",scope="{scope}"'

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        if self.server.mode == "basic":
            return given == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return given == f"Bearer {TOKEN}"

    def _forward(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
        if not self._authorized():
            self.send_response(401)
            self.send_header("WWW-Authenticate", self._challenge())
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        request = urllib.request.Request(self.server.upstream + self.path, method=self.command,
                                         headers={k: v for k, v in self.headers.items() if k.lower() == "accept"})
        try:
            answer = urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request)
        except urllib.error.HTTPError as error:
            answer = error
        body = answer.read()
        self.send_response(answer.status if hasattr(answer, "status") else answer.code)
        for key in ("Content-Type", "Docker-Content-Digest"):
            if answer.headers.get(key):
                self.send_header(key, answer.headers[key])
        self.send_header("Content-Length", answer.headers.get("Content-Length", str(len(body))))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _forward


class _TokenServer(http.server.BaseHTTPRequestHandler):
    """The token endpoint: a token for the right basic credentials, 401 for anything else."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.seen.append(self.path)
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        ok = self.headers.get("Authorization") == expected
        body = json.dumps({"token": TOKEN, "expires_in": 300}).encode() if ok else b"{}"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    mode = ""
    upstream = ""
    token_url = ""


@contextmanager
def _serving(handler, **attributes):
    server = _Server(("127.0.0.1", 0), handler)
    server.seen = []
    for key, value in attributes.items():
        setattr(server, key, value)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_bearer_token_from_the_challenge_is_fetched_once_per_scope(registry, busybox_image):
    with _serving(_TokenServer) as tokens, \
            _serving(_AuthFront, mode="bearer", upstream=registry.url,
                     token_url=f"http://127.0.0.1:{tokens.server_address[1]}/token") as front:
        host = f"127.0.0.1:{front.server_address[1]}"
        with Registry(parse(f"{host}/library/busybox"), credentials={host: (USER, PASSWORD)}) as client:
            descriptor = client.resolve()
            client.fetch_manifest(descriptor)
        assert descriptor.digest == busybox_image.manifest_digest
        assert len(tokens.seen) == 1
        assert "scope=repository%3Alibrary%2Fbusybox%3Apull" in tokens.seen[0]
        assert "service=pydocker-test" in tokens.seen[0]
        assert [auth for _, _, auth in front.seen] == ["", f"Bearer {TOKEN}", f"Bearer {TOKEN}"]

        with Registry(parse(f"{host}/library/busybox"), credentials={host: (USER, "wrong")}) as client:
            with pytest.raises(errdefs.Unauthenticated, match="failed to fetch token"):
                client.resolve()


def test_basic_credentials_are_sent_once_challenged(registry, busybox_image):
    with _serving(_AuthFront, mode="basic", upstream=registry.url) as front:
        host = f"127.0.0.1:{front.server_address[1]}"
        with Registry(parse(f"{host}/library/busybox"), credentials={host: (USER, PASSWORD)}) as client:
            assert client.resolve().digest == busybox_image.manifest_digest
        with Registry(parse(f"{host}/library/busybox")) as client:
            with pytest.raises(errdefs.Unauthenticated, match="no basic auth credentials"):
                client.resolve()
        with Registry(parse(f"{host}/library/busybox"), credentials={host: (USER, "wrong")}) as client:
            with pytest.raises(errdefs.Unauthenticated, match="401"):
                client.resolve()


# push


@pytest.mark.parametrize("chunked", [False, True], ids=["monolithic", "chunked"])
def test_push_then_skopeo_reads_it_back(registry, tmp_path, chunked):
    image = build_oci_layout(tmp_path / "layout", [[File("hello", b"pushed by pydocker " + str(chunked).encode())]])
    manifest_data = image.blob_path(image.manifest_digest).read_bytes()
    manifest = media.Manifest.parse(manifest_data)
    repository = f"pydocker-test/pushed-{'chunked' if chunked else 'monolithic'}"
    with Registry(parse(f"{registry.host}/{repository}:v1"), push=True) as client:
        for blob in (manifest.config, *manifest.layers):
            assert not client.blob_exists(blob.digest)
            data = image.blob_path(blob.digest).read_bytes()
            client.push_blob(blob, [data[i:i + 100] for i in range(0, len(data), 100)], chunked=chunked)
            assert client.blob_exists(blob.digest)
        client.push_manifest(media.Descriptor.of(media.OCI_MANIFEST, manifest_data), manifest_data, "v1")
    inspected = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--no-creds",
                                f"docker://{registry.host}/{repository}:v1"],
                               capture_output=True, text=True, check=True)
    assert json.loads(inspected.stdout)["Digest"] == image.manifest_digest
    assert json.loads(inspected.stdout)["Layers"] == list(image.layer_digests)


def test_a_blob_pushed_with_the_wrong_digest_is_refused(registry):
    with Registry(parse(f"{registry.host}/pydocker-test/refused"), push=True) as client:
        claimed = media.Descriptor(media.OCI_LAYER, "sha256:" + hashlib.sha256(b"other").hexdigest(), 4)
        with pytest.raises(errdefs.InvalidArgument, match="digest invalid"):
            client.push_blob(claimed, [b"data"])


"""A client for one repository of an OCI distribution registry: resolve, fetch, push.

It speaks the Registry HTTP API v2 the way containerd's remotes/docker package does
(resolver.go, fetcher.go, pusher.go): a tag is resolved with HEAD and the Accept list of
every manifest type, falling back to GET when HEAD does not give a digest; blobs stream
in chunks, checked against their descriptor's size and digest, and resume with a Range
request; a push skips blobs the registry has (HEAD), else POSTs an upload and PUTs the
content (in one request, or PATCHed chunk by chunk) with its digest.

Own code rather than python-dxf or oras-py: both sit on requests and leave out what a
pull needs here (Docker Hub mirrors with fallback, Docker's insecure-registry rules,
resuming a blob with Range into an ingest kept by pycontainerd, per-chunk progress);
httpx, already a dependency, gives streaming, TLS and redirects, and the API is small.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import httpx

import errdefs
from containerd.client import hosts
from containerd.client.auth import Authorizer, Credentials
from containerd.client.media import MANIFEST_ACCEPT, Descriptor, media_type_of, sha256_digest
from containerd.client.reference import Reference

CHUNK_SIZE = 1 << 20
MAX_MANIFEST_SIZE = 4 << 20  # as containerd's limit on manifests and indexes
TIMEOUT = httpx.Timeout(60.0, connect=10.0)

_KIND_OF_STATUS = {
    400: errdefs.InvalidArgument, 401: errdefs.Unauthenticated, 403: errdefs.PermissionDenied,
    404: errdefs.NotFound, 405: errdefs.NotImplemented, 409: errdefs.Conflict, 416: errdefs.OutOfRange,
    429: errdefs.ResourceExhausted,
}


def _error(response: httpx.Response, what: str, not_found: str = "") -> errdefs.Error:
    """The errdefs kind of a failed response, with the registry's own error codes in the message;
    a 404 says not_found first, as Docker does: `manifest for busybox:nope not found: manifest
    unknown` (a HEAD has no body to say more)."""
    details = []
    try:
        body = response.json() if response.request.method != "HEAD" else {}
        for error in body.get("errors") or ():
            details.append(f"{str(error.get('code', '')).lower().replace('_', ' ')}: {error.get('message', '')}")
    except (ValueError, AttributeError, httpx.ResponseNotRead):
        pass
    if response.status_code == 404 and not_found:
        return errdefs.NotFound("; ".join([not_found, *details]))
    detail = "; ".join(details) or f"{response.status_code} {response.reason_phrase}"
    kind = _KIND_OF_STATUS.get(response.status_code)
    if kind is None:
        kind = errdefs.Unavailable if response.status_code >= 500 else errdefs.Unknown
    return kind(f"{what}: {detail}")


class Registry:
    """One repository (reference's domain and path), reached through the endpoints Docker would use."""

    def __init__(self, reference: Reference, *, mirrors: Iterable[str] = (), insecure: Iterable[str] = (),
                 credentials: Credentials | None = None, push: bool = False):
        self.reference = reference
        self._endpoints = hosts.endpoints(reference.domain, mirrors=mirrors, insecure=insecure, push=push)
        self._scope = f"repository:{reference.path}:{'pull,push' if push else 'pull'}"
        # Go's proxy rules never proxy loopback; httpx's do unless NO_PROXY says so.
        self._clients = {verify: httpx.Client(verify=verify, timeout=TIMEOUT, follow_redirects=True,
                                              mounts={"all://127.0.0.1": None, "all://localhost": None})
                         for verify in (True, False)}
        self._auth = Authorizer(self._clients[True], credentials)
        self._dead: set[hosts.Endpoint] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # requests

    def _send_to(self, endpoint: hosts.Endpoint, method: str, url: httpx.URL | str, *, headers=None,
                 content=None) -> httpx.Response:
        """One request, streamed, retried once if a 401 taught the authorizer something."""
        client = self._clients[endpoint.verify_tls]
        for _ in range(2):
            request = client.build_request(
                method, url, headers={**(headers or {}), **self._auth.header(endpoint.host, self._scope)},
                content=content)
            response = client.send(request, stream=True)
            if response.status_code != 401 or not self._auth.challenged(endpoint.host, response):
                return response
            response.close()
        return response

    @contextmanager
    def _request(self, method: str, path: str, what: str, *, headers=None, content=None, ok=(200,),
                 missing_ok=False, not_found="") -> Iterator[tuple[hosts.Endpoint, httpx.Response | None]]:
        """The first endpoint's answer that is a success (or a 404, if missing_ok, as None).

        A mirror that fails in any way passes the request on to the next endpoint; an endpoint
        that cannot be reached at all (refused, TLS failure) is skipped for the rest of this client's life."""
        failure: errdefs.Error | None = None
        for endpoint in self._endpoints:
            with self._lock:
                if endpoint in self._dead:
                    continue
            try:
                response = self._send_to(endpoint, method, f"{endpoint.url}/v2/{self.reference.path}/{path}",
                                         headers=headers, content=content)
            except httpx.TransportError as exc:
                with self._lock:
                    self._dead.add(endpoint)
                failure = errdefs.Unavailable(f'{what}: {method} "{endpoint.url}/v2/{self.reference.path}/{path}": {exc}')
                continue
            try:
                if response.status_code in ok:
                    yield endpoint, response
                    return
                if response.status_code == 404 and missing_ok and not endpoint.mirror:
                    yield endpoint, None
                    return
                response.read()
                failure = _error(response, what, not_found)
            finally:
                response.close()
            if not endpoint.mirror:
                break
        raise failure or errdefs.Unavailable(f"{what}: no registry endpoint could be reached")

    # pull

    def resolve(self) -> Descriptor:
        """The descriptor of the manifest or index the reference names."""
        what = f"failed to resolve reference {self.reference}"
        not_found = f"manifest for {self.reference.familiar} not found: manifest unknown"
        path = f"manifests/{self.reference.object}"
        headers = {"Accept": MANIFEST_ACCEPT}
        with self._request("HEAD", path, what, headers=headers, not_found=not_found) as (_, response):
            digest = response.headers.get("Docker-Content-Digest", "")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            size = response.headers.get("Content-Length")
        if self.reference.digest:
            digest = digest or self.reference.digest
        if digest and size is not None and media_type and (not self.reference.digest or digest == self.reference.digest):
            return Descriptor(media_type, digest, int(size))
        # HEAD may not name the digest (some registries) or the type: the document itself does.
        with self._request("GET", path, what, headers=headers, not_found=not_found) as (_, response):
            data = _read_limited(response, MAX_MANIFEST_SIZE, what)
            declared = response.headers.get("Content-Type", "").split(";")[0].strip()
        descriptor = Descriptor(media_type_of(data, declared), sha256_digest(data), len(data))
        if self.reference.digest and descriptor.digest != self.reference.digest:
            raise errdefs.DataLoss(f"manifest for {self.reference} has digest {descriptor.digest}")
        return descriptor

    def fetch_manifest(self, descriptor: Descriptor) -> bytes:
        """A manifest or index by digest, checked against its descriptor."""
        what = f"failed to fetch manifest {descriptor.digest} of {self.reference.familiar_name}"
        with self._request("GET", f"manifests/{descriptor.digest}", what, not_found=f"{what}: manifest unknown",
                           headers={"Accept": descriptor.media_type or MANIFEST_ACCEPT}) as (_, response):
            data = _read_limited(response, MAX_MANIFEST_SIZE, what)
        return _verified(descriptor, data)

    def fetch_blob(self, descriptor: Descriptor) -> bytes:
        """A small blob (a config) in memory, checked against its descriptor."""
        with self.open_blob(descriptor) as chunks:
            return b"".join(chunks)

    @contextmanager
    def open_blob(self, descriptor: Descriptor, offset: int = 0) -> Iterator[Iterator[bytes]]:
        """The blob's bytes from offset on, in chunks of up to CHUNK_SIZE.

        The chunks stop with DataLoss, before the last one is handed out, if the blob is longer
        or shorter than its descriptor says or (read from the start) has another digest: a
        caller that commits after the last chunk never commits a bad blob."""
        what = f"failed to fetch blob {descriptor.digest} of {self.reference.familiar_name}"
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with self._request("GET", f"blobs/{descriptor.digest}", what, headers=headers, ok=(200, 206),
                           not_found=f"{what}: blob unknown") as (_, response):
            yield _checked_chunks(descriptor, response, offset)

    # push

    def blob_exists(self, digest: str) -> bool:
        with self._request("HEAD", f"blobs/{digest}", f"blob {digest}", missing_ok=True) as (_, response):
            return response is not None

    def push_blob(self, descriptor: Descriptor, chunks: Iterable[bytes], *, chunked: bool = False) -> None:
        """Upload a blob: one PUT (monolithic) or a PATCH per chunk then a closing PUT."""
        what = f"failed to push blob {descriptor.digest} to {self.reference.name}"
        with self._request("POST", "blobs/uploads/", what, ok=(202,)) as (endpoint, response):
            location = httpx.URL(response.url).join(response.headers["Location"])
        if chunked:
            offset = 0
            for chunk in chunks:
                headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(chunk)),
                           "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}
                response = self._send_to(endpoint, "PATCH", location, headers=headers, content=chunk)
                location = self._expect(response, (202,), what, location)
                offset += len(chunk)
            content: Iterable[bytes] | bytes = b""
            headers = {"Content-Length": "0"}
        else:
            content = chunks
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(descriptor.size)}
        response = self._send_to(endpoint, "PUT", location.copy_merge_params({"digest": descriptor.digest}),
                                 headers=headers, content=content)
        self._expect(response, (201, 204), what, location)

    def push_manifest(self, descriptor: Descriptor, data: bytes, tag: str = "") -> None:
        """Store a manifest or index under tag, or only under its digest."""
        what = f"failed to push manifest {descriptor.digest} to {self.reference.name}"
        with self._request("PUT", f"manifests/{tag or descriptor.digest}", what, ok=(201,),
                           headers={"Content-Type": descriptor.media_type}, content=_verified(descriptor, data)):
            pass

    def _expect(self, response: httpx.Response, ok: tuple[int, ...], what: str, location) -> httpx.URL:
        """The upload's next location, if the response is one of ok; its error otherwise."""
        try:
            response.read()
            if response.status_code not in ok:
                raise _error(response, what)
            return httpx.URL(str(location)).join(response.headers.get("Location", str(location)))
        finally:
            response.close()


def _read_limited(response: httpx.Response, limit: int, what: str) -> bytes:
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) > limit:
            raise errdefs.ResourceExhausted(f"{what}: larger than the {limit} bytes allowed for a manifest")
    return bytes(data)


def _verified(descriptor: Descriptor, data: bytes) -> bytes:
    if len(data) != descriptor.size or sha256_digest(data) != descriptor.digest:
        raise errdefs.DataLoss(
            f"content {descriptor.digest} failed verification: got {len(data)} bytes with digest "
            f"{sha256_digest(data)}, expected {descriptor.size} bytes")
    return data


def _transferred(response: httpx.Response, descriptor: Descriptor) -> Iterator[bytes]:
    """The body's chunks; a connection lost midway is Unavailable, so the caller keeps what it has to resume."""
    try:
        yield from response.iter_bytes(CHUNK_SIZE)
    except httpx.TransportError as exc:
        raise errdefs.Unavailable(f"fetching blob {descriptor.digest} was interrupted: {exc}") from exc


def _checked_chunks(descriptor: Descriptor, response: httpx.Response, offset: int) -> Iterator[bytes]:
    skip = offset if response.status_code == 200 else 0  # the registry ignored our Range: drop what we have
    hasher = hashlib.sha256() if offset == 0 else None
    received = offset
    pending = b""
    for chunk in _transferred(response, descriptor):
        if skip:
            chunk, skip = chunk[skip:], max(0, skip - len(chunk))
        received += len(chunk)
        if received > descriptor.size:
            raise errdefs.DataLoss(f"blob {descriptor.digest} is longer than the {descriptor.size} bytes expected")
        if hasher:
            hasher.update(chunk)
        # One chunk is held back, so the last is handed out only once the whole blob checks out.
        if pending:
            yield pending
        pending = chunk
    if received < descriptor.size:
        raise errdefs.DataLoss(
            f"blob {descriptor.digest} is truncated: got {received} of {descriptor.size} bytes")
    if hasher and f"sha256:{hasher.hexdigest()}" != descriptor.digest:
        raise errdefs.DataLoss(
            f"blob {descriptor.digest} failed verification: its content has digest sha256:{hasher.hexdigest()}")
    if pending:
        yield pending

"""Chain IDs, platform selection, and the checks on a streamed blob."""
import hashlib

import httpx
import pytest

import errdefs
from containerd.client.media import (
    DOCKER_MANIFEST, OCI_LAYER_GZIP, OCI_MANIFEST, Descriptor, Platform, chain_ids, select_platform,
)
from containerd.client.registry import _checked_chunks


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_chain_ids_follow_the_oci_spec():
    a, b, c = sha("a"), sha("b"), sha("c")
    ab = sha(f"{a} {b}")
    assert chain_ids([a]) == [a]
    assert chain_ids([a, b, c]) == [a, ab, sha(f"{ab} {c}")]
    assert chain_ids([]) == []


def _entry(architecture: str, variant: str = "") -> Descriptor:
    platform = {"os": "linux", "architecture": architecture, **({"variant": variant} if variant else {})}
    return Descriptor(OCI_MANIFEST, sha(architecture + variant), 1, platform=platform)


def test_platform_selection():
    entries = [_entry("arm64", "v8"), _entry("amd64"), _entry("arm", "v7")]
    assert select_platform(entries, Platform.parse("linux/amd64"), "x") == entries[1]
    assert select_platform(entries, Platform.parse("linux/arm/v7"), "x") == entries[2]
    assert select_platform(entries, Platform.parse("linux/arm64"), "x") == entries[0]
    with pytest.raises(errdefs.NotFound, match="image x has no linux/s390x variant"):
        select_platform(entries, Platform.parse("linux/s390x"), "x")
    untagged = Descriptor(DOCKER_MANIFEST, sha("only"), 1)
    assert select_platform([untagged], Platform.parse("linux/amd64"), "x") == untagged
    with pytest.raises(errdefs.InvalidArgument):
        Platform.parse("linux")


BLOB = b"0123456789" * 1000


def _stream(descriptor: Descriptor, body: bytes, offset: int = 0, status: int = 200) -> bytes:
    return b"".join(_checked_chunks(descriptor, httpx.Response(status, content=body), offset))


def test_a_blob_is_checked_while_it_streams():
    good = Descriptor(OCI_LAYER_GZIP, "sha256:" + hashlib.sha256(BLOB).hexdigest(), len(BLOB))
    assert _stream(good, BLOB) == BLOB
    assert _stream(good, BLOB[100:], offset=100, status=206) == BLOB[100:]
    assert _stream(good, BLOB, offset=100) == BLOB[100:]  # the registry ignored Range: the start is skipped
    tampered = BLOB[:-1] + b"x"
    with pytest.raises(errdefs.DataLoss, match=f"blob {good.digest} failed verification"):
        _stream(good, tampered)
    with pytest.raises(errdefs.DataLoss, match=f"blob {good.digest} is truncated: got 9999 of 10000"):
        _stream(good, BLOB[:-1])
    with pytest.raises(errdefs.DataLoss, match="longer than the 10000 bytes"):
        _stream(good, BLOB + b"!")


def test_a_bad_blob_never_hands_out_its_last_chunk():
    good = Descriptor(OCI_LAYER_GZIP, "sha256:" + hashlib.sha256(BLOB).hexdigest(), len(BLOB))
    received = []
    with pytest.raises(errdefs.DataLoss):
        for chunk in _checked_chunks(good, httpx.Response(200, content=BLOB[:-1] + b"x"), 0):
            received.append(chunk)
    assert b"".join(received) != BLOB[:-1] + b"x"

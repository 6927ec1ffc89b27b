"""Writing a blob into pycontainerd's content store through the Content service's Write stream.

The stream is a conversation, as containerd's remote content writer holds it
(core/content/proxy/content_writer.go): STAT tells how much of the ref's ingest an earlier,
interrupted write left, so the fetch resumes from there; WRITE sends the bytes in chunks;
COMMIT names the size and digest the blob must have, so pycontainerd checks it too and
stores nothing that does not match. Every message is answered before the next is sent.
"""
from __future__ import annotations

import queue
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext

import grpc

import errdefs
from containerd.client.client import Client, error_of
from containerd.client.media import Descriptor
from protos import content_pb2

CHUNK_SIZE = 1 << 20

# Opens the blob's bytes from an offset on (a Range request when resuming).
Opener = Callable[[int], AbstractContextManager[Iterable[bytes]]]


class _WriteStream:
    def __init__(self, client: Client):
        self._requests: queue.Queue = queue.Queue()
        self._responses = client.content.Write(iter(self._requests.get, None), metadata=client.metadata)

    def send(self, request: content_pb2.WriteContentRequest) -> content_pb2.WriteContentResponse:
        self._requests.put(request)
        try:
            return next(self._responses)
        except grpc.RpcError as exc:
            raise error_of(exc) from None
        except StopIteration:
            raise errdefs.Unavailable(f"content write of {request.ref} ended early") from None

    def close(self) -> None:
        self._requests.put(None)
        self._responses.cancel()


def ingest_ref(descriptor: Descriptor, kind: str) -> str:
    """The ingest's name: the same blob always gets the same ref, so a later pull resumes it
    (containerd's remotes.MakeRefKey: "layer-sha256:...", "manifest-sha256:...")."""
    return f"{kind}-{descriptor.digest}"


def write_blob(client: Client, ref: str, descriptor: Descriptor, open_from: Opener, *,
               labels: dict[str, str] | None = None, progress: Callable[[int], None] = lambda offset: None) -> bool:
    """Store the blob unless it is there; True if it was written (or finished) now.

    Bytes the registry sends that do not check out (DataLoss) abort the ingest, so no later
    pull resumes from them; an interrupted transfer keeps it, to be resumed."""
    stream = _WriteStream(client)
    try:
        status = stream.send(content_pb2.WriteContentRequest(
            action=content_pb2.STAT, ref=ref, total=descriptor.size, expected=descriptor.digest))
        offset = status.offset if status.offset <= descriptor.size else 0
        progress(offset)
        if offset < descriptor.size:
            try:
                with open_from(offset) as chunks:
                    for chunk in chunks:
                        for start in range(0, len(chunk), CHUNK_SIZE):
                            piece = chunk[start:start + CHUNK_SIZE]
                            offset = stream.send(content_pb2.WriteContentRequest(
                                action=content_pb2.WRITE, ref=ref, offset=offset, data=piece)).offset
                        progress(offset)
            except errdefs.DataLoss:
                stream.close()
                _abort(client, ref)
                raise
        stream.send(content_pb2.WriteContentRequest(
            action=content_pb2.COMMIT, ref=ref, offset=offset, total=descriptor.size, expected=descriptor.digest,
            labels=labels or {}))
        return True
    except errdefs.AlreadyExists:
        client.set_content_labels(descriptor.digest, labels or {})
        return False
    finally:
        stream.close()


def write_bytes(client: Client, ref: str, descriptor: Descriptor, data: bytes,
                labels: dict[str, str] | None = None) -> bool:
    """Store a blob held in memory (a manifest, a config)."""
    return write_blob(client, ref, descriptor, lambda offset: nullcontext([data[offset:]]), labels=labels)


def _abort(client: Client, ref: str) -> None:
    try:
        client.call(client.content.Abort, content_pb2.AbortRequest(ref=ref))
    except errdefs.NotFound:
        pass

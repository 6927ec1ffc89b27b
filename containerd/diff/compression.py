"""Layer media types and their compression: streams that decompress (or compress) as they
are read (or written), in bounded pieces, so neither a big layer nor a small one that
inflates enormously is ever held in memory."""
from __future__ import annotations

import gzip
import hashlib
import queue
import threading
import zlib
from typing import BinaryIO

import zstandard

import errdefs

CHUNK = 1 << 20

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

UNCOMPRESSED, GZIP, ZSTD = "", "gzip", "zstd"
_COMPRESSIONS = {
    OCI_LAYER: UNCOMPRESSED,
    OCI_LAYER_GZIP: GZIP,
    OCI_LAYER_ZSTD: ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar": UNCOMPRESSED,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": ZSTD,
    DOCKER_LAYER: UNCOMPRESSED,
    DOCKER_LAYER_GZIP: GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": GZIP,
}


def compression(media_type: str) -> str:
    try:
        return _COMPRESSIONS[media_type]
    except KeyError:
        raise errdefs.NotImplemented(f"layer media type {media_type!r}: not implemented") from None


class Digesting:
    """A reader that hashes and counts what passes through it."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size >= 0 else CHUNK)
        self._hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read to the end: the digest covers the whole stream, trailing padding included."""
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return f"sha256:{self._hash.hexdigest()}"


class Verifying(Digesting):
    """A reader that fails at the end of the stream unless it had the expected digest."""

    def __init__(self, raw: BinaryIO, expected: str):
        super().__init__(raw)
        self._expected = expected

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        if not data and self.digest != self._expected:
            raise errdefs.DataLoss(f"content {self._expected} read as {self.digest}: data loss")
        return data


class _GzipReader:
    """Gzip members one after another, as gzip(1) and Go's reader accept them."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""  # compressed input not yet inflated
        self._in_member = False

    def read(self, size: int = -1) -> bytes:
        size = size if size > 0 else CHUNK
        while True:
            if self._pending:
                try:
                    data = self._inflate.decompress(self._pending, size)
                except zlib.error as exc:
                    raise errdefs.InvalidArgument(f"layer is not valid gzip: {exc}: invalid argument") from None
                self._in_member = True
                if self._inflate.eof:
                    self._pending = self._inflate.unused_data
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    self._in_member = False
                else:
                    self._pending = self._inflate.unconsumed_tail
                if data:
                    return data
                continue
            self._pending = self._raw.read(CHUNK)
            if not self._pending:
                if self._in_member:
                    raise errdefs.InvalidArgument("layer's gzip stream ends mid-member: invalid argument")
                return b""


class ReadAhead:
    """A reader fed by a thread that reads raw ahead, a few chunks at most: the blob's read,
    its digest check and its decompression (zlib, zstd and hashlib let go of the GIL) then run
    on one core while the tar is taken apart and written out on another."""

    DEPTH = 4

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._chunks: queue.Queue = queue.Queue(self.DEPTH)
        self._stopping = threading.Event()
        self._chunk = b""
        self._position = 0
        self._ended = False
        self._thread = threading.Thread(target=self._fill, name="layer-read-ahead", daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        try:
            while True:
                data = self._raw.read(CHUNK)
                if not self._offer(data) or not data:
                    return
        except BaseException as exc:  # handed to the reader, which raises it as its own
            self._offer(exc)

    def _offer(self, item) -> bool:
        while not self._stopping.is_set():
            try:
                self._chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read(self, size: int = -1) -> bytes:
        if self._position == len(self._chunk):
            if self._ended:
                return b""
            item = self._chunks.get()
            if isinstance(item, BaseException):
                self._ended = True
                raise item
            self._chunk, self._position = item, 0
            if not item:
                self._ended = True
                return b""
        size = len(self._chunk) - self._position if size < 0 else size
        data = self._chunk[self._position:self._position + size]
        self._position += len(data)
        return data

    def close(self) -> None:
        """Stop the thread, whether or not everything was read."""
        self._stopping.set()
        self._thread.join()


def decompressed(stream: BinaryIO, media_type: str) -> BinaryIO:
    kind = compression(media_type)
    if kind == GZIP:
        return _GzipReader(stream)
    if kind == ZSTD:
        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True, closefd=False)
    return stream


class _Unclosable:
    """A writer whose close() (by a compressor that is done) leaves the sink open."""

    def __init__(self, sink: BinaryIO):
        self._sink = sink

    def write(self, data) -> int:
        return self._sink.write(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def compressor(sink: BinaryIO, media_type: str):
    """A writer that compresses into sink as media_type says; close it to finish the stream."""
    kind = compression(media_type)
    if kind == GZIP:
        # level 6 is gzip's (and containerd's) default; mtime 0 keeps equal trees' layers equal.
        return gzip.GzipFile(fileobj=_Unclosable(sink), mode="wb", compresslevel=6, mtime=0)
    if kind == ZSTD:
        return zstandard.ZstdCompressor().stream_writer(sink, closefd=False)
    return _Unclosable(sink)

"""File content for the emulated Disk: small bytes, spooled temp files and virtual files.

Virtual files exist so benchmarks can move 1-2 GiB through the portal without the emulator
holding those bytes: content is a pure function of (seed, offset). Each 64 KiB block is a
SHA-256 header of (seed, block number) followed by a slice of a per-seed SHAKE-256 pool at an
offset that header picks, so any block is computed on its own (cheap Range reads) and no two
blocks repeat.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator
from functools import lru_cache
from typing import BinaryIO

BLOCK = 64 * 1024
_POOL = 1024 * 1024 + BLOCK
SMALL_LIMIT = 1024 * 1024  # uploads up to this size stay in memory
COPY_CHUNK = 1024 * 1024


@lru_cache(maxsize=8)
def _pool(seed: str) -> bytes:
    return hashlib.shake_256(b"emulator-disk|" + seed.encode()).digest(_POOL)


def virtual_block(seed: str, index: int) -> bytes:
    """Block ``index`` of a virtual file: 32-byte header + 64 KiB - 32 bytes of pool."""
    head = hashlib.sha256(f"{seed}|{index}".encode()).digest()
    off = int.from_bytes(head[:4], "big") % (_POOL - BLOCK)
    return head + _pool(seed)[off:off + BLOCK - len(head)]


class Blob:
    """Immutable content of one file version."""

    size: int = 0
    kind: str = "bytes"

    def iter_range(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) in chunks; never the whole file at once."""
        raise NotImplementedError

    def md5(self) -> str:
        h = hashlib.md5()
        for chunk in self.iter_range():
            h.update(chunk)
        return h.hexdigest()

    def release(self) -> None:
        """Drop backing storage (temp files)."""


class BytesBlob(Blob):
    kind = "bytes"

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.size = len(self.data)
        self._md5: str | None = None

    def iter_range(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        end = self.size if end is None else min(end, self.size)
        view = memoryview(self.data)
        for pos in range(start, end, BLOCK):
            yield bytes(view[pos:min(pos + BLOCK, end)])

    def md5(self) -> str:
        if self._md5 is None:
            self._md5 = hashlib.md5(self.data).hexdigest()
        return self._md5


class FileBlob(Blob):
    """Content in a temp file owned by the :class:`BlobStore`."""

    kind = "file"

    def __init__(self, path: str, size: int, md5: str) -> None:
        self.path = path
        self.size = size
        self._md5 = md5

    def iter_range(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        end = self.size if end is None else min(end, self.size)
        with open(self.path, "rb") as fh:
            fh.seek(start)
            pos = start
            while pos < end:
                chunk = fh.read(min(COPY_CHUNK, end - pos))
                if not chunk:
                    break
                pos += len(chunk)
                yield chunk

    def md5(self) -> str:
        return self._md5

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)


_virtual_md5: dict[tuple[str, int], str] = {}
_md5_lock = threading.Lock()


class VirtualBlob(Blob):
    """Deterministic generated content: costs neither RAM nor disk, readable at any offset."""

    kind = "virtual"

    def __init__(self, seed: str, size: int) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self.seed = str(seed)
        self.size = int(size)

    def iter_range(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        end = self.size if end is None else min(end, self.size)
        pos = start
        while pos < end:
            index, inner = divmod(pos, BLOCK)
            block = virtual_block(self.seed, index)
            take = min(BLOCK - inner, end - pos)
            yield block[inner:inner + take]
            pos += take

    def md5(self) -> str:
        key = (self.seed, self.size)
        with _md5_lock:
            known = _virtual_md5.get(key)
        if known is None:
            known = super().md5()
            with _md5_lock:
                _virtual_md5[key] = known
        return known


class BlobStore:
    """Owns the temp directory where larger uploads are kept; removed on close."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="emulator-disk-")
        # removed at interpreter exit too, even if nobody calls close()
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.root, True)
        self._n = 0
        self._lock = threading.Lock()

    def _path(self) -> str:
        with self._lock:
            self._n += 1
            return os.path.join(self.root, f"blob{self._n}")

    def from_bytes(self, data: bytes) -> Blob:
        if len(data) <= SMALL_LIMIT:
            return BytesBlob(data)
        path = self._path()
        with open(path, "wb") as fh:
            fh.write(data)
        return FileBlob(path, len(data), hashlib.md5(data).hexdigest())

    def from_stream(self, stream: BinaryIO) -> Blob:
        """Copy a stream in chunks (multipart uploads): memory stays flat for any size."""
        path = self._path()
        h = hashlib.md5()
        size = 0
        with open(path, "wb") as fh:
            while True:
                chunk = stream.read(COPY_CHUNK)
                if not chunk:
                    break
                h.update(chunk)
                fh.write(chunk)
                size += len(chunk)
        if size <= SMALL_LIMIT:
            with open(path, "rb") as fh:
                data = fh.read()
            os.unlink(path)
            return BytesBlob(data)
        return FileBlob(path, size, h.hexdigest())

    def close(self) -> None:
        self._finalizer()

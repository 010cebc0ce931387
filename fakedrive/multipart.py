"""Streaming reader for `multipart/related` upload bodies (metadata part + media part).

The media part is handed to a sink piece by piece so even a large multipart upload never sits
in memory. Accepts both CRLF and bare LF line ends (googleapiclient's generator writes LF).
"""

from __future__ import annotations

from collections.abc import Callable

from fakedrive.errors import ApiError

PIECE = 1024 * 1024
MAX_METADATA = 1024 * 1024


def _malformed(why: str) -> ApiError:
    return ApiError(400, "badContent", f"Malformed multipart body: {why}")


class _Buffer:
    def __init__(self, read: Callable[[int], bytes]) -> None:
        self.read = read
        self.data = bytearray()
        self.eof = False

    def fill(self) -> None:
        piece = self.read(PIECE)
        if piece:
            self.data.extend(piece)
        else:
            self.eof = True

    def until(self, marker: bytes, limit: int = MAX_METADATA) -> bytes:
        """Bytes before `marker`, consuming the marker too."""
        while True:
            idx = self.data.find(marker)
            if idx >= 0:
                out = bytes(self.data[:idx])
                del self.data[:idx + len(marker)]
                return out
            if self.eof or len(self.data) > limit:
                raise _malformed(f"missing {marker[:40]!r}")
            self.fill()

    def startswith(self, prefix: bytes) -> bool:
        while len(self.data) < len(prefix) and not self.eof:
            self.fill()
        return bytes(self.data[:len(prefix)]) == prefix

    def stream_until(self, marker: bytes, sink: Callable[[bytes], None]) -> None:
        keep = len(marker) - 1
        while True:
            idx = self.data.find(marker)
            if idx >= 0:
                if idx:
                    sink(bytes(self.data[:idx]))
                del self.data[:idx + len(marker)]
                return
            if len(self.data) > keep:
                cut = len(self.data) - keep
                sink(bytes(self.data[:cut]))
                del self.data[:cut]
            if self.eof:
                raise _malformed("media part is not terminated by the boundary")
            self.fill()


def _headers(buf: _Buffer, eol: bytes) -> dict[str, str]:
    if buf.startswith(eol):
        buf.until(eol)
        return {}
    raw = buf.until(eol + eol).decode("latin-1")
    out: dict[str, str] = {}
    for line in raw.split(eol.decode()):
        name, _, value = line.partition(":")
        out[name.strip().lower()] = value.strip()
    return out


def read_multipart(read: Callable[[int], bytes], boundary: str,
                   sink: Callable[[bytes], None]) -> tuple[bytes, dict[str, str]]:
    """Return (metadata JSON bytes, media part headers); media bytes go to `sink`."""
    buf = _Buffer(read)
    dash = b"--" + boundary.encode("latin-1")
    buf.until(dash)
    rest = buf.until(b"\n", limit=64)
    eol = b"\r\n" if rest == b"\r" else b"\n"
    if rest not in (b"", b"\r"):
        raise _malformed("bad boundary line")
    delim = eol + dash
    _headers(buf, eol)
    metadata = buf.until(delim)
    if buf.startswith(b"--"):
        raise _malformed("no media part")
    buf.until(eol, limit=64)
    media_headers = _headers(buf, eol)
    buf.stream_until(delim, sink)
    return metadata, media_headers

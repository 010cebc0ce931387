"""Small shared helpers for the Drive tests."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

from connector.retry import RetryPolicy

REFRESH_TOKEN = "1//test-refresh-token"
SA_EMAIL = "mirror@crm-connector-test.iam.gserviceaccount.com"
KIB = 1024
MIB = 1024 * KIB


def pieces(data: bytes, piece: int = 64 * KIB) -> Iterator[bytes]:
    """A one-pass, non-seekable source like a streamed HTTP download."""
    for i in range(0, len(data), piece):
        yield data[i:i + piece]


def payload(size: int) -> bytes:
    return os.urandom(size)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def retries(n: int) -> RetryPolicy:
    """Our one layer of retries, `n` per request or chunk (sleeps are recorded, not slept)."""
    return RetryPolicy(max_retries=n, backoff_s=1.0, max_backoff_s=16.0, max_wait_s=60.0)

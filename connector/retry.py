"""In-process retries of one call: short pauses for blips, the job's own retries for outages.

One policy for every client (Bitrix24 REST, Google Drive), and one layer of it: a client
library's own retries are switched off, so pauses never multiply. The pause is exponential
from `backoff_s` up to `max_backoff_s`, or the server's Retry-After when it sends one, up to
`max_wait_s`; a longer Retry-After ends the in-process retries at once and the job's retry
waits at least that long (connector.queue's failure callback reads `retry_after_s`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_wait_s: float = 30.0

    def pause(self, attempt: int) -> float:
        """The backoff before retry `attempt` + 1 (0-based attempts)."""
        return min(self.max_backoff_s, self.backoff_s * (2**attempt))

    def wait(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to sleep before retrying in-process, or None: give the failure to the job."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            return max(0.0, retry_after) if retry_after <= self.max_wait_s else None
        return self.pause(attempt)


def retry_after_s(value: str | bytes | None, now: float | None = None) -> float | None:
    """A Retry-After header in seconds: delta-seconds or an HTTP-date (RFC 9110, 10.2.3)."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else str(value)).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))

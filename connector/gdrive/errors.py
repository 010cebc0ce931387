"""Turn Google client failures into the app's job outcomes: retry later or park for the admin.

Rate limits (403 userRateLimitExceeded/rateLimitExceeded, 429), 5xx and network trouble are
`Retryable`; every other HTTP error is `Permanent`; a refused refresh token or key is
`GoogleAccessRevoked` — the admin has to reconnect Google, retrying cannot help.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import httplib2
from google.auth import exceptions as auth_exceptions
from googleapiclient.errors import HttpError

from connector.errors import ConnectorError, Permanent, Retryable
from connector.retry import retry_after_s

RATE_LIMIT_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})

# What an admin should do, per Drive reason.
HINTS = {
    "storageQuotaExceeded": "the Google account's storage is full (a service account has no "
                            "storage of its own: use a shared drive)",
    "insufficientFilePermissions": "the connected Google account may not write there: give it "
                                   "edit (Content manager) access or choose another folder",
    "forbidden": "the connected Google account is not allowed to do this",
    "notFound": "the Drive folder or file is gone or not visible to the connected account",
    "teamDrivesSupportRequired": "the app did not ask for shared-drive support (a bug)",
    "invalidQuery": "Drive refused the search (a bug in the app)",
    "dailyLimitExceeded": "the Google Cloud project's daily quota is used up",
}


class DriveRetryable(Retryable):
    """A transient Drive failure; `status`/`reason` keep Google's own words for the logs,
    `retry_after_s` the wait Google asked for (Retry-After), if it did."""

    def __init__(self, message: str, *, status: int | None = None,
                 reason: str | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s


class DrivePermanent(Permanent):
    """Drive refused for good (permissions, quota, missing item, bad request)."""

    def __init__(self, message: str, *, status: int | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class GoogleAccessRevoked(DrivePermanent):
    """Google access revoked: reconnect (the refresh token or service-account key is refused)."""


class ChecksumMismatch(DriveRetryable):
    """What Drive stored differs from what was sent (size or MD5): upload again."""


class StreamSizeMismatch(DriveRetryable):
    """The source stream was shorter or longer than announced (a cut download): fetch again."""


def http_error_parts(err: HttpError) -> tuple[int, str, str]:
    """(status, first error reason, message) from a googleapiclient HttpError."""
    status = int(getattr(err.resp, "status", 0) or 0)
    reason, message = "", ""
    try:
        data = json.loads(err.content.decode("utf-8"))
        error = data["error"]
        if isinstance(error, dict):
            message = str(error.get("message", ""))
            details = error.get("errors") or []
            if details and isinstance(details[0], dict):
                reason = str(details[0].get("reason", ""))
            reason = reason or str(error.get("status", ""))
        else:
            message = str(error)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        message = (err.content or b"").decode("utf-8", "replace")[:300]
    return status, reason, message


def _is_invalid_grant(err: auth_exceptions.RefreshError) -> bool:
    for arg in err.args:
        if isinstance(arg, dict) and arg.get("error") == "invalid_grant":
            return True
        if isinstance(arg, str) and arg.startswith("invalid_grant"):
            return True
    return False


def classify(exc: BaseException, action: str = "calling Google Drive") -> ConnectorError | None:
    """The connector error for `exc`, or None when it is not a Google/transport failure."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, HttpError):
        status, reason, message = http_error_parts(exc)
        hint = HINTS.get(reason)
        text = f"Google Drive {status} {reason or ''} while {action}: {message}".replace(
            "  ", " ")
        if hint:
            text += f" — {hint}"
        if status >= 500 or status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS):
            wait = retry_after_s((getattr(exc, "resp", None) or {}).get("retry-after"))
            return DriveRetryable(text, status=status, reason=reason, retry_after_s=wait)
        if status == 401:
            return GoogleAccessRevoked(f"Google refused the credentials while {action}: "
                                       "reconnect the Google account", status=status,
                                       reason=reason or "authError")
        return DrivePermanent(text, status=status, reason=reason)
    if isinstance(exc, auth_exceptions.RefreshError):
        if _is_invalid_grant(exc):
            return GoogleAccessRevoked(
                f"Google access revoked while {action}: reconnect the Google account (or "
                f"replace the service-account key) — {exc.args[0] if exc.args else exc}",
                reason="invalid_grant")
        if exc.retryable:
            return DriveRetryable(f"Google sign-in temporarily failed while {action}: {exc}")
        return DrivePermanent(f"Google sign-in failed while {action}: {exc} — check the OAuth "
                              "client or service-account settings")
    if isinstance(exc, auth_exceptions.TransportError):
        return DriveRetryable(f"Network error reaching Google while {action}: {exc}")
    if isinstance(exc, httplib2.HttpLib2Error | OSError | ssl.SSLError | socket.timeout):
        return DriveRetryable(f"Network error reaching Google Drive while {action}: "
                              f"{type(exc).__name__}: {exc}")
    return None


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Re-raise Google/transport failures inside the block as Retryable/Permanent."""
    try:
        yield
    except Exception as exc:
        err = classify(exc, action)
        if err is None or err is exc:
            raise
        raise err from exc

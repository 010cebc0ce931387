"""Typed Bitrix24 errors carrying the platform's error code and HTTP status."""

from __future__ import annotations

from connector.errors import AuthLost, ConnectorError, Permanent, Retryable

RETRYABLE_CODES = frozenset(
    {"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "INTERNAL_SERVER_ERROR",
     "ERROR_UNEXPECTED_ANSWER", "OVERLOAD_LIMIT"}
)
TOKEN_EXPIRED_CODES = frozenset({"expired_token", "NO_AUTH_FOUND", "invalid_token"})


class BitrixError(ConnectorError):
    """A Bitrix24 error answer; its subclass says whether a retry can help."""

    def __init__(self, code: str, description: str = "", status: int = 0, method: str = ""):
        self.code = code
        self.description = description
        self.status = status
        self.method = method
        super().__init__(f"{method or 'bitrix24'}: {code} ({status}) {description}".strip())


class BitrixPermanentError(BitrixError, Permanent):
    """Bad input, missing rights, unknown method: retrying cannot help."""


class BitrixRetryableError(BitrixError, Retryable):
    """503/429/5xx or a network failure that outlived the transport's own retries."""


class TokenExpired(BitrixPermanentError):
    """The access token expired; the transport refreshes once and retries once."""


class InvalidGrant(BitrixError, AuthLost):
    """The OAuth server refused our refresh token: the portal needs a reinstall."""


def error_for(code: str, description: str = "", status: int = 0, method: str = "") -> BitrixError:
    """Map an error pair from Bitrix24 to the class that decides retry behaviour."""
    if code in TOKEN_EXPIRED_CODES:
        return TokenExpired(code, description, status, method)
    if code == "invalid_grant":
        return InvalidGrant(code, description, status, method)
    if code in RETRYABLE_CODES or status >= 500 or status == 429:
        return BitrixRetryableError(code, description, status, method)
    return BitrixPermanentError(code, description, status, method)

"""Google-shaped API errors, so clients classify the fake's failures exactly as real ones."""

from __future__ import annotations

from typing import Any

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    410: "GONE",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# Default (domain, message) per reason, worded like Drive's own answers.
REASONS: dict[str, tuple[str, str]] = {
    "userRateLimitExceeded": ("usageLimits", "User rate limit exceeded."),
    "rateLimitExceeded": ("usageLimits", "Rate limit exceeded."),
    "storageQuotaExceeded": ("global", "The user's Drive storage quota has been exceeded."),
    "insufficientFilePermissions": (
        "global", "The user does not have sufficient permissions for this file."),
    "notFound": ("global", "File not found."),
    "backendError": ("global", "Internal Error"),
    "internalError": ("global", "Internal Error"),
    "authError": ("global", "Invalid Credentials"),
    "invalidQuery": ("global", "Invalid query"),
    "invalid": ("global", "Invalid Value"),
    "badRequest": ("global", "Bad Request"),
    "parseError": ("global", "Parse Error"),
    "fileNotDownloadable": ("global", "Only files with binary content can be downloaded."),
}

DEFAULT_REASON = {400: "badRequest", 401: "authError", 403: "forbidden", 404: "notFound",
                  429: "rateLimitExceeded", 500: "backendError", 502: "backendError",
                  503: "backendError", 504: "backendError"}


def error_body(code: int, reason: str | None = None, message: str | None = None,
               **extra: str) -> dict[str, Any]:
    """The JSON body Google APIs return on failure (googleapiclient parses `errors[0].reason`)."""
    reason = reason or DEFAULT_REASON.get(code, "unknown")
    domain, default_message = REASONS.get(reason, ("global", reason))
    message = message or default_message
    item = {"domain": domain, "reason": reason, "message": message, **extra}
    return {"error": {"code": code, "message": message, "errors": [item],
                      "status": STATUS_NAMES.get(code, "UNKNOWN")}}


class ApiError(Exception):
    """Raised inside the fake; the app turns it into the Google error body."""

    def __init__(self, code: int, reason: str | None = None, message: str | None = None,
                 **extra: str) -> None:
        super().__init__(message or reason or str(code))
        self.code = code
        self.body = error_body(code, reason, message, **extra)


def not_found(file_id: str) -> ApiError:
    """Drive's wording for a file that does not exist or that the caller may not see."""
    return ApiError(404, "notFound", f"File not found: {file_id}.",
                    location="fileId", locationType="parameter")

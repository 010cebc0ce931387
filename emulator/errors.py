"""Error pairs and their HTTP statuses, as a real portal returns them (reference §7)."""

from __future__ import annotations

DEFAULT_STATUS: dict[str, int] = {
    "expired_token": 401,
    "invalid_token": 401,
    "NO_AUTH_FOUND": 401,
    "insufficient_scope": 403,  # _includes/system-errors.md
    "QUERY_LIMIT_EXCEEDED": 503,
    "OVERLOAD_LIMIT": 503,
    "OPERATION_TIME_LIMIT": 429,
    "ERROR_METHOD_NOT_FOUND": 404,
    "ACCESS_DENIED": 403,
    "WRONG_AUTH_TYPE": 403,
    "INVALID_CREDENTIALS": 403,
    "ERROR_BATCH_LENGTH_EXCEEDED": 400,
    "ERROR_BATCH_METHOD_NOT_ALLOWED": 405,
    "INTERNAL_SERVER_ERROR": 500,
    "ERROR_UNEXPECTED_ANSWER": 500,
    "PORTAL_DELETED": 500,
    "authorization_error": 401,
    "PAYMENT_REQUIRED": 401,
}

DEFAULT_TEXT: dict[str, str] = {
    "expired_token": "The access token provided has expired",
    "invalid_token": "Unable to get application by token",
    "NO_AUTH_FOUND": "Wrong authorization data",
    "insufficient_scope": (
        "The request requires higher privileges than provided by the access token"
    ),
    "QUERY_LIMIT_EXCEEDED": "Too many requests",
    "OPERATION_TIME_LIMIT": "Method is blocked due to operation time limit.",
    "ERROR_METHOD_NOT_FOUND": "Method not found!",
    "ACCESS_DENIED": "Access denied!",
    "INTERNAL_SERVER_ERROR": "Internal server error",
}


def status_for(code: str | int) -> int:
    return DEFAULT_STATUS.get(str(code), 400)


class RestError(Exception):
    """A Bitrix24 ``{"error", "error_description"}`` answer with its HTTP status."""

    def __init__(self, code: str | int, description: str | None = None,
                 status: int | None = None):
        self.code = code  # a few methods answer a number (crm.type.get: 0)
        self.description = description if description is not None else DEFAULT_TEXT.get(
            str(code), str(code))
        self.status = status if status is not None else status_for(code)
        super().__init__(f"{code}: {self.description}")

    def body(self) -> dict[str, str | int]:
        return {"error": self.code, "error_description": self.description}

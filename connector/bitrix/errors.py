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


class BitrixNotFound(BitrixPermanentError):
    """The item, file, folder or chat is not there (deleted or merged): nothing to do.

    Distinct from an unknown refusal so a job can end quietly instead of failing.
    """


class BitrixAccessDenied(BitrixPermanentError):
    """The token's user may not read or change this; retrying with the same user cannot help."""


class TokenExpired(BitrixPermanentError):
    """The access token expired; the transport refreshes once and retries once."""


class InvalidGrant(BitrixError, AuthLost):
    """The OAuth server refused our refresh token: the portal needs a reinstall."""


# Documented "not found" answers of the methods the app calls (b24-rest-docs paths):
#  crm.{lead,deal,contact,company}.get/update: {"error": "", "error_description": "Not found"}
#    (api-reference/crm/leads/crm-lead-get.md, deals/crm-deal-get.md, ...), HTTP 400;
#  crm.activity.get: "" + "Activity is not found" (.../activity-base/crm-activity-get.md);
#  crm.item.get/update: NOT_FOUND (api-reference/crm/universal/crm-item-get.md);
#  disk.file.get, disk.folder.get: ERROR_NOT_FOUND (api-reference/disk/file/disk-file-get.md);
#  DISK_OBJ_22002: Disk's own "object not found" code seen on disk.* calls.
NOT_FOUND_CODES = frozenset({"ERROR_NOT_FOUND", "NOT_FOUND", "DISK_OBJ_22002",
                             "ERROR_ENTITY_NOT_FOUND"})
NOT_FOUND_TEXTS = ("not found", "activity is not found")
# Access denied: crm.deal.get "" + "Access denied" (crm-deal-get.md), crm.item.get and disk.*
# ACCESS_DENIED, im.chat.* ACCESS_ERROR (api-reference/chats/chat-users/im-chat-user-list.md),
# crm.item.* allowed_only_intranet_user (HTTP 403, crm-item-get.md).
ACCESS_DENIED_CODES = frozenset({"ACCESS_DENIED", "ACCESS_ERROR", "allowed_only_intranet_user"})


def _text(err: BitrixError) -> str:
    return err.description.strip().rstrip(".!").strip().lower()


def is_not_found(err: BitrixError) -> bool:
    """Whether Bitrix24 said the thing asked for does not exist, in any documented form."""
    if err.code in NOT_FOUND_CODES:
        return True
    return err.code == "" and _text(err) in NOT_FOUND_TEXTS


def is_access_denied(err: BitrixError) -> bool:
    """Whether Bitrix24 refused because the token's user lacks the right, in any form."""
    if err.code in ACCESS_DENIED_CODES:
        return True
    return err.code == "" and _text(err).startswith("access denied")


def error_for(code: str, description: str = "", status: int = 0, method: str = "") -> BitrixError:
    """Map an error pair from Bitrix24 to the class that decides retry behaviour."""
    if code in TOKEN_EXPIRED_CODES:
        return TokenExpired(code, description, status, method)
    if code == "invalid_grant":
        return InvalidGrant(code, description, status, method)
    if code in RETRYABLE_CODES or status >= 500 or status == 429:
        return BitrixRetryableError(code, description, status, method)
    probe = BitrixError(code, description, status, method)
    if is_not_found(probe):
        return BitrixNotFound(code, description, status, method)
    if is_access_denied(probe):
        return BitrixAccessDenied(code, description, status, method)
    return BitrixPermanentError(code, description, status, method)

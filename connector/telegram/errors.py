"""Telegram's refusals as the app's error kinds, read from the Bot API's error answer.

Every failed call answers `{"ok": false, "error_code": …, "description": …, "parameters":
{…}}` (https://core.telegram.org/bots/api#making-requests); `parameters.retry_after` says
how long flood control wants us to wait (#responseparameters). What a retry cannot mend is
Permanent (the job is parked where an admin sees it); a rate limit or an outage is Retryable.
"""

from __future__ import annotations

from typing import Any

from connector.errors import Permanent, Retryable


class TelegramError(Exception):
    """Mixin of every Telegram failure: the API's code and description, as it sent them."""

    code: int = 0
    description: str = ""


class TelegramUnauthorized(TelegramError, Permanent):
    """401 Unauthorized: the bot's token is wrong or was revoked in @BotFather."""


class TelegramForbidden(TelegramError, Permanent):
    """403 Forbidden: the bot was blocked by the user or kicked from the group."""


class TelegramChatNotFound(TelegramError, Permanent):
    """400 "Bad Request: chat not found": no such chat, or the bot was never in it."""


class TelegramBadRequest(TelegramError, Permanent):
    """Another 400: the message itself was refused (too long, a bad tag)."""


class TelegramRateLimited(TelegramError, Retryable):
    """429 Too Many Requests waited out in-process as far as we may; the job retries after
    `retry_after_s` (connector.queue reads it)."""

    retry_after_s: float | None = None


class TelegramUnavailable(TelegramError, Retryable):
    """Telegram did not answer, or answered 5xx: a later retry may get through."""


def _make(cls: type[TelegramError], code: int, description: str) -> TelegramError:
    err = cls(f"{code} {description}".strip())
    err.code, err.description = code, description
    return err


def from_answer(status: int, body: Any) -> TelegramError:
    """The error an unsuccessful answer means (its JSON body, or None when it had none)."""
    body = body if isinstance(body, dict) else {}
    code = int(body.get("error_code") or status or 0)
    description = str(body.get("description") or "")
    params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    if code == 429:
        err = _make(TelegramRateLimited, code, description)
        wait = params.get("retry_after")
        err.retry_after_s = float(wait) if isinstance(wait, int | float) else None  # type: ignore[attr-defined]
        return err
    if code == 401:
        return _make(TelegramUnauthorized, code, description or "Unauthorized")
    if code == 403:
        return _make(TelegramForbidden, code, description or "Forbidden")
    if code == 400 and "chat not found" in description.lower():
        return _make(TelegramChatNotFound, code, description)
    if code == 400:
        return _make(TelegramBadRequest, code, description)
    if code == 404:  # the API answers 404 Not Found to a token of the wrong form
        return _make(TelegramUnauthorized, code, description or "Not Found")
    return _make(TelegramUnavailable, code, description or "no answer")

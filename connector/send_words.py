"""Why a message (a notice, a digest) did not reach a Telegram chat, a Bitrix24 chat or a
person, in words an admin acts on: one list for every capability that sends, so one
translation, and `why` that picks the words for an error by its kind."""

from __future__ import annotations

from collections.abc import Mapping

from connector.i18n import N_, Msg

OTHER: Msg = N_("The message could not be sent.")
WORDS: Mapping[str, Msg] = {
    "TelegramChatNotFound": N_("Telegram does not know this chat, or the bot is not in it: add "
                               "the bot to the chat and check the chat id."),
    "TelegramForbidden": N_("The bot was blocked or removed from the Telegram chat: add it "
                            "back."),
    "TelegramBadRequest": N_("Telegram refused the message."),
    "TelegramRateLimited": N_("Telegram asked to wait (too many messages); it is tried again "
                              "later."),
    "TelegramUnavailable": N_("Telegram did not answer; it is tried again later."),
    "NotFound": N_("The Bitrix24 chat or person was not found."),
    "AccessDenied": N_("Bitrix24 refused: the app may not write to this chat."),
}


def why(exc: BaseException, own: Mapping[str, Msg], not_connected: Msg, revoked: Msg
        ) -> tuple[Msg, str]:
    """(msgid, detail) of a failed send: the kind of trouble and what to do, and the error's
    own words (the clients keep tokens and URLs out of their errors). `own` are the
    sender's words for its own kinds (they carry no detail) and its page's wording of a
    refused token; `not_connected`/`revoked` say where the admin enters one."""
    names = [cls.__name__ for cls in type(exc).__mro__]
    if "TelegramNotConnected" in names:
        return (revoked if "refused" in str(exc) else not_connected), ""
    for name in names:
        if name == "TelegramUnauthorized":
            return revoked, str(exc)[:300]
        if name in own:
            return own[name], ""
        if name in WORDS:
            return WORDS[name], str(exc)[:300]
    return OTHER, str(exc)[:300]

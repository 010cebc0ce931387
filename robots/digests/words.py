"""Why a digest did not reach a destination, in words an admin acts on. Pure.

The same senders as the notices' (Telegram through connector.telegram, Bitrix24 chats and
notifications through the port), so the same msgids: one translation for both pages.
"""

from __future__ import annotations

from collections.abc import Mapping

from connector.i18n import N_, Msg

NO_DESTINATION: Msg = N_("The digest has nowhere to go: choose a chat, people or a Telegram "
                         "chat in the settings above.")
NOT_CONNECTED: Msg = N_("No Telegram bot is connected: enter the bot's token on the Notices "
                        "page.")
REVOKED: Msg = N_("Telegram refused the bot's token: enter a new token on the Notices page.")
OTHER: Msg = N_("The message could not be sent.")
WORDS: Mapping[str, Msg] = {
    "DigestNowhere": NO_DESTINATION,
    "TelegramUnauthorized": REVOKED,
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


def why(exc: BaseException) -> tuple[Msg, str]:
    """(msgid, detail) of a failed send: the kind of trouble and what to do, and the error's
    own words (the clients keep tokens and URLs out of their errors)."""
    names = [cls.__name__ for cls in type(exc).__mro__]
    if "TelegramNotConnected" in names:
        return (REVOKED if "refused" in str(exc) else NOT_CONNECTED), ""
    for name in names:
        if name in WORDS:
            return WORDS[name], "" if name == "DigestNowhere" else str(exc)[:300]
    return OTHER, str(exc)[:300]

"""Why a digest did not reach a destination, in words an admin acts on. Pure.

The same senders as the notices' (Telegram through connector.telegram, Bitrix24 chats and
notifications through the port), so the same msgids: one translation for both pages.
"""

from __future__ import annotations

from connector import send_words
from connector.i18n import N_, Msg

NO_DESTINATION: Msg = N_("The digest has nowhere to go: choose a chat, people or a Telegram "
                         "chat in the settings above.")
NOT_CONNECTED: Msg = N_("No Telegram bot is connected: enter the bot's token on the Notices "
                        "page.")
REVOKED: Msg = N_("Telegram refused the bot's token: enter a new token on the Notices page.")


def why(exc: BaseException) -> tuple[Msg, str]:
    """(msgid, detail) of a failed digest (connector.send_words, with its own kind)."""
    return send_words.why(exc, {"DigestNowhere": NO_DESTINATION}, NOT_CONNECTED, REVOKED)

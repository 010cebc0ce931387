"""A failed job's reason in words an admin can act on, from the error the worker recorded.

Pure: the failed registry keeps the exception's last line ("module.Class: message"); the
class says what kind of trouble it was (and what to do), the message is kept as the detail.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.i18n import N_, Msg

# by the exception's class name, most specific first
WORDS: dict[str, Msg] = {
    "InvalidGrant": N_("The portal no longer accepts the app's token: reinstall the app."),
    "TokenExpired": N_("The portal no longer accepts the app's token: reinstall the app."),
    "MissingScope": N_("The app lacks a permission on the portal: reinstall it with the "
                       "missing scopes."),
    "GoogleAccessRevoked": N_("Google refused the connection: reconnect the Google account."),
    "NotConnected": N_("Google Drive is not connected."),
    "AccessDenied": N_("The portal refused access to what the job needed."),
    "BitrixAccessDenied": N_("The portal refused access to what the job needed."),
    "NotFound": N_("What the job worked on is gone from the CRM."),
    "BitrixNotFound": N_("What the job worked on is gone from the CRM."),
    "DrivePermanent": N_("Google Drive refused the file."),
    "JobTimeoutException": N_("It took too long and was stopped."),
    "DistributionError": N_("The settings need a correction."),
    "RobotError": N_("The robot's settings need a correction."),
    "SettingsInvalid": N_("The settings need a correction."),
    "NoticeNotSent": N_("A notice could not be sent: the Notices page says why."),
    "DigestNotSent": N_("A digest could not be sent: the Digests page says why."),
    "DigestNowhere": N_("The digest has nowhere to go: choose a chat, people or a Telegram "
                        "chat in its settings."),
    "TelegramUnauthorized": N_("Telegram refused the bot's token: enter a new one on the "
                               "Notices page."),
    "TelegramNotConnected": N_("No Telegram bot is connected."),
    "TelegramForbidden": N_("The bot was blocked or removed from the Telegram chat."),
    "TelegramChatNotFound": N_("Telegram does not know this chat, or the bot is not in it."),
}
UNAVAILABLE: Msg = N_("A service did not answer, and every retry failed too.")
RETRYABLE = ("Retryable", "RetryableError", "ConnectionError", "Timeout", "TimeoutError",
             "ReadTimeout", "ConnectTimeout", "DownloadRetryable", "SizeMismatch")
UNEXPECTED: Msg = N_("An unexpected error in the app.")
UNKNOWN: Msg = N_("No reason was recorded.")


@dataclass(frozen=True)
class Reason:
    words: Msg  # a msgid: what kind of trouble, and what to do
    detail: str  # the error's own message, as recorded


def reason(error_line: str) -> Reason:
    """`error_line` is a traceback's last line, e.g. "connector.errors.Permanent: no token"."""
    line = (error_line or "").strip()
    if not line:
        return Reason(UNKNOWN, "")
    head, _, message = line.partition(": ")
    name = head.rsplit(".", 1)[-1] if " " not in head else ""
    if not name:
        return Reason(UNEXPECTED, line)
    if name in WORDS:
        return Reason(WORDS[name], message)
    if name.endswith(RETRYABLE):
        return Reason(UNAVAILABLE, message)
    return Reason(UNEXPECTED, message or name)

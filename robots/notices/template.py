"""A notice's text from the rule's template and the item's facts, for Bitrix24 or Telegram.

Pure. The admin writes the template once, with [B]…[/B] (and [I], [U], [S], [URL=…]…[/URL])
as Bitrix24 chats write them; a Telegram message gets the same marks as Telegram's HTML.
What comes from the CRM (a title, a client's name) is only ever text: in Bitrix24 its
codes are disarmed, in Telegram it is escaped, so a deal called "<b>" or "[URL=…]" cannot
change the message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from connector.settings_schema import PLACEHOLDER
from connector.telegram import html

BBCODE, TELEGRAM = "bbcode", "telegram"
MAX_LENGTH = 3500  # what is left of Telegram's 4096 is room for the tags
_MARK = "\x00{}\x00"
_MARKS = re.compile(r"\x00(\d+)\x00")
_PAIR = re.compile(r"\[(B|I|U|S)\](.*?)\[/\1\]", re.S | re.I)
_URL = re.compile(r"\[URL=([^\]]+)\](.*?)\[/URL\]", re.S | re.I)
_CODE = re.compile(r"\[(/?[A-Za-z])")


@dataclass(frozen=True)
class Value:
    """A placeholder's value: text, and a link when it is one (the deal's title)."""

    text: str
    url: str = ""


def _bbcode_text(text: str) -> str:
    """CRM text inside a Bitrix24 message: a zero-width space keeps "[B" from being a code."""
    return _CODE.sub("[\u200b\\1", text)


def _value(value: Value, fmt: str) -> str:
    if fmt == TELEGRAM:
        return html.link(value.url, value.text) if value.url else html.escape(value.text)
    text = _bbcode_text(value.text)
    return f"[URL={value.url}]{text}[/URL]" if value.url else text


def _telegram_marks(text: str) -> str:
    """The template's own Bitrix24 codes (escaped text already) as Telegram's tags; a code
    left unpaired stays as typed, so the message always parses."""
    previous = None
    while previous != text:  # nested pairs: [B][I]…[/I][/B]
        previous = text
        text = _PAIR.sub(lambda m: f"<{m[1].lower()}>{m[2]}</{m[1].lower()}>", text)
    return _URL.sub(lambda m: html.link(html_unescape(m[1]), html_unescape(m[2]))
                    if m[1].lower().startswith(("http://", "https://")) else m[0], text)


def html_unescape(text: str) -> str:
    return (text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
            .replace("&amp;", "&"))


def render(template: str, values: Mapping[str, Value], fmt: str) -> str:
    """The message: placeholders filled (an unknown one stays as typed), in `fmt`."""
    filled: list[str] = []

    def mark(m: re.Match[str]) -> str:
        if m[1] not in values:
            return m[0]
        filled.append(_value(values[m[1]], fmt))
        return _MARK.format(len(filled) - 1)

    text = PLACEHOLDER.sub(mark, template[:MAX_LENGTH])
    if fmt == TELEGRAM:
        text = _telegram_marks(html.escape(text))
    return _MARKS.sub(lambda m: filled[int(m[1])], text).strip()

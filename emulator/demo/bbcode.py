"""The chat's BB codes as HTML, the way the portal's messenger shows a message.

Bitrix24 stores chat messages with BB codes ([B], [URL=…], [USER=…], [BR], …) and renders
them itself; an app only ever sends the codes. This is the emulator's own small renderer:
text is escaped first, then known codes become tags; unknown ones stay as typed. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from markupsafe import Markup, escape

SIMPLE = {"B": "strong", "I": "em", "U": "u", "S": "s", "QUOTE": "blockquote", "CODE": "code"}
_PAIR = re.compile(r"\[(B|I|U|S|QUOTE|CODE)\](.*?)\[/\1\]", re.I | re.S)
_URL = re.compile(r"\[URL(?:=([^\]]*))?\](.*?)\[/URL\]", re.I | re.S)
_USER = re.compile(r"\[USER=(\d+)\](.*?)\[/USER\]", re.I | re.S)
_DROP = re.compile(r"\[(COLOR|SIZE|CHAT|SEND|PUT)(?:=[^\]]*)?\](.*?)\[/\1\]", re.I | re.S)
_BR = re.compile(r"\[BR\]|\r?\n", re.I)
_SAFE_URL = re.compile(r"^(https?://|/)", re.I)


def to_html(text: str, user_name: Callable[[int], str],
            link: Callable[[str], str] = lambda url: url) -> Markup:
    """`text` with its BB codes rendered; `user_name(id)` names a [USER=id] mention and
    `link(url)` may map a URL (e.g. the portal's own links to where this portal serves them)."""

    def url(m: re.Match[str]) -> str:
        target = Markup(m[1] or m[2]).unescape().strip().strip("\"'").strip()
        if not _SAFE_URL.match(target):
            return m[2]
        return f'<a href="{escape(link(target))}">{m[2]}</a>'

    def user(m: re.Match[str]) -> str:
        return f'<span class="mention">{m[2] or escape(user_name(int(m[1])))}</span>'

    out = str(escape(text))
    previous = None
    while previous != out:  # nested codes: innermost first
        previous = out
        out = _PAIR.sub(lambda m: f"<{SIMPLE[m[1].upper()]}>{m[2]}</{SIMPLE[m[1].upper()]}>", out)
        out = _DROP.sub(lambda m: m[2], out)
    out = _URL.sub(url, out)
    out = _USER.sub(user, out)
    return Markup(_BR.sub("<br>", out))

"""Bitrix24 chat BB codes as safe HTML, for previews of what a chat will show.

Only the codes a chat message of the app uses are turned into tags: [B] [I] [U] [S] [BR]
[URL=…]…[/URL] [URL]…[/URL] [USER=…]…[/USER] [CODE]…[/CODE] [QUOTE]…[/QUOTE]. Everything
else, unknown codes included, is escaped text; a link keeps only http(s) and mailto
addresses; tags left open are closed at the end, so the result is always well-formed.
"""

from __future__ import annotations

import re
from html import escape

from markupsafe import Markup

SIMPLE = {"B": "b", "I": "i", "U": "u", "S": "s", "QUOTE": "blockquote"}
TAG = re.compile(r"\[(/?)(B|I|U|S|BR|URL|USER|CODE|QUOTE)(?:=([^\]]*))?\]", re.I)
SAFE_URL = re.compile(r"^(https?://|mailto:)", re.I)


def _href(url: str) -> str | None:
    url = url.strip().strip("\"'")
    return url if SAFE_URL.match(url) else None


def to_html(text: str) -> Markup:
    """The message as HTML a page can show as it is."""
    out: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (code, closing html)
    pos = 0
    source = str(text or "")
    matches = list(TAG.finditer(source))
    i = 0
    while i < len(matches):
        m = matches[i]
        out.append(escape(source[pos:m.start()]))
        pos = m.end()
        closing, code, arg = m[1], m[2].upper(), m[3]
        i += 1
        if code == "BR" and not closing:
            out.append("<br>")
        elif code in ("CODE", "URL") and not closing and (code == "CODE" or arg is None):
            # the body up to the closer is literal: code, or the address itself
            end = next((j for j in range(i, len(matches)) if matches[j][1]
                        and matches[j][2].upper() == code), None)
            body = source[pos:matches[end].start()] if end is not None else source[pos:]
            pos = matches[end].end() if end is not None else len(source)
            i = end + 1 if end is not None else len(matches)
            href = _href(body) if code == "URL" else None
            out.append(f"<code>{escape(body)}</code>" if code == "CODE" else
                       f'<a href="{escape(href)}" rel="noopener">{escape(body)}</a>' if href
                       else escape(body))
        elif not closing:
            if code == "URL":
                href = _href(arg or "")
                opened = f'<a href="{escape(href)}" rel="noopener">' if href else ""
                open_tags.append((code, "</a>" if href else ""))
            elif code == "USER":
                opened = f'<span class="mention" data-user="{escape(arg or "")}">'
                open_tags.append((code, "</span>"))
            elif code in SIMPLE:
                opened = f"<{SIMPLE[code]}>"
                open_tags.append((code, f"</{SIMPLE[code]}>"))
            else:
                opened = escape(m[0])
            out.append(opened)
        elif any(c == code for c, _ in open_tags):
            while open_tags:
                c, close = open_tags.pop()
                out.append(close)
                if c == code:
                    break
        else:
            out.append(escape(m[0]))  # a closer with nothing open: text
    out.append(escape(source[pos:]))
    out.extend(close for _, close in reversed(open_tags))
    return Markup("".join(out))

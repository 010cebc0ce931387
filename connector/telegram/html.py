"""Text for Telegram's HTML parse mode (https://core.telegram.org/bots/api#html-style).

Telegram wants every `<`, `>` and `&` that is not part of a tag or an entity written as
`&lt;`, `&gt;`, `&amp;`; only a few tags are understood (b, i, u, s, a href, code, pre,
blockquote). So whatever comes from people (a deal's title, a client's name) is escaped,
and only the tags the app itself writes are left as tags.
"""

from __future__ import annotations

MAX_MESSAGE = 4096  # characters of a message after entity parsing (sendMessage `text`)
MAX_CAPTION = 1024  # characters of a photo's caption (sendPhoto `caption`)


def escape(text: str) -> str:
    """Plain text as Telegram's HTML shows it: & < > (and " for attributes) as entities."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def link(url: str, text: str) -> str:
    """A link; only http(s) addresses become one, anything else stays plain text."""
    if not str(url).lower().startswith(("http://", "https://")):
        return escape(text)
    return f'<a href="{escape(url)}">{escape(text or url)}</a>'


def bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"

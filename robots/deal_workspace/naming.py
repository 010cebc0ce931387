"""Pure text work: folder names Disk accepts, chat titles and first messages from templates."""

from __future__ import annotations

import re
from typing import Any

DISK_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")


def render(template: str, values: dict[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), template)


def folder_name(template: str, values: dict[str, Any], max_length: int) -> str:
    """A name Disk accepts: no forbidden characters, no dots or spaces at the ends, bounded.

    Falls back to the deal id when nothing usable is left (a title of only slashes).
    """
    name = DISK_FORBIDDEN.sub(" ", render(template, values))
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > max_length:
        name = name[:max_length].rstrip(" .")
    return name or f"Deal {values.get('ID', '')}".strip()


def bb_escape(text: Any) -> str:
    """Keep user text from opening BB codes in a chat message."""
    return str(text or "").replace("[", "(").replace("]", ")")


def path_segments(template: str, values: dict[str, Any]) -> list[str]:
    rendered = render(template, values)
    return [folder_name(seg, {}, 250) for seg in rendered.split("/") if seg.strip(" .")]

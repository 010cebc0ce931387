"""Pure text work shared by capabilities: values of an item for templates, folder names a
file store accepts, chat titles and first messages rendered from an admin's template."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from connector.crm.port import Item

# placeholders every item offers to a folder-name template (item_values gives more)
ITEM_FIELDS = ("ID", "TITLE", "YEAR", "MONTH")
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


def item_values(item: Item, tz: str, link: str) -> dict[str, Any]:
    """{ID} {TITLE} {YEAR} {MONTH} {AMOUNT} {CURRENCY} {LINK} of an item, in the portal's zone."""
    try:
        when = datetime.fromisoformat(item.created_at).astimezone(ZoneInfo(tz))
    except (TypeError, ValueError):
        when = datetime.now(ZoneInfo(tz))
    return {"ID": item.ref.id, "TITLE": item.title, "YEAR": when.year,
            "MONTH": f"{when.month:02d}", "AMOUNT": item.amount or "0",
            "CURRENCY": item.currency, "LINK": link}

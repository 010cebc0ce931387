"""Settings sections `deal_folders` and `deal_chats`."""

from __future__ import annotations

import re
from typing import Any

from connector.portal_settings import FieldSpec, Section, in_range, register_section

UF_NAME = re.compile(r"^(UF_CRM_[A-Z0-9_]{1,43}|COMMENTS)$")


def _uf(value: Any) -> str | None:
    return None if UF_NAME.match(value) else "must be COMMENTS or UF_CRM_ + A-Z, 0-9, _"


def _uf_or_empty(value: Any) -> str | None:
    return None if value == "" or re.match(r"^UF_CRM_[A-Z0-9_]{1,43}$", value) else (
        "must be empty or UF_CRM_ + A-Z, 0-9, _")


def _template(*allowed: str) -> Any:
    def check(value: str) -> str | None:
        names = set(re.findall(r"\{([A-Za-z_]+)\}", value))
        unknown = names - set(allowed)
        if unknown:
            return f"unknown placeholder {{{sorted(unknown)[0]}}} (allowed: {', '.join(allowed)})"
        return None if value.strip() else "must not be empty"
    return check


def _storage(value: Any) -> str | None:
    ok = value == "common" or (str(value).isdigit() and int(value) > 0)
    return None if ok else "must be 'common' or a storage id (a positive number)"


FOLDER_FIELDS = ("ID", "TITLE", "YEAR", "MONTH")
CHAT_FIELDS = ("ID", "TITLE", "AMOUNT", "CURRENCY", "STAGE", "CLIENT", "RESPONSIBLE", "LINK")

register_section(Section(
    "deal_folders",
    "A Disk folder per new deal, its link in the deal.",
    {
        "enabled": FieldSpec(bool, False, "create folders for new deals automatically"),
        "category_ids": FieldSpec(list, [], "pipelines (empty = all)", item=int),
        "storage": FieldSpec((str, int), "common",
                             "'common' (the shared drive) or a storage id", _storage),
        "parent_path": FieldSpec(str, "Deals/{YEAR}", "folder path inside the storage",
                                 _template(*FOLDER_FIELDS)),
        "name_template": FieldSpec(str, "{ID} {TITLE}", "folder name",
                                   _template(*FOLDER_FIELDS)),
        "max_name_length": FieldSpec(int, 120, "longer names are cut", in_range(20, 250)),
        "link_field": FieldSpec(str, "UF_CRM_CC_FOLDER",
                                "deal field for the link (a URL field created if missing), "
                                "or COMMENTS to append it to the comment", _uf),
        "share_with_responsible": FieldSpec(bool, False, "share the folder with the responsible"),
    },
))
register_section(Section(
    "deal_chats",
    "A chat per new deal whose members follow the deal's people.",
    {
        "enabled": FieldSpec(bool, False, "create chats for new deals automatically"),
        "category_ids": FieldSpec(list, [], "pipelines (empty = all)", item=int),
        "title_template": FieldSpec(str, "Deal {ID}: {TITLE}", "chat title",
                                    _template(*CHAT_FIELDS)),
        "message_template": FieldSpec(
            str,
            "[B]{TITLE}[/B][BR]Amount: {AMOUNT} {CURRENCY}[BR]Stage: {STAGE}[BR]"
            "Client: {CLIENT}[BR]Responsible: {RESPONSIBLE}[BR][URL={LINK}]Open the deal[/URL]",
            "first message (BB codes)", _template(*CHAT_FIELDS)),
        "extra_user_ids": FieldSpec(list, [], "people added to every deal chat", item=int),
        "remove_departed": FieldSpec(bool, False,
                                     "remove people who stop being responsible/observers"),
        "chat_field": FieldSpec(str, "UF_CRM_CC_CHAT", "deal field keeping the chat id "
                                "(created if missing; empty = none)", _uf_or_empty),
    },
))


def wants(section: dict[str, Any], category_id: Any) -> bool:
    """Does this automatic capability apply to a deal of this pipeline?"""
    if not section["enabled"]:
        return False
    cats = section["category_ids"]
    try:
        return not cats or int(category_id or 0) in cats
    except (TypeError, ValueError):
        return False

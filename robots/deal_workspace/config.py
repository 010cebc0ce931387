"""Settings sections `deal_folders` and `deal_chats`."""

from __future__ import annotations

from typing import Any

from connector.i18n import N_
from connector.settings_schema import (
    Bool,
    CrmField,
    DiskStorage,
    Number,
    Pipelines,
    Schema,
    Template,
    Users,
    in_pipelines,
)
from connector.templating import ITEM_FIELDS

FOLDER_FIELDS = ITEM_FIELDS
CHAT_FIELDS = ("ID", "TITLE", "AMOUNT", "CURRENCY", "MONEY", "STAGE", "CLIENT", "RESPONSIBLE",
               "LINK")
# the defaults are msgids: left as they are, they are written in the portal's language
CHAT_TITLE = N_("Deal {ID}: {TITLE}")
CHAT_MESSAGE = N_("[B]{TITLE}[/B][BR]Amount: {MONEY}[BR]Stage: {STAGE}[BR]Client: {CLIENT}[BR]"
                  "Responsible: {RESPONSIBLE}[BR][URL={LINK}]Open the deal[/URL]")

DEAL_FOLDERS = Schema("deal_folders", N_("Deal folders"), (
    Bool("enabled", N_("Create folders automatically"),
         N_("Create a Disk folder for every new deal of the chosen pipelines."), False),
    Pipelines("category_ids", N_("Pipelines"),
              N_("The deal pipelines that get folders; none chosen means all."), [],
              entity="deal"),
    DiskStorage("storage", N_("Disk storage"),
                N_("'common' (the portal's shared drive) or the id of a Disk storage."),
                "common"),
    Template("parent_path", N_("Parent folder path"),
             N_("The folder path inside the storage; {YEAR} and {MONTH} are the deal's."),
             "Deals/{YEAR}", placeholders=FOLDER_FIELDS),
    Template("name_template", N_("Folder name"),
             N_("The name of a deal's folder, from the deal's {ID}, {TITLE}, {YEAR}, {MONTH}."),
             "{ID} {TITLE}", placeholders=FOLDER_FIELDS),
    Number("max_name_length", N_("Longest folder name"),
           N_("Longer names are cut to this many characters."), 120, low=20, high=250),
    CrmField("link_field", N_("Deal field for the link"),
             N_("A deal field for the folder's link (a URL field, created if missing), or "
                "COMMENTS to append the link to the deal's comment."),
             "UF_CRM_CC_FOLDER", entity="deal", field_type="url", also=("COMMENTS",),
             messages={"invalid": N_("must be COMMENTS or UF_CRM_ + A-Z, 0-9, _")}),
    Bool("share_with_responsible", N_("Share with the responsible"),
         N_("Share the folder with the deal's responsible person."), False),
), help=N_("A Disk folder per new deal, its link in the deal."))

DEAL_CHATS = Schema("deal_chats", N_("Deal chats"), (
    Bool("enabled", N_("Create chats automatically"),
         N_("Create a chat for every new deal of the chosen pipelines."), False),
    Pipelines("category_ids", N_("Pipelines"),
              N_("The deal pipelines that get chats; none chosen means all."), [],
              entity="deal"),
    Template("title_template", N_("Chat title"),
             N_("The chat's title, from the deal's fields."),
             CHAT_TITLE, placeholders=CHAT_FIELDS),
    Template("message_template", N_("First message"),
             N_("The first message in the chat (BB codes allowed), from the deal's fields."),
             CHAT_MESSAGE, placeholders=CHAT_FIELDS, long=True),
    Users("extra_user_ids", N_("Always in the chat"),
          N_("People added to every deal chat."), []),
    Bool("remove_departed", N_("Remove people who leave the deal"),
         N_("Remove people from the chat when they stop being the deal's responsible or "
            "observers."), False),
    CrmField("chat_field", N_("Deal field for the chat"),
             N_("A deal field that keeps the chat's id (created if missing); empty means none."),
             "UF_CRM_CC_CHAT", entity="deal", field_type="string", blank=True,
             messages={"invalid": N_("must be empty or UF_CRM_ + A-Z, 0-9, _")}),
), help=N_("A chat per new deal whose members follow the deal's people."))

SCHEMAS = (DEAL_FOLDERS, DEAL_CHATS)


def wants(section: dict[str, Any], category_id: Any) -> bool:
    """Does this automatic capability apply to a deal of this pipeline?"""
    return bool(section["enabled"]) and in_pipelines(section["category_ids"], category_id)

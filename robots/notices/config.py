"""The notices' settings: rules an admin sets up, each an event, its filters, where the
message goes and the message's template.

A rule without a destination may be saved (the preset rule ships without one, switched
off): the admin page says so next to it, and an event that would fire it parks its job
with that reason instead of sending nowhere in silence.
"""

from __future__ import annotations

from typing import Any

from connector.i18n import N_
from connector.settings_schema import (
    Bool,
    Chat,
    Choice,
    ListOf,
    Option,
    Pipelines,
    Problem,
    Schema,
    Stages,
    Template,
    Text,
    Users,
)

NAME = "notices"

DEAL_WON, DEAL_LOST, DEAL_CREATED, DEAL_STAGE, LEAD_CREATED = (
    "deal_won", "deal_lost", "deal_created", "deal_stage", "lead_created")
EVENTS = (
    Option(DEAL_WON, N_("A deal is won")),
    Option(DEAL_LOST, N_("A deal is lost")),
    Option(DEAL_CREATED, N_("A deal is created")),
    Option(DEAL_STAGE, N_("A deal moves to a stage")),
    Option(LEAD_CREATED, N_("A lead is created")),
)
DEAL_EVENTS = (DEAL_WON, DEAL_LOST, DEAL_CREATED, DEAL_STAGE)

CHAT, PEOPLE, TELEGRAM = "chat", "people", "telegram"
DESTINATIONS = (
    Option(CHAT, N_("A Bitrix24 chat")),
    Option(PEOPLE, N_("People (a Bitrix24 notification)")),
    Option(TELEGRAM, N_("A Telegram chat")),
)

PLACEHOLDERS = ("EVENT", "DEAL", "TITLE", "ID", "LINK", "AMOUNT", "CLIENT", "RESPONSIBLE",
                "STAGE", "PIPELINE")
# a Telegram chat: its numeric id (groups are negative, supergroups -100…) or @channel
TELEGRAM_CHAT = r"(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})?"
MAX_TEMPLATE = 3000  # below Telegram's 4096 once the placeholders are filled

WON_TEMPLATE = N_("[B]Deal won:[/B] {DEAL}\nAmount: {AMOUNT}\nClient: {CLIENT}\n"
                  "Responsible: {RESPONSIBLE}\nPipeline: {PIPELINE}, stage: {STAGE}")
ANY_TEMPLATE = N_("[B]{EVENT}:[/B] {DEAL}\nAmount: {AMOUNT}\nClient: {CLIENT}\n"
                  "Responsible: {RESPONSIBLE}\nStage: {STAGE}")
PRESET_NAME = N_("Won deal → finance")
PRESET = {"id": "won_finance", "name": PRESET_NAME, "enabled": False, "event": DEAL_WON,
          "destination": CHAT, "template": WON_TEMPLATE}


def _check(rule: dict[str, Any]) -> Problem | None:
    if rule["event"] == DEAL_STAGE and not rule["stage_ids"]:
        return "stage_ids", N_("choose the stages whose arrival is told")
    return None


RULE = Schema("rule", N_("Notice"), (
    Text("id", N_("Rule id"), N_("A short id for the log: a-z, 0-9, _ or -."),
         pattern=r"[a-z0-9_-]{1,40}",
         messages={"pattern": N_("must be 1-40 of a-z, 0-9, _ or -"),
                   "required": N_("must be 1-40 of a-z, 0-9, _ or -")}),
    Text("name", N_("Name"), N_("The rule's name in the log; the id when not given."),
         blank=False, default_from="id", max_length=120),
    Bool("enabled", N_("On"), N_("Off: the rule sends nothing."), True),
    Choice("event", N_("When"), N_("The CRM event that sends the message."), DEAL_WON,
           options=EVENTS),
    Pipelines("category_ids", N_("Pipelines"), N_("Deals of these pipelines; none means all."),
              [], entity="deal"),
    Stages("stage_ids", N_("Stages"),
           N_("For 'moves to a stage': the stages whose arrival is told. For the other events: "
              "only items in these stages; none means any."), [], entity="deal"),
    Choice("destination", N_("Where"), N_("Where the message goes."), CHAT,
           options=DESTINATIONS),
    Chat("chat_id", N_("Bitrix24 chat"), N_("For 'a Bitrix24 chat': the chat (the app must be "
                                            "in it)."), 0, optional=True),
    Users("user_ids", N_("People"), N_("For 'people': who gets the notification."), []),
    Text("telegram_chat", N_("Telegram chat id"),
         N_("For 'a Telegram chat': the chat's id (a group's starts with -) or @channel; "
            "the bot must be a member."), "", pattern=TELEGRAM_CHAT,
         messages={"pattern": N_("must be a chat id like -1001234567890 or @channel")}),
    Template("template", N_("Message"),
             N_("[B]bold[/B] works in Bitrix24 and Telegram; placeholders are filled from the "
                "deal or lead."), ANY_TEMPLATE, placeholders=PLACEHOLDERS, long=True),
), check=_check)

SETTINGS = Schema("notices", N_("Notices"), (
    ListOf("rules", N_("Rules"), N_("Each rule sends one message per event to one place."),
           [PRESET], item=RULE, unique="id"),
), help=N_("Messages about CRM events to Bitrix24 chats, people and Telegram chats."))

SCHEMAS = (SETTINGS,)


def destination_missing(rule: dict[str, Any]) -> bool:
    """Whether the rule names no place to send to (the page warns, a send parks)."""
    kind = rule.get("destination")
    return not ((kind == CHAT and rule.get("chat_id")) or
                (kind == PEOPLE and rule.get("user_ids")) or
                (kind == TELEGRAM and rule.get("telegram_chat")))

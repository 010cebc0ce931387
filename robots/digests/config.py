"""The digest's settings: when it goes out, which days and pipelines it covers, and where.

Where is any of three, as the notices send (robots.notices): a Bitrix24 chat, people (a
Bitrix24 notification each), Telegram chats through the portal's bot (connected on the
Notices page). A digest switched on without any destination may be saved: the page says
so, and a due digest parks its job with that reason rather than go nowhere in silence.
"""

from __future__ import annotations

import re
from typing import Any

from connector.i18n import N_
from connector.settings_schema import (
    Bool,
    Chat,
    Choice,
    Number,
    Option,
    Pipelines,
    Schema,
    Text,
    Users,
)
from robots.digests.schedule import DAILY, DAY, MONTH, WEEK, WEEKLY

NAME = "digests"

FREQUENCIES = (Option(DAILY, N_("Every day")), Option(WEEKLY, N_("Once a week")))
WEEKDAYS = tuple(Option(n, label) for n, label in enumerate((
    N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
    N_("Saturday"), N_("Sunday")), start=1))
PERIODS = (Option(DAY, N_("The day before")), Option(WEEK, N_("The seven days before")),
           Option(MONTH, N_("The month before")))
# a Telegram chat: its numeric id (groups are negative, supergroups -100…) or @channel
_TG = r"(?:-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})"
TELEGRAM_CHATS = rf"(?:{_TG}(?:\s*[,;\s]\s*{_TG})*)?"

SCHEMA = Schema(NAME, N_("Management digests"), (
    Bool("enabled", N_("Digests"),
         N_("A report on the deals (new, won, lost, in work, per pipeline) with a chart of "
            "the week, sent on a schedule."), False),
    Choice("frequency", N_("How often"), N_("Every day, or once a week on the day below."),
           WEEKLY, options=FREQUENCIES),
    Choice("weekday", N_("Day of the week"), N_("For 'once a week'."), 1, options=WEEKDAYS),
    Number("hour", N_("Hour"), N_("When it goes out, by the portal's clock (the time zone "
                                  "in the general settings), 0-23."), 9, low=0, high=23),
    Choice("period", N_("Period covered"),
           N_("Whole days before the digest's day; the period before it is shown for "
              "comparison."), WEEK, options=PERIODS),
    Pipelines("category_ids", N_("Pipelines"), N_("Deals of these pipelines; none means all."),
              [], entity="deal"),
    Text("currency", N_("Currency"),
         N_("The currency of the sums (RUB, USD…); empty: the portal's base currency. Deals "
            "in other currencies are converted at the portal's rates."), "",
         pattern=r"([A-Z]{3})?", messages={"pattern": N_("must be a currency code: three "
                                                         "capital letters, or empty")}),
    Chat("chat_id", N_("Bitrix24 chat"), N_("The chat the digest is posted to (the app must "
                                            "be in it); none: no chat."), 0, optional=True),
    Users("user_ids", N_("People"), N_("Who gets the digest as a Bitrix24 notification."),
           []),
    Text("telegram_chats", N_("Telegram chats"),
         N_("Chat ids (a group's starts with -) or @channels, separated by commas; the bot "
            "connected on the Notices page must be a member."), "", pattern=TELEGRAM_CHATS,
         messages={"pattern": N_("must be chat ids like -1001234567890 or @channel, "
                                 "separated by commas")}),
    Number("overdue_shown", N_("Overdue items listed"),
           N_("How many of the items the watchdogs see as overdue are named, with links "
              "(the count is always given); 0: the count only."), 5, low=0, high=20),
), help=N_("A scheduled report for the management: deals new, won, lost and in work with "
           "their sums per pipeline, the watchdogs' overdue items and a chart of the week, "
           "to a Bitrix24 chat, people or Telegram."))

SCHEMAS = (SCHEMA,)


def telegram_chats(section: dict[str, Any]) -> list[str]:
    """The Telegram chats of the setting, each once, in the order typed."""
    return list(dict.fromkeys(c for c in re.split(r"[\s,;]+", section["telegram_chats"]) if c))


def destinations(section: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, target) of every place the digest goes: ("chat", "12"), ("user", "3"),
    ("telegram", "-100…"); each is sent and remembered on its own."""
    out = [("chat", str(section["chat_id"]))] if section["chat_id"] else []
    out += [("user", str(uid)) for uid in section["user_ids"]]
    return out + [("telegram", chat) for chat in telegram_chats(section)]

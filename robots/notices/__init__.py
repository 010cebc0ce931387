"""Notices: messages about CRM events (a deal won, lost, created or moved; a lead created)
to Bitrix24 chats, to people and to Telegram chats, each rule's message once per event.

The decision is robots.notices.decide (pure), the sending robots.notices.notify, the texts
robots.notices.template; Telegram itself is connector.telegram (other capabilities use it).
"""

from __future__ import annotations

from typing import Any

from connector.capability import Capability, Event, Subscription
from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_
from robots.notices import config, decide, notify
from robots.notices.config import NAME
from robots.notices.panels import PANELS, attention

EVENTS = ("deal.created", "deal.updated", "lead.created")


def wants(ctx: JobContext, event: Event) -> bool:
    return decide.listens(ctx.settings[NAME]["rules"], event.name)


def reads(ctx: JobContext, event: Event) -> dict[str, crm.Query]:
    ref = event.ref
    out: dict[str, crm.Query] = {"item": crm.GetItem(ref), "responsible": crm.Responsible(ref),
                                 "stage": crm.StageName(ref)}
    if ref.kind == "deal":
        out["client"] = crm.ClientName(ref)
    return out


def handle(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    return notify.handle(ctx, event.name, event.ref, event.delivery, reading)


SUBSCRIPTIONS = tuple(
    Subscription(name, f"notify_{name.replace('.', '_')}", handle, wants, reads,
                 # a new item's responsible is chosen first: the message names the right one
                 after=(f"distribution.assign_{name.split('.')[0]}",)
                 if name.endswith(".created") else ())
    for name in EVENTS)

CAPABILITY = Capability(
    name=NAME,
    title=N_("Notices"),
    settings=config.SCHEMAS,
    subscriptions=SUBSCRIPTIONS,
    panels=PANELS,
    scopes=frozenset({"crm", "im"}),
    provides={f"attention:{NAME}": attention},
)

"""Client value: each contact's and company's won deals, lifetime value and last purchase,
kept in fields of theirs and always counted from their deals (robots.client_value.recount).
"""

from __future__ import annotations

from connector.capability import Capability, Subscription, Task
from connector.i18n import N_
from robots.client_value import config, recount
from robots.client_value.config import NAME
from robots.client_value.panels import PANELS

CAPABILITY = Capability(
    name=NAME,
    title=N_("Client value"),
    settings=config.SCHEMAS,
    subscriptions=tuple(
        Subscription(event, f"count_{event.replace('.', '_')}", recount.on_deal, recount.wants,
                     recount.reads) for event in ("deal.created", "deal.updated")),
    tasks=(Task("recount", recount.recount, title=N_("Count a client's value again")),
           Task("backfill", recount.backfill, title=N_("Count every client's value again"))),
    panels=PANELS,
    scopes=frozenset({"crm"}),
)

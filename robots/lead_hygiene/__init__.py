"""Lead hygiene: a new lead from a known phone or e-mail is attached to the client, folded
into their deal or lead in work, or closed as spam when it is on the admin's exclusion list;
every decision logged with its reason (robots.lead_hygiene.work)."""

from __future__ import annotations

from connector.capability import Capability, Subscription
from connector.i18n import N_
from robots.lead_hygiene import config, work
from robots.lead_hygiene.config import NAME
from robots.lead_hygiene.panels import PANELS

CAPABILITY = Capability(
    name=NAME,
    title=N_("Lead hygiene"),
    settings=config.SCHEMAS,
    subscriptions=(Subscription("lead.created", "check", work.on_lead, work.wants, work.reads),),
    panels=PANELS,
    scopes=frozenset({"crm", "im"}),
    provides={"lead_verdict": work.verdict_of},
)

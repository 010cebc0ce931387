"""The watchdogs' part of the deal tab: the deal's pending steps and its last audit lines.

From Redis only (the pending-steps index and the audit), never the CRM: the tab opens in
milliseconds. The words are the panels' (robots.watchdogs.panels), in the viewer's language
at render time: the facts keep steps as (kind, rule, step) and audit lines as msgids.
"""

from __future__ import annotations

from typing import Any

from connector.capability import CardSection
from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_, t, when
from robots.watchdogs import audit, watch
from robots.watchdogs.panels import audit_rows, rules_by_id, step_words

PENDING = 10
LAST = 5
AUDIT_SCAN = 2000  # newest audit entries of the portal looked through for this deal


class Words:
    """Renders the section's facts in the tab's language (the template calls it)."""

    def __init__(self, ctx: JobContext, deal_id: int):
        self.ctx, self.ref = ctx, crm.ItemRef("deal", deal_id)

    def pending(self, lang: str) -> list[dict[str, Any]]:
        rules = rules_by_id(self.ctx.settings)
        out = []
        for p in watch.upcoming(self.ctx, PENDING, ref=self.ref):
            kind, rule = rules.get(p["rule"], ("", None))
            out.append({"rule": rule["name"] if rule else p["rule"],
                        "step": step_words(lang, kind, rule, p["step"]),
                        "when": when(p["at"], lang, self.ctx.tz, "short")})
        return out

    def last(self, lang: str) -> list[dict[str, Any]]:
        entries = [e for e in audit.entries(self.ctx.redis, watch.audit_key(self.ctx),
                                            limit=AUDIT_SCAN, scan=AUDIT_SCAN)
                   if e["ref"] == self.ref.label][:LAST]
        return audit_rows(self.ctx, lang, entries,
                          lambda uid: t(lang, N_("user #{id}"), id=uid))


def card_facts(ctx: JobContext, deal_id: int) -> dict[str, Any]:
    return {"words": Words(ctx, deal_id)}


CARD_SECTIONS = (CardSection("watch", N_("Reminders and watchdogs"), card_facts,
                             "sections/watchdogs.html"),)

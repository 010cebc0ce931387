"""Lead hygiene's admin panels: a check of one phone or e-mail (what a lead from it would
become, nothing written) and the decision log, each decision with its reason."""

from __future__ import annotations

from typing import Any

from connector.capability import AdminView, Panel
from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import ConnectorError
from connector.i18n import N_, t
from robots.lead_hygiene import comms, work
from robots.lead_hygiene.config import NAME
from robots.lead_hygiene.decide import ACTIONS, REASONS, Known, Lead, Verdict, decide

ACTION_NAMES = {"spam": N_("spam"), "fold": N_("folded"), "attach": N_("attached"),
                "known": N_("known client"), "new": N_("new client"),
                "nothing": N_("nothing to compare")}
SHOWN = 50
PROBE_ID = 2**62  # a lead newer than any: every lead of the portal counts as older


def reason_words(lang: str, verdict: dict[str, Any]) -> str:
    msgid = REASONS.get(verdict.get("reason", ""), "")
    target = str(verdict.get("target") or "").partition("/")[2]
    return t(lang, msgid, value=verdict.get("value", ""), target=target,
             contact=verdict.get("contact", ""), company=verdict.get("company", "")
             ) if msgid else ""


def _name(lang: str, label: str) -> str:
    """«сделка #31» of "deal/31"."""
    kind, _, rid = label.partition("/")
    return f"{t(lang, work.KIND_NAMES.get(kind, kind))} #{rid}" if rid else ""


def _link(ctx: JobContext, label: str) -> str:
    kind, _, rid = label.partition("/")
    return ctx.crm.item_link(crm.ItemRef(kind, int(rid))) if rid.isdigit() else ""


def probe(ctx: JobContext, text: str) -> tuple[Verdict | None, str]:
    """What a new lead with this phone or e-mail would become now, and a problem in words."""
    section = ctx.settings[NAME]
    phone = comms.phone_key(text, section["country"])
    email = comms.email_key(text)
    if not phone and not email:
        return None, N_("This is neither a phone number nor an e-mail address.")
    lead = Lead(PROBE_ID, (phone,) if phone else (), (email,) if email else ())
    spam = comms.exclusions(section["exclusions"], section["country"]).hit(
        list(lead.phones), list(lead.emails))
    known = Known() if spam else work.look_up(ctx, lead)[0]
    return decide(lead, known, spam, work.show, fold=section["fold"],
                  attach=section["attach"]), ""


def log_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    section = ctx.settings[NAME]
    rows = []
    for entry in work.log(ctx, SHOWN):
        rows.append({"at": entry["at"], "lead": entry["lead"], "title": entry.get("title", ""),
                     "lead_url": _link(ctx, f"lead/{entry['lead']}"),
                     "action": entry["action"],
                     "action_name": t(lang, ACTION_NAMES.get(entry["action"], entry["action"])),
                     "reason": reason_words(lang, entry),
                     "target": _name(lang, entry.get("target", "")),
                     "target_url": _link(ctx, entry.get("target", ""))})
    counts = work.counts(ctx)
    totals = [{"action": a, "name": t(lang, ACTION_NAMES[a]), "n": counts.get(a, 0)}
              for a in ACTIONS if counts.get(a)]
    out: dict[str, Any] = {"enabled": bool(section["enabled"]), "rows": rows,
                           "totals": totals, "probe": view.values.get("probe", "")[:200],
                           "result": None, "error": ""}
    if out["probe"].strip():
        try:
            verdict, problem = probe(ctx, out["probe"])
        except (crm.CrmError, ConnectorError):
            verdict, problem = None, N_("The portal did not answer; try again in a minute.")
        if problem:
            out["error"] = t(lang, problem)
        elif verdict is not None:
            data = verdict.as_json()
            out["result"] = {"action": verdict.action,
                             "action_name": t(lang, ACTION_NAMES[verdict.action]),
                             "reason": reason_words(lang, data),
                             "target": _name(lang, data["target"]),
                             "target_url": _link(ctx, data["target"])}
    return out


PANELS = (Panel("decisions", N_("Decisions"), log_facts, "panels/lead_hygiene.html"),)

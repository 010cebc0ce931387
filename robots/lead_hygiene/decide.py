"""What to do with a new lead, from what the portal holds of its phones and e-mails: pure.

The order is the admin's intent: a value on the exclusion list makes the lead spam; a
client with a deal in work, or an older open lead of the same phone or e-mail, takes the
request (the new lead is folded into it); a known client without open work gets the lead
attached to their contact and company; anything else is a new client. Every verdict says
why, with the value that matched, for the decision log and the timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.crm import port as crm
from connector.i18n import N_, Msg

SPAM, FOLD, ATTACH, KNOWN, NEW, NOTHING = "spam", "fold", "attach", "known", "new", "nothing"
ACTIONS = (SPAM, FOLD, ATTACH, KNOWN, NEW, NOTHING)

REASONS: Mapping[str, Msg] = {
    "spam": N_("{value} is on the exclusion list"),
    "fold_deal": N_("the client already has deal #{target} in work (the same {value})"),
    "fold_lead": N_("lead #{target} with the same {value} is still open"),
    "attach": N_("contact #{contact} has the same {value}"),
    "attach_company": N_("company #{company} has the same {value}"),
    "known": N_("the lead is already linked to its client"),
    "new": N_("no lead, contact or company has its phones or e-mails"),
    "nothing": N_("the lead has no phone or e-mail to compare"),
}


@dataclass(frozen=True)
class Lead:
    """What of the new lead the decision reads: its values in normal form."""

    id: int
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    contact_id: int = 0
    company_id: int = 0


@dataclass(frozen=True)
class Known:
    """What the portal holds: per value (a phone in E.164 or an e-mail), the ids it was
    found on; the open older leads; the contacts' companies; the clients' open deals."""

    matches: Mapping[str, Mapping[str, list[int]]] = field(default_factory=dict)
    open_leads: tuple[int, ...] = ()
    company_of: Mapping[int, int] = field(default_factory=dict)  # contact id → company id
    open_deals: Mapping[str, list[int]] = field(default_factory=dict)  # "contact/5" → ids


@dataclass(frozen=True)
class Verdict:
    action: str
    reason: str  # a key of REASONS
    value: str = ""  # the phone or e-mail that decided it, as a person reads it
    target: crm.ItemRef | None = None  # what the lead is folded into
    contact_id: int = 0  # the contact to attach the lead to (0: none, or it has one)
    company_id: int = 0

    def params(self) -> dict[str, Any]:
        return {"value": self.value, "target": self.target.id if self.target else "",
                "contact": self.contact_id, "company": self.company_id}

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "reason": self.reason, "value": self.value,
                "target": self.target.label if self.target else "",
                "contact": self.contact_id, "company": self.company_id}


def _values(lead: Lead) -> list[str]:
    return [*lead.phones, *lead.emails]


def ranked(lead: Lead, matches: Mapping[str, Mapping[str, list[int]]], kind: str
           ) -> list[tuple[int, str]]:
    """Contacts (or companies) sharing the lead's values, those sharing most first, the
    oldest on a tie, each with the first value it shares: the worker reads the first few,
    the verdict takes the first."""
    score: dict[int, list[str]] = {}
    for value in _values(lead):
        for cid in matches.get(value, {}).get(kind, []):
            score.setdefault(cid, []).append(value)
    return [(cid, score[cid][0]) for cid in sorted(score, key=lambda c: (-len(score[c]), c))]


def _best(lead: Lead, known: Known, kind: str) -> tuple[int, str]:
    return next(iter(ranked(lead, known.matches, kind)), (0, ""))


def _lead_value(lead: Lead, known: Known, lead_id: int) -> str:
    return next((v for v in _values(lead) if lead_id in known.matches.get(v, {}).get("lead", [])),
                "")


def decide(lead: Lead, known: Known, spam_hit: str, show: Any = str, fold: bool = True,
           attach: bool = True) -> Verdict:
    """The verdict for `lead`. `spam_hit` is its value on the exclusion list ("" when none);
    `show(value)` writes a value as a person reads it."""
    if spam_hit:
        return Verdict(SPAM, "spam", spam_hit)
    if not _values(lead):
        return Verdict(NOTHING, "nothing")
    contact, by_contact = (lead.contact_id, "") if lead.contact_id else _best(lead, known,
                                                                               "contact")
    company, by_company = (lead.company_id, "") if lead.company_id else _best(lead, known,
                                                                              "company")
    if not lead.company_id and contact and known.company_of.get(contact):
        company, by_company = known.company_of[contact], by_contact
    new_contact = contact if attach and not lead.contact_id else 0
    new_company = company if attach and not lead.company_id else 0
    if fold:
        for client in (f"contact/{contact}" if contact else "",
                       f"company/{company}" if company else ""):
            deals = known.open_deals.get(client) or []
            if deals:
                value = by_contact if client.startswith("contact") else by_company
                return Verdict(FOLD, "fold_deal", show(value or _values(lead)[0]),
                               crm.ItemRef("deal", max(deals)), new_contact, new_company)
        older = sorted(i for i in known.open_leads if i < lead.id)
        if older:  # the oldest: two leads of one client arriving together fold one way only
            value = _lead_value(lead, known, older[0]) or _values(lead)[0]
            return Verdict(FOLD, "fold_lead", show(value), crm.ItemRef("lead", older[0]),
                           new_contact, new_company)
    if new_contact:
        return Verdict(ATTACH, "attach", show(by_contact), None, new_contact, new_company)
    if new_company:
        return Verdict(ATTACH, "attach_company", show(by_company), None, 0, new_company)
    if contact or company:
        return Verdict(KNOWN, "known")
    return Verdict(NEW, "new")

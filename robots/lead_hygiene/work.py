"""Lead hygiene's work on a new lead: read what the portal holds of its phones and e-mails
(two batch requests), decide (robots.lead_hygiene.decide), write the outcome (one more), and
log it with its reason for the admin page.

A verdict is kept per lead: a delivery of the same event again, or the distribution that
runs after this (it skips a lead folded away or closed as spam), reads it instead of
deciding twice.
"""

from __future__ import annotations

import json
import time
from typing import Any

from connector import capped
from connector.capability import Event
from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_, t
from robots.lead_hygiene import comms
from robots.lead_hygiene.config import NAME
from robots.lead_hygiene.decide import ATTACH, FOLD, SPAM, Known, Lead, Verdict, decide
from robots.lead_hygiene.decide import ranked as rank_clients

VERDICT_TTL_S = 90 * 24 * 3600
LOG = 200  # decisions kept for the admin page
VALUES = 5  # phones and e-mails of a lead compared (each kind)
LEADS = 10  # older leads of the same values read to find an open one
CLIENTS = 3  # contacts (and companies) whose open deals are read
DETAILS = 600  # characters of the lead's comment copied into the timeline

SPAM_NOTE = N_("Closed as spam: {value} is on the app's exclusion list (the Lead hygiene "
               "settings).")
FOLDED_NOTE = N_("A repeat request of a client who has this in work: {target} (the same "
                 "{value}). This lead is closed; its request is written there.")
TARGET_NOTE = N_("The client asked again: {lead} «{title}» ({contacts}). {comment}")
TARGET_TOLD = N_("The client asked again: lead #{lead} «{title}» is folded into this deal.")
NOTIFY_NOTE = N_("The client asked again ({lead} «{title}»); the request is written here: "
                 "{target}.")
ATTACH_NOTE = N_("Linked to the client: {client} (the same {value}).")
KIND_NAMES = {"deal": N_("deal"), "lead": N_("lead"), "contact": N_("contact"),
              "company": N_("company")}


def wants(ctx: JobContext, event: Event) -> bool:
    return bool(ctx.settings[NAME]["enabled"])


def reads(ctx: JobContext, event: Event) -> dict[str, crm.Query]:
    return {"lead": crm.GetItem(event.ref)}


def lead_of(item: crm.Item, region: str) -> Lead:
    phones = [comms.phone_key(p, region) for p in item.phones]
    emails = [comms.email_key(e) for e in item.emails]
    return Lead(item.ref.id, tuple(dict.fromkeys(p for p in phones if p))[:VALUES],
                tuple(dict.fromkeys(e for e in emails if e))[:VALUES],
                item.contact_ids[0] if item.contact_ids else 0, item.company_id)


def show(value: str) -> str:
    return comms.display_phone(value) if value.startswith("+") else value


# reading ---------------------------------------------------------------------------------
def look_up(ctx: JobContext, lead: Lead) -> tuple[Known, dict[str, crm.Item]]:
    """What the portal holds of the lead's values, and the items a verdict may name."""
    queries: dict[str, crm.Query] = {}
    for i, phone in enumerate(lead.phones):
        queries[f"p{i}"] = crm.CommMatches(phones=tuple(comms.spellings(phone)))
    for i, email in enumerate(lead.emails):
        queries[f"e{i}"] = crm.CommMatches(emails=(email,))
    found = ctx.crm.read(queries)
    matches: dict[str, dict[str, list[int]]] = {}
    for i, phone in enumerate(lead.phones):
        matches[phone] = found.get(f"p{i}")
    for i, email in enumerate(lead.emails):
        matches[email] = found.get(f"e{i}")
    for got in matches.values():
        got["lead"] = [i for i in got.get("lead", []) if i != lead.id]

    def ranked(kind: str) -> list[int]:
        return [cid for cid, _ in rank_clients(lead, matches, kind)][:CLIENTS]

    contacts = ([lead.contact_id] if lead.contact_id else []) + ranked("contact")
    companies = ([lead.company_id] if lead.company_id else []) + ranked("company")
    older = sorted({i for got in matches.values() for i in got.get("lead", []) if i < lead.id},
                   reverse=True)[:LEADS]
    second: dict[str, crm.Query] = {}
    for cid in dict.fromkeys(contacts):
        second[f"c{cid}"] = crm.GetItem(crm.ItemRef("contact", cid))
        second[f"dc{cid}"] = crm.OpenDeals(crm.ItemRef("contact", cid))
    for cid in dict.fromkeys(companies):
        second[f"dk{cid}"] = crm.OpenDeals(crm.ItemRef("company", cid))
    for lid in older:
        second[f"l{lid}"] = crm.GetItem(crm.ItemRef("lead", lid))
    got = ctx.crm.read(second) if second else crm.Reading()
    items: dict[str, crm.Item] = {}
    company_of, open_deals, open_leads = {}, {}, []
    for cid in dict.fromkeys(contacts):
        if got.ok(f"c{cid}"):
            company_of[cid] = got.values[f"c{cid}"].company_id
            items[f"contact/{cid}"] = got.values[f"c{cid}"]
        deals = got.values.get(f"dc{cid}") or [] if got.ok(f"dc{cid}") else []
        open_deals[f"contact/{cid}"] = [d.ref.id for d in deals]
        items.update({d.ref.label: d for d in deals})
    for cid in dict.fromkeys(companies):
        deals = got.values.get(f"dk{cid}") or [] if got.ok(f"dk{cid}") else []
        open_deals[f"company/{cid}"] = [d.ref.id for d in deals]
        items.update({d.ref.label: d for d in deals})
    for lid in older:
        if got.ok(f"l{lid}") and got.values[f"l{lid}"].closed is False:
            open_leads.append(lid)
            items[f"lead/{lid}"] = got.values[f"l{lid}"]
    return Known(matches, tuple(open_leads), company_of, open_deals), items


# writing ---------------------------------------------------------------------------------
def _named(ctx: JobContext, ref: crm.ItemRef, title: str = "") -> str:
    text = f"{t(ctx.lang, KIND_NAMES.get(ref.kind, ref.kind))} #{ref.id}"
    if title:
        text += f" «{title}»"
    return ctx.crm.link(ctx.crm.item_link(ref), text)


def person(item: crm.Item | None) -> str:
    """A contact's name as the card shows it ("" when unknown)."""
    if item is None:
        return ""
    return " ".join(str(item.fields.get(k) or "").strip() for k in ("NAME", "LAST_NAME")
                    if str(item.fields.get(k) or "").strip()) or item.title


def reachable(item: crm.Item) -> str:
    """The lead's phones and e-mails as a person reads them."""
    return ", ".join([*(comms.display_phone(k) if (k := comms.phone_key(p)) else p
                        for p in item.phones), *item.emails])


def effects(ctx: JobContext, item: crm.Item, verdict: Verdict, items: dict[str, crm.Item]
            ) -> dict[str, crm.Op]:
    target = items.get(verdict.target.label) if verdict.target else None
    section = ctx.settings[NAME]
    lang, ref = ctx.lang, item.ref
    links = {}
    if verdict.contact_id:
        links["CONTACT_ID"] = verdict.contact_id
    if verdict.company_id:
        links["COMPANY_ID"] = verdict.company_id
    ops: dict[str, crm.Op] = {}
    if verdict.action == SPAM:
        ops["close"] = crm.UpdateItem(ref, {"STATUS_ID": section["spam_status"]}, quiet=False)
        ops["note"] = crm.AddComment(ref, t(lang, SPAM_NOTE, value=verdict.value))
    elif verdict.action == FOLD and verdict.target is not None:
        fields: dict[str, Any] = {"STATUS_ID": section["repeat_status"], **links}
        if target is not None and target.assigned:
            fields["ASSIGNED_BY_ID"] = target.assigned
        title = target.title if target is not None else ""
        ops["close"] = crm.UpdateItem(ref, fields, quiet=False)
        ops["note"] = crm.AddComment(ref, t(lang, FOLDED_NOTE, value=verdict.value,
                                            target=_named(ctx, verdict.target, title)))
        ops["there"] = crm.AddComment(verdict.target, t(
            lang, TARGET_NOTE, lead=_named(ctx, ref), title=item.title,
            contacts=reachable(item), comment=" ".join(item.comments.split())[:DETAILS]).strip())
        if target is not None and target.assigned:
            ops["tell"] = crm.NotifyUser(target.assigned, t(
                lang, NOTIFY_NOTE, lead=_named(ctx, ref), title=item.title,
                target=_named(ctx, verdict.target, title)), tag=f"cc-hygiene-{ref.id}")
    elif verdict.action == ATTACH and links:
        client = (crm.ItemRef("contact", verdict.contact_id) if verdict.contact_id
                  else crm.ItemRef("company", verdict.company_id))
        ops["link"] = crm.UpdateItem(ref, links, quiet=False)
        ops["note"] = crm.AddComment(ref, t(lang, ATTACH_NOTE, value=verdict.value, client=_named(
            ctx, client, person(items.get(client.label)))))
    return ops


# the event -------------------------------------------------------------------------------
def on_lead(ctx: JobContext, event: Event, reading: crm.Reading) -> dict[str, Any]:
    """Decide what the new lead is, and write it."""
    stored = ctx.key("verdict", event.ref.id)
    if ctx.redis.exists(stored):
        return {"skipped": "decided already"}
    try:
        item: crm.Item = reading.get("lead")
    except crm.NotFound:
        return {"skipped": "lead gone"}
    if item.closed:
        return {"skipped": "lead closed already"}
    section = ctx.settings[NAME]
    lead = lead_of(item, section["country"])
    spam = comms.exclusions(section["exclusions"], section["country"]).hit(
        list(lead.phones), list(lead.emails))
    known, items = (Known(), {}) if spam or not (lead.phones or lead.emails) else look_up(
        ctx, lead)
    verdict = decide(lead, known, spam, show, fold=section["fold"], attach=section["attach"])
    ops = effects(ctx, item, verdict, items)
    if ops:
        done = ctx.crm.apply(ops)
        if "close" in done.errors or "link" in done.errors:
            raise done.errors.get("close") or done.errors["link"]
        for key, err in done.errors.items():  # a comment or notice refused: the lead is done
            ctx.log.warning("lead hygiene %s on lead %s: %s refused: %s", verdict.action,
                            item.ref.id, key, err)
    if verdict.action == FOLD and verdict.target is not None and verdict.target.kind == "deal":
        ctx.of(NAME).remember(verdict.target, TARGET_TOLD, lead=item.ref.id, title=item.title)
    entry = {"at": time.time(), "lead": item.ref.id, "title": item.title,
             **verdict.as_json()}
    pipe = ctx.redis.pipeline()
    pipe.set(stored, json.dumps(verdict.as_json()), ex=VERDICT_TTL_S)
    capped.push(pipe, ctx.key("log"), entry, LOG)
    pipe.hincrby(ctx.key("counts"), verdict.action, 1)
    pipe.execute()
    return entry


# what others read ------------------------------------------------------------------------
def verdict_of(ctx: JobContext, ref: crm.ItemRef) -> dict[str, Any] | None:
    """The verdict on a lead (published as "lead_verdict"): None when none was made."""
    raw = ctx.redis.get(ctx.of(NAME).key("verdict", ref.id)) if ref.kind == "lead" else None
    return json.loads(raw) if raw else None


def log(ctx: JobContext, n: int = 50) -> list[dict[str, Any]]:
    return [json.loads(r) for r in ctx.redis.lrange(ctx.key("log"), 0, n - 1)]


def counts(ctx: JobContext) -> dict[str, int]:
    return {(k.decode() if isinstance(k, bytes) else k): int(v)
            for k, v in ctx.redis.hgetall(ctx.key("counts")).items()}

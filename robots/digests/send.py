"""The digest's I/O: when one is due, what it says (deals read through the CRM port, the
watchdogs' overdue items, the chart), and sending it once per slot to each destination.

Once per slot: the periodic check (every few minutes) queues a slot's digest only when it
wins the slot's SET NX key, and the job's id is derived from the slot, so two checks, two
workers or a check run twice queue one digest. The digest job is an ordinary job: its
retries send only the destinations not marked sent yet (one mark per destination), and
when it finally fails it is parked in the failed registry, which the operations page and
this capability's panel show. A worker killed between a send and its mark may send that
one destination twice: neither chats nor Telegram take an idempotency key.

Due: a slot passed while the digest was on, seen by a check (each check remembers its time;
a slot later than the check before is due). So switching the digest on at 10:00 does not
send the 09:00 one, and after downtime the missed slot is sent once, if at most a day late.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connector import telegram
from connector.context import JobContext
from connector.crm import port as crm
from connector.currency import portal_rates
from connector.errors import Permanent, Retryable
from connector.i18n import N_, t
from robots.digests import chart, figures, log, message
from robots.digests import schedule as sch
from robots.digests.config import NAME, destinations
from robots.digests.words import NO_DESTINATION, why

CHECK_EVERY_S = 300
LATE_MAX_S = 24 * 3600  # a slot missed for longer than this (a long outage) is not sent
SLOT_TTL_S = 40 * 86400
CHART_FOLDER = N_("Deals digests")


class DigestNowhere(Permanent):
    """The digest is on but names no chat, people or Telegram chat."""


class DigestNotSent(Permanent):
    """Some destinations of a digest refused it; the Digests page says which and why."""


def section(ctx: JobContext) -> dict[str, Any]:
    return dict(ctx.settings[NAME])


def every(settings: Any) -> int | None:
    """The check's interval: only while the digest is on."""
    return CHECK_EVERY_S if settings[NAME]["enabled"] else None


# when ------------------------------------------------------------------------------------
def due_slot(ctx: JobContext, now: float) -> datetime | None:
    """The slot to send now, if one passed since the check before (remembering this one)."""
    s = section(ctx)
    slot = sch.last_slot(now, ctx.tz, s["frequency"], s["weekday"], s["hour"])
    before = ctx.redis.getset(ctx.key("checked"), repr(now))
    ctx.redis.expire(ctx.key("checked"), 8 * 86400)
    if before is None or float(before) >= slot.timestamp():
        return None  # the first check since it was switched on, or this slot was seen
    return slot if now - slot.timestamp() <= LATE_MAX_S else None


def check(ctx: JobContext) -> dict[str, Any]:
    """The periodic task: queue the due slot's digest, once per slot whoever asks."""
    if not section(ctx)["enabled"]:
        ctx.redis.delete(ctx.key("checked"))
        return {"skipped": "off"}
    slot = due_slot(ctx, time.time())
    if slot is None:
        return {"skipped": "nothing due"}
    key = sch.slot_key(slot)
    if not ctx.redis.set(ctx.key("slot", key), repr(time.time()), nx=True, ex=SLOT_TTL_S):
        return {"skipped": f"slot {key} is queued already"}
    ctx.enqueue("send", {"slot": slot.isoformat(), "key": key}, key)
    return {"queued": key}


def next_due(ctx: JobContext, now: float | None = None) -> datetime:
    s = section(ctx)
    return sch.next_slot(time.time() if now is None else now, ctx.tz, s["frequency"],
                         s["weekday"], s["hour"])


# what ------------------------------------------------------------------------------------
@dataclass
class Report:
    figures: figures.Figures
    overdue: dict[str, Any] | None
    png: bytes
    caption: str


def _iso(day: date, tz: str) -> str:
    return sch.at_hour(day, 0, tz).isoformat()


def read_deals(ctx: JobContext, since: date, chosen: list[Any]) -> list[crm.Item]:
    """The deals a digest counts: created since `since`, closed since then, and in work now;
    three ID-cursor listings filtered by the CRM (at most 2,500 deals a request)."""
    cats = tuple(str(c) for c in chosen)
    iso = _iso(since, ctx.tz)
    return [*ctx.crm.deals(created_since=iso, categories=cats),
            *ctx.crm.deals(closed=True, moved_since=iso, categories=cats),
            *ctx.crm.deals(closed=False, categories=cats)]


def _ref(label: str) -> crm.ItemRef:
    kind, _, item_id = label.rpartition("/")
    return crm.ItemRef(kind, int(item_id))


def overdue_items(ctx: JobContext, shown: int) -> dict[str, Any] | None:
    """The watchdogs' overdue items (their published "overdue" service) with titles and
    links; None when watchdogs are not loaded here or no rule of theirs waits for people."""
    service = ctx.service("overdue")
    found = service(ctx, limit=shown) if service is not None else None
    if found is None:
        return None
    refs = [_ref(r["ref"]) for r in found["items"]]
    titles: dict[crm.ItemRef, str] = {}
    if refs:
        reading = ctx.crm.read({f"i{n}": crm.GetItem(ref) for n, ref in enumerate(refs)})
        titles = {ref: reading.values[f"i{n}"].title for n, ref in enumerate(refs)
                  if reading.ok(f"i{n}") and reading.values[f"i{n}"] is not None}
    items = [{"title": titles.get(ref) or f"#{ref.id}", "url": ctx.crm.item_link(ref),
              "rule": r["rule"], "missed": r["missed"]}
             for ref, r in zip(refs, found["items"], strict=True)]
    return {"count": found["count"], "items": items}


def build(ctx: JobContext, day: date, lang: str, today: date | None = None) -> Report:
    """The digest of the slot on `day`: its period's figures (so far, for a day to come),
    the overdue items and the chart of the week before `day` (up to today at most)."""
    s = section(ctx)
    tz = ctx.tz
    today = today or datetime.now(ZoneInfo(tz)).date()
    period = sch.period_before(day, s["period"], tz)
    before = sch.previous(period, s["period"])
    days = sch.chart_days(min(day, today + timedelta(days=1)))
    base, rates = portal_rates(ctx)
    currency = s["currency"] or base
    names = ctx.crm.read({"p": crm.PipelineNames("deal")}).get("p") or {}
    deals = read_deals(ctx, min(before.first, days[0]), s["category_ids"])
    fig = figures.count(deals, period=period, before=before, days=days, currency=currency,
                        rates=rates, pipelines=names, chosen=s["category_ids"])
    words = message.chart_words(lang, days)
    png = chart.week_png([d.day for d in fig.days], [d.new for d in fig.days],
                         [d.won for d in fig.days], title=words["title"],
                         new_label=words["new_label"], won_label=words["won_label"],
                         day_names=words["day_names"])
    return Report(fig, overdue_items(ctx, int(s["overdue_shown"])), png, words["caption"])


# where -----------------------------------------------------------------------------------
def chart_link(ctx: JobContext, key: str, png: bytes, lang: str) -> str:
    """The chart as a file of the company's shared storage (a folder of the app's), its page
    for the Bitrix24 message; put there once per slot. "" when the storage refused it: the
    digest goes without the chart rather than not at all."""
    mark = ctx.key("chart", key)
    if known := ctx.redis.get(mark):
        return str(known.decode())
    try:
        root = ctx.crm.storage_root("common")
        folder, _made = ctx.crm.subfolder(root, t(lang, CHART_FOLDER))
        stored = ctx.crm.upload(folder.id, f"digest-{key.replace(':', '-')}.png", png)
    except (crm.CrmError, Permanent) as exc:
        ctx.log.warning("digest %s: chart not stored (%s)", key, exc)
        return ""
    ctx.redis.set(mark, stored.url, ex=SLOT_TTL_S)
    return stored.url


def send_one(ctx: JobContext, kind: str, target: str, report: Report, key: str,
             lang: str, link: str) -> None:
    """One destination's digest; raises what stopped it."""
    if kind == "telegram":
        text = message.render(report.figures, lang, message.TELEGRAM, overdue=report.overdue)
        telegram.send(ctx.services, ctx.tenant, target, text, as_html=True)
        telegram.send(ctx.services, ctx.tenant, target, report.caption, report.png)
        return
    text = message.render(report.figures, lang, message.BBCODE, overdue=report.overdue,
                          chart_url=link)
    op: crm.Op = crm.PostToChat(int(target), text) if kind == "chat" else crm.NotifyUser(
        int(target), text, tag=f"cc-digest-{key}-{target}")
    done = ctx.crm.apply({"post": op})
    if done.errors:
        raise next(iter(done.errors.values()))


def _sent_key(ctx: JobContext, key: str, kind: str, target: str) -> str:
    return ctx.key("sent", key, kind, target)


def send(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    """The task: the digest of one slot (or one "send now") to every destination not sent."""
    s = section(ctx)
    slot = datetime.fromisoformat(str(arg["slot"]))
    key = str(arg.get("key") or sch.slot_key(slot))
    places = destinations(s)
    if not places:
        log.add(ctx, {"key": key, "manual": bool(arg.get("manual")), "results": [
            {"kind": "", "target": "", "ok": False, "words": NO_DESTINATION}]})
        raise DigestNowhere("the digest names no chat, people or Telegram chat")
    todo = [(k, tg) for k, tg in places if not ctx.redis.exists(_sent_key(ctx, key, k, tg))]
    if not todo:
        return {"key": key, "sent": 0, "skipped": "sent already"}
    lang = ctx.lang
    report = build(ctx, slot.date(), lang)
    link = chart_link(ctx, key, report.png, lang) if any(k != "telegram" for k, _ in todo) \
        else ""
    results: list[dict[str, Any]] = []
    retry: Exception | None = None
    refused: list[tuple[str, Exception]] = []
    for kind, target in todo:
        entry = {"kind": kind, "target": target}
        try:
            send_one(ctx, kind, target, report, key, lang, link)
        except Retryable as exc:
            retry = exc
            if ctx.final_attempt:
                results.append({**entry, "ok": False, **_why(exc)})
            continue
        except (Permanent, crm.CrmError) as exc:
            results.append({**entry, "ok": False, **_why(exc)})
            refused.append((f"{kind} {target}", exc))
            continue
        ctx.redis.set(_sent_key(ctx, key, kind, target), 1, ex=SLOT_TTL_S)
        results.append({**entry, "ok": True})
    if results:
        log.add(ctx, {"key": key, "manual": bool(arg.get("manual")),
                      "period": message.days_words(report.figures.period),
                      "new": report.figures.total.new.count,
                      "won": report.figures.total.won.count, "results": results})
    if retry is not None:
        raise retry
    if len(refused) == 1 and isinstance(refused[0][1], Permanent):
        raise refused[0][1]  # its own kind: the failed jobs' page words it exactly
    if refused:
        raise DigestNotSent("; ".join(f"{where}: {exc}" for where, exc in refused)[:500])
    return {"key": key, "sent": sum(1 for r in results if r["ok"])}


def _why(exc: BaseException) -> dict[str, str]:
    """Why a destination refused, in words (msgid) and the error's own (never a token)."""
    words, detail = why(exc)
    return {"words": str(words), "detail": detail}


def parked(ctx: JobContext) -> list[Any]:
    return [j for j in ctx.services.queues.failed_of(ctx.member_id)
            if j.args and str(j.args[0]).startswith(f"{NAME}.")]

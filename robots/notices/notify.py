"""A CRM event's notices: what happened (against what the app saw before), which rules
fire, and each rule's message sent once.

Once per delivery and rule: what a delivery means ("won") is written together with the
deal's new state in one Redis transaction, keyed by the delivery, so a retried job finds
the same events even though the deal's state is already remembered; each rule's message
is marked sent when it went out, so a retry sends only what failed. A deal won, reopened
and won again is another delivery, so another message. A worker killed between a send and
its mark may send that one message twice: neither Bitrix24 chats nor Telegram take an
idempotency key (a notification to people carries a tag, which Bitrix24 replaces).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import WatchError

from connector import telegram
from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import Permanent, Retryable
from connector.i18n import t
from robots.notices import decide, log, message
from robots.notices.config import CHAT, NAME, PEOPLE, TELEGRAM, destination_missing
from robots.notices.template import BBCODE, render
from robots.notices.template import TELEGRAM as TG_FORMAT

OCCURRED_TTL_S = 14 * 24 * 3600  # longer than any retry, and a parked job's requeue
SEEN_TTL_S = 400 * 24 * 3600


class NoDestination(Permanent):
    """The rule names no chat, people or Telegram chat."""


class NoticeNotSent(Permanent):
    """Some of an event's notices could not be sent; the Notices page says which and why."""


def _ctx(ctx: JobContext) -> JobContext:
    return ctx.of(NAME)


def _modified(item: crm.Item) -> str:
    return str(item.fields.get("DATE_MODIFY") or item.fields.get("updatedTime") or "")


def occurred(ctx: JobContext, neutral: str, item: crm.Item, delivery: str) -> list[str]:
    """The notice events of this delivery, decided once (a retry reads them back)."""
    ctx = _ctx(ctx)
    okey = ctx.key("occurred", delivery)
    skey = ctx.key("seen", item.ref.kind, item.ref.id)
    today = datetime.now(ZoneInfo(ctx.tz)).date()
    with ctx.redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(okey, skey)
                if (known := pipe.get(okey)) is not None:
                    return list(json.loads(known))
                raw = pipe.get(skey)
                stored = json.loads(raw) if raw else None
                before = decide.Seen.load(stored)
                newer = _modified(item)
                # a read older than the one remembered (deliveries overtook each other)
                stale = bool(stored and newer and str(stored.get("modified") or "") > newer)
                events = [] if stale else decide.happened(neutral, item, before, today)
                pipe.multi()
                if not stale:
                    pipe.set(skey, json.dumps({**decide.Seen.of(item).dump(),
                                               "modified": newer}), ex=SEEN_TTL_S)
                pipe.set(okey, json.dumps(events), ex=OCCURRED_TTL_S)
                pipe.execute()
                return events
            except WatchError:
                continue


def _sent_key(ctx: JobContext, notice: str) -> str:
    return _ctx(ctx).key("sent", notice)


def notice_id(delivery: str, event: str, rule_id: str) -> str:
    return hashlib.sha256(f"{delivery}|{event}|{rule_id}".encode()).hexdigest()[:32]


def send(ctx: JobContext, rule: dict[str, Any], text: str, notice: str) -> None:
    """One rule's message to its destination; raises what stopped it."""
    if destination_missing(rule):
        raise NoDestination(f"rule {rule['id']} has no destination")
    kind = rule["destination"]
    if kind == TELEGRAM:
        telegram.send(ctx.services, ctx.tenant, rule["telegram_chat"], text, as_html=True)
        return
    if kind == CHAT:
        ops: dict[str, crm.Op] = {"post": crm.PostToChat(int(rule["chat_id"]), text)}
    elif kind == PEOPLE:
        ops = {f"u{uid}": crm.NotifyUser(int(uid), text, tag=f"cc-notice-{notice[:20]}-{uid}")
               for uid in rule["user_ids"]}
    else:
        raise NoDestination(f"rule {rule['id']}: unknown destination {kind!r}")
    done = ctx.crm.apply(ops)
    if done.errors:
        raise next(iter(done.errors.values()))


def _names(reading: crm.Reading) -> dict[str, str]:
    out = {}
    for key in ("responsible", "client", "stage", "pipeline"):
        try:
            value = reading.get(key)
        except crm.CrmError:
            value = None
        out[key] = getattr(value, "name", value) if value else ""
    return {k: str(v or "") for k, v in out.items()}


def handle(ctx: JobContext, neutral: str, ref: crm.ItemRef, delivery: str,
           reading: crm.Reading) -> dict[str, Any]:
    try:
        item = reading.get("item")
    except crm.NotFound:
        return {"skipped": "item gone"}
    if item is None:
        return {"skipped": "item gone"}
    events = occurred(ctx, neutral, item, delivery)
    rules = ctx.settings[NAME]["rules"]
    firing = decide.firing(rules, events, item)
    if not firing:
        return {"events": events, "sent": 0}
    lang, link, names = ctx.lang, ctx.crm.item_link(ref), _names(reading)
    sent, retry = 0, None
    refused: list[tuple[str, Exception]] = []
    for event, rule in firing:
        notice = notice_id(delivery, event, rule["id"])
        if ctx.redis.exists(_sent_key(ctx, notice)):
            continue
        fmt = TG_FORMAT if rule["destination"] == TELEGRAM else BBCODE
        text = render(t(lang, rule["template"]), message.values_for(item, event, lang, link,
                                                                     names), fmt)
        entry = {"rule": rule["id"], "name": rule["name"], "event": event, "ref": ref.label,
                 "title": item.title, **message.destination_words(rule)}
        try:
            send(ctx, rule, text, notice)
        except Retryable as exc:
            retry = exc
            if ctx.final_attempt:
                words, detail = message.why(exc)
                log.add(ctx, {**entry, "ok": False, "words": words, "detail": detail})
            continue
        except (Permanent, crm.CrmError) as exc:
            words, detail = message.why(exc)
            log.add(ctx, {**entry, "ok": False, "words": words, "detail": detail})
            refused.append((rule["id"], exc))
            continue
        ctx.redis.set(_sent_key(ctx, notice), 1, ex=OCCURRED_TTL_S)
        log.add(ctx, {**entry, "ok": True})
        sent += 1
    if retry is not None:
        raise retry
    if len(refused) == 1 and isinstance(refused[0][1], Permanent):
        raise refused[0][1]  # its own kind: the failed jobs' page words it exactly
    if refused:
        raise NoticeNotSent("; ".join(f"{rule}: {exc}" for rule, exc in refused)[:500])
    return {"events": events, "sent": sent}

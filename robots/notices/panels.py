"""The Notices page's panels: the Telegram bot (token, state, disconnect, a test message)
and the log of the last notices, with the rules that cannot send and the parked jobs.

Read from the app's own state (the connection record, the log, the failed registry): the
page never waits for the CRM; only "connect" and "send a test message" ask Telegram.
"""

from __future__ import annotations

import re
from typing import Any

from connector import telegram
from connector.capability import AdminView, Outcome, Panel
from connector.context import JobContext
from connector.errors import Retryable
from connector.failures import reason
from connector.i18n import N_, t
from connector.telegram import connection
from robots.notices import log, message
from robots.notices.config import EVENTS, NAME, TELEGRAM, TELEGRAM_CHAT, destination_missing

SHOWN = 50
EVENT_LABELS = {o.value: o.label for o in EVENTS}


def telegram_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    rules = ctx.settings[NAME]["rules"]
    return {"bot": connection.status(ctx.services, ctx.tenant),
            "telegram_rules": sum(1 for r in rules if r["destination"] == TELEGRAM),
            "chat": view.values.get("chat_id", "")}


def connect(ctx: JobContext, view: AdminView) -> Outcome:
    token = view.values.get("token", "")
    try:
        bot = connection.connect(ctx.services, ctx.tenant, token)
    except connection.TokenMalformed:
        return Outcome(False, N_("This is not a bot token: @BotFather gives one like "
                                 "123456789:AAH… (digits, a colon, then letters)."))
    except telegram.TelegramUnauthorized:
        return Outcome(False, N_("Telegram refused this token: copy it again from @BotFather "
                                 "(or make a new one with /token)."))
    except Retryable:
        return Outcome(False, N_("Telegram did not answer; try again in a minute."))
    ctx.log.info("Telegram bot @%s connected by user %s", bot.get("username"), view.user_id)
    return Outcome(True, N_("The bot @{username} is connected."),
                   {"username": bot.get("username", "")})


def disconnect(ctx: JobContext, view: AdminView) -> Outcome:
    if not connection.disconnect(ctx.services, ctx.tenant):
        return Outcome(False, N_("No Telegram bot was connected."))
    ctx.log.info("Telegram bot disconnected by user %s", view.user_id)
    return Outcome(True, N_("The bot is disconnected; notices to Telegram wait for a new "
                            "token."))


def test(ctx: JobContext, view: AdminView) -> Outcome:
    """A test message to a chat id, now: the admin learns at once whether the bot reaches it."""
    chat = view.values.get("chat_id", "").strip()
    if not chat or not re.fullmatch(TELEGRAM_CHAT, chat):
        return Outcome(False, N_("Enter the chat's id, like -1001234567890 or @channel."))
    text = t(ctx.lang, N_("A test message from the CRM: notices will reach this chat."))
    try:
        telegram.send(ctx.services, ctx.tenant, chat, text)
    except Exception as exc:  # noqa: BLE001 - every failure is told in words
        words, detail = message.why(exc)
        return Outcome(False, N_("Not sent: {why}"), {"why": t(view.lang(ctx.lang), words)
                                                      + (f" ({detail})" if detail else "")})
    return Outcome(True, N_("Sent to {chat}. Look at the chat in Telegram."), {"chat": chat})


def parked(ctx: JobContext) -> list[Any]:
    return [j for j in ctx.services.queues.failed_of(ctx.member_id)
            if j.args and j.args[0] == NAME]


def log_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    rules = ctx.settings[NAME]["rules"]
    bot = connection.status(ctx.services, ctx.tenant)["status"]
    problems = []
    for rule in rules:
        if destination_missing(rule):
            problems.append({"rule": t(lang, rule["name"]), "on": rule["enabled"],
                             "words": t(lang, message.NO_DESTINATION)})
        elif rule["destination"] == TELEGRAM and bot != connection.CONNECTED:
            words = message.REVOKED if bot == connection.NEEDS_TOKEN else message.NOT_CONNECTED
            problems.append({"rule": t(lang, rule["name"]), "on": rule["enabled"],
                             "words": t(lang, words)})
    rows = []
    for e in log.recent(ctx, SHOWN):
        rows.append({**e, "name": t(lang, e.get("name", "")),
                     "event": t(lang, EVENT_LABELS.get(e.get("event", ""), e.get("event", ""))),
                     "words": t(lang, e["words"]) if e.get("words") else ""})
    jobs = [{"id": j.id, "at": j.at, "words": t(lang, reason(j.error).words),
             "detail": reason(j.error).detail} for j in parked(ctx)[:SHOWN]]
    return {"problems": problems, "rows": rows, "parked": jobs}


def requeue(ctx: JobContext, view: AdminView) -> Outcome:
    """Try the parked notices again (only the messages not sent yet go out)."""
    moved = ctx.services.queues.requeue_among([j.id for j in parked(ctx)],
                                              view.values.get("job", ""))
    if not moved:
        return Outcome(False, N_("There was no parked notice to send again."))
    return Outcome(True, N_("Notices to send again: {count}."), {"count": moved})


def attention(ctx: JobContext) -> list[dict[str, Any]]:
    """For the overview: a refused bot token while a rule sends to Telegram; parked notices."""
    out: list[dict[str, Any]] = []
    rules = [r for r in ctx.settings[NAME]["rules"] if r["enabled"]]
    status = connection.status(ctx.services, ctx.tenant)["status"]
    if status == connection.NEEDS_TOKEN and any(r["destination"] == TELEGRAM for r in rules):
        out.append({"rank": 30, "msgid": message.REVOKED})
    if count := len(parked(ctx)):
        out.append({"rank": 40, "msgid": N_("Notices that could not be sent: {count}."),
                    "params": {"count": count}})
    return out


PANELS = (
    Panel("telegram", N_("Telegram"), telegram_facts, "panels/notices_telegram.html",
          actions={"connect": connect, "disconnect": disconnect, "test": test}),
    Panel("log", N_("Last notices"), log_facts, "panels/notices_log.html",
          actions={"requeue": requeue}),
)

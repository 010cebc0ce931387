"""The Digests page's panel: the next digest as it stands now (figures, message, chart), when
it goes out and where, the last digests sent or refused, parked jobs, and "send now".

The preview reads the deals through the port as the digest will (that is what it shows); a
CRM that does not answer leaves the preview out with a line saying so, the rest is the
app's own state.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from connector.bbcode import to_html
from connector.capability import AdminView, Outcome, Panel
from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import ConnectorError
from connector.failures import reason
from connector.i18n import N_, money, t
from robots.digests import log, message, send
from robots.digests.config import NAME, PERIODS, destinations

OFF = N_("Digests are off: switch them on in the settings above.")
KIND_WORDS = {"chat": N_("chat"), "user": N_("person"), "telegram": "Telegram"}
PERIOD_WORDS = {o.value: o.label for o in PERIODS}
SHOWN = 20


def _where(view: AdminView, kind: str, target: str, lang: str) -> str:
    if kind == "user":
        return f"{t(lang, KIND_WORDS['user'])} {view.name('user', target)}"
    return f"{t(lang, KIND_WORDS.get(kind, kind))} {target}".strip()


def _preview(ctx: JobContext, day: Any, lang: str) -> dict[str, Any]:
    try:
        report = send.build(ctx, day, lang)
    except (crm.CrmError, ConnectorError) as exc:
        ctx.log.warning("digest preview: %s", exc)
        return {"error": t(lang, N_("The CRM did not answer, so there is no preview now; "
                                    "reload the page in a minute."))}
    fig = report.figures
    rows = [{"name": line.name or t(lang, message.TOTAL), "total": not line.category,
             **{name: {"count": getattr(line, name).count,
                       "sum": money(getattr(line, name).total, fig.currency, lang)}
                for name in ("new", "won", "lost", "in_work", "new_before", "won_before",
                             "lost_before")}}
            for line in [*fig.lines, *([fig.total] if len(fig.lines) > 1 else [])]]
    text = message.render(fig, lang, message.BBCODE, overdue=report.overdue)
    return {"rows": rows, "period": message.days_words(fig.period),
            "before": message.days_words(fig.before), "currency": fig.currency,
            "message": to_html(text), "chart": base64.b64encode(report.png).decode(),
            "caption": report.caption,
            "overdue": report.overdue["count"] if report.overdue is not None else None}


def facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    s = ctx.settings[NAME]
    nxt = send.next_due(ctx)
    places = [_where(view, kind, target, lang) for kind, target in destinations(s)]
    rows = []
    for e in log.recent(ctx, SHOWN):
        rows.append({"at": e["at"], "period": e.get("period", ""), "manual": e.get("manual"),
                     "new": e.get("new"), "won": e.get("won"),
                     "results": [{"where": _where(view, r["kind"], r["target"], lang)
                                  if r.get("kind") else "", "ok": r["ok"],
                                  "words": t(lang, r["words"]) if r.get("words") else "",
                                  "detail": r.get("detail", "")} for r in e["results"]]})
    jobs = [{"id": j.id, "at": j.at, "words": t(lang, reason(j.error).words),
             "detail": reason(j.error).detail} for j in send.parked(ctx)[:SHOWN]]
    return {"enabled": s["enabled"], "next": nxt.timestamp(), "places": places,
            "period_words": t(lang, PERIOD_WORDS[s["period"]]),
            "preview": _preview(ctx, nxt.date(), lang), "rows": rows, "parked": jobs}


def send_now(ctx: JobContext, view: AdminView) -> Outcome:
    """The next digest as it stands, now, to every destination (the schedule is unchanged)."""
    s = ctx.settings[NAME]
    if not destinations(s):
        return Outcome(False, N_("The digest has nowhere to go: choose a chat, people or a "
                                 "Telegram chat in the settings above."))
    minute = int(time.time() // 60)
    job = ctx.enqueue_job("send", {"slot": send.next_due(ctx).isoformat(),
                                   "key": f"now-{minute}", "manual": True}, "now", minute)
    if not job:
        return Outcome(False, N_("A digest is being sent already; look below in a minute."))
    ctx.log.info("digest sent now by user %s", view.user_id)
    return Outcome(True, N_("Queued: the digest goes out in a minute; it appears below."))


def requeue(ctx: JobContext, view: AdminView) -> Outcome:
    """Try the parked digests again (only the destinations not reached yet)."""
    moved = ctx.services.queues.requeue_among([j.id for j in send.parked(ctx)],
                                              view.values.get("job", ""))
    if not moved:
        return Outcome(False, N_("There was no parked digest to send again."))
    return Outcome(True, N_("Digests to send again: {count}."), {"count": moved})


def attention(ctx: JobContext) -> list[dict[str, Any]]:
    """For the overview: digests that could not be sent."""
    if count := len(send.parked(ctx)):
        return [{"rank": 40, "msgid": N_("Digests that could not be sent: {count}."),
                 "params": {"count": count}}]
    return []


PANELS = (Panel("digest", N_("Next digest"), facts, "panels/digests.html",
                actions={"send_now": send_now, "requeue": requeue}),)

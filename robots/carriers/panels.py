"""The carrier search's admin panels: the index (what it holds, its last pass, the place
names it could not resolve, a button to read everything again) and a trial search an admin
runs on typed-in cities, the same ranking a robot uses, with nothing written to the CRM.
"""

from __future__ import annotations

import time
from typing import Any

from connector.capability import AdminView, Outcome, Panel
from connector.context import JobContext
from connector.i18n import N_, t
from robots.carriers import bases, explain, find, places, rank, store, sync
from robots.carriers.config import NAME
from robots.carriers.records import Place

SOURCE_TITLES = {"carriers": N_("carrier base"), "offers": N_("offers"),
                 "requests": N_("transport requests"), "deals": N_("won deals")}
STATUS_TITLES = {"empty": N_("not built"), "building": N_("being built"),
                 "ready": N_("ready")}


def index_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    lang = view.lang(ctx.lang)
    section = ctx.settings[NAME]
    st = sync.state(ctx)
    run = st.get("pass") or {}
    last = st.get("last_pass") or {}
    sources = sync.sources(ctx) if section["enabled"] else []
    current = sources[run["source"]] if run.get("running") and run.get(
        "source", 0) < len(sources) else ""
    return {
        "enabled": bool(section["enabled"]), "status": st["status"],
        "status_title": t(lang, STATUS_TITLES.get(st["status"], st["status"])),
        "counts": sync.store(ctx).counts(),
        "running": bool(run.get("running")), "read": int(run.get("read", 0)),
        "source": t(lang, SOURCE_TITLES[current]) if current else "",
        "last": {"finished": last.get("finished"), "read": last.get("read", 0),
                 "written": last.get("written", 0), "dropped": last.get("dropped", 0),
                 "seconds": round(last["finished"] - last["started"]) if last.get(
                     "finished") else 0} if last else None,
        "unresolved": sync.unresolved(ctx),
    }


def rebuild(ctx: JobContext, view: AdminView) -> Outcome:
    if not ctx.settings[NAME]["enabled"]:
        return Outcome(False, find.OFF)
    if not sync.start_backfill(ctx, "admin"):
        return Outcome(False, N_("A pass over the portal is running already."))
    return Outcome(True, N_("Queued: the carrier base, the offers and the won trips are read "
                            "again; the index answers searches meanwhile."))


def _place(text: str, lang: str) -> tuple[Place | None, str]:
    found = places.resolve(text)
    if isinstance(found, Place):
        return found, ""
    names = ", ".join(places.describe(p) for p in found.candidates)
    if found.reason == "empty":
        return None, ""
    if found.reason == "ambiguous":
        return None, t(lang, N_("«{text}» may be several places: {candidates}"), text=text,
                       candidates=names)
    return None, t(lang, N_("«{text}» is not a place we know{candidates}"), text=text,
                   candidates=f" (≈ {names})" if names else "")


def try_facts(ctx: JobContext, view: AdminView) -> dict[str, Any]:
    """A search on the admin's typed-in request (GET form): the index only, no CRM call."""
    lang = view.lang(ctx.lang)
    v = view.values
    form = {k: str(v.get(f"try_{k}", "")).strip()[:100] for k in
            ("from", "to", "weight", "volume", "body", "day")}
    form["dangerous"] = str(v.get("try_dangerous", "")) in ("Y", "on", "1")
    out: dict[str, Any] = {"form": form, "errors": [],
                           "bodies": [(k, t(lang, label)) for k, label in bases.BODY_OPTIONS],
                           "result": None, "enabled": bool(ctx.settings[NAME]["enabled"])}
    if not (form["from"] or form["to"]):
        return out
    origin, e1 = _place(form["from"], lang)
    destination, e2 = _place(form["to"], lang)
    out["errors"] = [e for e in (e1, e2) if e]
    if origin is None or destination is None:
        if not out["errors"]:
            out["errors"].append(t(lang, N_("Give both the loading and the unloading city.")))
        return out
    if sync.state(ctx)["status"] != "ready":
        out["errors"].append(t(lang, N_("The carrier index is not built yet: queue its "
                                        "build above.")))
        return out
    q = rank.Query(origin, destination, form["day"][:10], sync.number(form["weight"]),
                   sync.number(form["volume"]), sync.body_of(form["body"]),
                   bool(form["dangerous"]))
    started = time.perf_counter()
    snap = store.snapshot(sync.store(ctx))
    result = rank.search(snap, q, limit=int(ctx.settings[NAME]["top"]))
    ms = (time.perf_counter() - started) * 1000
    out["result"] = {
        "lane": find.lane_text(q), "freight": find.freight(q, lang).lstrip(", "),
        "fitting": result.fitting, "carriers": result.carriers, "ms": round(ms, 1),
        "left_out": explain.left_out(result, q, lang),
        "rows": [{"id": s.carrier.id, "name": s.carrier.name, "phones": list(s.carrier.phones),
                  "evidence": explain.evidence(s, lang), "score": s.score}
                 for s in result.suggestions]}
    return out


PANELS = (
    Panel("index", N_("The carrier index"), index_facts, "panels/carriers_index.html",
          actions={"rebuild": rebuild}),
    Panel("try", N_("Try a search"), try_facts, "panels/carriers_try.html"),
)

"""A transport request as the search needs it: read from a request item (our field codes) or
a deal of the logistics pipeline (the admin's field map), its places resolved, its freight
checked, and every problem said in words the logist can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_, t
from connector.triggers import RobotError
from robots.carriers import config, places, sync
from robots.carriers.places import Unresolved
from robots.carriers.rank import Query
from robots.carriers.records import Place, Request

UNKNOWN_PLACE = N_("«{text}» ({what}) is not a place we know{candidates}")
AMBIGUOUS_PLACE = N_("«{text}» ({what}) may be several places: {candidates}; write it with "
                     "its region")
LOADING, UNLOADING = N_("loading city"), N_("unloading city")
MISSING = {LOADING: N_("the request has no loading city: fill in the field «{field}»"),
           UNLOADING: N_("the request has no unloading city: fill in the field «{field}»")}
NOT_A_REQUEST = N_("{item} is not a transport request: run the robot on a request of the "
                   "“Transport requests” smart process or on a deal of the logistics pipeline")
PROCESS_GONE = N_("the smart process «{what}» is not on the portal (deleted?): the app makes it "
                  "again within 10 minutes, or choose yours in the app's settings")
NO_WEIGHT = N_("weight not given: capacity not checked")


@dataclass(frozen=True)
class Parsed:
    request: Request
    query: Query
    notes: tuple[str, ...]  # msgids of what the search could not check


def read(ctx: JobContext, ref: crm.ItemRef) -> Request:
    """The request's fields, from the CRM (one read)."""
    section = ctx.settings[config.NAME]
    if ref.kind == "deal" and section["requests"] == config.DEALS:
        item = ctx.crm.item(ref)
        f = config.deal_fields(section)

        def get(name: str) -> Any:
            return item.fields.get(f[name]) if name in f else None
        return Request(ref.label, str(get("from_field") or ""), str(get("to_field") or ""),
                       str(get("date_field") or "")[:10], sync.number(get("weight_field")),
                       sync.number(get("volume_field")), sync.body_of(get("body_field")),
                       yes(get("dangerous_field")), False)
    process = sync.processes(ctx).get("requests")
    if process is None or process.kind != ref.kind:
        raise RobotError(NOT_A_REQUEST, item=ref.label)
    try:
        found = ctx.crm.read({"r": crm.FindItems(process, (("id", "=", ref.id),), limit=1)}
                             ).get("r")
    except crm.NotFound as exc:  # the smart process itself is gone (deleted by an admin)
        raise RobotError(PROCESS_GONE, what=process.title) from exc
    if not found:
        raise crm.NotFound(ref.label, "the request is gone")
    v = found[0].values
    return Request(ref.label, str(v.get("from_city") or ""), str(v.get("to_city") or ""),
                   str(v.get("loading_date") or "")[:10], sync.number(v.get("weight_t")),
                   sync.number(v.get("volume_m3")), sync.body_of(v.get("body")),
                   bool(v.get("dangerous")), bool(v.get("oversize")))


def yes(value: Any) -> bool:
    return str(value or "").strip().upper() in ("Y", "1", "TRUE", "ДА", "YES")


def place(text: str, what: str, field: str, lang: str) -> Place:
    """The place, or a RobotError naming the candidates (never a silent guess). `what` is
    LOADING, UNLOADING or a field's title in `lang`."""
    if not text.strip():
        raise RobotError(MISSING.get(what, MISSING[LOADING]), field=field)
    found = places.resolve(text)
    if isinstance(found, Place):
        return found
    assert isinstance(found, Unresolved)
    names = ", ".join(places.describe(p) for p in found.candidates)
    what = t(lang, what)
    if found.reason == "ambiguous":
        raise RobotError(AMBIGUOUS_PLACE, text=text, what=what, candidates=names)
    raise RobotError(UNKNOWN_PLACE, text=text, what=what,
                     candidates=f" (≈ {names})" if names else "")


def parse(request: Request, field_from: str, field_to: str, lang: str) -> Parsed:
    origin = place(request.origin_text, LOADING, field_from, lang)
    destination = place(request.destination_text, UNLOADING, field_to, lang)
    notes = () if request.weight_t else (NO_WEIGHT,)
    return Parsed(request, Query(origin, destination, request.day, request.weight_t,
                                 request.volume_m3, request.body, request.dangerous,
                                 request.oversize), notes)

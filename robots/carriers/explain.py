"""A suggestion's evidence in words, in the portal's language: «3 выигранные перевозки
Москва → Казань, последняя 12 ноября; предложение 85 000 ₽ от 10 ноября; тент 20 т; база в
Подольске, 40 км от загрузки». And why the others were left out.
"""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from connector.i18n import N_, NP_, language, nt, t
from robots.carriers import places
from robots.carriers.bases import BODY_TITLES
from robots.carriers.rank import LaneFact, Query, Result, Suggestion

TRIPS = NP_("{n} won trip {lane}, the last on {day}",
            "{n} won trips {lane}, the last on {day}")
OFFER = N_("offer {rate} on {day}")
OFFER_LANE = N_("offer {lane} {rate} on {day}")
OFFERS_MORE = NP_("{n} offer on the lane", "{n} offers on the lane")
HOME = N_("based in {place}, {km} km from loading")
LOCATION = N_("will be in {place} from {day}, {km} km from loading")
LAST_WORKED = N_("last trip with us on {day}")
NEVER_WORKED = N_("no trips with us yet")
REGIONS = N_("serves this direction")
TONS = N_("{n} t")
CUBES = N_("{n} m³")
UNKNOWN = {"capacity": N_("capacity not given"), "volume": N_("volume not given"),
           "body": N_("body type not given")}
EXCLUDED = {"blacklisted": N_("blacklisted"),
            "capacity": N_("capacity under {weight} t"),
            "volume": N_("volume under {volume} m³"),
            "body": N_("another body type than {body}"),
            "adr": N_("no ADR for dangerous goods"),
            "oversize": N_("no oversize")}
LEFT_OUT = N_("Left out: {reasons}")


def day(text: str, lang: str, today: date | None = None) -> str:
    """«12 ноября», with the year when it is not this year's."""
    try:
        d = date.fromisoformat(text[:10])
    except (TypeError, ValueError):
        return text
    this_year = (today or date.today()).year
    return format_date(d, "d MMMM" if d.year == this_year else "d MMMM y",
                       locale=language(lang))


def rate(value: float, lang: str) -> str:
    return format_currency(round(value), "RUB", format="#,##0\u00a0¤", currency_digits=False,
                           locale=language(lang))


def number(value: float, lang: str) -> str:
    return format_decimal(value, format="#,##0.#", locale=language(lang))


def lower_first(text: str) -> str:
    """A label inside a sentence: «С НДС» → «с НДС», «Тент» → «тент»."""
    if len(text) > 1 and text[1].isupper():  # an acronym ("ADR") keeps its case
        return text
    return text[:1].lower() + text[1:]


def lane(fact: LaneFact) -> str:
    return f"{fact.origin} → {fact.destination}"


def in_place(name: str, lang: str) -> str:
    """«Подольске», «Ростове-на-Дону» for «база в …» in Russian; the name itself otherwise."""
    return places.in_case(name, "loct") if language(lang) == "ru" else name


def truck(s: Suggestion, lang: str) -> str:
    c = s.carrier
    bodies = "/".join(t(lang, BODY_TITLES[b]).lower() for b in c.bodies if b in BODY_TITLES)
    parts = [bodies] if bodies else []
    if c.capacity_t:
        parts.append(t(lang, TONS, n=number(c.capacity_t, lang)))
    if c.volume_m3:
        parts.append(t(lang, CUBES, n=number(c.volume_m3, lang)))
    if c.adr:
        parts.append("ADR")
    return " ".join(parts)


def evidence(s: Suggestion, lang: str, today: date | None = None) -> list[str]:
    """The reasons for one suggestion, strongest first."""
    out: list[str] = []
    if s.last_trip:
        out.append(nt(lang, *TRIPS, s.trips, lane=lane(s.last_trip),
                      day=day(s.last_trip.day, lang, today)))
    if s.last_offer:
        same = s.last_trip is not None and lane(s.last_trip) == lane(s.last_offer)
        text = t(lang, OFFER if same or not s.last_trip else OFFER_LANE,
                 rate=rate(s.last_offer.rate, lang), day=day(s.last_offer.day, lang, today),
                 lane=lane(s.last_offer)) if s.last_offer.rate else ""
        if s.offers > 1 or not text:
            text = ", ".join(p for p in (text, nt(lang, *OFFERS_MORE, s.offers))
                             if p)
        out.append(text)
    if made := truck(s, lang):
        out.append(made)
    if s.where and s.distance_km is not None:
        km = number(s.distance_km, lang)
        if s.where == "location":
            out.append(t(lang, LOCATION, place=in_place(s.where_name, lang), km=km,
                         day=day(s.carrier.location_date, lang, today)))
        else:
            out.append(t(lang, HOME, place=in_place(s.where_name, lang), km=km))
    if not s.last_trip:
        out.append(t(lang, LAST_WORKED, day=day(s.last_worked, lang, today))
                   if s.last_worked else t(lang, NEVER_WORKED))
    if s.regions:
        out.append(t(lang, REGIONS))
    out.extend(t(lang, UNKNOWN[u]) for u in s.unknown)
    return out


def left_out(result: Result, q: Query, lang: str) -> str:
    """«Отсеяно: в чёрном списке — 2, грузоподъёмность меньше 20 т — 8»; "" when none."""
    if not result.excluded:
        return ""
    body = t(lang, BODY_TITLES[q.body]).lower() if q.body in BODY_TITLES else q.body
    params = {"weight": number(q.weight_t, lang), "volume": number(q.volume_m3, lang),
              "body": body}
    reasons = ", ".join(t(lang, EXCLUDED[k], **params) + f" — {n}"
                        for k, n in result.excluded.items())
    return t(lang, LEFT_OUT, reasons=reasons)

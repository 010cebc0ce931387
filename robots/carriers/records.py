"""What the carrier index holds, CRM-neutral: places resolved to coordinates, carriers with
their trucks, trips a carrier made for us (won requests or deals) and offers logists took
on the phone. Plain frozen records that go to JSON and back (the index keeps them in Redis).

Dates are ISO days ("2026-11-12"); a place that could not be resolved is None, and the
record keeps the text people typed (`*_text`) so the admin page can show what to fix.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, fields
from typing import Any

# body types as the CRM's choice keys (smart-process options) and the index's words
BODIES = ("tent", "refrigerator", "isotherm", "container", "flatbed", "board", "tanker",
          "car_carrier", "van", "other")


@dataclass(frozen=True)
class Place:
    """A settlement of the gazetteer: `key` its geonames id (stable), `name` in Russian."""

    key: int
    name: str
    lat: float
    lon: float
    country: str = "RU"


@dataclass(frozen=True)
class Carrier:
    id: int  # the carrier-base item's id
    name: str
    phones: tuple[str, ...] = ()
    company_id: int = 0
    contact_id: int = 0
    capacity_t: float = 0.0  # 0: not known (the constraint is then not applied, and said)
    volume_m3: float = 0.0
    bodies: tuple[str, ...] = ()  # BODIES
    adr: bool = False
    oversize: bool = False
    home: Place | None = None
    home_text: str = ""
    location: Place | None = None  # current or next location…
    location_text: str = ""
    location_date: str = ""  # …from this day
    regions: tuple[Place, ...] = ()  # regions and directions served, as places
    regions_text: str = ""
    blacklisted: bool = False
    note: str = ""


@dataclass(frozen=True)
class Trip:
    """A won request or deal: who took it, from where to where, when, for how much."""

    ref: str  # ItemRef.label of the request or deal ("deal/17", "item:1038/5")
    carrier_id: int
    origin: Place | None
    destination: Place | None
    day: str
    rate: float = 0.0  # in roubles; 0: not known
    origin_text: str = ""
    destination_text: str = ""
    weight_t: float = 0.0  # the freight, as the request had it
    volume_m3: float = 0.0
    body: str = ""


@dataclass(frozen=True)
class Offer:
    """A carrier's offer for a lane, as the logist entered it after a call."""

    id: int  # the offers-base item's id
    carrier_id: int
    origin: Place | None
    destination: Place | None
    day: str
    rate: float = 0.0
    vat: str = ""  # "with_vat" | "without_vat" | ""
    request: str = ""  # ItemRef.label of the request it was made for
    executor: bool = False  # the carrier was chosen for the request
    origin_text: str = ""
    destination_text: str = ""


@dataclass(frozen=True)
class Request:
    """A transport request as the search reads it (from a request item or a deal)."""

    ref: str
    origin_text: str
    destination_text: str
    day: str = ""
    weight_t: float = 0.0
    volume_m3: float = 0.0
    body: str = ""  # one of BODIES or ""
    dangerous: bool = False
    oversize: bool = False


def to_json(record: Any) -> dict[str, Any]:
    return asdict(record)


_PLACES: dict[tuple, Place] = {}  # one object per place: 150,000 records share 250 places


def _place(raw: Any) -> Place | None:
    if not isinstance(raw, dict):
        return None
    key = tuple(raw.get(f) for f in ("key", "name", "lat", "lon", "country"))
    place = _PLACES.get(key)
    if place is None:
        place = _PLACES.setdefault(key, Place(**raw))
    return place


def from_json(kind: type, raw: dict[str, Any]) -> Any:
    """A record of `kind` from its JSON, places and tuples rebuilt; unknown keys ignored (an
    index written by a newer release)."""
    names = {f.name for f in fields(kind)}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            continue
        if key in ("home", "location", "origin", "destination"):
            value = _place(value)
        elif key == "regions":
            value = tuple(p for p in map(_place, value or ()) if p)
        elif isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, str) and len(value) < 40:
            value = sys.intern(value)  # lane texts and days repeat across records
        out[key] = value
    return kind(**out)


__all__ = ["BODIES", "Carrier", "Offer", "Place", "Request", "Trip", "from_json",
           "to_json"]

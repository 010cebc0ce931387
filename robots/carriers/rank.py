"""Who to call for a request: hard constraints first, then a score from the company's own
history, each suggestion with the evidence behind it (pure; robots.carriers.explain puts it
in words).

The score, per carrier that fits the freight:
- won trips on the same or a similar lane, each weighted by how alike the lane is and how
  recent the trip: the origin near the loading point, and the destination near the
  unloading point or, for "the general direction", the trip's bearing and length close to
  the request's (Подольск → Казань is Москва → Казань's lane; Москва → Чебоксары nearly);
  a trip from the same loading point in another direction still counts a little;
- recent offers on the lane, weighted the same, worth half a trip;
- where the carrier is, or will be on the loading day, else its home, near the loading
  point;
- how recently it worked with us, and whether it names the lane's regions as its own.
Won trips and offers count with log1p, so a carrier with many trips leads but does not
drown the one that drives this very lane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from robots.carriers import geo
from robots.carriers.index import NO_DAY, OFFER, TRIP, Snapshot, day_number, day_text
from robots.carriers.records import BODIES, Carrier, Offer, Place, Trip

ORIGIN_KM = 100.0  # a trip's origin this far off counts e^-1 as much
ORIGIN_MAX_KM = 350.0  # beyond it a trip says nothing of this lane
DEST_KM, DEST_SHARE = 60.0, 0.15  # destination tolerance: 60 km + 15% of the trip
BEARING_DEG, LENGTH_LOG = 25.0, 0.35  # the general direction's tolerances
DIRECTION_WEIGHT = 0.6  # a trip in the general direction counts 0.6 of one to the city
ORIGIN_ONLY = 0.03  # a trip from the loading point elsewhere counts this much (a hint)
AGE_DAYS = 240.0  # recency of trips and offers
NEAR_KM = 150.0  # where the carrier is, relative to the loading point
LOCATION_BEFORE, LOCATION_AFTER = 7, 1  # a location dated this many days around the day
SIMILAR = 0.3  # a lane this alike is shown as evidence
W_TRIPS, W_OFFERS, W_NEAR, W_RECENT, W_REGION = 3.0, 1.5, 0.3, 0.3, 0.5
RECENT_DAYS = 60.0
SHORTLIST = 60
COUNTS = np.log1p  # how weighted counts of trips and offers grow the score
EVIDENCE_FLOOR = 0.05  # a carrier with less than this has nothing to say for it

# why a carrier with evidence was left out, in the order they are checked
EXCLUSIONS = ("blacklisted", "capacity", "volume", "body", "adr", "oversize")


@dataclass(frozen=True)
class Query:
    origin: Place
    destination: Place
    day: str = ""  # the loading day ("" : today)
    weight_t: float = 0.0
    volume_m3: float = 0.0
    body: str = ""
    dangerous: bool = False
    oversize: bool = False
    as_of: str = ""  # only what was known before this day counts ("": everything)


@dataclass(frozen=True)
class LaneFact:
    """The most recent similar trip or offer: its lane, day and rate."""

    origin: str
    destination: str
    day: str
    rate: float


@dataclass(frozen=True)
class Suggestion:
    carrier: Carrier
    score: float
    trips: int = 0  # won trips on a similar lane
    last_trip: LaneFact | None = None
    offers: int = 0
    last_offer: LaneFact | None = None
    distance_km: float | None = None  # from `where` to the loading point
    where: str = ""  # "location" (current or next) | "home" | ""
    where_name: str = ""
    last_worked: str = ""  # the last trip with us, any lane
    regions: bool = False  # its regions name the lane's ends
    unknown: tuple[str, ...] = ()  # constraints its card does not say (capacity, body…)


@dataclass(frozen=True)
class Result:
    suggestions: list[Suggestion]
    fitting: int  # carriers with evidence that fit the freight
    excluded: dict[str, int] = field(default_factory=dict)  # EXCLUSIONS -> count
    carriers: int = 0  # carriers in the index


def _today(q: Query) -> int:
    for text in (q.day, q.as_of):
        if (n := day_number(text)) != NO_DAY:
            return n
    return day_number(date.today().isoformat())


def _lane_weights(snap: Snapshot, q: Query, ref_day: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (of snap.lanes) near the loading point known before as_of, and each one's
    likeness to the request's lane times its recency."""
    lanes = snap.lanes
    if not len(lanes):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    box = ORIGIN_MAX_KM / 111.0  # degrees of latitude: a cheap cut before the distances
    wide = box / max(math.cos(math.radians(q.origin.lat)), 0.2)  # …and of longitude
    mask = lanes["alive"] & (np.abs(lanes["o_lat"] - q.origin.lat) < box) & (
        np.abs(lanes["o_lon"] - q.origin.lon) < wide)
    if q.as_of:
        mask &= lanes["day"] < day_number(q.as_of)
    rows = np.nonzero(mask)[0]
    d_origin = geo.km_to(lanes["o_lat"][rows], lanes["o_lon"][rows], q.origin.lat,
                         q.origin.lon)
    near = d_origin < ORIGIN_MAX_KM
    rows, d_origin = rows[near], d_origin[near]
    length = geo.km(q.origin, q.destination)
    d_dest = geo.km_to(lanes["d_lat"][rows], lanes["d_lon"][rows], q.destination.lat,
                       q.destination.lon)
    dest = np.exp(-d_dest / (DEST_KM + DEST_SHARE * length))
    turn = np.abs((lanes["bearing"][rows] - geo.bearing(q.origin, q.destination) + 180) % 360
                  - 180)
    stretch = np.log((lanes["length"][rows] + 1) / (length + 1))
    direction = np.exp(-(turn / BEARING_DEG) ** 2) * np.exp(-(stretch / LENGTH_LOG) ** 2)
    alike = np.exp(-d_origin / ORIGIN_KM) * (
        ORIGIN_ONLY + (1 - ORIGIN_ONLY) * np.maximum(dest, DIRECTION_WEIGHT * direction))
    days = lanes["day"][rows]
    age = np.where(days == NO_DAY, 365.0, np.maximum(ref_day - days, 0))
    return rows, alike * np.exp(-age / AGE_DAYS)


def _nearness(snap: Snapshot, q: Query, ref_day: int) -> tuple[np.ndarray, np.ndarray]:
    """Each carrier's distance to the loading point from where it will be (a location dated
    around the day) or else its home; and whether that was the location."""
    c = snap.c
    dated = (c["loc_day"] != NO_DAY) & (c["loc_day"] >= ref_day - LOCATION_BEFORE) & (
        c["loc_day"] <= ref_day + LOCATION_AFTER) & ~np.isnan(c["loc_lat"])
    lat = np.where(dated, c["loc_lat"], c["home_lat"])
    lon = np.where(dated, c["loc_lon"], c["home_lon"])
    return geo.km_to(lat, lon, q.origin.lat, q.origin.lon), dated


def _fits(snap: Snapshot, q: Query) -> dict[str, np.ndarray]:
    """For each exclusion, the carriers it leaves out."""
    c = snap.c
    out = {"blacklisted": c["blacklisted"]}
    out["capacity"] = (c["capacity"] > 0) & (c["capacity"] < q.weight_t) if q.weight_t \
        else np.zeros(len(c), dtype=bool)
    out["volume"] = (c["volume"] > 0) & (c["volume"] < q.volume_m3) if q.volume_m3 \
        else np.zeros(len(c), dtype=bool)
    if q.body in BODIES:
        bit = 1 << BODIES.index(q.body)
        out["body"] = (c["bodies"] != 0) & ((c["bodies"] & bit) == 0)
    else:
        out["body"] = np.zeros(len(c), dtype=bool)
    out["adr"] = ~c["adr"] if q.dangerous else np.zeros(len(c), dtype=bool)
    out["oversize"] = ~c["oversize"] if q.oversize else np.zeros(len(c), dtype=bool)
    return out


def search(snap: Snapshot, q: Query, limit: int = 5) -> Result:
    """The best `limit` carriers for the request, each with its evidence."""
    n = len(snap.carriers)
    if not n:
        return Result([], 0, carriers=0)
    ref_day = _today(q)
    rows, weight = _lane_weights(snap, q, ref_day)
    owner = snap.lanes["carrier"][rows]
    is_trip = snap.lanes["kind"][rows] == TRIP
    trips = np.bincount(owner[is_trip], weights=weight[is_trip], minlength=n)
    offers = np.bincount(owner[~is_trip], weights=weight[~is_trip], minlength=n)
    distance, dated = _nearness(snap, q, ref_day)
    near = np.nan_to_num(np.exp(-distance / NEAR_KM), nan=0.0)
    score = W_TRIPS * COUNTS(trips) + W_OFFERS * COUNTS(offers) + W_NEAR * near
    relevant = snap.c["known"] & (score > EVIDENCE_FLOOR)
    excluded: dict[str, int] = {}
    fit = relevant.copy()
    for reason, out in _fits(snap, q).items():
        hit = fit & out
        if count := int(np.count_nonzero(hit)):
            excluded[reason] = count
        fit &= ~out
    candidates = np.nonzero(fit)[0]
    if len(candidates) > SHORTLIST:
        candidates = candidates[np.argpartition(-score[candidates], SHORTLIST)[:SHORTLIST]]
    by_pos: dict[int, list[int]] = {int(p): [] for p in candidates}
    mine = np.nonzero(np.isin(owner, candidates))[0]  # the shortlist's rows only
    for k, pos in zip(mine.tolist(), owner[mine].tolist(), strict=True):
        by_pos[pos].append(k)
    made = [_suggestion(snap, q, int(pos), float(score[pos]), rows, weight, by_pos[int(pos)],
                        float(distance[pos]), bool(dated[pos]))
            for pos in candidates]
    made.sort(key=lambda s: (-s.score, s.carrier.id))
    return Result(made[:limit], int(len(np.nonzero(fit)[0])), excluded,
                  carriers=snap.carrier_count)


def _suggestion(snap: Snapshot, q: Query, pos: int, score: float, rows: np.ndarray,
                weight: np.ndarray, mine: list[int], distance: float, dated: bool
                ) -> Suggestion:
    carrier = snap.carriers[pos]
    assert carrier is not None  # candidates are known carriers
    lanes, today = snap.lanes, _today(q)
    own = np.asarray(mine, dtype=np.int64)
    lane_rows = rows[own]
    days = lanes["day"][lane_rows]
    age = np.where(days == NO_DAY, 365.0, np.maximum(today - days, 0))
    # "similar" is judged on the lane alone: the weight without its recency
    similar = lane_rows[weight[own] >= SIMILAR * np.exp(-age / AGE_DAYS)]
    kinds = lanes["kind"][similar]
    trips = [snap.records[int(r)] for r in similar[kinds == TRIP]]
    offers = [snap.records[int(r)] for r in similar[kinds == OFFER]]
    last_worked = _last_worked(snap, pos, q)
    if last_worked:
        score += W_RECENT * math.exp(-max(today - day_number(last_worked), 0) / RECENT_DAYS)
    regions = any(min(geo.km(r, q.origin), geo.km(r, q.destination)) < ORIGIN_KM
                  for r in carrier.regions)
    if regions:
        score += W_REGION
    unknown = tuple(name for name, missing in (
        ("capacity", bool(q.weight_t) and not carrier.capacity_t),
        ("volume", bool(q.volume_m3) and not carrier.volume_m3),
        ("body", bool(q.body) and not carrier.bodies)) if missing)
    where = "location" if dated else ("home" if carrier.home else "")
    place = carrier.location if dated else carrier.home
    return Suggestion(
        carrier, round(score, 4), len(trips), _latest(trips), len(offers), _latest(offers),
        None if math.isnan(distance) else round(distance), where,
        place.name if place else "", last_worked, regions, unknown)


def _latest(records: list[Trip | Offer]) -> LaneFact | None:
    if not records:
        return None
    last = max(records, key=lambda r: r.day)
    assert last.origin is not None and last.destination is not None  # indexed rows have both
    return LaneFact(last.origin.name, last.destination.name, last.day, float(last.rate or 0))


def _last_worked(snap: Snapshot, pos: int, q: Query) -> str:
    """The carrier's last won trip before as_of, on any lane."""
    lanes = snap.lanes
    rows = np.asarray(snap.rows_of(pos), dtype=np.int64)
    if not len(rows):
        return ""
    ok = (lanes["kind"][rows] == TRIP) & lanes["alive"][rows]
    if q.as_of:
        ok &= lanes["day"][rows] < day_number(q.as_of)
    best = int(lanes["day"][rows[ok]].max()) if ok.any() else NO_DAY
    return day_text(best) if best != NO_DAY else ""

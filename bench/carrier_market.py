"""A generated freight market for the carrier-search benchmarks: carriers with homes,
trucks and lanes they prefer, won deals over two years with the carrier that took each, and
offers logists took on the phone — across the 250 largest settlements of Russia, Belarus,
Kazakhstan, Uzbekistan and Kyrgyzstan, with names as the gazetteer gives them.

Behaviour that a ranking can learn from, and noise that it cannot:
- a carrier is based where carriers are (big cities have more), drives 1–4 lanes it prefers,
  mostly out of its home and often back, and drifts: after the first year some carriers
  change a lane;
- activity is heavy-tailed: a few carriers take hundreds of deals, most take a handful;
- a deal's lane is a lane somebody drives (75%, with the freight its trucks carry) or plain
  demand between two cities weighted by people and by distance (25%); its freight is drawn
  first (weight, body, dangerous), and the winner must fit it;
- the winner is a carrier preferring this lane or a similar one (origin within 100 km, the
  destination near or the same general direction) in LANE_SHARE of deals where one exists,
  (logists call whom they know: each earlier win on the lane makes a carrier likelier to
  win it again), else a carrier based near the loading point, else anyone who fits;
- offers come from the winner a few days before, from carriers driving the lane, and from
  carriers nearby, at rates around the deal's.

    market(seed=7, carriers=10_000, offers=50_000, deals=100_000) -> Market
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from robots.carriers import geo, places
from robots.carriers.records import BODIES, Carrier, Offer, Place, Trip

COUNTRIES = ("RU", "BY", "KZ", "UZ", "KG")
CITIES = 250
LANE_SHARE = 0.8  # a deal goes to a carrier that prefers the lane, when one exists…
NEAR_SHARE = 0.12  # …else (or otherwise) to one based near the loading point
NEAR_KM = 100.0
REPEAT = 1.0  # each earlier win on the lane makes a carrier this much likelier to win it again
FROM_LANES = 0.75  # a deal's lane is one some carrier drives; the rest is plain demand
BODY_WEIGHTS = {"tent": 50, "refrigerator": 18, "isotherm": 5, "container": 5, "flatbed": 8,
                "board": 6, "tanker": 3, "car_carrier": 2, "van": 3, "other": 0}
CAPACITIES = (1.5, 3, 5, 10, 10, 20, 20, 20, 20, 22, 25)


@dataclass
class Market:
    carriers: list[Carrier]
    trips: list[Trip]  # won deals in time order
    offers: list[Offer]  # in time order
    cities: list[Place]
    lane_share: float = 0.0  # of trips, the share won by a carrier preferring the lane
    lane_won: set[str] = field(default_factory=set)  # those trips' refs
    facts: dict = field(default_factory=dict)


def _cities() -> tuple[list[Place], np.ndarray]:
    """The largest settlements, a city's own districts (GeoNames lists Moscow's Марьино and
    Строгино with their people) left out: a place within 25 km of a larger one."""
    cities: list[Place] = []
    for place in places.largest(CITIES * 3, COUNTRIES):
        if all(geo.km(place, c) > 25 for c in cities) and label(place):
            cities.append(place)
        if len(cities) == CITIES:
            break
    weights = np.array([places.population(c) for c in cities], dtype=float) ** 0.8
    return cities, weights / weights.sum()


@functools.cache
def label(place: Place) -> str:
    """How a logist writes the place so that it is found: its name, or with its region when
    the name is several towns' (Благовещенск, амурская); "" when neither is enough."""
    if places.resolve(place.name) == place:
        return place.name
    for region, city in places.REGIONS.items():
        anchor = places.resolve(city)
        if isinstance(anchor, Place) and geo.km(anchor, place) < 300:
            text = f"{place.name}, {region}"
            if places.resolve(text) == place:
                return text
    return ""


def _distances(cities: list[Place]) -> np.ndarray:
    lat = np.array([c.lat for c in cities])
    lon = np.array([c.lon for c in cities])
    return np.stack([geo.km_to(lat, lon, c.lat, c.lon) for c in cities])


def _destination(rng: np.random.Generator, origin: int, dist: np.ndarray,
                 weights: np.ndarray) -> int:
    """A destination by people and a distance people ship over (mostly 150–2,500 km)."""
    d = dist[origin]
    kernel = np.exp(-((np.log(np.maximum(d, 1)) - math.log(700)) ** 2) / (2 * 0.8 ** 2))
    kernel[d < 80] = 0
    p = weights * kernel
    return int(rng.choice(len(d), p=p / p.sum()))


def _phone(rng: np.random.Generator) -> str:
    n = rng.integers(0, 10**9)
    return f"+7 9{n // 10**7 % 100:02d} {n // 10**4 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d}"


def market(seed: int = 7, carriers: int = 10_000, offers: int = 50_000, deals: int = 100_000,
           start: str = "2024-12-01", days: int = 730) -> Market:
    rng = np.random.default_rng(seed)
    cities, weights = _cities()
    dist = _distances(cities)
    bearing = np.array([[geo.bearing(a, b) for b in cities] for a in cities])
    n_city = len(cities)
    neighbours = [np.nonzero(dist[i] < NEAR_KM)[0] for i in range(n_city)]

    # carriers --------------------------------------------------------------------------
    home = rng.choice(n_city, size=carriers, p=weights)
    activity = rng.pareto(1.3, size=carriers) + 0.2
    capacity = rng.choice(CAPACITIES, size=carriers)
    body_names = [b for b in BODIES if BODY_WEIGHTS[b]]
    body_p = np.array([BODY_WEIGHTS[b] for b in body_names], dtype=float)
    body_p /= body_p.sum()
    made: list[Carrier] = []
    lanes: list[list[tuple[int, int]]] = []
    for i in range(carriers):
        bodies = tuple(str(b) for b in dict.fromkeys(
            rng.choice(body_names, size=1 + (rng.random() < 0.25), p=body_p)))
        cap = float(capacity[i])
        if cap <= 3 and rng.random() < 0.6:
            bodies = ("van",)
        own: list[tuple[int, int]] = []
        for _ in range(int(rng.choice([1, 2, 2, 3, 3, 4]))):
            origin = int(home[i]) if rng.random() < 0.7 or not len(neighbours[home[i]]) \
                else int(rng.choice(neighbours[home[i]]))
            dest = _destination(rng, origin, dist, weights)
            own.append((origin, dest))
            if rng.random() < 0.5:
                own.append((dest, origin))
        lanes.append(own)
        unknown_cap, unknown_body = rng.random() < 0.05, rng.random() < 0.05
        h = cities[int(home[i])]
        made.append(Carrier(
            id=i + 1, name=f"Перевозчик {i + 1}", phones=(_phone(rng),),
            capacity_t=0.0 if unknown_cap else cap,
            volume_m3=0.0 if unknown_cap else round(cap * 4.3, 1),
            bodies=() if unknown_body else bodies, adr=bool(rng.random() < 0.1),
            oversize=bool(rng.random() < 0.05), home=h, home_text=label(h),
            blacklisted=bool(rng.random() < 0.02)))
    cap_arr = np.array([c.capacity_t for c in made])
    adr = np.array([c.adr for c in made])
    black = np.array([c.blacklisted for c in made])
    has_body = {b: np.array([not c.bodies or b in c.bodies for c in made]) for b in BODIES}

    def lane_table(all_lanes: list[list[tuple[int, int]]]) -> dict[int, np.ndarray]:
        """Origin city → rows (carrier, destination) of the lanes leaving it."""
        by_origin: dict[int, list[tuple[int, int]]] = {}
        for c, own in enumerate(all_lanes):
            for o, d in own:
                by_origin.setdefault(o, []).append((c, d))
        return {o: np.array(rows) for o, rows in by_origin.items()}

    table = lane_table(lanes)
    home_of: dict[int, np.ndarray] = {}
    for c, h in enumerate(home):
        home_of.setdefault(int(h), []).append(c)  # type: ignore[arg-type]
    home_of = {k: np.array(v) for k, v in home_of.items()}
    flat_lanes = [(c, o, d) for c, own in enumerate(lanes) for o, d in own]
    lane_weight = np.array([activity[c] for c, _o, _d in flat_lanes])
    lane_weight /= lane_weight.sum()

    # deals -----------------------------------------------------------------------------
    first = date.fromisoformat(start)
    day_of = np.sort(rng.integers(0, days, size=deals))
    trips: list[Trip] = []
    lane_refs: set[str] = set()
    wins: dict[tuple[int, int, int], int] = {}  # (carrier, origin, destination) → deals won
    drifted = False
    for n in range(deals):
        if not drifted and day_of[n] >= days // 2:  # a year on, some carriers change lanes
            for c in rng.choice(carriers, size=carriers // 5, replace=False):
                if lanes[c]:
                    o, _d = lanes[c][0]
                    lanes[c][0] = (o, _destination(rng, o, dist, weights))
            table = lane_table(lanes)
            drifted = True
        driver = -1
        if rng.random() < FROM_LANES:
            driver, origin, dest = flat_lanes[int(rng.choice(len(flat_lanes), p=lane_weight))]
            if rng.random() < 0.3 and len(neighbours[origin]) > 1:
                origin = int(rng.choice(neighbours[origin]))
            if dest == origin or dist[origin, dest] < 80:
                dest = _destination(rng, origin, dist, weights)
        else:
            origin = int(rng.choice(n_city, p=weights))
            dest = _destination(rng, origin, dist, weights)
        weight = float(rng.choice([1, 2, 4, 8, 10, 15, 18, 19, 20, 20]))
        body = str(rng.choice(body_names, p=body_p))
        if driver >= 0:  # the freight of a lane is what its trucks carry
            truck = made[driver]
            if truck.bodies:
                body = str(rng.choice(truck.bodies))
            if truck.capacity_t:
                weight = min(weight, truck.capacity_t)
        dangerous = bool(rng.random() < 0.06)
        fits = ((cap_arr == 0) | (cap_arr >= weight)) & has_body[body] & ~black
        if dangerous:
            fits &= adr
        winner = -1
        similar = np.zeros(0, dtype=int)
        rows = [table[o] for o in neighbours[origin] if o in table]
        if rows:
            lane_rows = np.concatenate(rows)
            d = lane_rows[:, 1]
            near_dest = dist[d, dest] < 60 + 0.15 * dist[origin, dest]
            turn = np.abs((bearing[origin, d] - bearing[origin, dest] + 180) % 360 - 180)
            stretch = np.abs(np.log((dist[origin, d] + 1) / (dist[origin, dest] + 1)))
            alike = near_dest | ((turn < 20) & (stretch < 0.3))
            similar = np.unique(lane_rows[alike, 0])
            similar = similar[fits[similar]]
        roll = rng.random()
        if len(similar) and roll < LANE_SHARE:
            w = activity[similar] * (1 + REPEAT * np.array(
                [wins.get((int(c), origin, dest), 0) for c in similar]))
            winner = int(rng.choice(similar, p=w / w.sum()))
            lane_refs.add(f"deal/{n + 1}")
        else:
            near = np.concatenate([home_of[o] for o in neighbours[origin] if o in home_of]) \
                if any(o in home_of for o in neighbours[origin]) else np.zeros(0, dtype=int)
            near = near[fits[near]] if len(near) else near
            if len(near) and rng.random() < NEAR_SHARE / (1 - LANE_SHARE):
                winner = int(rng.choice(near, p=activity[near] / activity[near].sum()))
            else:
                pool = np.nonzero(fits)[0]
                winner = int(rng.choice(pool, p=activity[pool] / activity[pool].sum()))
        wins[(winner, origin, dest)] = wins.get((winner, origin, dest), 0) + 1
        km = float(dist[origin, dest])
        per_km = (35 + 25 * rng.random()) * (0.45 + 0.55 * min(weight, 20) / 20)
        rate = round(max(8000.0, km * per_km) / 500) * 500
        o, de = cities[origin], cities[dest]
        trips.append(Trip(f"deal/{n + 1}", winner + 1, o, de,
                          (first + timedelta(days=int(day_of[n]))).isoformat(), float(rate),
                          label(o), label(de), weight, 0.0, body))

    # offers ----------------------------------------------------------------------------
    made_offers: list[tuple[str, Offer]] = []
    picks = rng.choice(deals, size=offers)
    for k, n in enumerate(picks):
        t = trips[int(n)]
        roll = rng.random()
        if roll < 0.3:
            who = t.carrier_id
        else:
            origin = cities.index(t.origin)
            rows = [table[o] for o in neighbours[origin] if o in table]
            pool = np.unique(np.concatenate(rows)[:, 0]) + 1 if rows else np.zeros(0, int)
            if roll < 0.8 and len(pool):
                who = int(rng.choice(pool))
            else:
                who = int(rng.integers(1, carriers + 1))
        day = date.fromisoformat(t.day) - timedelta(days=int(rng.integers(0, 6)))
        rate = round(t.rate * (0.9 + 0.25 * rng.random()) / 500) * 500
        made_offers.append((day.isoformat(), Offer(
            k + 1, who, t.origin, t.destination, day.isoformat(), float(rate),
            "with_vat" if rng.random() < 0.6 else "without_vat", t.ref,
            who == t.carrier_id, t.origin_text, t.destination_text)))
    made_offers.sort(key=lambda p: (p[0], p[1].id))
    return Market(made, trips, [o for _d, o in made_offers], cities,
                  lane_share=round(len(lane_refs) / deals, 3) if deals else 0.0,
                  lane_won=lane_refs,
                  facts={"cities": len(cities), "carrier_lanes": len(flat_lanes)})

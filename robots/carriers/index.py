"""The carrier index a search reads: every carrier, won trip and offer of a portal as
columns (numpy arrays), so that a query scores 150,000 lane records in milliseconds and
makes no CRM call.

`Snapshot` is the in-memory form (pure): carriers by position, and one table of "lane
records" (trips and offers together) with their carrier's position, both ends, day, rate,
length and bearing. Positions of carriers never move; a changed trip or offer is a new row
with the old one marked dead, so a change costs an append, not a rebuild (`changed`).
The Redis side (what survives a restart, what every worker shares) is robots.carriers.store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from robots.carriers import geo
from robots.carriers.records import BODIES, Carrier, Offer, Place, Trip

EPOCH = date(1970, 1, 1).toordinal()
NO_DAY = -1
TRIP, OFFER = 0, 1


def day_number(day: str) -> int:
    """An ISO day as days since 1970; NO_DAY when it is empty or not a day."""
    try:
        return date.fromisoformat(day[:10]).toordinal() - EPOCH
    except (TypeError, ValueError):
        return NO_DAY


def day_text(number: int) -> str:
    return date.fromordinal(int(number) + EPOCH).isoformat() if number != NO_DAY else ""


def body_mask(bodies: Iterable[str]) -> int:
    return sum(1 << BODIES.index(b) for b in set(bodies) if b in BODIES)


def _coords(place: Place | None) -> tuple[float, float]:
    return (place.lat, place.lon) if place else (np.nan, np.nan)


@dataclass
class Columns:
    """A table of named numpy columns that grows by appending rows."""

    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def append(self, rows: dict[str, list]) -> None:
        for name, values in rows.items():
            new = np.asarray(values, dtype=self.data[name].dtype if name in self.data else None)
            self.data[name] = np.concatenate([self.data[name], new]) if name in self.data \
                else new

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]


LANE_COLUMNS = {"carrier": np.int32, "kind": np.int8, "o_lat": np.float64,
                "o_lon": np.float64, "d_lat": np.float64, "d_lon": np.float64,
                "day": np.int32, "rate": np.float64, "length": np.float64,
                "bearing": np.float64, "alive": np.bool_}
CARRIER_COLUMNS = {"known": np.bool_, "capacity": np.float64, "volume": np.float64,
                   "bodies": np.int64, "adr": np.bool_, "oversize": np.bool_,
                   "blacklisted": np.bool_, "home_lat": np.float64, "home_lon": np.float64,
                   "loc_lat": np.float64, "loc_lon": np.float64, "loc_day": np.int32}


def _empty(spec: dict[str, type]) -> Columns:
    return Columns({name: np.zeros(0, dtype=dtype) for name, dtype in spec.items()})


@dataclass
class Snapshot:
    """One portal's index in memory. Built once (`build`), then kept current (`changed`)."""

    carriers: list[Carrier | None] = field(default_factory=list)  # by position
    position: dict[int, int] = field(default_factory=dict)  # carrier id -> position
    c: Columns = field(default_factory=lambda: _empty(CARRIER_COLUMNS))
    lanes: Columns = field(default_factory=lambda: _empty(LANE_COLUMNS))
    records: list[Trip | Offer] = field(default_factory=list)  # by lane row
    row_of: dict[str, int] = field(default_factory=dict)  # "t:<ref>" / "o:<id>" -> row
    by_carrier: dict[int, list[int]] = field(default_factory=dict)  # position -> rows

    @classmethod
    def build(cls, carriers: Iterable[Carrier], trips: Iterable[Trip],
              offers: Iterable[Offer]) -> Snapshot:
        snap = cls()
        snap.changed(carriers=carriers, trips=trips, offers=offers)
        return snap

    # sizes, for the admin page and the bench
    @property
    def carrier_count(self) -> int:
        return int(np.count_nonzero(self.c["known"]))

    @property
    def trip_count(self) -> int:
        return int(np.count_nonzero(self.lanes["alive"] & (self.lanes["kind"] == TRIP)))

    @property
    def offer_count(self) -> int:
        return int(np.count_nonzero(self.lanes["alive"] & (self.lanes["kind"] == OFFER)))

    def carrier(self, carrier_id: int) -> Carrier | None:
        pos = self.position.get(carrier_id)
        return self.carriers[pos] if pos is not None else None

    def rows_of(self, pos: int) -> list[int]:
        """The lane rows of the carrier at `pos`, dead ones included (check "alive")."""
        return self.by_carrier.get(pos, [])

    def _make_slots(self, carrier_ids: Iterable[int]) -> None:
        """Positions for carriers not seen before, in one append; unknown until their
        record comes (a trip may be indexed before its carrier)."""
        new = [i for i in dict.fromkeys(carrier_ids) if i not in self.position]
        if not new:
            return
        for carrier_id in new:
            self.position[carrier_id] = len(self.carriers)
            self.carriers.append(None)
        blank = {"known": False, "capacity": 0.0, "volume": 0.0, "bodies": 0, "adr": False,
                 "oversize": False, "blacklisted": False, "home_lat": np.nan,
                 "home_lon": np.nan, "loc_lat": np.nan, "loc_lon": np.nan, "loc_day": NO_DAY}
        self.c.append({name: [value] * len(new) for name, value in blank.items()})

    def changed(self, carriers: Iterable[Carrier] = (), trips: Iterable[Trip] = (),
                offers: Iterable[Offer] = (), gone_carriers: Iterable[int] = (),
                gone_trips: Iterable[str] = (), gone_offers: Iterable[int] = ()) -> None:
        """Apply what changed: records upserted (by carrier id, trip ref, offer id), others
        gone. A carrier gone keeps its position, unknown, so its trips stay out of results."""
        carriers, records = list(carriers), [*trips, *offers]
        self._make_slots([c.id for c in carriers]
                         + [r.carrier_id for r in records if r.carrier_id])
        for carrier in carriers:
            self._put_carrier(carrier)
        for carrier_id in gone_carriers:
            if (pos := self.position.get(carrier_id)) is not None:
                self.carriers[pos] = None
                self.c["known"][pos] = False
        for key in [f"t:{r}" for r in gone_trips] + [f"o:{i}" for i in gone_offers]:
            if (row := self.row_of.pop(key, None)) is not None:
                self.lanes["alive"][row] = False
        rows: dict[str, list] = {name: [] for name in LANE_COLUMNS}
        for record in records:
            key = f"t:{record.ref}" if isinstance(record, Trip) else f"o:{record.id}"
            if (old := self.row_of.get(key)) is not None:
                self.lanes["alive"][old] = False
            if record.origin is None or record.destination is None or not record.carrier_id:
                self.row_of.pop(key, None)  # kept in the store; nothing to score it by
                continue
            pos = self.position[record.carrier_id]
            self.row_of[key] = len(self.records)
            self.by_carrier.setdefault(pos, []).append(len(self.records))
            self.records.append(record)
            rows["carrier"].append(pos)
            rows["kind"].append(TRIP if isinstance(record, Trip) else OFFER)
            rows["o_lat"].append(record.origin.lat)
            rows["o_lon"].append(record.origin.lon)
            rows["d_lat"].append(record.destination.lat)
            rows["d_lon"].append(record.destination.lon)
            rows["day"].append(day_number(record.day))
            rows["rate"].append(float(record.rate or 0))
            rows["length"].append(geo.km(record.origin, record.destination))
            rows["bearing"].append(geo.bearing(record.origin, record.destination))
            rows["alive"].append(True)
        if rows["carrier"]:
            self.lanes.append(rows)

    def _put_carrier(self, carrier: Carrier) -> None:
        pos = self.position[carrier.id]
        self.carriers[pos] = carrier
        home, loc = _coords(carrier.home), _coords(carrier.location)
        for name, value in (("known", True), ("capacity", carrier.capacity_t or 0.0),
                            ("volume", carrier.volume_m3 or 0.0),
                            ("bodies", body_mask(carrier.bodies)), ("adr", carrier.adr),
                            ("oversize", carrier.oversize),
                            ("blacklisted", carrier.blacklisted), ("home_lat", home[0]),
                            ("home_lon", home[1]), ("loc_lat", loc[0]), ("loc_lon", loc[1]),
                            ("loc_day", day_number(carrier.location_date))):
            self.c[name][pos] = value

    def compacted(self) -> Snapshot:
        """The same index without dead rows (after many changes)."""
        alive = [self.records[r] for r in sorted(self.row_of.values())]
        return Snapshot.build([c for c in self.carriers if c is not None],
                              [r for r in alive if isinstance(r, Trip)],
                              [r for r in alive if isinstance(r, Offer)])

    @property
    def dead_share(self) -> float:
        return 1 - len(self.row_of) / len(self.records) if self.records else 0.0


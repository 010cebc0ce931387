"""The carrier ranking on a hand-made market: hard constraints first, each exclusion
counted; the lane, its general direction, offers, nearness and recency in the score; what
was known before `as_of` only; the index kept current by appends; the evidence in Russian."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from robots.carriers import explain
from robots.carriers.index import Snapshot
from robots.carriers.rank import Query, search
from robots.carriers.records import Carrier, Offer, Place, Trip

MSK = Place(524901, "Москва", 55.75222, 37.61556)
PODOLSK = Place(506401, "Подольск", 55.42419, 37.55472)
KAZAN = Place(551487, "Казань", 55.78874, 49.12214)
CHEBOKSARY = Place(569696, "Чебоксары", 56.13222, 47.25194)
SPB = Place(498817, "Санкт-Петербург", 59.93863, 30.31413)
KRASNODAR = Place(542420, "Краснодар", 45.04484, 38.97603)
ROSTOV = Place(501175, "Ростов-на-Дону", 47.23135, 39.72328)
TODAY = date(2026, 11, 20)


def day(ago: int) -> str:
    return (TODAY - timedelta(days=ago)).isoformat()


def carrier(cid: int, name: str, **kw) -> Carrier:
    kw.setdefault("capacity_t", 20.0)
    kw.setdefault("bodies", ("tent",))
    return Carrier(cid, name, phones=(f"+7 900 000-00-{cid:02d}",), **kw)


def trip(n: int, cid: int, a: Place, b: Place, ago: int, rate: float = 0) -> Trip:
    return Trip(f"deal/{n}", cid, a, b, day(ago), rate)


def query(a: Place = MSK, b: Place = KAZAN, **kw) -> Query:
    kw.setdefault("day", TODAY.isoformat())
    return Query(a, b, **kw)


@pytest.fixture
def snap() -> Snapshot:
    carriers = [
        carrier(1, "Волга-Транс", home=MSK),
        carrier(2, "Сидоров", home=PODOLSK, bodies=("tent", "flatbed")),
        carrier(3, "Малый", capacity_t=5, home=MSK),
        carrier(4, "Ненадёжный", blacklisted=True, home=MSK),
        carrier(5, "Юг", home=KRASNODAR),
        carrier(6, "Реф", bodies=("refrigerator",), home=MSK),
        carrier(7, "Чуваш", home=MSK),
        carrier(8, "Без карточки", capacity_t=0, bodies=(), home=MSK),
    ]
    trips = [trip(1, 1, MSK, KAZAN, 40, 82000), trip(2, 1, MSK, KAZAN, 20, 85000),
             trip(3, 1, MSK, KAZAN, 10, 86000), trip(4, 3, MSK, KAZAN, 15),
             trip(5, 4, MSK, KAZAN, 12), trip(6, 5, KRASNODAR, ROSTOV, 8),
             trip(7, 6, MSK, KAZAN, 9), trip(8, 7, MSK, CHEBOKSARY, 30),
             trip(9, 7, MSK, CHEBOKSARY, 25), trip(10, 8, MSK, KAZAN, 200)]
    offers = [Offer(1, 2, MSK, KAZAN, day(3), 85000)]
    return Snapshot.build(carriers, trips, offers)


def plain(words: list[str]) -> list[str]:
    """Babel's figures keep their groups together with no-break spaces."""
    return [w.replace("\u00a0", " ").replace("\u202f", " ") for w in words]


def names(result) -> list[str]:
    return [s.carrier.name for s in result.suggestions]


def test_hard_constraints_leave_out_and_count(snap):
    result = search(snap, query(weight_t=18, body="tent"))
    assert "Малый" not in names(result) and "Ненадёжный" not in names(result)
    assert "Реф" not in names(result)
    assert result.excluded == {"blacklisted": 1, "capacity": 1, "body": 1}
    assert names(result)[0] == "Волга-Транс"
    unknown = next(s for s in result.suggestions if s.carrier.name == "Без карточки")
    assert unknown.unknown == ("capacity", "body")


def test_the_general_direction_counts_and_an_unrelated_lane_does_not(snap):
    result = search(snap, query(weight_t=10, body="tent"), limit=10)
    chuvash = next(s for s in result.suggestions if s.carrier.name == "Чуваш")
    assert chuvash.trips == 2  # Москва → Чебоксары: Kazan's direction, 2/3 of its length
    assert "Юг" not in names(result)  # Krasnodar → Rostov says nothing of this lane
    assert names(result).index("Чуваш") > names(result).index("Волга-Транс")


def test_an_offer_and_a_base_near_loading_rank_a_carrier_without_trips(snap):
    result = search(snap, query(weight_t=18, body="tent"))
    sidorov = next(s for s in result.suggestions if s.carrier.name == "Сидоров")
    assert sidorov.offers == 1 and sidorov.last_offer.rate == 85000
    assert sidorov.where == "home" and 30 < sidorov.distance_km < 45
    words = plain(explain.evidence(sidorov, "ru", TODAY))
    assert words[0] == "предложение 85 000 ₽ от 17 ноября"
    assert any(w.startswith("база в Подольске, ") and w.endswith(" км от загрузки")
               for w in words)
    assert "перевозок с нами ещё не было" in words


def test_the_evidence_reads_as_the_issue_asks(snap):
    best = search(snap, query(weight_t=18, body="tent")).suggestions[0]
    words = plain(explain.evidence(best, "ru", TODAY))
    assert words[0] == "3 выигранные перевозки Москва → Казань, последняя 10 ноября"
    assert "тент 20 т" in words
    assert "база в Москве, 0 км от загрузки" in words
    english = explain.evidence(best, "en", TODAY)
    assert english[0].startswith("3 won trips Москва → Казань, the last on")


def test_only_what_was_known_before_as_of_counts(snap):
    early = search(snap, query(weight_t=18, body="tent", as_of=day(25)))
    volga = next(s for s in early.suggestions if s.carrier.name == "Волга-Транс")
    assert volga.trips == 1  # the trips 20 and 10 days ago were not yet made
    assert not any(s.offers for s in early.suggestions)


def test_a_dated_location_near_loading_beats_a_home_far_away():
    far = carrier(1, "Далёкий", home=KRASNODAR, location=KAZAN, location_date=day(-1))
    snap = Snapshot.build([far, carrier(2, "Домосед", home=KRASNODAR)], [], [])
    (s,) = search(snap, query(KAZAN, MSK)).suggestions
    assert s.carrier.name == "Далёкий" and s.where == "location" and s.distance_km == 0
    assert "будет в Казани с 21 ноября, 0 км от загрузки" in plain(explain.evidence(s, "ru", TODAY))


def test_changes_append_and_mark_dead_then_compact(snap):
    rows = len(snap.records)
    snap.changed(carriers=[carrier(1, "Волга-Транс", home=MSK, blacklisted=True)],
                 trips=[trip(3, 1, MSK, SPB, 10)], gone_offers=[1])
    result = search(snap, query(weight_t=18, body="tent"))
    assert "Волга-Транс" not in names(result) and result.excluded["blacklisted"] == 2
    assert len(snap.records) == rows + 1 and snap.offer_count == 0
    compact = snap.compacted()
    assert len(compact.records) == rows - 1 and compact.dead_share == 0
    assert search(compact, query(weight_t=18, body="tent")).excluded == \
        search(snap, query(weight_t=18, body="tent")).excluded


def test_nobody_fits_is_a_result_not_an_error():
    snap = Snapshot.build([carrier(1, "Малый", capacity_t=3, home=MSK)],
                          [trip(1, 1, MSK, KAZAN, 5)], [])
    result = search(snap, query(weight_t=18))
    assert result.suggestions == [] and result.excluded == {"capacity": 1}
    assert plain([explain.left_out(result, query(weight_t=18), "ru")]) == [
        "Отсеяно: грузоподъёмность меньше 18 т — 1"]
    assert search(Snapshot(), query()).suggestions == []

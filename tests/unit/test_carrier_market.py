"""The generated freight market the carrier benchmarks run on: the same for a seed, every
city named as the gazetteer resolves it back, winners that fit their freight, and a ranking
that learns the lanes carriers prefer better than counting trips from the loading city."""

from __future__ import annotations

from bench.carrier_market import label, market
from bench.carriers import Baseline, query_of
from robots.carriers import places, rank
from robots.carriers.index import Snapshot


def small():
    return market(seed=3, carriers=300, offers=1500, deals=3000)


def test_a_seed_makes_the_same_market():
    a, b = small(), small()
    assert a.trips == b.trips and a.offers == b.offers and a.carriers == b.carriers
    assert len(a.carriers) == 300 and len(a.trips) == 3000 and len(a.offers) == 1500
    assert [t.day for t in a.trips] == sorted(t.day for t in a.trips)


def test_every_city_resolves_back_to_itself():
    m = small()
    for city in m.cities:
        assert places.resolve(label(city)) == city, city
    assert all(places.resolve(t.origin_text) == t.origin for t in m.trips[:500])
    assert sum("," in label(c) for c in m.cities) >= 3  # namesakes written with a region


def test_winners_fit_their_freight():
    m = small()
    by_id = {c.id: c for c in m.carriers}
    for trip in m.trips:
        c = by_id[trip.carrier_id]
        assert not c.blacklisted
        assert not c.capacity_t or c.capacity_t >= trip.weight_t
        assert not c.bodies or trip.body in c.bodies


def test_the_ranking_beats_the_loading_city_baseline():
    m = small()
    snap = Snapshot.build(m.carriers, m.trips, m.offers)
    base = Baseline(m)
    late = m.trips[-400:]
    ours = sum(t.carrier_id in [s.carrier.id for s in rank.search(
        snap, query_of(t, True), 5).suggestions] for t in late) / len(late)
    theirs = sum(t.carrier_id in base.top(t) for t in late) / len(late)
    assert ours > theirs + 0.05, (ours, theirs)
    assert ours > 0.5

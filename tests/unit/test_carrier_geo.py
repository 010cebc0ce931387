"""The sphere's geometry the ranking leans on, checked against distances and directions known
from the map, and the vectorised forms against the one-at-a-time ones over many rows."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from robots.carriers import geo
from robots.carriers.records import Place

MSK = Place(524901, "Москва", 55.75222, 37.61556)
KAZAN = Place(551487, "Казань", 55.78874, 49.12214)
SPB = Place(498817, "Санкт-Петербург", 59.93863, 30.31413)
NSK = Place(1496747, "Новосибирск", 55.0415, 82.9346)
VLADIVOSTOK = Place(2013348, "Владивосток", 43.10562, 131.87353)
SOCHI = Place(491422, "Сочи", 43.59917, 39.72569)
MINSK = Place(625144, "Минск", 53.9, 27.56667, "BY")


@pytest.mark.parametrize(("a", "b", "low", "high"), [
    (MSK, KAZAN, 715, 725),  # ≈ 720 great-circle (the road is ≈ 820)
    (MSK, SPB, 630, 640),
    (MSK, NSK, 2800, 2830),
    (MSK, VLADIVOSTOK, 6410, 6440),
    (MSK, SOCHI, 1355, 1370),
    (MSK, MINSK, 670, 680),
])
def test_distances_known_from_the_map(a, b, low, high):
    assert low < geo.km(a, b) < high
    assert geo.km(a, b) == pytest.approx(geo.km(b, a))


def test_a_degree_of_the_meridian_and_the_ends_of_the_range():
    north = Place(0, "", 1.0, 0.0)
    equator = Place(0, "", 0.0, 0.0)
    assert geo.km(equator, north) == pytest.approx(111.2, abs=0.1)
    assert geo.km(MSK, MSK) == 0
    antipode = Place(0, "", -MSK.lat, MSK.lon - 180)
    assert geo.km(MSK, antipode) == pytest.approx(math.pi * geo.EARTH_KM, abs=0.01)  # ≈ 0.2 m off


@pytest.mark.parametrize(("a", "b", "low", "high"), [
    (MSK, KAZAN, 80, 90),  # east, a little north on the great circle
    (MSK, SPB, 310, 325),  # north-west
    (MSK, SOCHI, 170, 185),  # south
    (MSK, MINSK, 250, 265),  # west, a little south
    (MSK, NSK, 60, 80),
])
def test_bearings_point_where_the_map_says(a, b, low, high):
    assert low < geo.bearing(a, b) < high


def test_bearings_of_the_cardinal_directions_stay_in_0_360():
    o = Place(0, "", 0.0, 0.0)
    assert geo.bearing(o, Place(0, "", 1.0, 0.0)) == pytest.approx(0)
    assert geo.bearing(o, Place(0, "", 0.0, 1.0)) == pytest.approx(90)
    assert geo.bearing(o, Place(0, "", -1.0, 0.0)) == pytest.approx(180)
    assert geo.bearing(o, Place(0, "", 0.0, -1.0)) == pytest.approx(270)
    assert 0 <= geo.bearing(Place(0, "", 0.0, 0.0), Place(0, "", 1.0, -1e-9)) < 360


@pytest.mark.parametrize(("b1", "b2", "angle"), [
    (350, 10, 20), (10, 350, 20), (90, 270, 180), (0, 0, 0), (0, 360, 0), (45, 135, 90),
    (359.5, 0.5, 1), (200, 10, 170),
])
def test_the_angle_between_two_bearings_is_the_smaller_one(b1, b2, angle):
    assert geo.angle_between(b1, b2) == pytest.approx(angle)
    assert 0 <= geo.angle_between(b1, b2) <= 180


def _random_points(n: int, seed: int = 9) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(38, 70, n), rng.uniform(20, 140, n)


def test_vectorised_distances_equal_one_at_a_time_and_nan_stays_nan():
    lats, lons = _random_points(500)
    far = geo.km_to(lats, lons, KAZAN.lat, KAZAN.lon)
    assert far.dtype == np.float64 and far.shape == (500,)
    one = [geo.km(Place(0, "", float(a), float(o)), KAZAN) for a, o in zip(lats, lons,
                                                                          strict=True)]
    np.testing.assert_allclose(far, one, rtol=1e-12, atol=1e-9)
    gaps = geo.km_to(np.array([np.nan, MSK.lat]), np.array([0.0, MSK.lon]), KAZAN.lat,
                     KAZAN.lon)
    assert np.isnan(gaps[0]) and gaps[1] == pytest.approx(geo.km(MSK, KAZAN))


def test_vectorised_bearings_equal_one_at_a_time():
    lat1, lon1 = _random_points(500, seed=1)
    lat2, lon2 = _random_points(500, seed=2)
    turns = geo.bearings(lat1, lon1, lat2, lon2)
    one = [geo.bearing(Place(0, "", float(a), float(b)), Place(0, "", float(c), float(d)))
           for a, b, c, d in zip(lat1, lon1, lat2, lon2, strict=True)]
    np.testing.assert_allclose(turns, one, rtol=1e-12, atol=1e-9)
    assert ((turns >= 0) & (turns < 360)).all()


def test_a_hundred_thousand_rows_take_milliseconds():
    lats, lons = _random_points(100_000)
    geo.km_to(lats, lons, MSK.lat, MSK.lon)  # warm
    started = time.perf_counter()
    far = geo.km_to(lats, lons, MSK.lat, MSK.lon)
    turns = geo.bearings(lats, lons, np.full(100_000, KAZAN.lat), np.full(100_000, KAZAN.lon))
    took = time.perf_counter() - started
    assert far.shape == turns.shape == (100_000,)
    assert took < 0.1, took  # ≈ 10 ms on the CI box; a Python loop takes a second

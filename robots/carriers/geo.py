"""Distances and bearings on the sphere (pure): great-circle kilometres and initial bearings
between places, one at a time and vectorised over numpy columns (a query measures every
lane row of the index against the request's two ends at once)."""

from __future__ import annotations

import math

import numpy as np

from robots.carriers.records import Place

EARTH_KM = 6371.0088  # the mean radius (IUGG)


def km(a: Place, b: Place) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def bearing(a: Place, b: Place) -> float:
    """The initial bearing from a to b, degrees clockwise from north, 0 ≤ x < 360."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dl = math.radians(b.lon - a.lon)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360


def angle_between(b1: float, b2: float) -> float:
    """The smaller angle between two bearings, 0..180."""
    return abs((b1 - b2 + 180) % 360 - 180)


def km_to(lats: np.ndarray, lons: np.ndarray, lat: float, lon: float) -> np.ndarray:
    """Great-circle distances from many points to one; NaN where a point is NaN."""
    p1, p2 = np.radians(lats), math.radians(lat)
    dp, dl = p2 - p1, np.radians(lon - np.asarray(lons, dtype=np.float64))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def bearings(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
             ) -> np.ndarray:
    """Initial bearings from each first point to its second, degrees 0..360."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - lon1)
    x = np.sin(dl) * np.cos(p2)
    y = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.degrees(np.arctan2(x, y)) % 360

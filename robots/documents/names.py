"""People's names and job titles in the cases a contract needs: «в лице генерального
директора Иванова Ивана Ивановича» (genitive), «Генеральному директору Иванову И. И.»
(dative), and the short form «Иванов И. И.».

pymorphy3's dictionary knows which surnames do not decline (Белых, Ким for a woman) and
declines the names petrovich gets wrong (Ольга → Ольги, reference §6). A surname it does not
know as one but knows as a common noun of the same gender (Гусь, Голубь, Соловей for a man)
declines as that noun: Гуся, Голубя, Соловья. The gender comes from the patronymic, else the
first name, else the surname's own form (Петрова); a word whose gender or form stays unknown
is left as written rather than declined wrongly. No library is right for every name, so a
form declined here is a default an admin can correct, never a fact.

petrovich is not used: its only release on the index (2.0.1) installs a top-level `tests`
package into site-packages, which shadows this repository's `tests` and breaks its imports,
and pymorphy3 with the noun fallback declines every name of the reference's table right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymorphy3

from connector.morphology import analyzer

CASES = ("gent", "datv")
MALE, FEMALE = "m", "f"
# the second word of a Turkic patronymic: «Рашид оглы», «Алиевна» has none
PATRONYMIC_TAILS = {"оглы": MALE, "улы": MALE, "уулу": MALE, "кызы": FEMALE, "гызы": FEMALE}
_INITIAL = re.compile(r"^[А-ЯЁA-Z]\.(?:[А-ЯЁA-Z]\.)?$")
_ROLES = {"last": "Surn", "first": "Name", "middle": "Patr"}
_TAGS = {MALE: "masc", FEMALE: "femn"}


def _morph() -> pymorphy3.MorphAnalyzer:
    return analyzer()


@dataclass(frozen=True)
class FullName:
    """A person's name split into its parts; middle keeps a two-word patronymic whole."""

    last: str = ""
    first: str = ""
    middle: str = ""
    gender: str = ""  # "m", "f" or "" (not known)
    surname_first: bool = True  # «Иванов Иван Иванович», not «Иван Иванович Иванов»

    @property
    def initials(self) -> str:
        """«И. И.», the parts' first letters; a part typed as an initial stays one."""
        parts = [p if p.endswith(".") else f"{p[:1]}." for p in (self.first, self.middle) if p]
        return " ".join(parts)


def _is_patronymic(word: str) -> bool:
    lower = word.lower()
    if lower.endswith(("вич", "вна", "чна", "шна", "ична", "ич")):
        return any("Patr" in p.tag for p in _morph().parse(lower)) or lower.endswith(
            ("вич", "вна"))
    return False


def _gender_of_patronymic(middle: str) -> str:
    words = middle.lower().split()
    if words and words[-1] in PATRONYMIC_TAILS:
        return PATRONYMIC_TAILS[words[-1]]
    if not words:
        return ""
    return MALE if words[-1].endswith("ич") else FEMALE if words[-1].endswith("на") else ""


def _is_a(word: str, role: str) -> bool:
    """The dictionary knows the word as this part of a name, in the nominative."""
    return any(role in p.tag and {"nomn", "sing"} <= p.tag.grammemes
               for p in _morph().parse(word.lower()))


def _gender_by_dictionary(word: str, role: str) -> str:
    """The gender the dictionary gives this word in this role, "" when it gives both or none."""
    found = {g for p in _morph().parse(word.lower())
             if role in p.tag and "nomn" in p.tag and "sing" in p.tag
             for g, tag in _TAGS.items() if tag in p.tag}
    return found.pop() if len(found) == 1 else ""


def split(text: str) -> FullName:
    """«Иванов Иван Иванович», «Иван Иванович Иванов», «Иванов И. И.», «И.И. Иванов»,
    «Алиева Лейла Рашид кызы», «Анна Волкова» (a portal user's name, first name first) into
    their parts, with the gender when it can be told."""
    words = text.split()
    tail = len(words) >= 2 and words[-1].lower() in PATRONYMIC_TAILS
    if tail:  # the patronymic's two words are one part
        words = [*words[:-2], f"{words[-2]} {words[-1]}"]
    initials = [w for w in words if _INITIAL.match(w)]
    if initials and len(words) >= 2:  # «Иванов И. И.», «И.И. Иванов», «Иванов И.И.»
        last = next((w for w in words if not _INITIAL.match(w)), "")
        letters = [f"{c}." for w in initials for c in w.replace(".", "")]
        name = FullName(last, *(letters + ["", ""])[:2])
    elif len(words) >= 3 and (tail or _is_patronymic(words[2])):
        name = FullName(words[0], words[1], " ".join(words[2:]))
    elif len(words) == 3 and _is_patronymic(words[1]):
        name = FullName(words[2], words[0], words[1], surname_first=False)
    elif len(words) == 2 and _is_a(words[0], "Name") and not _is_a(words[1], "Name"):
        name = FullName(words[1], words[0], surname_first=False)  # «Анна Волкова»
    elif len(words) == 2:
        name = FullName(words[0], words[1])
    else:
        name = FullName(" ".join(words))
    gender = (_gender_of_patronymic(name.middle) if name.middle and not name.middle.endswith(".")
              else "")
    if not gender and name.first and not name.first.endswith("."):
        gender = _gender_by_dictionary(name.first, "Name")
    if not gender and name.last:
        gender = _gender_by_dictionary(name.last.split("-")[-1], "Surn")
    return FullName(name.last, name.first, name.middle, gender, name.surname_first)


def _recase(word: str, like: str) -> str:
    """pymorphy3 answers in lower case: give the word the capitals of the one it came from,
    and no «ё» the writer did not use."""
    if "ё" not in like.lower():
        word = word.replace("ё", "е")
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def _decline_word(word: str, role: str, gender: str, case: str) -> str:
    """One word of a name; unchanged when it is an initial or its gender is not known."""
    if not word or word.endswith(".") or not gender:
        return word
    tag = _TAGS[gender]
    parses = [p for p in _morph().parse(word.lower())
              if _ROLES[role] in p.tag and "nomn" in p.tag and "sing" in p.tag
              and (tag in p.tag or "ms-f" in p.tag)]
    if parses:
        best = max(parses, key=lambda p: p.score)
        if "Fixd" in best.tag:  # Белых, Шевченко, a woman's Ким: they do not decline
            return word
        form = best.inflect({case, "sing"})
        return _recase(form.word, word) if form is not None else word
    # not in the dictionary as a name: a common noun of the same gender declines alike
    nouns = [p for p in _morph().parse(word.lower())
             if p.tag.POS == "NOUN" and {"nomn", "sing", tag} <= p.tag.grammemes
             and "Fixd" not in p.tag]
    if role == "last" and nouns:
        form = max(nouns, key=lambda p: p.score).inflect({case, "sing"})
        if form is not None:
            return _recase(form.word, word)
    return word


def _decline_part(part: str, role: str, gender: str, case: str) -> str:
    if role == "middle" and part.lower().split()[-1:] and (
            part.lower().split()[-1] in PATRONYMIC_TAILS):
        return part  # «Рашид оглы» stays as it is
    return "-".join(_decline_word(w, role, gender, case) for w in part.split("-"))


def decline(text: str, case: str) -> str:
    """The person's name in the genitive ("gent": «Иванова Ивана Ивановича») or the dative
    ("datv": «Иванову Ивану Ивановичу»), parts in the order they were written."""
    if case not in CASES:
        raise ValueError(f"case {case!r}: one of {CASES}")
    name = split(text)
    last = _decline_part(name.last, "last", name.gender, case) if name.last else ""
    if name.first.endswith("."):  # «Иванов И. И.»: the initials do not change
        return " ".join(p for p in (last, name.initials) if p)
    given = [_decline_part(part, role, name.gender, case)
             for role, part in (("first", name.first), ("middle", name.middle)) if part]
    return " ".join([last, *given] if name.surname_first else [*given, last]).strip()


def short(text: str) -> str:
    """«Иванов И. И.»: the surname and the initials, however the name was written."""
    name = split(text)
    return " ".join(p for p in (name.last, name.initials) if p)


def short_in_case(text: str, case: str) -> str:
    """«Иванову И. И.»: the short form with the surname declined."""
    name = split(text)
    last = _decline_part(name.last, "last", name.gender, case) if name.last else ""
    return " ".join(p for p in (last, name.initials) if p)


def decline_phrase(text: str, case: str) -> str:
    """A job title or a document's name in a case: «Генеральный директор» → «Генерального
    директора», «Устав» → «Устава», «Доверенность № 5» → «Доверенности № 5». The adjectives
    before the first noun and that noun change; the rest («по развитию», «№ 5 от …») stays.
    A phrase whose head is not a singular nominative («Устава», «доверенности») is taken as
    already declined."""
    words = text.split(" ")
    out = list(words)
    for i, word in enumerate(words):
        if not word or word.isupper() or any(c.isdigit() for c in word):
            break
        parses = [p for p in _morph().parse(word.lower()) if {"nomn", "sing"} <= p.tag.grammemes
                  and p.tag.POS in ("NOUN", "ADJF", "PRTF")]
        if not parses:
            break
        best = max(parses, key=lambda p: p.score)
        form = best.inflect({case, "sing"})
        if form is None:
            break
        out[i] = _recase(form.word, word)
        if best.tag.POS == "NOUN":
            break
    return " ".join(out)

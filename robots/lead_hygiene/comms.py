"""Phones and e-mails as one value whatever way a client typed them, and the admin's
exclusion list: pure, no I/O.

A car dealer's Instagram form gives «8 (912) 345-67-89», WhatsApp «+79123456789», a site
form «912 345 67 89»: one number, E.164 (+79123456789) once phonenumbers has read it with the
portal's country for numbers without a code. The portal's duplicate search compares what it
stores as the client typed it (crm-duplicate-find-by-comm.md gives no normal form), so every
spelling a portal may hold is asked for (`spellings`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

EMAIL = re.compile(r"[^@\s]+@([^@\s]+\.[^@\s]+)")
DOMAIN = re.compile(r"\*?@([^@\s]+\.[^@\s]+)")


def phone_key(text: str, region: str = "RU") -> str:
    """The number in E.164 ("+79123456789"), "" when it is not a possible phone number."""
    raw = str(text or "").strip()
    if not raw or "@" in raw:
        return ""
    try:
        number = phonenumbers.parse(raw, region or "RU")
    except NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def spellings(e164: str) -> list[str]:
    """Every digit form a portal may keep the number in: international (+7…), with the
    country's trunk prefix (8…), and the national number alone (912…)."""
    number = phonenumbers.parse(e164)
    national = str(number.national_number)
    out = [e164, e164.lstrip("+")]
    region = phonenumbers.region_code_for_number(number)
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region) if region else None
    if meta is not None and meta.national_prefix:
        out.append(meta.national_prefix + national)
    out.append(national)
    return list(dict.fromkeys(out))


def email_key(text: str) -> str:
    """The address lower-cased, without "mailto:" and spaces; "" when it is not one."""
    raw = str(text or "").strip().lower()
    raw = raw.removeprefix("mailto:").strip("<> ")
    return raw if EMAIL.fullmatch(raw) else ""


def display_phone(e164: str) -> str:
    """The number as a person reads it: «+7 912 345-67-89»."""
    try:
        number = phonenumbers.parse(e164)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


@dataclass(frozen=True)
class Exclusions:
    """The admin's list: numbers, addresses and whole mail domains never taken as clients."""

    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    bad: tuple[tuple[int, str], ...] = field(default=())  # (line number, text) not understood

    def hit(self, phones: list[str], emails: list[str]) -> str:
        """The first of the lead's values on the list (as written there), "" when none."""
        for phone in phones:
            if phone in self.phones:
                return display_phone(phone)
        for email in emails:
            if email in self.emails:
                return email
            domain = email.rpartition("@")[2]
            if domain in self.domains:
                return "@" + domain
        return ""


def exclusions(text: str, region: str = "RU") -> Exclusions:
    """One entry a line: a phone, an e-mail or "@domain"; "#" starts a note."""
    phones, emails, domains, bad = set(), set(), set(), []
    for n, line in enumerate(str(text or "").splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if found := DOMAIN.fullmatch(entry.lower()):
            domains.add(found.group(1))
        elif email := email_key(entry):
            emails.add(email)
        elif phone := phone_key(entry, region):
            phones.add(phone)
        else:
            bad.append((n, entry))
    return Exclusions(frozenset(phones), frozenset(emails), frozenset(domains), tuple(bad))

"""Lead hygiene's settings: what it does with a repeat or unwanted lead, and the exclusion
list the admin keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from connector.i18n import N_, Msg
from connector.settings_schema import Bool, Schema, Stage, Text
from robots.lead_hygiene.comms import exclusions

NAME = "lead_hygiene"
COUNTRY = r"[A-Z]{2}"


@dataclass(frozen=True)
class ExclusionList(Text):
    """Phones, e-mails and "@domains", one a line; a line that is none of them is refused
    with its number, so a typo never silently lets spam through."""

    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        **Text.MESSAGES,
        "entry": N_("line {line}: «{text}» is not a phone, an e-mail or @domain"),
    }

    def clean(self, path: str, value: Any) -> Any:
        text = super().clean(path, value)
        bad = exclusions(text).bad
        if bad:
            self.fail(path, "entry", line=bad[0][0], text=bad[0][1][:60])
        return text


SCHEMA = Schema(NAME, N_("Lead hygiene"), (
    Bool("enabled", N_("Lead hygiene"),
         N_("Every new lead's phones and e-mails are compared with the leads, contacts and "
            "companies the portal has."), False),
    Bool("attach", N_("Attach to the known client"),
         N_("A lead from a known phone or e-mail is linked to that contact and their "
            "company."), True),
    Bool("fold", N_("Fold repeats"),
         N_("When the client has a deal in work or an open lead, the new lead is closed as a "
            "repeat and its request is written in that deal's or lead's timeline; its "
            "responsible is told."), True),
    Stage("repeat_status", N_("Status of a folded lead"),
          N_("The lead status a folded repeat is closed with (a failure status)."), "JUNK",
          entity="lead"),
    Stage("spam_status", N_("Status of spam"),
          N_("The lead status a lead from the exclusion list is closed with."), "JUNK",
          entity="lead"),
    ExclusionList("exclusions", N_("Exclusion list"),
                  N_("One a line: a phone, an e-mail, or @domain for every address of it. "
                     "Text after # is a note."), "", long=True, max_length=20000),
    Text("country", N_("Country of local numbers"),
         N_("Numbers written without a country code («8 912 …», «912 …») are of this "
            "country (two letters: RU, KZ, BY…)."), "RU", pattern=COUNTRY,
         messages={"pattern": N_("must be a two-letter country code, like RU")}),
), help=N_("Repeat requests land with the client's deal or lead instead of becoming "
           "duplicates; spam is closed; every decision is logged with its reason."))

SCHEMAS = (SCHEMA,)

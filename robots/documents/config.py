"""The settings section `documents`: our company, the registry, the check step, which deal
fields fill the extra facts of a document (the car, the route, the cargo), and the documents
the robot makes, each with its template, number pattern and deal field.

With no documents listed, every shipped kind is available under its own code with its
defaults (kinds.KINDS): a portal makes an invoice before anyone opens the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.i18n import N_
from connector.settings_schema import (
    Bool,
    Choice,
    CrmField,
    ListOf,
    Number,
    Option,
    Problem,
    Schema,
    SmartProcess,
    Text,
    User,
)
from robots.documents import kinds, numbers

NAME = "documents"
CUSTOM = "custom"  # a document of the admin's own whose template is uploaded
STOP, MAKE = "stop", "make"
TEMPLATE_ID = r"(|[0-9a-f]{64}|disk:[1-9][0-9]{0,17})"

FACTS = tuple(f"{section}.{key}" for section, keys in kinds.SECTIONS.items() for key, _ in keys)


def _pattern_problem(pattern: str, field: str = "number_pattern") -> Problem | None:
    if not pattern:
        return None
    try:
        numbers.check_pattern(pattern)
    except numbers.PatternInvalid as exc:
        return field, exc.msgid
    return None


def _check_template(doc: dict[str, Any]) -> Problem | None:
    if doc["kind"] == CUSTOM and not doc["file"]:
        return "file", N_("a document of your own needs its template: upload one")
    if doc["kind"] == CUSTOM and not doc["title"].strip():
        return "title", N_("name the document")
    return _pattern_problem(doc["number_pattern"])


TEMPLATE = Schema("template", N_("Document"), (
    Text("code", N_("Code"),
         N_("The name robots and the deal tab use for this document: a-z, 0-9 and _."),
         pattern=r"[a-z][a-z0-9_]{0,39}", blank=False),
    Choice("kind", N_("Kind"),
           N_("A shipped kind (its template, sides and extra facts), or your own."),
           kinds.KINDS[0].code, options=tuple(Option(k.code, k.title) for k in kinds.KINDS)
           + (Option(CUSTOM, N_("My own document")),)),
    Text("title", N_("Title"), N_("The document's name in the registry and the deal; empty: "
                                  "the kind's."), "", max_length=120),
    Text("file", N_("Template"),
         N_("Empty: the shipped template of the kind; else a template uploaded on this page "
            "or a Disk file (disk:<file id>)."), "", pattern=TEMPLATE_ID,
         messages={"pattern": N_("must be empty, an uploaded template or disk:<file id>")}),
    Text("number_pattern", N_("Number pattern"),
         N_("For example Д-{YYYY}-{NNNNN}; empty: the kind's own. {N…} is the sequence, "
            "{YYYY} {YY} {MM} {DD} the document's date."), "", max_length=64),
    Choice("reset", N_("Numbers start again"), N_("When the sequence restarts from 1."), "year",
           options=(Option("never", N_("Never")), Option("year", N_("Every year")),
                    Option("month", N_("Every month")))),
    CrmField("link_field", N_("Deal field for the link"),
             N_("A deal field (URL) the document's link is written to; empty: the common "
                "one below."), "", entity="deal", field_type="url", blank=True,
             messages={"invalid": N_("must be empty or UF_CRM_ + A-Z, 0-9, _")}),
    Bool("registry", N_("In the registry"),
         N_("Give the document the next number and enter it in the registry."), True),
    User("checker", N_("Checker"),
         N_("Who checks this document (a task); 0: the common checker below."), 0,
         optional=True),
), check=_check_template)

FACT = Schema("fact", N_("Fact"), (
    Choice("fact", N_("Fact"), N_("What a template prints: the car's VIN, the loading address…"),
           FACTS[0], options=tuple(Option(f, label) for f, label in (
               (f"{section}.{key}", label) for section, keys in kinds.SECTIONS.items()
               for key, label in keys))),
    CrmField("field", N_("Deal field"), N_("The deal field it comes from."), entity="deal",
             also=("TITLE", "COMMENTS", "OPPORTUNITY", "BEGINDATE", "CLOSEDATE",
                   "SOURCE_DESCRIPTION"), existing=True),
))

DOCUMENTS = Schema(NAME, N_("Documents"), (
    Number("my_company", N_("Our company"),
           N_("The id of our company (a “my company” of the CRM) when a deal names none; 0: "
              "the portal's first."), 0, low=0, high=10**12),
    Bool("registry", N_("Keep the registry"),
         N_("A smart process “Document registry” in the portal: every numbered document with "
            "its number, date, counterparty, amount, link and status."), True),
    SmartProcess("registry_process", N_("Registry smart process"),
                 N_("0: the app makes its own; or the entityTypeId of yours (fields are "
                    "matched by their titles, missing ones added)."), 0, optional=True),
    Choice("signed_contract", N_("When a signed contract exists"),
           N_("Before a contract is drafted, the registry is asked whether a signed contract "
              "with this counterparty already exists."), STOP,
           options=(Option(STOP, N_("Do not draft another; answer with the signed one")),
                    Option(MAKE, N_("Draft anyway, and say so")))),
    Bool("pdf", N_("PDF beside the .docx"),
         N_("Convert every document to PDF as well (on its own queue)."), True),
    CrmField("link_field", N_("Deal field for the link"),
             N_("A deal field (URL, created if missing) that gets the latest document's link; "
                "empty: none."), "UF_CRM_CC_DOCUMENT", entity="deal", field_type="url",
             blank=True, messages={"invalid": N_("must be empty or UF_CRM_ + A-Z, 0-9, _")}),
    User("checker", N_("Checker"),
         N_("Who checks documents sent for checking (the office manager): a task with the "
            "file; when it is completed the document is “checked”."), 0, optional=True),
    Number("check_days", N_("Days to check"), N_("The check task's deadline, in days."), 1,
           low=1, high=30),
    ListOf("facts", N_("Facts from deal fields"),
           N_("Which deal field fills each fact a template may print (the car, the route, "
              "the cargo, the truck, the repair)."), [], item=FACT, unique="fact"),
    ListOf("templates", N_("Documents"),
           N_("The documents robots make; none listed: every shipped kind under its own "
              "code."), [], item=TEMPLATE, unique="code"),
), help=N_("Documents from templates, numbered in a registry, filed in the deal's folder."))

SCHEMAS = (DOCUMENTS,)


@dataclass(frozen=True)
class Document:
    """One document the robot can make, its settings resolved against its kind's defaults."""

    code: str
    kind: kinds.Kind | None  # None: the admin's own (CUSTOM)
    title: str  # a msgid for a shipped kind left unnamed, else the admin's words
    file: str  # "" (shipped), an uploaded template's sha256, "disk:<id>"
    pattern: str
    reset: str
    link_field: str
    registry: bool
    checker: int

    @property
    def buyer(self) -> str:
        return self.kind.buyer if self.kind else kinds.CLIENT

    @property
    def sections(self) -> tuple[str, ...]:
        return self.kind.sections if self.kind else tuple(kinds.SECTIONS)

    @property
    def requires(self) -> tuple[str, ...]:
        return self.kind.requires if self.kind else ("seller.name", "buyer.name")

    @property
    def is_contract(self) -> bool:
        """A contract: the registry is asked for a signed one with the counterparty first."""
        return bool(self.kind and self.kind.code.endswith("contract"))

    @property
    def sequence_kind(self) -> str:
        """Whose numbers it takes: a kind's documents share one sequence per entity."""
        return self.kind.code if self.kind else self.code


def _resolved(section: dict[str, Any], doc: dict[str, Any]) -> Document:
    kind = None if doc["kind"] == CUSTOM else kinds.kind(doc["kind"])
    prefix = kind.pattern if kind else f"{doc['code'].upper()[:6]}-{{YYYY}}-{{NNNNN}}"
    return Document(
        code=doc["code"], kind=kind, title=doc["title"].strip() or (kind.title if kind else ""),
        file=doc["file"], pattern=doc["number_pattern"] or prefix, reset=doc["reset"],
        link_field=doc["link_field"] or section["link_field"],
        registry=bool(doc["registry"] and section["registry"]),
        checker=int(doc["checker"] or section["checker"] or 0))


def documents(section: dict[str, Any]) -> list[Document]:
    """The documents of this portal, in the admin's order (every shipped kind when none)."""
    listed = section["templates"] or [TEMPLATE.validate({"code": k.code, "kind": k.code})
                                      for k in kinds.KINDS]
    return [_resolved(section, doc) for doc in listed]


def document(section: dict[str, Any], code: str) -> Document | None:
    """The document of this code, or None (the robot says which codes there are)."""
    return next((d for d in documents(section) if d.code == code), None)


def fact_fields(section: dict[str, Any]) -> dict[str, str]:
    """Fact ("vehicle.vin") → the deal field that fills it."""
    return {f["fact"]: f["field"] for f in section["facts"]}

"""Settings forms rendered from a Schema's description, and their submissions. [being built]"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.capability import Outcome
from connector.i18n import N_, t
from connector.settings_schema import Schema

NOT_SAVED = N_("Not saved: correct the field marked below.")


@dataclass(frozen=True)
class Saved:
    outcome: Outcome | None = None
    error: Any = None
    submitted: Any = None


def section(schema: Schema, values: Any, lang: str, catalog: Any, submitted: Any,
            error: Any) -> dict[str, Any]:
    return {"name": schema.name, "title": t(lang, schema.title),
            "help": t(lang, schema.help) if schema.help else "", "values": values}


def save(services: Any, member_id: str, user_id: str, schema: Schema, form: Any,
         catalog: Any) -> Saved:
    return Saved(outcome=Outcome(False, NOT_SAVED))

"""RobotSpec: one declaration per robot, from which registration and dispatch are derived."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.errors import Permanent
from connector.i18n import LANGUAGES, N_, t

LEAD = ("crm", "CCrmDocumentLead", "LEAD")
DEAL = ("crm", "CCrmDocumentDeal", "DEAL")
DYNAMIC = ("crm", "Bitrix\\Crm\\Integration\\BizProc\\Document\\Dynamic")


class RobotError(Permanent):
    """A problem the portal admin can fix; its text goes back to the workflow log."""


def localized(msgid: str) -> dict[str, str]:
    """{"ru": …, "en": …}: Bitrix24 shows a robot's texts in each user's language."""
    return {lang: t(lang, msgid) for lang in LANGUAGES}


@dataclass(frozen=True)
class Prop:
    """A robot property (input) or return property (output); name and description are msgids."""

    name: str
    type: str = "string"
    required: bool = False
    multiple: bool = False
    default: Any = None
    options: dict[str, str] | None = None
    description: str = ""

    def as_bitrix(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": localized(self.name),
            "Type": self.type,
            "Required": "Y" if self.required else "N",
            "Multiple": "Y" if self.multiple else "N",
        }
        if self.description:
            out["Description"] = localized(self.description)
        if self.default is not None:
            out["Default"] = self.default
        if self.options:
            out["Options"] = self.options  # Bitrix24 takes plain labels here, not per language
        return out


@dataclass(frozen=True)
class RobotCall:
    """What Bitrix24 posted to the robot handler, tokens removed."""

    code: str
    event_token: str
    workflow_id: str
    document_id: list[str]
    document_type: list[str]
    properties: dict[str, Any]

    @property
    def entity(self) -> tuple[str, int]:
        """('DEAL', 123) from document_id like ['crm','CCrmDocumentDeal','DEAL_123']."""
        raw = self.document_id[2] if len(self.document_id) > 2 else ""
        kind, _, number = raw.rpartition("_")
        if not kind or not number.isdigit():
            raise RobotError(f"unsupported document id {raw!r}")
        return kind, int(number)


RobotFn = Callable[[Any, RobotCall], dict[str, Any]]

ERROR_RETURN = Prop(N_("Error"), "string", description=N_("Empty when the robot succeeded"))


@dataclass(frozen=True)
class RobotSpec:
    """One robot; name and description are English msgids (N_), registered in ru and en."""

    code: str
    name: str
    description: str
    run: RobotFn
    properties: dict[str, Prop] = field(default_factory=dict)
    return_properties: dict[str, Prop] = field(default_factory=dict)
    document_types: tuple[tuple[str, ...], ...] = (LEAD, DEAL)

    @property
    def name_en(self) -> str:
        return t("en", self.name)

    @property
    def all_returns(self) -> dict[str, Prop]:
        return {**self.return_properties, "error": ERROR_RETURN}

    def registration(self, handler_url: str, auth_user_id: str = "") -> dict[str, Any]:
        """The bizproc.robot.add/update fields; USE_SUBSCRIPTION is always explicit."""
        fields: dict[str, Any] = {
            "HANDLER": handler_url,
            "USE_SUBSCRIPTION": "Y",
            "NAME": localized(self.name),
            "DESCRIPTION": localized(self.description),
            "PROPERTIES": {k: p.as_bitrix() for k, p in self.properties.items()},
            "RETURN_PROPERTIES": {k: p.as_bitrix() for k, p in self.all_returns.items()},
            "FILTER": {"INCLUDE": [list(t) for t in self.document_types]},
        }
        if auth_user_id:
            fields["AUTH_USER_ID"] = auth_user_id
        return fields

    def supports(self, document_type: list[str]) -> bool:
        return any(list(t) == document_type[: len(t)] for t in self.document_types)

"""The five presets: what each business needs of the app, as settings of its capabilities,
the CRM fields and smart processes they use, and the steps in the CRM no API can take.

Data only. Values are what a settings form would store, with three markers the plan fills
in for this portal and this admin: ME (the admin applying it), DEPARTMENT (the department
the admin picks in the preview) and Words (a name written in the portal's language).
Lists of rules are merged by their "id": a rule the portal already has is updated, never
doubled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.i18n import N_, Msg

ME = "@me"
DEPARTMENT = "@department"


@dataclass(frozen=True)
class Words:
    """A name or text written in the portal's language when the preset is applied."""

    msgid: Msg


@dataclass(frozen=True)
class NewField:
    """A CRM field the preset's settings name, made when the portal lacks it."""

    kind: str  # "deal", "lead", "contact", "company"
    code: str
    type_: str  # a Bitrix24 user-field type: string, integer, double, date, money
    label: Msg


@dataclass(frozen=True)
class Preset:
    id: str
    title: Msg
    summary: Msg
    settings: Mapping[str, Mapping[str, Any]]
    fields: tuple[NewField, ...] = ()
    setups: tuple[str, ...] = ()  # capabilities whose "setup:<name>" makes their smart processes
    manual: tuple[Msg, ...] = ()  # what the admin does in the CRM itself, step by step
    needs_department: bool = False  # the preview asks which department serves the requests
    playbook: str = ""  # docs/playbooks/<playbook>.md


def won_to_me() -> dict[str, Any]:
    """The won deal → finance notice, to the admin until they choose the finance chat."""
    return {"rules": [{"id": "won_finance", "name": N_("Won deal → finance"),  # as shipped
                       "enabled": True, "event": "deal_won", "destination": "people",
                       "user_ids": [ME]}]}


def digest_to_me(frequency: str = "weekly") -> dict[str, Any]:
    return {"enabled": True, "frequency": frequency, "weekday": 1, "hour": 9,
            "period": "week" if frequency == "weekly" else "day", "user_ids": [ME]}


def group(gid: str, name: Msg, entity: str) -> dict[str, Any]:
    return {"groups": [{"id": gid, "name": Words(name), "entity_types": [entity],
                        "departments": [DEPARTMENT], "auto": [{"entity": entity}]}]}


CAR = (NewField("deal", "UF_CRM_CAR_MAKE", "string", N_("Make")),
       NewField("deal", "UF_CRM_CAR_MODEL", "string", N_("Model")),
       NewField("deal", "UF_CRM_CAR_VIN", "string", N_("VIN")),
       NewField("deal", "UF_CRM_CAR_YEAR", "integer", N_("Year of manufacture")),
       NewField("deal", "UF_CRM_CAR_MILEAGE", "integer", N_("Mileage, km")))

OPEN_CHANNELS = N_("Connect the channels clients write from: CRM → Contact center (Контакт-"
                   "центр) → Instagram, WhatsApp, Avito, the site's forms; in each open "
                   "channel's settings, «Create leads» on. Every request then arrives as a "
                   "lead.")
DOCUMENT_ROBOT = N_("Put the robot «Document from a template» on the stage where the document is "
                    "needed: CRM → Deals → Robots (Роботы) → the stage → Add robot → "
                    "Applications → crm-connector, and choose the template.")

PRESETS: tuple[Preset, ...] = (
    Preset("car_dealer", N_("Car dealer"),
           N_("Requests from Instagram and WhatsApp without duplicates, a car registry filled "
              "from the deals, every client's purchases, the won deal told, a weekly digest."),
           {"lead_hygiene": {"enabled": True, "attach": True, "fold": True},
            "distribution": group("sales", N_("Sales managers"), "lead"),
            "registries": {"enabled": True, "stage_ids": ["PREPARATION"],
                           "stock_stage_ids": ["PREPARATION"],
                           "commission_stage_ids": ["EXECUTING"], "won_sold": True},
            "deal_folders": {"enabled": True},
            "client_value": {"enabled": True},
            "notices": won_to_me(),
            "digests": digest_to_me()},
           fields=CAR, setups=("registries",), needs_department=True, playbook="car-dealer",
           manual=(OPEN_CHANNELS,
                   N_("In the deal card, fill the car's make, model, VIN, year and mileage "
                      "(the fields the preset made) — the registry card is made from them at "
                      "the stage «Preparation» (Подготовка документов)."),
                   DOCUMENT_ROBOT)),
    Preset("freight", N_("Freight company"),
           N_("Transport requests as deals: shared fairly among the logists, a folder and a "
              "chat for each, carriers suggested from your own trips, the margin of every "
              "deal, a reminder before loading, documents at the stages, a weekly digest."),
           {"distribution": group("logists", N_("Logists"), "deal"),
            "deal_folders": {"enabled": True},
            "deal_chats": {"enabled": True},
            "carriers": {"enabled": True, "requests": "deals", "deal_pipeline": 0,
                         "learn_deals": True},
            "profitability": {"enabled": True},
            "watchdogs": {"date_reminders": [{
                "id": "loading", "name": Words(N_("Loading reminder")),
                "field": "UF_CRM_CC_LOADING_DATE", "before_minutes": 120,
                "recipients": ["responsible"], "channel": "task"}]},
            "client_value": {"enabled": True},
            "notices": won_to_me(),
            "digests": digest_to_me()},
           setups=("carriers",), needs_department=True, playbook="freight",
           manual=(N_("Put the robot «Find carriers» on the deal stage where a logist looks "
                      "for a truck (e.g. «Quote»): CRM → Deals → Robots → the stage → Add "
                      "robot → Applications → crm-connector."),
                   DOCUMENT_ROBOT)),
    Preset("interior", N_("Interior supplier"),
           N_("Repeat requests folded into the client's deal, a next step always planned on "
              "every deal, a folder per deal, each client's purchases, a weekly digest."),
           {"lead_hygiene": {"enabled": True, "attach": True, "fold": True},
            "distribution": group("sales", N_("Sales managers"), "lead"),
            "watchdogs": {"next_activity": [{
                "id": "next_step", "name": Words(N_("A next step on every deal")),
                "grace_minutes": 60, "working_time": True}]},
            "deal_folders": {"enabled": True},
            "client_value": {"enabled": True},
            "digests": digest_to_me()},
           needs_department=True, playbook="interior",
           manual=(OPEN_CHANNELS, DOCUMENT_ROBOT)),
    Preset("repair_shop", N_("Repair shop"),
           N_("Finance told of every won deal, a daily check-in task on every repair in work, "
              "every client's visits and spend, a folder per deal, a daily digest."),
           {"client_value": {"enabled": True},
            "notices": won_to_me(),
            "watchdogs": {"check_ins": [{
                "id": "repair_check", "name": Words(N_("A repair in work, checked daily")),
                "stage_ids": ["EXECUTING"], "interval_from": "fixed",
                # one working day of 9:00–18:00 (working time counts only working hours)
                "every_minutes": 9 * 60,
                "working_time": True, "task": Words(N_("Check the repair: {TITLE}")),
                "channel": "task"}]},
            "deal_folders": {"enabled": True},
            "digests": digest_to_me("daily")},
           playbook="repair-shop",
           manual=(N_("To keep every client photo on Google Drive too: the page «Google Drive "
                      "mirror» → connect the company's Google account, then switch the mirror "
                      "on."),
                   DOCUMENT_ROBOT)),
    Preset("distributor", N_("Distributor"),
           N_("New leads answered within 30 minutes, duplicates and spam kept out, each "
              "client's purchases on the contact and company, the won deal told, a weekly "
              "digest."),
           {"lead_hygiene": {"enabled": True, "attach": True, "fold": True},
            "distribution": group("sales", N_("Sales managers"), "lead"),
            "watchdogs": {"reaction": [{
                "id": "new_lead", "name": Words(N_("Answer a new lead")), "entity": "lead",
                "due_minutes": 30, "working_time": True}]},
            "client_value": {"enabled": True},
            "notices": won_to_me(),
            "digests": digest_to_me()},
           needs_department=True, playbook="distributor",
           manual=(OPEN_CHANNELS, DOCUMENT_ROBOT)),
)

BY_ID: Mapping[str, Preset] = {p.id: p for p in PRESETS}

"""Data held by the emulated portals: config, tokens, users, CRM tables and app state."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from .disk import DiskState
from .limits import LeakyBucket, OperatingTime
from .listing import Table

DEFAULT_SCOPES = ("crm,user,department,bizproc,placement,im,disk,timeman,task,calendar,"
                  "userfieldconfig")


@dataclass
class EmulatorConfig:
    """Everything a test or the demo may want to tune about the emulated platform."""

    client_id: str = "local.demo"
    client_secret: str = "demo-secret"
    app_url: str = "http://127.0.0.1:8000"
    scopes: str = DEFAULT_SCOPES
    token_ttl: float = 3600.0
    rate_limit_enabled: bool = True
    enterprise: bool = False
    drain: float | None = None
    threshold: float | None = None
    operating_enabled: bool = False
    operating_limit_s: float = 480.0
    operating_cost_s: float = 0.0
    allow_local_handlers: bool = True
    delivery_timeout: float = 10.0
    public_url: str | None = None
    app_version: int = 1
    language_id: str = "en"
    # what feature.get answers Y for (comma-separated); api-reference/events/offline-events.md:
    # without rest_offline_extended there is no clear=0 (reserve and confirm) for offline events
    features: str = "rest_offline_extended"

    def feature_list(self) -> set[str]:
        return {f.strip() for f in self.features.split(",") if f.strip()}

    @property
    def install_url(self) -> str:
        return self.app_url.rstrip("/") + "/install"

    @property
    def events_url(self) -> str:
        return self.app_url.rstrip("/") + "/events"

    def scope_list(self) -> list[str]:
        return [s.strip() for s in self.scopes.replace(" ", ",").split(",") if s.strip()]

    def bucket_params(self) -> tuple[float, float]:
        """(drain per second, threshold) honouring the Enterprise setting and overrides."""
        drain, threshold = (5.0, 250.0) if self.enterprise else (2.0, 50.0)
        return (self.drain or drain, self.threshold or threshold)


def new_hex(n: int = 16) -> str:
    return secrets.token_hex(n)


@dataclass
class TokenRecord:
    """One access/refresh pair of one chain; refreshing retires both halves."""

    access_token: str
    refresh_token: str
    member_id: str
    user_id: int
    expires_at: float
    scope: str
    active: bool = True
    refresh_used: bool = False
    revoked: bool = False


@dataclass
class EventBinding:
    id: int
    event: str
    handler: str
    auth_type: int
    offline: bool
    auth_connector: str = ""
    options: Any = None


@dataclass
class OfflineEvent:
    id: int
    timestamp: str
    ts: float
    event_name: str
    data: dict[str, Any]
    additional: dict[str, Any]
    message_id: str
    key: str
    process_id: str | None = None
    error: bool = False

    def as_api(self) -> dict[str, Any]:
        return {
            "ID": str(self.id),
            "TIMESTAMP_X": self.timestamp,
            "EVENT_NAME": self.event_name,
            "EVENT_DATA": self.data,
            "EVENT_ADDITIONAL": self.additional,
            "MESSAGE_ID": self.message_id,
        }


@dataclass
class RobotRun:
    """A robot step waiting for ``bizproc.event.send`` (keyed by its event token)."""

    event_token: str
    member_id: str
    code: str
    workflow_id: str
    document_id: list[str]
    use_subscription: bool
    calls: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    completed: bool = False
    status_code: int | None = None


@dataclass
class AppState:
    """The app as installed on one portal."""

    registered: bool = False
    installed: bool = False  # True only after BX24.installFinish()
    version: int = 1
    application_token: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    bindings: list[EventBinding] = field(default_factory=list)
    offline: list[OfflineEvent] = field(default_factory=list)
    placements: list[dict[str, Any]] = field(default_factory=list)
    robots: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_binding_id: int = 0
    next_offline_id: int = 0


def _currencies() -> list[dict[str, Any]]:
    from .methods.currency import sample

    return sample()


@dataclass
class Portal:
    """One Bitrix24 account: identity, people, CRM data, app state and limit counters."""

    member_id: str
    domain: str
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    departments: dict[int, dict[str, Any]] = field(default_factory=dict)
    leads: Table = field(default_factory=Table)
    deals: Table = field(default_factory=Table)
    contacts: Table = field(default_factory=Table)
    companies: Table = field(default_factory=Table)
    # smart processes: entityTypeId -> type (with categories and stages) / its items
    crm_types: dict[int, dict[str, Any]] = field(default_factory=dict)
    items: dict[int, Table] = field(default_factory=dict)
    next_fm_id: int = 0
    lead_statuses: list[dict[str, Any]] = field(default_factory=list)
    deal_categories: dict[int, dict[str, Any]] = field(default_factory=dict)
    deal_stages: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    userfields: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"CRM_LEAD": [], "CRM_DEAL": [], "CRM_CONTACT": [],
                                 "CRM_COMPANY": []}
    )
    # one id sequence for every user field (crm.*.userfield.add, userfieldconfig.add), one
    # for enumeration items, one for smart-process pipelines (seeded ones take 3 and 4)
    last_userfield_id: int = 100
    last_enum_id: int = 0
    last_category_id: int = 10
    timeline: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    timeman: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    activities: Table = field(default_factory=Table)
    # tasks.task.* (methods/tasks.py); tags are numbered portal-wide as the list sample shows
    tasks: Table = field(default_factory=Table)
    task_tags: dict[str, int] = field(default_factory=dict)
    # calendar.settings.get (methods/calendar.py); None = the documented sample's values
    calendar: dict[str, Any] = field(default_factory=dict)
    disk: DiskState = field(default_factory=DiskState)
    # crm.currency.* (methods/currency.py): the documented sample's currencies and rates
    currencies: list[dict[str, Any]] = field(default_factory=_currencies)
    # requisites of contacts and companies (methods/requisites.py): requisites and bank
    # details by id, addresses by (TYPE_ID, ENTITY_TYPE_ID, ENTITY_ID), the requisite links
    # of deals/invoices/smart-process items by (ENTITY_TYPE_ID, ENTITY_ID), the presets
    requisites: Table = field(default_factory=Table)
    bank_details: Table = field(default_factory=Table)
    addresses: dict[tuple[int, int, int], dict[str, Any]] = field(default_factory=dict)
    requisite_links: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    presets: Table = field(default_factory=Table)
    # crm.item.productrow.* (methods/product_rows.py) and the catalog products they name
    product_rows: Table = field(default_factory=Table)
    catalog: dict[int, dict[str, Any]] = field(default_factory=dict)
    app: AppState = field(default_factory=AppState)
    bucket: LeakyBucket = field(default_factory=LeakyBucket)
    operating: dict[str, OperatingTime] = field(default_factory=dict)
    admin_user_id: int = 1
    # CRM read rights taken away (control API): (user_id, entity, row id or 0 for every row)
    read_denied: set[tuple[int, str, int]] = field(default_factory=set)
    # after a rename (control API): where its REST lives now ("" = the emulator's own URL),
    # and the hosts it was reachable at before, which now answer 302
    rest_base: str = ""
    old_rest_hosts: set[str] = field(default_factory=set)

    def may_read(self, user_id: int, entity: str, row_id: int) -> bool:
        """Whether `user_id` may read that CRM row (admins always may, as on a portal)."""
        if self.users.get(user_id, {}).get("ADMIN"):
            return True
        return not ({(user_id, entity, 0), (user_id, entity, row_id)} & self.read_denied)

    def new_userfield_id(self) -> int:
        self.last_userfield_id += 1
        return self.last_userfield_id

    def new_enum_id(self) -> int:
        self.last_enum_id += 1
        return self.last_enum_id

    def new_category_id(self) -> int:
        self.last_category_id += 1
        return self.last_category_id

    def table(self, entity: str) -> Table:
        """The rows of a classic CRM entity: lead, deal, contact or company."""
        return {"lead": self.leads, "deal": self.deals, "contact": self.contacts,
                "company": self.companies}[entity]

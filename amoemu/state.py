"""The emulator's state and rules: accounts, users, pipelines, leads, contacts, companies,
custom fields, notes, tasks, events, files, tokens, limits and faults.

Sources (every rule below names one):
- amocrm.md = /work/shared/reference/amocrm.md (research notes with their own sources)
- the amoCRM developer docs, https://www.amocrm.ru/developers/content/<path>
Pure Python under one lock; the HTTP layer (amoemu.app) only parses and answers, and
amoemu.hooks formats and delivers the account webhooks.
"""

from __future__ import annotations

import itertools
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DOCS = "https://www.amocrm.ru/developers/content"

# amocrm.md §4.2; {DOCS}/crm_platform/leads-api and §5 ({DOCS}/api/recommendations):
# at most 250 entities per page and per create/update request
MAX_LIMIT = 250
MAX_EVENTS_LIMIT = 100  # amocrm.md §4.9; {DOCS}/crm_platform/events-and-notes
CUSTOM_FIELDS_PAGE = 50  # amocrm.md §4.6 and §10.14: "up to 50 fields per request"
DEFAULT_LIMIT = 50  # amocrm.md §4.1: the SDK's default limit is 50 (the docs name none)
WON, LOST = 142, 143  # amocrm.md §4.2; {DOCS}/crm_platform/leads_pipelines
MAX_PIPELINES, MAX_STATUSES = 50, 100  # amocrm.md §4.5
MAX_WEBHOOKS = 100  # amocrm.md §2.1; {DOCS}/crm_platform/webhooks-api
ENTITIES = ("leads", "contacts", "companies")
SINGULAR = {"leads": "lead", "contacts": "contact", "companies": "company"}
# amocrm.md §1.3: "both official examples show expires_in: 86400"
ACCESS_TTL = 86400
REFRESH_TTL = 90 * 86400  # amocrm.md §1.3: "Refresh токен действует всего 3 месяца"
CODE_TTL = 20 * 60  # amocrm.md §1.2: "код авторизации … действует только 20 минут"
WIDGET_TTL = 1800  # amocrm.md §1.6: lifetime 30 minutes (exp − nbf = 1800 in the example)
# amocrm.md §1.7 / §4.7: documented note types ({DOCS}/crm_platform/events-and-notes)
NOTE_TYPES = {"common", "call_in", "call_out", "service_message", "message_cashier",
              "geolocation", "sms_in", "sms_out", "extended_service_message", "attachment"}
# amocrm.md §2.1 "Возможные события" ({DOCS}/crm_platform/webhooks-api)
WEBHOOK_EVENTS = {
    "responsible_lead", "responsible_contact", "responsible_company", "responsible_customer",
    "responsible_task", "restore_lead", "restore_contact", "restore_company", "add_lead",
    "add_contact", "add_company", "add_customer", "add_talk", "add_task", "update_lead",
    "update_contact", "update_company", "update_customer", "update_talk", "update_task",
    "delete_lead", "delete_contact", "delete_company", "delete_customer", "delete_task",
    "status_lead", "note_lead", "note_contact", "note_company", "note_customer",
    "add_chat_template_review"}
# amocrm.md §4.6 (custom-fields): select-like types carry enums
ENUM_TYPES = {"select", "multiselect", "radiobutton", "multitext", "category"}
_ALNUM = string.ascii_lowercase + string.digits


class ApiError(Exception):
    """An answer other than success: problem+json by default (amocrm.md §5), or an HTML
    page (`html`) for the gateway's 429 and 403."""

    def __init__(self, status: int, title: str = "", detail: str = "",
                 extra: dict[str, Any] | None = None, html: str | None = None,
                 content_type: str = "application/problem+json") -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.extra, self.html, self.content_type = extra or {}, html, content_type

    def body(self) -> dict[str, Any]:
        # amocrm.md §5: {"title","type":"https://httpstatus.es/400","status","detail"}
        out: dict[str, Any] = {"title": self.title or _TITLES.get(self.status, "Error"),
                               "type": f"https://httpstatus.es/{self.status}",
                               "status": self.status, "detail": self.detail}
        out.update(self.extra)
        return out


_TITLES = {400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


class ValidationFailed(ApiError):
    """amocrm.md §5: 400 "Request validation failed" with `validation-errors`:
    [{"request_id": "0", "errors": [{"code", "path", "detail"}]}]
    ({DOCS}/crm_platform/error-codes; amocrm-api-php issues #115, #480)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__(400, "Bad Request", "Request validation failed",
                         {"validation-errors": items})


def oauth_error(status: int, hint: str | None, title: str, detail: str) -> ApiError:
    """amocrm.md §1.3: OAuth errors use type .../v3/errors/OAuthProblemJson and add `hint`;
    the token endpoint answers application/json."""
    extra: dict[str, Any] = {"type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"}
    if hint is not None:
        extra = {"hint": hint, **extra}
    err = ApiError(status, title, detail, extra, content_type="application/json")
    return err


def bad_request(hint: str) -> ApiError:
    # amocrm.md §1.3: the bodies seen for a bad code / a reused refresh token
    return oauth_error(400, hint, "Некорректный запрос",
                       "В запросе отсутствует ряд параметров или параметры невалидны")


def revoked() -> ApiError:
    # amocrm.md §1.3 (amocrm-api-php issue #123): a reused refresh token → 401
    return oauth_error(401, "Token has been revoked", "Некорректный запрос",
                       "В запросе отсутствует ряд параметров или параметры невалидны")


def bad_client() -> ApiError:
    # amocrm.md §1.3 (amocrm-api-php issue #235): wrong client credentials → 401
    return oauth_error(401, None, "Некорректный клиент", "Авторизация клиента не прошла")


def unauthorized(detail: str = "") -> ApiError:
    # amocrm.md §1.3/§1.4: revoked, expired or switched-off tokens → every call 401
    return ApiError(401, "Unauthorized", detail)


def no_account() -> ApiError:
    # amocrm.md §5 ({DOCS}/crm_platform/error-codes): 101 + 401 = the account does not exist
    return ApiError(401, "Unauthorized", "Account not found", {"code": 101})


# amocrm.md §5 (amocrm-api-php issues #526, #434, #563): HTML from the gateway, no Retry-After
HTML_429 = ("<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
            "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n")
HTML_403 = ("<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
            "<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n")


def event_id() -> str:
    # amocrm.md §4.9: event ids are strings such as 01pz58t6p04ymgsgfbmfyfy1mf
    return "01" + "".join(secrets.choice(_ALNUM) for _ in range(24))


def uuid4() -> str:
    import uuid

    return str(uuid.uuid4())


def as_list(value: Any) -> list[Any]:
    """A query value as a list: `x[]=1&x[]=2`, `x[0]=1&x[1]=2`, `x=1,2` (the SDK's comma-
    joined form for events, amocrm.md §4.1) or a single `x=1`."""
    if value is None:
        return []
    if isinstance(value, list):
        out: list[Any] = []
        for v in value:
            out.extend(as_list(v) if isinstance(v, str) and "," in v else [v])
        return out
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)
        return [value[k] for k in keys]
    if isinstance(value, str):
        return [v for v in value.split(",") if v != ""]
    return [value]


def ints(value: Any) -> list[int]:
    out = []
    for v in as_list(value):
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            continue
    return out


def to_ts(value: Any) -> int | None:
    """amocrm.md §4.6: dates are a Unix timestamp or an RFC-3339 string."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return int(value)
    s = str(value)
    if s.lstrip("-").isdigit():
        return int(s)
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())


@dataclass
class User:
    """amocrm.md §4.4 ({DOCS}/crm_platform/users-api): a user with its rights block."""

    id: int
    name: str
    email: str
    is_admin: bool = False
    is_free: bool = False
    is_active: bool = True
    group_id: int = 0
    role_id: int | None = None
    lang: str = "ru"


@dataclass
class Account:
    id: int
    subdomain: str
    zone: str
    name: str
    users: list[User] = field(default_factory=list)
    admin_id: int = 0
    paid: bool = True  # amocrm.md §5: an ended subscription → 402 on add/change
    blocked: bool = False  # amocrm.md §5: "every API request gets 403"
    api_filter_enabled: bool = True  # amocrm.md §4.1: GET /account?with=is_api_filter_enabled
    integration_enabled: bool = False  # the admin allowed our integration (amocrm.md §1.2)
    created_at: int = 0
    pipelines: dict[int, dict[str, Any]] = field(default_factory=dict)
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    webhooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    custom_fields: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tags: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    entity_files: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    # catalogs (amoemu.catalogs): id → catalog, catalog id → element id → element
    catalogs: dict[int, dict[str, Any]] = field(default_factory=dict)
    catalog_elements: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    salesbot_waiting: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    salesbot_continued: list[dict[str, Any]] = field(default_factory=list)
    # limits (amocrm.md §5) and statistics
    hits: deque[float] = field(default_factory=deque)
    limited_at: deque[float] = field(default_factory=deque)
    requests: int = 0
    by_path: dict[str, int] = field(default_factory=dict)
    limited_429: int = 0
    max_in_one_second: int = 0

    @property
    def domain(self) -> str:
        return f"{self.subdomain}.{self.zone}"  # amocrm.md §0: {subdomain}.amocrm.ru / .kommo.com

    @property
    def drive_domain(self) -> str:
        # amocrm.md §0/§4.10: drive-b.amocrm.ru in the ru example, drive-c.kommo.com for Kommo
        return "drive-c.kommo.com" if self.zone.endswith("kommo.com") else f"drive-b.{self.zone}"

    @property
    def api_domain(self) -> str:
        # amocrm.md §0: the JWT's api_domain claim, e.g. api-a.amocrm.ru
        return "api-c.kommo.com" if self.zone.endswith("kommo.com") else f"api-a.{self.zone}"

    @property
    def platform(self) -> int:
        # amocrm.md §1.2: platform 1 for an amocrm.ru account, 2 for amocrm.com / kommo.com
        return 1 if self.zone == "amocrm.ru" else 2

    def user(self, user_id: int) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)

    def statuses(self) -> dict[int, dict[str, Any]]:
        return {s["id"]: s for p in self.pipelines.values() for s in p["statuses"]}

    def main_pipeline(self) -> dict[str, Any]:
        return next((p for p in self.pipelines.values() if p["is_main"]),
                    next(iter(self.pipelines.values())))

    def store(self, entity: str) -> dict[int, dict[str, Any]]:
        return {"leads": self.leads, "contacts": self.contacts,
                "companies": self.companies}[entity]


@dataclass
class Fault:
    """The next `remaining` calls matching method and path answer `status` (ours)."""

    remaining: int
    method: str
    path: str
    status: int
    body: Any = None


@dataclass
class Limits:
    """amocrm.md §5: "not more than 7 requests per second"; more → 429; repeated
    violations → the account's API blocked (403). The docs give no figure for "repeated":
    `block_after` 429s within `block_window` seconds is OUR choice."""

    rate: int = 7
    block_after: int = 20
    block_window: float = 60.0
    enabled: bool = True


@dataclass
class Hit:
    """One recorded request (the emulator's own log, for tests)."""

    account_id: int
    method: str
    path: str
    status: int
    at: float


class State:
    def __init__(self, client_id: str, client_secret: str, redirect_uri: str,
                 disable_hook_url: str = "", clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uri, self.disable_hook_url = redirect_uri, disable_hook_url
        self.clock = clock
        # the limiter counts in real seconds even when a test freezes or jumps `clock`
        self.monotonic = monotonic
        self.lock = threading.RLock()
        self.key = secrets.token_hex(32)  # the emulator's own signing key for access tokens
        self.accounts: dict[int, Account] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh: dict[str, dict[str, Any]] = {}
        self.access: dict[str, dict[str, Any]] = {}  # jti → token record
        self.files: dict[str, dict[str, Any]] = {}  # uuid → file (the Files host)
        self.sessions: dict[str, dict[str, Any]] = {}
        self.faults: dict[int, list[Fault]] = {}
        self.limits = Limits()
        self.log: list[Hit] = []
        self.dp_calls: list[dict[str, Any]] = []
        self.disable_calls: list[dict[str, Any]] = []
        self._ids = {k: itertools.count(start) for k, start in (
            ("account", 30441694), ("user", 8000001), ("pipeline", 5000001),
            ("status", 60000001), ("lead", 20000001), ("contact", 40000001),
            ("company", 45000001), ("note", 70000001), ("task", 80000001),
            ("webhook", 1001), ("field", 600001), ("enum", 900001), ("tag", 100001),
            ("file", 1), ("session", 5001), ("bot", 1), ("continue", 1),
            ("catalog", 4501), ("element", 525001))}

    def next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    def now(self) -> int:
        return int(self.clock())

    # accounts -------------------------------------------------------------------------------
    def account(self, account_id: int) -> Account:
        acc = self.accounts.get(int(account_id))
        if acc is None:
            raise KeyError(f"no account {account_id}")
        return acc

    def by_domain(self, domain: str) -> Account | None:
        domain = domain.lower()
        return next((a for a in self.accounts.values() if a.domain == domain), None)

    def add_account(self, subdomain: str, zone: str = "amocrm.ru", name: str = "",
                    users: list[tuple[str, str, bool]] | None = None) -> Account:
        if zone not in ("amocrm.ru", "kommo.com", "amocrm.com"):
            raise ValueError("zone is amocrm.ru or kommo.com (amocrm.md §0)")
        with self.lock:
            if self.by_domain(f"{subdomain}.{zone}"):
                raise ValueError(f"{subdomain}.{zone} exists")
            acc = Account(self.next_id("account"), subdomain.lower(), zone, name or subdomain,
                          created_at=self.now())
            people = users or [("Администратор", f"admin@{subdomain}.example", True),
                               ("Менеджер", f"manager@{subdomain}.example", False)]
            for person, email, admin in people:
                acc.users.append(User(self.next_id("user"), person, email, is_admin=admin))
            acc.admin_id = next(u.id for u in acc.users if u.is_admin)
            self.accounts[acc.id] = acc
            self.add_pipeline(acc, "Воронка", ["Первичный контакт", "Переговоры",
                                               "Принимают решение"], is_main=True)
            self._default_fields(acc)
            return acc

    def add_user(self, acc: Account, name: str, email: str = "", is_admin: bool = False,
                 is_free: bool = False, is_active: bool = True, group_id: int = 0) -> User:
        with self.lock:
            user = User(self.next_id("user"), name, email or f"u{len(acc.users)}@example",
                        is_admin, is_free, is_active, group_id)
            acc.users.append(user)
            return user

    def add_pipeline(self, acc: Account, name: str, stages: list[str],
                     is_main: bool = False) -> dict[str, Any]:
        """amocrm.md §4.5 ({DOCS}/crm_platform/leads_pipelines): every pipeline has the
        unsorted status (type 1), its stages, 142 (sort 10000) and 143 (sort 11000)."""
        with self.lock:
            if len(acc.pipelines) >= MAX_PIPELINES:
                raise ValueError("at most 50 pipelines (amocrm.md §4.5)")
            if len(stages) + 3 > MAX_STATUSES:
                raise ValueError("at most 100 statuses per pipeline (amocrm.md §4.5)")
            pid = self.next_id("pipeline")
            colors = ["#99ccff", "#ffff99", "#ffcc66", "#deff81", "#87f2c0", "#f9deff"]
            statuses = [self._status(acc, pid, "Неразобранное", 10, 1, False, "#c1c1c1")]
            for i, stage in enumerate(stages):
                statuses.append(self._status(acc, pid, stage, 20 + 10 * i, 0, True,
                                             colors[i % len(colors)]))
            statuses.append(self._status(acc, pid, "Успешно реализовано", 10000, 0, False,
                                         "#CCFF66", WON))
            statuses.append(self._status(acc, pid, "Закрыто и не реализовано", 11000, 0,
                                         False, "#D5D8DB", LOST))
            pipeline = {"id": pid, "name": name, "sort": 1 + len(acc.pipelines),
                        "is_main": is_main or not acc.pipelines, "is_unsorted_on": True,
                        "is_archive": False, "account_id": acc.id, "statuses": statuses}
            if pipeline["is_main"]:
                for other in acc.pipelines.values():
                    other["is_main"] = False
            acc.pipelines[pid] = pipeline
            return pipeline

    def _status(self, acc: Account, pid: int, name: str, sort: int, type_: int,
                editable: bool, color: str, sid: int | None = None) -> dict[str, Any]:
        return {"id": sid or self.next_id("status"), "name": name, "sort": sort,
                "is_editable": editable, "pipeline_id": pid, "color": color, "type": type_,
                "account_id": acc.id}

    def _default_fields(self, acc: Account) -> None:
        """amocrm.md §4.3: phones and e-mails are multitext fields PHONE / EMAIL with enums
        WORK, MOB, HOME, … ({DOCS}/crm_platform/custom-fields)."""
        for entity in ENTITIES:
            acc.custom_fields[entity] = []
            acc.tags[entity] = {}
        phone = ["WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"]
        email = ["WORK", "PRIV", "OTHER"]
        for entity in ("contacts", "companies"):
            self.add_field(acc, entity, "Телефон", "multitext", code="PHONE", enums=phone,
                           sort=4)
            self.add_field(acc, entity, "Email", "multitext", code="EMAIL", enums=email,
                           sort=6)
        self.add_field(acc, "contacts", "Должность", "text", code="POSITION", sort=2)

    def add_field(self, acc: Account, entity: str, name: str, type_: str,
                  code: str | None = None, enums: list[str] | None = None,
                  sort: int = 500, is_api_only: bool = False) -> dict[str, Any]:
        """A custom field definition, shaped as GET /api/v4/{entity}/custom_fields answers
        (amocrm.md §4.6; {DOCS}/crm_platform/custom-fields)."""
        with self.lock:
            fid = self.next_id("field")
            enum_list = None
            if type_ in ENUM_TYPES or enums:
                enum_list = [{"id": self.next_id("enum"), "value": v, "sort": 1 + i}
                             for i, v in enumerate(enums or [])]
            f = {"id": fid, "name": name, "type": type_, "account_id": acc.id, "code": code,
                 "sort": sort, "is_api_only": is_api_only, "enums": enum_list,
                 "group_id": None, "required_statuses": [], "is_deletable": code is None,
                 "is_predefined": code is not None, "entity_type": entity,
                 "remind": None, "triggers": [], "currency": None, "hidden_statuses": []}
            acc.custom_fields.setdefault(entity, []).append(f)
            return f

    # limits and faults ------------------------------------------------------------------
    def count(self, acc: Account, method: str, path: str, limited: bool = True) -> None:
        """amocrm.md §5: count the account's requests; more than `rate` in any rolling
        second → 429 (HTML, no Retry-After); repeated 429s → blocked, every call 403."""
        with self.lock:
            acc.requests += 1
            key = f"{method} {path}"
            acc.by_path[key] = acc.by_path.get(key, 0) + 1
            if acc.blocked:
                raise ApiError(403, html=HTML_403, content_type="text/html")
            if not limited:
                return
            t = self.monotonic()
            acc.hits.append(t)
            while acc.hits and acc.hits[0] <= t - 1.0:
                acc.hits.popleft()
            acc.max_in_one_second = max(acc.max_in_one_second, len(acc.hits))
            if self.limits.enabled and len(acc.hits) > self.limits.rate:
                acc.limited_429 += 1
                acc.limited_at.append(t)
                while acc.limited_at and acc.limited_at[0] <= t - self.limits.block_window:
                    acc.limited_at.popleft()
                if len(acc.limited_at) >= self.limits.block_after:
                    acc.blocked = True  # amocrm.md §5; the threshold is ours (see Limits)
                raise ApiError(429, html=HTML_429, content_type="text/html")

    def take_fault(self, acc: Account, method: str, path: str) -> Fault | None:
        import re

        with self.lock:
            for f in self.faults.get(acc.id, []):
                if f.remaining > 0 and (not f.method or f.method.upper() == method) and \
                        re.search(f.path, path):
                    f.remaining -= 1
                    return f
            return None

    # tokens ----------------------------------------------------------------------------
    def issue_code(self, acc: Account, user_id: int | None = None) -> str:
        with self.lock:
            code = "def50200" + secrets.token_hex(48)
            self.codes[code] = {"account_id": acc.id, "user_id": user_id or acc.admin_id,
                                "exp": self.now() + CODE_TTL, "used": False}
            acc.integration_enabled = True
            return code

    def issue_tokens(self, acc: Account, user_id: int, kind: str = "oauth",
                     ttl: int = ACCESS_TTL) -> dict[str, Any]:
        """amocrm.md §1.3: access tokens are JWTs carrying exp and api_domain; here HS256
        signed with the emulator's own key, with account_id among the claims."""
        import jwt

        with self.lock:
            now = self.now()
            jti = uuid4()
            claims = {"aud": self.client_id, "jti": jti, "iat": now, "nbf": now,
                      "exp": now + ttl, "sub": str(user_id), "grant_type": "",
                      "account_id": acc.id, "base_domain": acc.zone,
                      "version": 2, "scopes": ["crm", "files", "files_delete",
                                               "notifications", "push_notifications"],
                      "hash_uuid": uuid4(), "api_domain": acc.api_domain,
                      "kind": kind}
            token = jwt.encode(claims, self.key, algorithm="HS256")
            self.access[jti] = {"account_id": acc.id, "user_id": user_id, "exp": now + ttl,
                                "kind": kind, "revoked": False}
            out: dict[str, Any] = {"token_type": "Bearer", "expires_in": ttl,
                                   "access_token": token, "server_time": now}
            if kind == "oauth":
                refresh = "def50200" + secrets.token_hex(64)
                self.refresh[refresh] = {"account_id": acc.id, "user_id": user_id,
                                         "exp": now + REFRESH_TTL, "used": False,
                                         "access_jti": jti}
                out["refresh_token"] = refresh
            return out

    def check_token(self, header: str | None) -> tuple[Account, User]:
        """Authorization: Bearer {token} (amocrm.md §0); revoked, expired or switched-off →
        401 (amocrm.md §1.3, §1.4)."""
        import jwt

        if not header or not header.lower().startswith("bearer "):
            raise unauthorized("Authorization header is missing")
        token = header.split(None, 1)[1].strip()
        try:
            claims = jwt.decode(token, self.key, algorithms=["HS256"],
                                options={"verify_exp": False, "verify_aud": False,
                                         "verify_iat": False, "verify_nbf": False})
        except jwt.PyJWTError as exc:
            raise unauthorized("Invalid token") from exc
        with self.lock:
            rec = self.access.get(str(claims.get("jti")))
            if rec is None or rec["revoked"]:
                raise unauthorized("Token revoked")
            if rec["exp"] <= self.now():
                raise unauthorized("Token expired")
            acc = self.accounts.get(rec["account_id"])
            if acc is None or not acc.integration_enabled:
                raise unauthorized("Integration is disabled")
            user = acc.user(rec["user_id"])
            if user is None or not user.is_active:
                # amocrm.md §5: 110/112 + 401 = authorization failed / user disabled
                raise unauthorized("User is disabled")
            return acc, user

    def exchange(self, acc: Account, params: dict[str, Any]) -> dict[str, Any]:
        """POST /oauth2/access_token (amocrm.md §1.3; {DOCS}/oauth/step-by-step)."""
        with self.lock:
            if params.get("client_id") != self.client_id or \
                    params.get("client_secret") != self.client_secret:
                raise bad_client()
            grant = params.get("grant_type")
            # amocrm.md §1.3: "redirect_uri must match the integration's setting exactly"
            if params.get("redirect_uri") != self.redirect_uri:
                raise bad_request("Check the `redirect_uri` parameter")  # hint text is ours
            if grant == "authorization_code":
                rec = self.codes.get(str(params.get("code") or ""))
                if rec is None or rec["used"] or rec["exp"] <= self.now() or \
                        rec["account_id"] != acc.id:
                    # amocrm.md §1.3: bad or expired code → 400 "Cannot decrypt …"
                    raise bad_request("Cannot decrypt the authorization code")
                rec["used"] = True  # codes are single use (OAuth 2.0, RFC 6749 §4.1.2)
                return self.issue_tokens(acc, rec["user_id"])
            if grant == "refresh_token":
                rec = self.refresh.get(str(params.get("refresh_token") or ""))
                if rec is None or rec["account_id"] != acc.id:
                    raise bad_request("Cannot decrypt the refresh token")  # hint is ours
                if rec["used"] or not acc.integration_enabled:
                    raise revoked()  # amocrm.md §1.3: single use; the second use → 401
                if rec["exp"] <= self.now():
                    # amocrm.md §10.3: an expired refresh token's answer is undocumented;
                    # OUR choice is the same 401 as a revoked one
                    raise revoked()
                rec["used"] = True
                return self.issue_tokens(acc, rec["user_id"])
            raise bad_request("Check the `grant_type` parameter")  # hint text is ours

    def revoke_all(self, acc: Account) -> None:
        """amocrm.md §1.3 "Обработка ошибок": switched off → tokens revoked → 401."""
        with self.lock:
            acc.integration_enabled = False
            for rec in self.access.values():
                if rec["account_id"] == acc.id:
                    rec["revoked"] = True
            for rec in self.refresh.values():
                if rec["account_id"] == acc.id:
                    rec["used"] = True

    # events (amocrm.md §4.9) -----------------------------------------------------------
    def add_event(self, acc: Account, type_: str, entity_type: str, entity_id: int,
                  user_id: int, after: list[Any], before: list[Any]) -> dict[str, Any]:
        ev = {"id": event_id(), "type": type_, "entity_id": entity_id,
              "entity_type": entity_type, "created_by": user_id, "created_at": self.now(),
              "value_after": after, "value_before": before, "account_id": acc.id}
        acc.events.append(ev)
        return ev

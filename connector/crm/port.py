"""The CRM port: neutral items, people and files, the reads and writes capabilities need.

Capabilities describe what they want as queries (read) and operations (write); an adapter
runs a whole set of them at its platform's best cost — on Bitrix24 one batch request for
the reads and one for the writes. A write may use what an earlier write of the same set
produced (`Produced("folder", "url")`), so "create the folder and put its link in the
deal" stays one request. Nothing here knows an HTTP endpoint or a field name of a CRM.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from connector.errors import Permanent, Retryable

BITRIX24 = "b24"
AMOCRM = "amo"
# An amoCRM account is stored under the member id "amo-{account_id}"; Bitrix24 member ids
# are 32 hex characters, so the two never collide.
AMOCRM_MEMBER_PREFIX = "amo-"


def crm_of(member_id: str) -> str:
    """Which CRM a stored tenant (member id) belongs to: BITRIX24 or AMOCRM."""
    return AMOCRM if member_id.startswith(AMOCRM_MEMBER_PREFIX) else BITRIX24


def tenant_of(member_id: str) -> Tenant:
    """The tenant a stored member id names (an amoCRM account keeps its own id)."""
    if crm_of(member_id) == AMOCRM:
        return Tenant(AMOCRM, member_id[len(AMOCRM_MEMBER_PREFIX):])
    return Tenant(BITRIX24, member_id)


@dataclass(frozen=True)
class Tenant:
    """Who the work is for: (crm, account id). Every capability key is derived from it."""

    crm: str
    account: str

    @property
    def key(self) -> str:
        return f"{self.crm}:{self.account}"

    @classmethod
    def parse(cls, key: str) -> Tenant:
        crm, _, account = key.partition(":")
        return cls(crm, account)


@dataclass(frozen=True)
class ItemRef:
    """A CRM item: kind is "lead", "deal", "contact", "company" or "item:<type id>"."""

    kind: str
    id: int

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.id}"


@dataclass
class Attachment:
    """A file kept in an item's file field."""

    field: str
    id: str
    url: str


@dataclass
class Item:
    """What capabilities read of an item; `fields` keeps the CRM's own (custom) fields."""

    ref: ItemRef
    title: str = ""
    assigned: int = 0
    created_by: int = 0
    created_at: str = ""
    contact_ids: list[int] = field(default_factory=list)
    company_id: int = 0
    stage: str = ""
    won: bool = False
    category: str = ""
    source: str = ""
    amount: str = "0"
    currency: str = ""
    observers: list[int] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    comments: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    closed: bool | None = None  # won or lost (the CRM's stage semantics); None: not known
    # a smart process's fields by our codes (FieldSpec.code), read through its SmartProcess
    values: dict[str, Any] = field(default_factory=dict)
    # the items this one is linked under (a smart-process item's deal, its request)
    parents: list[ItemRef] = field(default_factory=list)
    closed_on: str = ""  # "YYYY-MM-DD": a deal's end date (set when it closes), else ""


AVAILABILITY = ("working", "paused", "closed", "expired", "not_started", "unknown")


@dataclass
class Person:
    id: int
    name: str = ""
    active: bool = True
    availability: str = "unknown"  # one of AVAILABILITY; "unknown" when not asked


@dataclass
class Folder:
    id: int
    url: str = ""
    name: str = ""


@dataclass
class FileEntry:
    """A file in the CRM's storage: version changes whenever its content does. `url` is the
    file's page in the CRM (what people open from a link); `download_url` is for the app."""

    id: int
    name: str = ""
    size: int = 0
    version: str = ""
    download_url: str = ""
    deleted: bool = False
    is_folder: bool = False
    url: str = ""


def files_below(entries: list[FileEntry], depth: int,
                folder_files: Callable[[int, int], list[FileEntry]]) -> list[FileEntry]:
    """The files among these entries and, up to `depth` levels, in their subfolders
    (`folder_files(folder_id, depth)`); deleted ones left out. `CrmPort.walk` of every
    adapter."""
    out: list[FileEntry] = []
    for entry in entries:
        if entry.deleted:
            continue
        if not entry.is_folder:
            out.append(entry)
        elif depth > 0:
            out += folder_files(entry.id, depth - 1)
    return out


@dataclass
class BankAccount:
    """A party's bank details (Bitrix24: crm.requisite.bankdetail RQ_* fields)."""

    bank: str = ""
    bik: str = ""
    account: str = ""  # расчётный счёт
    corr_account: str = ""  # корреспондентский счёт
    bank_address: str = ""
    swift: str = ""
    iban: str = ""
    currency: str = ""


@dataclass
class Party:
    """A side of a document: a company (our own or the client's) or a person, with the
    requisites the CRM holds for it. Strings as the CRM has them, "" when not filled in."""

    ref: ItemRef  # company/<id> or contact/<id>
    title: str = ""  # the company's or person's name as the CRM shows it
    is_person: bool = False  # a private person or an individual entrepreneur (ИП)
    requisite_id: int = 0  # 0: the party has no requisites
    preset: str = ""  # the requisite's template name ("Организация", "ИП", "Физ. лицо")
    name: str = ""  # RQ_COMPANY_NAME, or the person's full name
    full_name: str = ""  # RQ_COMPANY_FULL_NAME
    inn: str = ""
    kpp: str = ""
    ogrn: str = ""  # RQ_OGRN, or RQ_OGRNIP for an ИП
    okpo: str = ""
    director: str = ""  # RQ_DIRECTOR, else RQ_CEO_NAME (nominative, as typed)
    director_position: str = ""  # RQ_CEO_WORK_POS, "" when not given
    accountant: str = ""
    basis: str = ""  # RQ_BASE_DOC: «Устава», «доверенности № …»
    vat_payer: bool | None = None  # RQ_VAT_PAYER; None: not said
    legal_address: str = ""  # address type 6 (Юридический), else 4 (Адрес регистрации)
    postal_address: str = ""  # address type 8, else 1 (Фактический)
    phone: str = ""
    email: str = ""
    bank: BankAccount | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # every RQ_* / UF_CRM_* as read


@dataclass
class ProductRow:
    """One product row of an item; prices are per unit, as decimal strings (Bitrix24:
    api-reference/crm/data-types.md#crm_item_product_row)."""

    name: str
    quantity: str = "1"
    price: str = "0"  # after the discount, with tax
    price_exclusive: str = "0"  # after the discount, without tax
    price_netto: str = "0"  # before the discount, without tax
    price_brutto: str = "0"  # before the discount, with tax
    discount_type: str = ""  # "amount" | "percent" | ""
    discount_rate: str = "0"  # percent
    discount_sum: str = "0"  # per unit
    tax_rate: str | None = None  # percent; None: no VAT («Без НДС»)
    tax_included: bool = True
    measure: str = ""  # "шт", "ч", "усл. ед."
    measure_code: str = ""  # OKEI code: 796 шт
    sort: int = 0
    service: bool = False


# smart processes -----------------------------------------------------------------------
# What a capability keeps in the portal as a CRM object of its own (a registry of documents,
# a base of carriers), described in neutral terms; the adapter makes it the CRM's way
# (Bitrix24: a smart process with user fields) and maps our field codes onto the CRM's names.
FIELD_TYPES = ("text", "number", "money", "date", "datetime", "choice", "bool", "url", "user",
               "item_link", "file")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,29}$")


@dataclass(frozen=True)
class FieldSpec:
    """One field of a smart process. `code` is our stable key ("number", "status"); `title`
    a msgid (English, translated where it is written); `options` of a "choice" field are
    keys ("signed") or (key, msgid) pairs — the key is what the capability writes and reads,
    the label what people see. Values: text/url str, number Decimal/int/str, money Money,
    date "YYYY-MM-DD" (or a date), datetime ISO 8601 (or a datetime), choice a key, bool,
    user an id, item_link an ItemRef, file a NewFile (read back as an Attachment)."""

    code: str
    title: str
    type: str
    multiple: bool = False
    options: tuple[str | tuple[str, str], ...] = ()
    required: bool = False

    def __post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise ValueError(f"field code {self.code!r}: a-z, 0-9 and _, at most 30")
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.code}: type {self.type!r} is not one of "
                             f"{', '.join(FIELD_TYPES)}")
        if (self.type == "choice") != bool(self.options):
            raise ValueError(f"field {self.code}: options go with type choice, and only there")
        keys = [key for key, _label in self.choices]
        if len(set(keys)) != len(keys):
            raise ValueError(f"field {self.code}: option keys repeat")

    @property
    def choices(self) -> tuple[tuple[str, str], ...]:
        """(key, label) of every option."""
        return tuple((o, o) if isinstance(o, str) else (o[0], o[1]) for o in self.options)


@dataclass(frozen=True)
class SmartProcessSpec:
    """A smart process a capability needs: `code` our stable key ("cc_documents"), `title`
    a msgid, its fields in the order people see them."""

    code: str
    title: str
    fields: tuple[FieldSpec, ...]

    def __post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise ValueError(f"smart process code {self.code!r}: a-z, 0-9 and _, at most 30")
        codes = [f.code for f in self.fields]
        if len(set(codes)) != len(codes):
            raise ValueError(f"smart process {self.code}: field codes repeat")

    def field(self, code: str) -> FieldSpec:
        for spec in self.fields:
            if spec.code == code:
                return spec
        raise KeyError(f"smart process {self.code} has no field {code!r}")

    def digest(self) -> str:
        """Changes whenever anything the CRM holds of the spec would change."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SmartProcess:
    """A smart process as the portal has it: `kind` is "item:<entity type id>" (an ItemRef's
    kind), `fields` our codes → the CRM's field names, `options` for each choice field its
    keys → the CRM's option ids. Operations and queries on its items carry it."""

    entity_type_id: int
    kind: str
    title: str
    spec: SmartProcessSpec
    fields: Mapping[str, str]
    options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def missing_options(self) -> list[str]:
        """Choice fields whose every option has no id yet (an answer that left them out)."""
        return [f.code for f in self.spec.fields if f.type == "choice" and f.code in
                self.fields and set(self.options.get(f.code, {})) != {k for k, _ in
                                                                       f.choices}]

    def as_json(self) -> dict[str, Any]:
        """What an adapter remembers of it (the spec is the caller's)."""
        return {"entity_type_id": self.entity_type_id, "title": self.title,
                "fields": dict(self.fields),
                "options": {k: dict(v) for k, v in self.options.items()}}

    @classmethod
    def from_json(cls, spec: SmartProcessSpec, raw: Mapping[str, Any]) -> SmartProcess:
        etid = int(raw["entity_type_id"])
        return cls(etid, f"item:{etid}", str(raw.get("title") or ""), spec,
                   dict(raw.get("fields") or {}),
                   {k: dict(v) for k, v in (raw.get("options") or {}).items()})


def made_once(redis: Any, ready_key: str, lock_key: str, spec: SmartProcessSpec,
              existing: int, lang: str, make: Callable[[], SmartProcess], ready_s: int
              ) -> SmartProcess:
    """`ensure_smart_process` for any adapter: what was made for this very spec (its
    digest, the admin's `existing`, the language) is kept `ready_s`, so jobs ask the CRM
    nothing while it holds; else `make()` runs under `lock_key`, once however many workers
    ask at the same time."""
    from connector.once import once

    stamp = f"{spec.digest()}:{existing}:{lang}"

    def read() -> SmartProcess | None:
        raw = redis.get(ready_key)
        rec = json.loads(raw) if raw else {}
        return SmartProcess.from_json(spec, rec["process"]) if rec.get("stamp") == stamp \
            else None

    def store() -> SmartProcess:
        process = make()
        redis.set(ready_key, json.dumps({"stamp": stamp, "process": process.as_json()}),
                  ex=ready_s)
        return process

    return once(redis, lock_key, read, store)


@dataclass(frozen=True)
class Money:
    amount: str  # a decimal string, "1500.00"
    currency: str = "RUB"


@dataclass(frozen=True)
class NewFile:
    """A file to put into a file field."""

    name: str
    content: bytes


# errors --------------------------------------------------------------------------------
class CrmError(Exception):
    """A failed query or operation, in neutral terms; `original` is the adapter's error."""

    def __init__(self, what: str, reason: str = "", original: BaseException | None = None):
        self.what = what
        self.reason = reason
        self.original = original
        super().__init__(f"{what}: {reason}" if reason else what)


class NotFound(CrmError, Permanent):
    """The item (or file, chat) does not exist or was deleted/merged."""


class AccessDenied(CrmError, Permanent):
    """The app's user may not do this."""


class MissingScope(CrmError, Permanent):
    """The app was installed without a permission this capability needs (e.g. timeman)."""


class AlreadyExists(CrmError, Permanent):
    """A folder (or other named thing) of that name exists already."""


# reads ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    """Base of everything `CrmPort.read` can answer."""


@dataclass(frozen=True)
class GetItem(Query):
    ref: ItemRef
    observers: bool = False  # deals: who watches it (costs a second command on Bitrix24)
    contacts: bool = False  # deals: every contact, not only the first (the same command)
    # deals: when it entered its stage, in fields["movedTime"] (ISO 8601). Bitrix24 keeps it
    # on the deal; amoCRM only in its events (/api/v4/events), a request more
    moved: bool = False


@dataclass(frozen=True)
class GetPeople(Query):
    ids: tuple[int, ...]
    availability: bool = False


@dataclass(frozen=True)
class DepartmentMembers(Query):
    departments: tuple[int, ...]


@dataclass(frozen=True)
class Duplicates(Query):
    """Contacts and companies sharing a phone or e-mail with the item (read in the same set)."""

    of: ItemRef


@dataclass(frozen=True)
class CommMatches(Query):
    """Leads, contacts and companies holding any of these phones or e-mails, as {"lead": [id],
    "contact": [id], "company": [id]}: the values are sent as given (at most 20 of each),
    so a caller sends every spelling of a number it wants found."""

    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenDeals(Query):
    """A contact's or company's deals still in work (neither won nor lost), newest first,
    at most `limit`, as [Item]."""

    client: ItemRef
    limit: int = 10


@dataclass(frozen=True)
class Responsible(Query):
    of: ItemRef


@dataclass(frozen=True)
class ClientName(Query):
    """The item's company title or contact name ("" when it has neither)."""

    of: ItemRef


@dataclass(frozen=True)
class StageName(Query):
    of: ItemRef


@dataclass(frozen=True)
class ChatMembers(Query):
    chat_id: int


@dataclass(frozen=True)
class ItemActivities(Query):
    """Activities (e-mails, calls, chats) of the item with their attached file ids."""

    of: ItemRef


@dataclass(frozen=True)
class GetActivity(Query):
    id: int


@dataclass(frozen=True)
class FolderChildren(Query):
    folder_id: int


@dataclass(frozen=True)
class CountInWork(Query):
    """How many items of a kind a person has open (in these stages, or any in-progress one)."""

    kind: str
    user_id: int
    stages: tuple[str, ...] = ()


@dataclass(frozen=True)
class LatestItems(Query):
    """The newest items of a kind, newest first (an admin picks one for a dry run)."""

    kind: str
    limit: int = 10


@dataclass(frozen=True)
class Reactions(Query):
    """What people did on the item since `since` (ISO 8601): its activities (calls, e-mails,
    to-dos, meetings, tasks) and timeline comments, oldest first, as
    [{"id": "activity:<id>"|"comment:<id>", "kind": "call"|"email"|"todo"|"meeting"|"task"|
    "activity"|"comment", "at": iso, "author": user id, "completed": bool}]."""

    of: ItemRef
    since: str


@dataclass(frozen=True)
class FindComment(Query):
    """The id of the item's timeline comment with exactly this text, written at or after
    `since` (ISO 8601); 0 when none. How a retried note finds the one its first attempt
    wrote before it could record it: a timeline comment has no idempotency key."""

    of: ItemRef
    text: str
    since: str


@dataclass(frozen=True)
class OpenActivities(Query):
    """The item's activities and to-dos not yet completed, as
    [{"id", "kind", "deadline": iso or "", "responsible": user id, "task_id": the task of a
    task's activity, else 0}]."""

    of: ItemRef


@dataclass(frozen=True)
class FindTask(Query):
    """The id of a task carrying this tag (0 when none): how a retried step finds the task
    its first attempt made before it could record it."""

    tag: str


@dataclass(frozen=True)
class TaskState(Query):
    """Where a task stands: "open", "done" (completed) or "gone" (deleted, or no longer
    visible to the app): how a step that waits for a person's task follows it."""

    task_id: int


@dataclass(frozen=True)
class WorkCalendar(Query):
    """The portal's own working time where the CRM exposes it, as {"start": "09:00",
    "end": "18:00", "weekend": [6, 7] (ISO weekdays), "holidays": ["01.01", …] (day.month),
    "workdays": ["dd.mm", …]}; MissingScope when the app may not read it."""


@dataclass(frozen=True)
class DocumentParties(Query):
    """The sides of a document about an item: {"client": Party | None (the requisite the
    item's requisite link names, else the company's first, else the contact's),
    "seller": Party | None (our company the link names, else `my_company`, else the
    portal's first "my company")}."""

    of: ItemRef
    my_company: int = 0  # the admin's choice of our company when the item names none


@dataclass(frozen=True)
class MyCompanies(Query):
    """The portal's own companies (our legal entities), as [Party] with their requisites."""


@dataclass(frozen=True)
class ProductRows(Query):
    """An item's product rows, in their order, as [ProductRow]."""

    of: ItemRef


FILTER_OPS = ("=", "!=", "<", "<=", ">", ">=", "contains", "in")


@dataclass(frozen=True)
class FindItems(Query):
    """Items of a smart process, as [Item] with `values` by our codes. `filter` is
    ((code, op, value), …) with op one of FILTER_OPS, all to hold ("contains": a substring,
    "in": any of a list); codes are the spec's and "id", "title". `order` is
    ((code, "asc"|"desc"), …); at most `limit` items (newest first when no order)."""

    process: SmartProcess
    filter: tuple[tuple[str, str, Any], ...] = ()
    order: tuple[tuple[str, str], ...] = ()
    limit: int = 50


@dataclass(frozen=True)
class CustomFields(Query):
    """The names of the custom fields items of a kind have ("UF_CRM_…"), as a set: whether a
    field the admin named exists (an item's own reading may leave an empty one out)."""

    kind: str


@dataclass(frozen=True)
class PipelineNames(Query):
    """The pipelines of deals (or of a smart process, `kind` "item:<id>") by id as text,
    {"0": "Общая", "3": "Оптовые продажи"}: how a report names them."""

    kind: str = "deal"


@dataclass(frozen=True)
class CurrencyRates(Query):
    """The portal's currencies: {"base": "RUB", "rates": {"USD": Decimal("68.79"), …}}, a
    rate being what one unit is worth in the base currency (the base's own rate is 1)."""


@dataclass
class Reading:
    """Answers of one `read`, by the caller's keys; failed ones are in `errors`."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, CrmError] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """The value, raising the neutral error if that query failed."""
        if key in self.errors:
            raise self.errors[key]
        return self.values.get(key, default)

    def ok(self, key: str) -> bool:
        return key in self.values and key not in self.errors


# writes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Produced:
    """A value made by an earlier operation of the same `apply` ("folder" → its url)."""

    key: str
    attr: str = "id"  # "id" | "url"


@dataclass(frozen=True)
class Op:
    """Base of everything `CrmPort.apply` can do."""


@dataclass(frozen=True)
class Assign(Op):
    ref: ItemRef
    user_id: int


@dataclass(frozen=True)
class UpdateItem(Op):
    """Write fields; quiet=True records no activity-stream entry for the change. With
    `process`, `fields` are a smart process's by our codes (FieldSpec.code), "title" too."""

    ref: ItemRef
    fields: Mapping[str, Any]
    quiet: bool = True
    process: SmartProcess | None = None


@dataclass(frozen=True)
class CreateItem(Op):
    """A new item of a smart process, its fields by our codes ("title" names the item); the
    result is its id. The operation carries the SmartProcess (its kind, field names and
    option ids) so that no earlier call has to have looked it up."""

    process: SmartProcess
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class AddComment(Op):
    """A comment in the item's timeline (history)."""

    ref: ItemRef
    text: str


@dataclass(frozen=True)
class PostToChat(Op):
    chat_id: int
    text: str


@dataclass(frozen=True)
class NotifyUser(Op):
    user_id: int
    text: str
    tag: str = ""


@dataclass(frozen=True)
class AnswerTrigger(Op):
    token: str
    values: Mapping[str, Any]
    message: str


@dataclass(frozen=True)
class LogToTrigger(Op):
    token: str
    message: str


@dataclass(frozen=True)
class CreateFolder(Op):
    parent_id: int
    name: str


@dataclass(frozen=True)
class ShareFolder(Op):
    folder: int | Produced
    user_id: int


@dataclass(frozen=True)
class CreateChat(Op):
    title: str
    users: tuple[int, ...]
    description: str = ""
    message: str = ""
    bound_to: ItemRef | None = None


@dataclass(frozen=True)
class AddChatMembers(Op):
    chat_id: int
    users: tuple[int, ...]


@dataclass(frozen=True)
class RemoveChatMember(Op):
    chat_id: int
    user_id: int


@dataclass(frozen=True)
class CreateTask(Op):
    """A task for a person, bound to the item, with a deadline (ISO 8601 with offset).

    `tag` is unique per reminder step; FindTask(tag) finds it again after a crash. The
    result is the new task's id.
    """

    title: str
    description: str
    responsible: int
    deadline: str
    bound_to: ItemRef
    auditors: tuple[int, ...] = ()
    tag: str = ""


@dataclass(frozen=True)
class MoveItem(Op):
    """Move the item to another pipeline (category) and stage."""

    ref: ItemRef
    category: str
    stage: str


@dataclass
class Applied:
    """Results of one `apply` by key (a Folder, a chat id, True), and the failures."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, CrmError] = field(default_factory=dict)


class TriggerGone(CrmError):
    """The workflow no longer waits for this trigger's answer (answered, timed out, deleted)."""


# the port ------------------------------------------------------------------------------
class CrmPort(Protocol):
    """What a capability may ask of the CRM a job works for."""

    tenant: Tenant
    domain: str
    # every raw answer this port read, by request: an event delivery keeps it so that its
    # subscribers' own reads of the same things are answered without asking again
    seen: dict[str, Any]
    # whether ProductRows reads the CRM's product rows (False on amoCRM, whose products
    # the port does not read: a document then takes the item's amount as its one row)
    keeps_product_rows: bool

    def read(self, queries: Mapping[str, Query]) -> Reading:
        """Answer every query, at the platform's best cost (Bitrix24: one request)."""

    def apply(self, ops: Mapping[str, Op], halt: bool = False) -> Applied:
        """Do every operation in order; halt=True stops at the first failure."""

    def answer_trigger(self, token: str, values: Mapping[str, Any], message: str) -> None:
        """Give a robot / pipeline action its result; TriggerGone when nobody waits."""

    def item(self, ref: ItemRef, observers: bool = False) -> Item:
        """One item; NotFound when it is gone."""

    def create_chat(self, title: str, users: tuple[int, ...], description: str = "") -> int:
        """A plain group chat (not bound to an item); 0 when the CRM has none an app may
        create (amoCRM), so there is no chat to post to."""

    def ensure_smart_process(self, spec: SmartProcessSpec, existing: int = 0,
                             lang: str = "ru") -> SmartProcess:
        """The portal's smart process for `spec`, made once: found again if the app made it
        before, created when missing; only missing fields are added, nothing is deleted.
        With `existing` (an entity type id), the spec is mapped onto that smart process of
        the admin's (fields matched by title, the missing ones added); NotFound when it is
        gone. Titles are written in `lang`. Safe when many workers ask at once."""

    def ensure_item_field(self, kind: str, name: str, type_: str, label: str) -> None:
        """Create a custom field of items of `kind` unless it exists; the CRM's "already
        exists" (someone made it meanwhile) is success, never an error."""

    def item_folder(self, ref: ItemRef) -> Folder | None:
        """The item's own files as a folder, where the CRM keeps files on the item itself
        (amoCRM's Files tab): nothing to make, its url the item's page; None elsewhere."""

    def storage_root(self, storage: str) -> int:
        """The root folder of a storage ("common" = the company's shared storage)."""

    def subfolder(self, parent_id: int, name: str) -> tuple[Folder, bool]:
        """The named subfolder, created when missing: (folder, created)."""

    def find_subfolder(self, parent_id: int, name: str) -> Folder | None: ...

    def folder_files(self, folder_id: int, depth: int = 5) -> list[FileEntry]:
        """Files of a folder and its subfolders, deleted ones left out."""

    def walk(self, entries: list[FileEntry], depth: int) -> list[FileEntry]:
        """Files among these entries, descending into their subfolders."""

    def item_ids(self, kind: str, after: int = 0) -> Iterator[int]:
        """Every item id of a kind above `after`, ascending (for backfills)."""

    def list_items(self, kind: str, process: SmartProcess | None = None, after: int = 0,
                   category: str | None = None, won: bool = False) -> Iterator[Item]:
        """Every item of a kind above `after`, ascending, with its fields (a smart process's
        `values` by our codes when `process` is given): an index's backfill. `category`
        keeps one pipeline's, `won` only won ones (where the CRM filters by it)."""

    def deals(self, client: ItemRef | None = None, after: int = 0, won: bool = False, *,
              closed: bool | None = None, created_since: str = "", moved_since: str = "",
              categories: tuple[str, ...] = ()) -> Iterator[Item]:
        """Deals above `after`, ascending, with every contact and the company they are
        bound to (`contact_ids`, `company_id`), their amount, currency, pipeline, stage and
        `closed_on`, no custom fields: a client's deals (`client` a contact or a company, as
        any one of a deal's contacts), or every deal; `won` only won ones.

        A report's filters, asked of the CRM rather than read and dropped: `closed` True
        only won or lost ones, False only those in work; `created_since` / `moved_since`
        (ISO 8601) those created / moved to their stage at or after then (`fields` then
        keep "createdTime" / "movedTime"); `categories` those of these pipelines."""

    def file(self, file_id: int) -> FileEntry:
        """A stored file's facts and its download address; NotFound when gone."""

    def upload(self, folder_id: int, name: str, content: bytes, unique: bool = True
               ) -> FileEntry:
        """Put a new file into a folder, so that people find a made document where the deal
        keeps its files. unique=True: a taken name gets the CRM's own unique variant
        ("Счёт (1).docx"); unique=False: AlreadyExists. NotFound when the folder is gone
        (or in the trash). Not idempotent: a retry after an unknown outcome (CrmRetryable)
        may find the first attempt's file in the folder."""

    def upload_version(self, file_id: int, content: bytes, name: str = "") -> FileEntry:
        """New content for a stored file, same id, so a re-made document keeps its links
        and its history of versions. With `name`, the file is called that afterwards
        (AlreadyExists when another file has it: the new content is kept then); ""
        keeps its name. NotFound when the file is gone."""

    def download(self, url: str, declared_size: int | None = None) -> Any:
        """A streamed download (requests.Response) of a file address the CRM gave."""

    def item_link(self, ref: ItemRef) -> str: ...

    def mention(self, user_id: int) -> str:
        """How a message names a person so the CRM links them."""

    def link(self, url: str, text: str) -> str: ...


class CrmRetryable(CrmError, Retryable):
    """A query or operation that failed for a reason a later retry may not meet."""


class CrmPermanent(CrmError, Permanent):
    """A query or operation the CRM refused for good (bad input, wrong state)."""

"""amoCRM answers ↔ the port's neutral shapes, without I/O (connector.amocrm.adapter asks).

Sources: /work/shared/reference/amocrm.md (§4.2 leads, §4.3 contacts, §4.4 users, §4.5
pipelines, §4.6 custom fields, §4.7 notes, §4.8 tasks, §4.9 events).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from connector.crm import port as p

WON, LOST = 142, 143  # amocrm.md §4.5: the closing statuses of every pipeline
UNSORTED = 1  # amocrm.md §4.5: the "Неразобранное" status has type 1
MULTI = frozenset({"multiselect", "multitext", "category", "chained_list", "items"})
# amocrm.md §4.7 note types → the port's reaction kinds; service messages are written by
# integrations and robots, not by people, so they are no reaction
NOTE_KINDS = {"common": "comment", "call_in": "call", "call_out": "call",
              "amomail_message": "email", "sms_in": "activity", "sms_out": "activity",
              "attachment": "activity", "geolocation": "activity", "chat": "activity"}
TASK_MARK = "#cc:"  # amoCRM tasks have no tags (amocrm.md §4.8): the tag ends the text
# Bitrix24 user-field types the capabilities name → amoCRM field types (amocrm.md §4.6)
FIELD_TYPES = {"string": "text", "text": "text", "double": "numeric", "integer": "numeric",
               "money": "numeric", "numeric": "numeric", "number": "numeric", "url": "url",
               "date": "date", "datetime": "date_time", "date_time": "date_time",
               "boolean": "checkbox", "bool": "checkbox", "checkbox": "checkbox",
               "textarea": "textarea"}
INN_NAMES = frozenset({"INN", "ИНН"})
KPP_NAMES = frozenset({"KPP", "КПП"})
OGRN_NAMES = frozenset({"OGRN", "ОГРН", "OGRNIP", "ОГРНИП"})
# bank details and the rest a document prints, from company fields of these codes or names
# (Bitrix24's RQ_* codes too, so a field made by a preset or a migration is found)
REQUISITE_NAMES = {
    "bank": frozenset({"RQ_BANK_NAME", "БАНК", "НАИМЕНОВАНИЕ БАНКА"}),
    "bik": frozenset({"RQ_BIK", "БИК"}),
    "account": frozenset({"RQ_ACC_NUM", "РАСЧЁТНЫЙ СЧЁТ", "РАСЧЕТНЫЙ СЧЕТ", "Р/С", "Р/СЧ"}),
    "corr_account": frozenset({"RQ_COR_ACC_NUM", "КОРР. СЧЁТ", "КОРР. СЧЕТ",
                               "КОРРЕСПОНДЕНТСКИЙ СЧЁТ", "КОРРЕСПОНДЕНТСКИЙ СЧЕТ", "К/С"}),
    "director": frozenset({"RQ_DIRECTOR", "ДИРЕКТОР", "ГЕНЕРАЛЬНЫЙ ДИРЕКТОР",
                           "РУКОВОДИТЕЛЬ"}),
    "legal_address": frozenset({"RQ_ADDR_LEGAL", "ЮРИДИЧЕСКИЙ АДРЕС", "ЮР. АДРЕС"}),
}


def as_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def iso(ts: Any) -> str:
    """A Unix timestamp as ISO 8601 in UTC with its offset; "" for none."""
    if ts in (None, "", 0):
        return ""
    return datetime.fromtimestamp(int(ts), UTC).isoformat(timespec="seconds")


def ts_of(text: str) -> int:
    """ISO 8601 (naive = UTC) or digits as a Unix timestamp; ValueError when neither."""
    text = str(text).strip()
    if text.isdigit():
        return int(text)
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def embedded_ids(raw: Mapping[str, Any], key: str) -> list[int]:
    rows = (raw.get("_embedded") or {}).get(key) or []
    return [as_int(r.get("id")) for r in rows if isinstance(r, dict) and as_int(r.get("id"))]


# custom fields (amocrm.md §4.6) ----------------------------------------------------------
def field_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """custom_fields_values by str(field_id) and by field_code where one is set: the value,
    or the list of values of a multi-valued type."""
    out: dict[str, Any] = {}
    for cf in raw.get("custom_fields_values") or []:
        if not isinstance(cf, dict):
            continue
        values = [v.get("value") for v in cf.get("values") or [] if isinstance(v, dict)]
        value: Any = values if cf.get("field_type") in MULTI else (
            values[0] if values else None)
        out[str(cf.get("field_id"))] = value
        if cf.get("field_code"):
            out[str(cf["field_code"])] = value
    return out


def coded(raw: Mapping[str, Any], code: str) -> list[str]:
    """Every value of the field with this field_code (PHONE, EMAIL)."""
    return [str(v.get("value")) for cf in raw.get("custom_fields_values") or []
            if isinstance(cf, dict) and cf.get("field_code") == code
            for v in cf.get("values") or [] if isinstance(v, dict) and v.get("value")]


def named(raw: Mapping[str, Any], names: frozenset[str]) -> str:
    """The first value of a field whose code or name is one of `names` (any case)."""
    for cf in raw.get("custom_fields_values") or []:
        if not isinstance(cf, dict):
            continue
        keys = {str(cf.get("field_code") or "").upper(), str(cf.get("field_name") or "").upper()}
        if keys & names:
            for v in cf.get("values") or []:
                if isinstance(v, dict) and v.get("value") not in (None, ""):
                    return str(v["value"])
    return ""


def attachments(raw: Mapping[str, Any]) -> list[p.Attachment]:
    """Files kept in `file` fields ({file_uuid, version_uuid, file_name, file_size}); the url
    is the file's uuid, which AmoClient.download takes as well as a link."""
    out = []
    for cf in raw.get("custom_fields_values") or []:
        if not isinstance(cf, dict) or cf.get("field_type") != "file":
            continue
        for v in cf.get("values") or []:
            value = v.get("value") if isinstance(v, dict) else None
            if isinstance(value, dict) and value.get("file_uuid"):
                out.append(p.Attachment(str(cf.get("field_id")), str(value["file_uuid"]),
                                        str(value["file_uuid"])))
    return out


def plain(value: Any) -> Any:
    """A port value as JSON amoCRM takes (Decimal and Money as text, dates ISO)."""
    if isinstance(value, p.Money):
        return value.amount
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, p.ItemRef):
        return value.id
    return value


_MONEY = re.compile(r"^(-?\d+(?:\.\d+)?)\|[A-Z]{3}$")


def field_text(value: Any) -> Any:
    """A value for an amoCRM field: Bitrix24's money text "1500.00|RUB" (what capabilities
    write to a money field) is its amount, amoCRM's numeric fields keeping no currency."""
    value = plain(value)
    found = _MONEY.match(value) if isinstance(value, str) else None
    return found.group(1) if found else value


def field_value(key: str, value: Any) -> dict[str, Any]:
    """One custom_fields_values entry for a field named by id (digits) or code; None and ""
    clear it (amocrm.md §4.6: `values: null`)."""
    ref: dict[str, Any] = {"field_id": int(key)} if key.isdigit() else {
        "field_code": key.upper()}
    if value is None or value == "":
        return {**ref, "values": None}
    values = value if isinstance(value, list | tuple) else [value]
    return {**ref, "values": [v if isinstance(v, dict) else {"value": field_text(v)}
                              for v in values]}


def update_body(kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """PATCH body of UpdateItem: "title" is the name, "amount" a lead's price (an integer
    in amoCRM, amocrm.md §4.2), every other key a custom field by id or code."""
    body: dict[str, Any] = {}
    cfv = []
    for key, value in fields.items():
        if key == "title":
            body["name"] = str(value or "")
        elif key == "amount" and kind == "deal":
            try:
                body["price"] = int(Decimal(str(plain(value) or 0)))
            except ArithmeticError as exc:
                raise p.CrmPermanent("amount", f"not a number: {value!r}") from exc
        else:
            cfv.append(field_value(str(key), value))
    if cfv:
        body["custom_fields_values"] = cfv
    return body


# items (amocrm.md §4.2, §4.3) --------------------------------------------------------------
def contact_ids(raw: Mapping[str, Any]) -> list[int]:
    """A lead's contacts (`with=contacts`), the main one first."""
    rows = [r for r in (raw.get("_embedded") or {}).get("contacts") or [] if isinstance(r, dict)]
    rows.sort(key=lambda r: not r.get("is_main"))
    return [as_int(r.get("id")) for r in rows if as_int(r.get("id"))]


def person_name(raw: Mapping[str, Any]) -> str:
    name = str(raw.get("name") or "").strip()
    if name:
        return name
    return " ".join(str(raw.get(k) or "") for k in ("first_name", "last_name")).strip()


def item_from(kind: str, raw: Mapping[str, Any], currency: str = "",
              custom: bool = True) -> p.Item:
    """A neutral Item from a lead, contact or company as GET /api/v4/… answers it."""
    ref = p.ItemRef(kind, as_int(raw.get("id")))
    companies = embedded_ids(raw, "companies")
    item = p.Item(ref, person_name(raw), as_int(raw.get("responsible_user_id")),
                  as_int(raw.get("created_by")), iso(raw.get("created_at")),
                  company_id=companies[0] if companies else 0)
    if custom:
        item.fields = field_values(raw)
        item.attachments = attachments(raw)
    if kind == "deal":
        status = as_int(raw.get("status_id"))
        item.contact_ids = contact_ids(raw)
        item.stage, item.category = str(status), str(as_int(raw.get("pipeline_id")))
        item.won, item.closed = status == WON, status in (WON, LOST)
        item.amount = str(raw.get("price") or 0)
        item.currency = currency
        item.source = str(raw.get("source_id") or "")
        item.closed_on = iso(raw.get("closed_at"))[:10] if item.closed else ""
    else:
        item.phones, item.emails = coded(raw, "PHONE"), coded(raw, "EMAIL")
    return item


def digits(text: str) -> str:
    return re.sub(r"\D", "", str(text))


def holds(raw: Mapping[str, Any], phones: Iterable[str], emails: Iterable[str]) -> bool:
    """Whether a contact or company really holds one of these (amoCRM's `query` also
    matches names and parts): phones by their digits, e-mails case-blind."""
    wanted = {digits(x) for x in phones} - {""}
    mails = {x.strip().lower() for x in emails} - {""}
    return bool({digits(x) for x in coded(raw, "PHONE")} & wanted or
                {x.strip().lower() for x in coded(raw, "EMAIL")} & mails)


def party_from(kind: str, raw: Mapping[str, Any]) -> p.Party:
    """A document's side from a company or contact: amoCRM keeps no requisites (unlike
    Bitrix24), so INN/KPP/OGRN, the bank details, the director and the legal address come
    from custom fields of that code or name (REQUISITE_NAMES)."""
    name = person_name(raw)
    phones, emails = coded(raw, "PHONE"), coded(raw, "EMAIL")
    req = {key: named(raw, names) for key, names in REQUISITE_NAMES.items()}
    bank = p.BankAccount(req["bank"], req["bik"], req["account"], req["corr_account"]) \
        if req["bik"] or req["account"] else None
    return p.Party(p.ItemRef(kind, as_int(raw.get("id"))), title=name,
                   is_person=kind == "contact", name=name, inn=named(raw, INN_NAMES),
                   kpp=named(raw, KPP_NAMES), ogrn=named(raw, OGRN_NAMES),
                   director=req["director"], legal_address=req["legal_address"],
                   phone=phones[0] if phones else "", email=emails[0] if emails else "",
                   bank=bank, fields=field_values(raw))


def person_from(raw: Mapping[str, Any]) -> p.Person:
    """amocrm.md §4.4: a user is active when rights.is_active."""
    rights = raw.get("rights") or {}
    return p.Person(as_int(raw.get("id")), str(raw.get("name") or ""),
                    bool(rights.get("is_active", True)))


def group_of(raw: Mapping[str, Any]) -> int:
    """The user's group (amoCRM's department); the account's main group is 0 (null)."""
    return as_int((raw.get("rights") or {}).get("group_id"))


# pipelines and statuses (amocrm.md §4.5) -------------------------------------------------
def statuses_of(pipelines: Iterable[Mapping[str, Any]]) -> dict[int, list[Mapping[str, Any]]]:
    """Pipeline id → its statuses, in their order."""
    out = {}
    for pipe in pipelines:
        rows = [s for s in (pipe.get("_embedded") or {}).get("statuses") or []
                if isinstance(s, dict)]
        out[as_int(pipe.get("id"))] = sorted(rows, key=lambda s: as_int(s.get("sort")))
    return out


def stage_pairs(stages: Iterable[str], by_pipeline: Mapping[int, list[Mapping[str, Any]]]
                ) -> list[tuple[int, int]]:
    """(pipeline_id, status_id) of each stage text, "status_id" or "pipeline_id:status_id";
    a bare 142/143 stands in every pipeline, a bare other status in the pipeline having it."""
    out: list[tuple[int, int]] = []
    for text in stages:
        head, _, tail = str(text).partition(":")
        if tail:
            pair = (as_int(head), as_int(tail))
            if pair not in out:
                out.append(pair)
            continue
        sid = as_int(head)
        for pid, rows in by_pipeline.items():
            if any(as_int(s.get("id")) == sid for s in rows) and (pid, sid) not in out:
                out.append((pid, sid))
    return out


def open_pairs(by_pipeline: Mapping[int, list[Mapping[str, Any]]],
               pipelines: Iterable[int] = ()) -> list[tuple[int, int]]:
    """Every status in work (neither won nor lost) of these pipelines (all when none)."""
    keep = set(pipelines)
    return [(pid, as_int(s.get("id"))) for pid, rows in by_pipeline.items()
            if not keep or pid in keep
            for s in rows if as_int(s.get("id")) not in (WON, LOST)]


def status_filter(pairs: Iterable[tuple[int, int]]) -> dict[str, int]:
    """amocrm.md §4.1: filter[statuses][i][pipeline_id] + filter[statuses][i][status_id]."""
    out = {}
    for i, (pid, sid) in enumerate(pairs):
        out[f"filter[statuses][{i}][pipeline_id]"] = pid
        out[f"filter[statuses][{i}][status_id]"] = sid
    return out


def first_stage(rows: Iterable[Mapping[str, Any]]) -> int:
    """The first working status of a pipeline: after "Неразобранное" (type 1), not 142/143
    (where amoCRM itself puts a new lead, amocrm.md §4.2)."""
    for s in rows:
        sid = as_int(s.get("id"))
        if as_int(s.get("type")) != UNSORTED and sid not in (WON, LOST):
            return sid
    return 0


# notes, tasks, events (amocrm.md §4.7–4.9) -------------------------------------------------
def reactions_from(notes: Iterable[Mapping[str, Any]], tasks: Iterable[Mapping[str, Any]],
                   since: int) -> list[dict[str, Any]]:
    """Notes people wrote and tasks made at or after `since`, oldest first, in the port's
    Reactions shape."""
    out = []
    for n in notes:
        kind = NOTE_KINDS.get(str(n.get("note_type")))
        at = as_int(n.get("created_at"))
        if kind and at >= since:
            out.append((at, {"id": f"{'comment' if kind == 'comment' else 'activity'}:"
                                    f"{as_int(n.get('id'))}", "kind": kind, "at": iso(at),
                             "author": as_int(n.get("created_by")), "completed": True}))
    for t in tasks:
        at = as_int(t.get("created_at"))
        if at >= since:
            out.append((at, {"id": f"task:{as_int(t.get('id'))}", "kind": "task",
                             "at": iso(at), "author": as_int(t.get("created_by")),
                             "completed": bool(t.get("is_completed"))}))
    return [r for _at, r in sorted(out, key=lambda pair: pair[0])]


def open_activity(task: Mapping[str, Any]) -> dict[str, Any]:
    """An open task in the port's OpenActivities shape."""
    tid = as_int(task.get("id"))
    return {"id": tid, "kind": "task", "deadline": iso(task.get("complete_till")),
            "responsible": as_int(task.get("responsible_user_id")), "task_id": tid}


def task_text(title: str, description: str, tag: str) -> str:
    """A task's text: its title, its description and the tag as a last line of its own."""
    text = "\n".join(x for x in (title.strip(), description.strip()) if x)
    return f"{text}\n{TASK_MARK}{tag}" if tag else text


def has_tag(text: Any, tag: str) -> bool:
    return any(line.strip() == f"{TASK_MARK}{tag}" for line in str(text or "").splitlines())


def moved_times(events: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """Lead id → when its latest lead_status_changed event happened (amocrm.md §4.9: this,
    not updated_at, says when a lead entered its stage)."""
    out: dict[int, int] = {}
    for ev in events:
        lead, at = as_int(ev.get("entity_id")), as_int(ev.get("created_at"))
        if lead and at > out.get(lead, 0):
            out[lead] = at
    return out


# trigger tokens --------------------------------------------------------------------------
@dataclass(frozen=True)
class Trigger:
    """What a trigger token names: a pipeline action ("dp") on a lead, or a Salesbot step
    waiting at /api/v4/salesbot/{bot_id}/continue/{continue_id} (amocrm.md §3.2)."""

    kind: str  # "dp" | "salesbot"
    lead_id: int
    bot_id: int = 0
    continue_id: int = 0


def trigger_of(token: str) -> Trigger:
    """Parse "dp:{lead_id}[:{run}]" or "salesbot:{bot_id}:{continue_id}:{lead_id}"."""
    parts = str(token).split(":")
    if parts[0] == "dp" and len(parts) in (2, 3) and parts[1].isdigit():
        return Trigger("dp", int(parts[1]))
    if parts[0] == "salesbot" and len(parts) == 4 and all(x.isdigit() for x in parts[1:]):
        return Trigger("salesbot", int(parts[3]), int(parts[1]), int(parts[2]))
    raise p.CrmPermanent("trigger", f"not an amoCRM trigger token: {str(token)[:60]!r}")


def bot_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A Salesbot continue's `data`: JSON scalars as they are, anything else as text."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        value = plain(value)
        out[str(key)] = value if isinstance(value, str | int | float | bool | None) else str(
            value)
    return out


# plain text for notes and tasks ------------------------------------------------------------
BB_LINK = re.compile(r"\[URL=([^\]]*)\](.*?)\[/URL\]", re.I | re.S)
BB_BARE_LINK = re.compile(r"\[URL\](.*?)\[/URL\]", re.I | re.S)
BB_USER = re.compile(r"\[USER=[^\]]*\](.*?)\[/USER\]", re.I | re.S)
BB_BREAK = re.compile(r"\[BR\]", re.I)
BB_TAG = re.compile(r"\[/?(?:B|I|U|S|CODE|QUOTE|COLOR(?:=[^\]]*)?|SIZE(?:=[^\]]*)?)\]", re.I)


def plain_text(text: str) -> str:
    """Bitrix24's BB codes (connector.bbcode) as amoCRM's plain text: notes and tasks show
    text as typed (amocrm.md §4.7: `params.text`), so [B]…[/B] would be read literally. A
    link becomes its words and the address in brackets, as AmoCrm.link writes one; a
    mention the name; [BR] a line break; any other known code is dropped, text stays."""
    def link(m: re.Match[str]) -> str:
        url, words = m[1].strip().strip("\"'"), m[2].strip()
        return f"{words} ({url})" if words and words != url else url

    out = BB_LINK.sub(link, str(text or ""))
    out = BB_BARE_LINK.sub(lambda m: m[1].strip(), out)
    out = BB_USER.sub(lambda m: m[1], out)
    out = BB_BREAK.sub("\n", out)
    return BB_TAG.sub("", out)

"""The Bitrix24 adapter of the CRM port: queries and operations become batch commands.

A `read` is one batch request; an `apply` is one batch request. Raw command results can be
handed in beforehand (`known`, e.g. what the event's delivery already read for every
subscriber): a command whose answer is known is not sent again, and a reference into a
known answer is replaced by its value — or, when that value does not exist (a lead without
a phone, a deal without a contact), the command that needed it is not sent at all. A
reference into an unknown answer that may not resolve is never sent in the same batch: the
command waits for a second batch instead (the real server would substitute "the deepest
value it reached", not an empty string).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from connector.bitrix import documents as docs
from connector.bitrix import smart_processes as spa
from connector.bitrix import uploads
from connector.bitrix.errors import BitrixError, is_access_denied, is_not_found
from connector.bitrix.files import FileGone, open_download
from connector.bitrix.kinds import ENTITY_TYPE, crm_binding, is_item, type_id
from connector.bitrix.rest import BatchResult, BitrixClient, Command
from connector.crm import port as p
from connector.errors import AuthLost, Retryable

_REF = re.compile(r"\$result\[([^\]]+)\]((?:\[[^\]]*\])*)")
MISSING = object()
ITEM_NOT_FOUND_CODES = frozenset({"ERROR_ARGUMENT", "ERROR_CORE"})
SCOPE_CODES = {"insufficient_scope", "ERROR_METHOD_NOT_FOUND"}
DAY = {"OPENED": "working", "PAUSED": "paused", "CLOSED": "closed", "EXPIRED": "expired"}


def neutral(err: BitrixError, what: str, not_found: frozenset[str] | set[str] = frozenset()
            ) -> p.CrmError:
    """The port's error for a Bitrix24 error answer of one command.

    `not_found` adds codes that mean "no such item" for that method only (crm.*.get of a
    wrong id answers ERROR_ARGUMENT or ERROR_CORE on some entities).
    """
    reason = err.description or err.code
    if is_not_found(err) or err.code in not_found:
        return p.NotFound(what, reason, err)
    if is_access_denied(err):
        return p.AccessDenied(what, reason, err)
    if err.code in SCOPE_CODES:
        return p.MissingScope(what, reason, err)
    if err.code == "DISK_OBJ_22000":
        return p.AlreadyExists(what, reason, err)
    cls = p.CrmRetryable if isinstance(err, Retryable) else p.CrmPermanent
    return cls(what, f"{err.code}: {err.description}".strip(": "), err)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _name(user: Mapping[str, Any]) -> str:
    return f"{user.get('NAME') or ''} {user.get('LAST_NAME') or ''}".strip()


def _active(user: Mapping[str, Any]) -> bool:
    return user.get("ACTIVE") in (True, "Y", "1", 1, "true")


def _multi(values: Any) -> list[str]:
    return [str(v.get("VALUE")) for v in values or [] if isinstance(v, dict) and v.get("VALUE")]


def item_from(ref: p.ItemRef, raw: Any, observers: Any = None) -> p.Item:
    """A neutral Item from crm.<kind>.get (or crm.item.get for smart processes)."""
    if is_item(ref.kind):
        return universal_item(ref, (raw or {}).get("item") or {})
    contacts = raw.get("CONTACT_IDS") or ([raw["CONTACT_ID"]] if raw.get("CONTACT_ID") else [])
    stage = raw.get("STATUS_ID") if ref.kind == "lead" else raw.get("STAGE_ID")
    semantic = raw.get("STATUS_SEMANTIC_ID") if ref.kind == "lead" else raw.get(
        "STAGE_SEMANTIC_ID")
    attachments = []
    for name, value in raw.items():
        if not name.startswith("UF_CRM_"):
            continue
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict) and entry.get("downloadUrl") and entry.get("id"):
                attachments.append(p.Attachment(name, str(entry["id"]),
                                                str(entry["downloadUrl"])))
    # the deal as crm.item.get gives it (GetItem observers/contacts): its observers and
    # every contact (crm-deal-get.md: CONTACT_ID is the first one only)
    full = (observers or {}).get("item") or {} if isinstance(observers, dict) else {}
    obs = full.get("observers")
    if full.get("contactIds"):
        contacts = full["contactIds"]
    return p.Item(
        ref, str(raw.get("TITLE") or ""), _int(raw.get("ASSIGNED_BY_ID")),
        _int(raw.get("CREATED_BY_ID")), str(raw.get("DATE_CREATE") or ""),
        [_int(c) for c in contacts if _int(c)], _int(raw.get("COMPANY_ID")), str(stage or ""),
        semantic == "S", str(raw.get("CATEGORY_ID") or ""), str(raw.get("SOURCE_ID") or ""),
        str(raw.get("OPPORTUNITY") or "0"), str(raw.get("CURRENCY_ID") or ""),
        [_int(u) for u in obs or [] if _int(u)], _multi(raw.get("PHONE")),
        _multi(raw.get("EMAIL")), str(raw.get("COMMENTS") or ""), attachments, dict(raw),
        closed=semantic in ("S", "F"), closed_on=str(raw.get("CLOSEDATE") or "")[:10])


def universal_item(ref: p.ItemRef, row: Mapping[str, Any]) -> p.Item:
    """A neutral Item from a crm.item.* row (camelCase names): smart-process items, and
    deals read through crm.item.list."""
    contacts = row.get("contactIds") or ([row["contactId"]] if row.get("contactId") else [])
    return p.Item(ref, str(row.get("title") or ""), _int(row.get("assignedById")),
                  _int(row.get("createdBy")), str(row.get("createdTime") or ""),
                  [_int(c) for c in contacts if _int(c)], _int(row.get("companyId")),
                  str(row.get("stageId") or ""), row.get("stageSemanticId") == "S",
                  str(row.get("categoryId") or ""), str(row.get("sourceId") or ""),
                  str(row.get("opportunity") or "0"), str(row.get("currencyId") or ""),
                  [_int(u) for u in row.get("observers") or []], fields=dict(row),
                  closed=row.get("stageSemanticId") in ("S", "F"), parents=parents_of(row),
                  closed_on=str(row.get("closedate") or "")[:10])


_PARENT = re.compile(r"^parentId(\d+)$")
_KIND_OF_TYPE = {v: k for k, v in ENTITY_TYPE.items()}


def parents_of(row: Mapping[str, Any]) -> list[p.ItemRef]:
    """A smart-process item's parents: its parentId<entityTypeId> fields that are set
    (api-reference/crm/universal/crm-item-fields.md: parentId2 is the deal it belongs to)."""
    out = []
    for name, value in row.items():
        found = _PARENT.match(str(name))
        if found and _int(value) > 0:
            etid = int(found.group(1))
            out.append(p.ItemRef(_KIND_OF_TYPE.get(etid) or f"item:{etid}", _int(value)))
    return sorted(out, key=lambda r: (r.kind != "deal", r.kind, r.id))


def file_from(row: Mapping[str, Any]) -> p.FileEntry:
    """A FileEntry from a Disk object's fields; the methods type them differently (ID 9011 or
    "9043", api-reference/disk/folder/disk-folder-upload-file.md, disk-file-get.md).

    The version carries GLOBAL_CONTENT_VERSION, Disk's counter of the file's versions: two
    versions made within one second (UPDATE_TIME's resolution) at the same size are two."""
    size = _int(row.get("SIZE"))
    version = f"{row.get('UPDATE_TIME')}|{size}"
    if row.get("GLOBAL_CONTENT_VERSION") not in (None, ""):
        version += f"|{_int(row.get('GLOBAL_CONTENT_VERSION'))}"
    return p.FileEntry(_int(row.get("ID")), str(row.get("NAME") or ""), size,
                       version, str(row.get("DOWNLOAD_URL") or ""),
                       bool(_int(row.get("DELETED_TYPE"))), row.get("TYPE") == "folder",
                       str(row.get("DETAIL_URL") or ""))


@dataclass
class _Plan:
    """Commands of one read, in order, with how each query's answer is put together."""

    commands: dict[str, Command] = field(default_factory=dict)
    guarded: set[str] = field(default_factory=set)  # references that must resolve
    parse: dict[str, Callable[[dict[str, Any], dict[str, BitrixError]], Any]] = field(
        default_factory=dict)
    # commands chosen from earlier answers: later[n] runs once phase n+1's answers are in
    later: list[list[Callable[[dict[str, Any]], dict[str, Command]]]] = field(
        default_factory=list)

    def after(self, phase: int, build: Callable[[dict[str, Any]], dict[str, Command]]
              ) -> None:
        """Ask for build(answers so far)'s commands in the batch after `phase` (1, 2…)."""
        while len(self.later) < phase:
            self.later.append([])
        self.later[phase - 1].append(build)


class BitrixCrm:
    """CrmPort on one portal's REST client.

    `redis` (and the deployment's key `prefix`) hold what portal-wide set-up made, such as
    the smart processes, and its per-portal lock; without it such set-up is refused.
    """

    keeps_product_rows: ClassVar[bool] = True  # crm.item.productrow.list

    def __init__(self, client: BitrixClient, domain: str, known: dict[str, Any] | None = None,
                 redis: Any = None, prefix: str = "cc"):
        self.rest = client
        self.domain = domain
        self.tenant = p.Tenant(p.BITRIX24, client.member_id)
        self.known: dict[str, Any] = dict(known or {})  # signature → raw result
        self.seen: dict[str, Any] = {}  # every raw result this adapter read (for sharing)
        self.redis = redis
        self.prefix = prefix

    # ------------------------------------------------------------------ reads
    def read(self, queries: Mapping[str, p.Query]) -> p.Reading:
        plan = _Plan()
        for key, query in queries.items():
            self._plan(plan, key, query)
        raw, errors = self._run(plan)
        out = p.Reading()
        for key in queries:
            try:
                out.values[key] = plan.parse[key](raw, errors)
            except p.CrmError as exc:
                out.errors[key] = exc
        return out

    def _item_cmd(self, plan: _Plan, ref: p.ItemRef, observers: bool = False,
                  contacts: bool = False) -> str:
        key = f"i_{ref.kind.replace(':', '_')}_{ref.id}"
        if is_item(ref.kind):
            plan.commands.setdefault(key, ("crm.item.get", {"entityTypeId": type_id(ref.kind),
                                                            "id": ref.id}))
        else:
            plan.commands.setdefault(key, (f"crm.{ref.kind}.get", {"id": ref.id}))
        if (observers or contacts) and ref.kind == "deal":
            plan.commands.setdefault(f"{key}_obs", ("crm.item.get", {"entityTypeId": 2,
                                                                     "id": ref.id}))
        return key

    def _field(self, ref: p.ItemRef, bitrix: str, camel: str) -> str:
        return f"[item][{camel}]" if is_item(ref.kind) else f"[{bitrix}]"

    def _plan(self, plan: _Plan, key: str, q: p.Query) -> None:  # noqa: C901 - one per query
        cmds = plan.commands
        if isinstance(q, p.GetItem):
            ik = self._item_cmd(plan, q.ref, q.observers, q.contacts)

            def item(raw: dict, errs: dict, ik: str = ik, q: p.GetItem = q) -> p.Item:
                if ik in errs:
                    raise neutral(errs[ik], q.ref.label, ITEM_NOT_FOUND_CODES)
                if not isinstance(raw.get(ik), dict):
                    raise p.NotFound(q.ref.label, "no such item")
                return item_from(q.ref, raw[ik], raw.get(f"{ik}_obs"))
            plan.parse[key] = item
        elif isinstance(q, p.GetPeople):
            ids = list(dict.fromkeys(q.ids))
            if ids:
                cmds[f"{key}_u"] = ("user.get", {"FILTER": {"ID": ids}})
            if q.availability:
                for uid in ids:
                    cmds[f"{key}_tm{uid}"] = ("timeman.status", {"USER_ID": uid})

            def people(raw: dict, errs: dict, key: str = key, q: p.GetPeople = q,
                       ids: list[int] = ids) -> dict[int, p.Person]:
                users = {_int(u.get("ID")): u for u in raw.get(f"{key}_u") or []
                         if isinstance(u, dict)}
                out = {}
                for uid in ids:
                    user = users.get(uid)
                    person = p.Person(uid, _name(user) if user else "",
                                      bool(user) and _active(user))
                    if q.availability:
                        person.availability = self._day(key, uid, raw, errs)
                    out[uid] = person
                return out
            plan.parse[key] = people
        elif isinstance(q, p.DepartmentMembers):
            for d in q.departments:
                cmds[f"{key}_d{d}"] = ("user.get", {"FILTER": {"UF_DEPARTMENT": d,
                                                                "ACTIVE": True}})

            def members(raw: dict, errs: dict, key: str = key, q: p.DepartmentMembers = q
                        ) -> list[p.Person]:
                out: dict[int, p.Person] = {}
                for d in q.departments:
                    if f"{key}_d{d}" in errs:
                        raise neutral(errs[f"{key}_d{d}"], f"department {d}")
                    for user in raw.get(f"{key}_d{d}") or []:
                        uid = _int(user.get("ID"))
                        if uid and uid not in out and _active(user):
                            out[uid] = p.Person(uid, _name(user), True)
                return list(out.values())
            plan.parse[key] = members
        elif isinstance(q, p.Duplicates):
            ik = self._item_cmd(plan, q.of)
            for comm in ("PHONE", "EMAIL"):
                ref = f"$result[{ik}][{comm}][0][VALUE]"
                cmds[f"{key}_{comm}"] = ("crm.duplicate.findbycomm", {"type": comm,
                                                                      "values": [ref]})
                plan.guarded.add(f"{key}_{comm}")

            def dups(raw: dict, errs: dict, key: str = key) -> dict[str, list[int]]:
                out: dict[str, list[int]] = {"contact": [], "company": []}
                for comm in ("PHONE", "EMAIL"):
                    found = raw.get(f"{key}_{comm}")
                    if isinstance(found, dict):
                        for kind in ("CONTACT", "COMPANY"):
                            out[kind.lower()] += [_int(i) for i in found.get(kind) or []]
                return out
            plan.parse[key] = dups
        elif isinstance(q, p.CommMatches):
            # crm-duplicate-find-by-comm.md: up to 20 values a call, leads, contacts and
            # companies by default; an empty answer is [] rather than {}
            for comm, values in (("PHONE", q.phones), ("EMAIL", q.emails)):
                if values:
                    cmds[f"{key}_{comm}"] = ("crm.duplicate.findbycomm", {
                        "type": comm, "values": list(dict.fromkeys(values))[:20]})

            def matches(raw: dict, errs: dict, key: str = key) -> dict[str, list[int]]:
                out: dict[str, list[int]] = {"lead": [], "contact": [], "company": []}
                for comm in ("PHONE", "EMAIL"):
                    if f"{key}_{comm}" in errs:
                        raise neutral(errs[f"{key}_{comm}"], f"{comm.lower()} matches")
                    found = raw.get(f"{key}_{comm}")
                    if isinstance(found, dict):
                        for kind in out:
                            out[kind] += [_int(i) for i in found.get(kind.upper()) or []]
                return {kind: sorted(set(ids) - {0}) for kind, ids in out.items()}
            plan.parse[key] = matches
        elif isinstance(q, p.OpenDeals):
            # crm-item-list.md: deals filter by any of their contacts (contactIds) and by
            # stageSemanticId, "P" being the group in work (object-fields.md)
            who = "contactIds" if q.client.kind == "contact" else "companyId"
            cmds[f"{key}_d"] = ("crm.item.list", {
                "entityTypeId": 2, "select": [*DEAL_CLIENT_FIELDS],
                "filter": {who: q.client.id, "stageSemanticId": "P"}, "order": {"id": "desc"}})

            def open_deals(raw: dict, errs: dict, key: str = key, q: p.OpenDeals = q
                           ) -> list[p.Item]:
                if f"{key}_d" in errs:
                    raise neutral(errs[f"{key}_d"], f"open deals of {q.client.label}")
                got = raw.get(f"{key}_d")
                rows = _rows(got.get("items")) if isinstance(got, dict) else []
                return [universal_item(p.ItemRef("deal", _int(r.get("id"))), r)
                        for r in rows[:q.limit]]
            plan.parse[key] = open_deals
        elif isinstance(q, p.Responsible):
            ik = self._item_cmd(plan, q.of)
            path = self._field(q.of, "ASSIGNED_BY_ID", "assignedById")
            cmds[f"{key}_u"] = ("user.get", {"ID": f"$result[{ik}]{path}"})

            def responsible(raw: dict, errs: dict, key: str = key, ik: str = ik,
                            q: p.Responsible = q) -> p.Person | None:
                if ik in errs or not isinstance(raw.get(ik), dict):
                    return None  # the reference had nothing to resolve: its answer means nothing
                row = raw[ik].get("item") or {} if is_item(q.of.kind) else raw[ik]
                wanted = _int(row.get("ASSIGNED_BY_ID") or row.get("assignedById"))
                users = [u for u in raw.get(f"{key}_u") or []
                         if isinstance(u, dict) and _int(u.get("ID")) == wanted]
                user = users[0] if users else None
                return p.Person(wanted, _name(user), _active(user)) if user else None
            plan.parse[key] = responsible
        elif isinstance(q, p.ClientName):
            # crm.item.get gives companyId/contactId as 0 when there is none (never null,
            # which would stop the reference walk and send the whole item as the id)
            ik = self._item_cmd(plan, q.of, observers=True)
            src = f"{ik}_obs" if q.of.kind == "deal" else ik
            cmds[f"{key}_co"] = ("crm.company.get", {"id": f"$result[{src}][item][companyId]"})
            cmds[f"{key}_ct"] = ("crm.contact.get", {"id": f"$result[{src}][item][contactId]"})

            def client(raw: dict, errs: dict, key: str = key, ik: str = ik,
                       q: p.ClientName = q) -> str:
                # the references always resolve (the fields are always in the answer), but to
                # an empty id when there is no client: then the lookups' answers mean nothing
                got = raw.get(ik) if isinstance(raw.get(ik), dict) else {}
                row = got.get("item") or {} if is_item(q.of.kind) else got
                has_co = _int(row.get("COMPANY_ID") or row.get("companyId"))
                has_ct = _int(row.get("CONTACT_ID") or row.get("contactId"))
                company = raw.get(f"{key}_co") if has_co and f"{key}_co" not in errs else None
                contact = raw.get(f"{key}_ct") if has_ct and f"{key}_ct" not in errs else None
                if isinstance(company, dict) and company.get("TITLE"):
                    return str(company["TITLE"])
                if isinstance(contact, dict):
                    return " ".join(str(contact.get(k) or "") for k in ("NAME", "LAST_NAME")
                                    ).strip()
                return ""
            plan.parse[key] = client
        elif isinstance(q, p.StageName):
            ik = self._item_cmd(plan, q.of)
            entity = "DEAL_STAGE" if q.of.kind == "deal" else "STATUS"
            cmds[f"{key}_s"] = ("crm.status.list", {"filter": {"%ENTITY_ID": entity}})

            def stage(raw: dict, errs: dict, key: str = key, ik: str = ik,
                      q: p.StageName = q) -> str:
                row = raw.get(ik) if isinstance(raw.get(ik), dict) else {}
                stage_id = row.get("STAGE_ID") if q.of.kind == "deal" else row.get("STATUS_ID")
                match = next((s for s in raw.get(f"{key}_s") or []
                              if s.get("STATUS_ID") == stage_id), {})
                return str(match.get("NAME") or stage_id or "")
            plan.parse[key] = stage
        elif isinstance(q, p.ChatMembers):
            cmds[f"{key}_m"] = ("im.chat.user.list", {"CHAT_ID": q.chat_id})

            def chat_members(raw: dict, errs: dict, key: str = key) -> list[int]:
                if f"{key}_m" in errs:
                    raise neutral(errs[f"{key}_m"], "chat members")
                return [_int(u) for u in raw.get(f"{key}_m") or []]
            plan.parse[key] = chat_members
        elif isinstance(q, p.ItemActivities):
            cmds[f"{key}_a"] = ("crm.activity.list", {
                "filter": {"OWNER_TYPE_ID": type_id(q.of.kind), "OWNER_ID": q.of.id},
                "select": ["ID", "FILES", "OWNER_TYPE_ID", "OWNER_ID"]})

            def activities(raw: dict, errs: dict, key: str = key) -> list[dict[str, Any]]:
                if f"{key}_a" in errs:
                    raise neutral(errs[f"{key}_a"], "activities")
                return [_activity(a) for a in raw.get(f"{key}_a") or []]
            plan.parse[key] = activities
        elif isinstance(q, p.GetActivity):
            cmds[f"{key}_a"] = ("crm.activity.get", {"id": q.id})

            def activity(raw: dict, errs: dict, key: str = key, q: p.GetActivity = q
                         ) -> dict[str, Any]:
                if f"{key}_a" in errs:
                    raise neutral(errs[f"{key}_a"], f"activity {q.id}")
                return _activity(raw.get(f"{key}_a") or {})
            plan.parse[key] = activity
        elif isinstance(q, p.FolderChildren):
            cmds[f"{key}_f"] = ("disk.folder.getchildren", {"id": q.folder_id})

            def children(raw: dict, errs: dict, key: str = key, q: p.FolderChildren = q
                         ) -> list[p.FileEntry]:
                if f"{key}_f" in errs:
                    raise neutral(errs[f"{key}_f"], f"folder {q.folder_id}")
                return [file_from(r) for r in raw.get(f"{key}_f") or []]
            plan.parse[key] = children
        elif isinstance(q, p.CountInWork):
            cmds[f"{key}_c"] = self._count(q)

            def count(raw: dict, errs: dict, key: str = key) -> int:
                if f"{key}_c" in errs:
                    raise neutral(errs[f"{key}_c"], "count")
                return _int(raw.get(f"{key}_c#total"))
            plan.parse[key] = count
        elif isinstance(q, p.LatestItems):
            cmds[f"{key}_l"] = self._latest(q)

            def latest(raw: dict, errs: dict, key: str = key, q: p.LatestItems = q
                       ) -> list[p.Item]:
                if f"{key}_l" in errs:
                    raise neutral(errs[f"{key}_l"], f"latest {q.kind} items")
                rows = raw.get(f"{key}_l") or []
                if is_item(q.kind):
                    rows = [{"item": r} for r in (rows.get("items") or [])]
                return [item_from(p.ItemRef(q.kind, _int((r.get("item") or r).get(
                    "id") or r.get("ID"))), r) for r in rows[:q.limit]]
            plan.parse[key] = latest
        elif isinstance(q, p.FindItems):
            self._plan_find(plan, key, q)
        elif isinstance(q, p.CustomFields):
            # crm-deal-userfield-list.md (and its lead/contact/company siblings): every user
            # field of the entity, FIELD_NAME among them; one page of up to 50
            cmds[f"{key}_f"] = (f"crm.{q.kind}.userfield.list", {"order": {"ID": "ASC"}})

            def names(raw: dict, errs: dict, key: str = key, q: p.CustomFields = q) -> set[str]:
                if f"{key}_f" in errs:
                    raise neutral(errs[f"{key}_f"], f"{q.kind} fields")
                return {str(f.get("FIELD_NAME")) for f in raw.get(f"{key}_f") or []
                        if isinstance(f, dict)}
            plan.parse[key] = names
        elif isinstance(q, p.PipelineNames):
            # crm-category-list.md: {"categories": [{"id", "name", …}]}, every pipeline of
            # the entity type in one answer (a portal has a handful)
            etid = type_id(q.kind) if is_item(q.kind) else ENTITY_TYPE[q.kind]
            cmds[f"{key}_cat"] = ("crm.category.list", {"entityTypeId": etid})

            def pipelines(raw: dict, errs: dict, key: str = key) -> dict[str, str]:
                if f"{key}_cat" in errs:
                    raise neutral(errs[f"{key}_cat"], "pipelines")
                got = raw.get(f"{key}_cat")
                rows = got.get("categories") if isinstance(got, dict) else None
                return {str(r.get("id")): str(r.get("name") or "") for r in rows or []
                        if isinstance(r, dict)}
            plan.parse[key] = pipelines
        elif isinstance(q, p.CurrencyRates):
            # crm-currency-list.md: AMOUNT is what AMOUNT_CNT units are worth in the base
            # currency (BASE "Y"); one page holds every currency of a portal
            cmds[f"{key}_r"] = ("crm.currency.list", {"order": {"SORT": "ASC"}})

            def rates(raw: dict, errs: dict, key: str = key) -> dict[str, Any]:
                if f"{key}_r" in errs:
                    raise neutral(errs[f"{key}_r"], "currencies")
                return currency_rates(raw.get(f"{key}_r") or [])
            plan.parse[key] = rates
        elif isinstance(q, p.FindComment):
            # crm-timeline-comment-list.md: the item's comments since then, newest first
            cmds[f"{key}_c"] = ("crm.timeline.comment.list", {
                "filter": {"ENTITY_ID": q.of.id, "ENTITY_TYPE": timeline_entity(q.of.kind),
                           ">=CREATED": q.since}, "order": {"ID": "DESC"},
                "select": ["ID", "COMMENT", "CREATED"]})

            def comment(raw: dict, errs: dict, key: str = key, q: p.FindComment = q) -> int:
                if f"{key}_c" in errs:
                    raise neutral(errs[f"{key}_c"], f"comments on {q.of.label}")
                return next((_int(r.get("ID")) for r in _rows(raw.get(f"{key}_c"))
                             if str(r.get("COMMENT") or "") == q.text), 0)
            plan.parse[key] = comment
        elif not (self._plan_watch(plan, key, q) or self._plan_documents(plan, key, q)):
            raise TypeError(f"the Bitrix24 adapter cannot answer {type(q).__name__}")

    def _plan_find(self, plan: _Plan, key: str, q: p.FindItems) -> None:
        """crm.item.list with original UF names, one page per 50 items wanted, in one batch."""
        try:
            flt = spa.list_filter(q.process, q.filter)
            order = spa.list_order(q.process, q.order)
        except spa.BadValue as exc:
            err = p.CrmPermanent(f"find in {q.process.title}", str(exc))

            def refused(raw: dict, errs: dict, err: p.CrmError = err) -> list[p.Item]:
                raise err
            plan.parse[key] = refused
            return
        pages = max(1, -(-max(q.limit, 1) // 50))
        for n in range(pages):
            plan.commands[f"{key}_l{n}"] = ("crm.item.list", {
                "entityTypeId": q.process.entity_type_id, "useOriginalUfNames": "Y",
                "filter": flt, "order": order, "select": ["*", "UF_*"], "start": n * 50})

        def found(raw: dict, errs: dict, key: str = key, q: p.FindItems = q) -> list[p.Item]:
            out: list[p.Item] = []
            for n in range(pages):
                if f"{key}_l{n}" in errs:
                    raise neutral(errs[f"{key}_l{n}"], f"items of {q.process.title}")
                got = raw.get(f"{key}_l{n}")
                rows = _rows(got.get("items")) if isinstance(got, dict) else []
                for row in rows:
                    item = item_from(p.ItemRef(q.process.kind, _int(row.get("id"))),
                                     {"item": row})
                    item.values = spa.item_values(q.process, row)
                    out.append(item)
                if len(rows) < 50:
                    break
            return out[:q.limit]
        plan.parse[key] = found

    def _plan_watch(self, plan: _Plan, key: str, q: p.Query) -> bool:
        """What watchdogs read: reactions, open activities, a task by tag, working time."""
        cmds = plan.commands
        if isinstance(q, p.Reactions):
            # one page (the 50 oldest since `since`) each: the rules ask who reacted first
            # after the item appeared, and an item has no activities before it exists
            owner = {"OWNER_TYPE_ID": type_id(q.of.kind), "OWNER_ID": q.of.id}
            cmds[f"{key}_a"] = ("crm.activity.list", {
                "filter": {**owner, ">=CREATED": q.since}, "order": {"CREATED": "ASC"},
                "select": list(ACTIVITY_SELECT)})
            # crm-timeline-comment-list.md: filtered by the item; the date is checked here too
            cmds[f"{key}_c"] = ("crm.timeline.comment.list", {
                "filter": {"ENTITY_ID": q.of.id, "ENTITY_TYPE": timeline_entity(q.of.kind),
                           ">=CREATED": q.since}, "order": {"CREATED": "ASC"},
                "select": ["ID", "CREATED", "AUTHOR_ID"]})

            def reactions(raw: dict, errs: dict, key: str = key, q: p.Reactions = q
                          ) -> list[dict[str, Any]]:
                for part in ("a", "c"):
                    if f"{key}_{part}" in errs:
                        raise neutral(errs[f"{key}_{part}"], f"reactions on {q.of.label}")
                return reactions_from(raw.get(f"{key}_a"), raw.get(f"{key}_c"), q.since)
            plan.parse[key] = reactions
        elif isinstance(q, p.OpenActivities):
            # one page: the rules ask whether any open activity is not the app's own, and the
            # app makes at most a rule's few steps of them per item
            cmds[f"{key}_a"] = ("crm.activity.list", {
                "filter": {"OWNER_TYPE_ID": type_id(q.of.kind), "OWNER_ID": q.of.id,
                           "COMPLETED": "N"}, "select": list(ACTIVITY_SELECT)})

            def open_activities(raw: dict, errs: dict, key: str = key, q: p.OpenActivities = q
                                ) -> list[dict[str, Any]]:
                if f"{key}_a" in errs:
                    raise neutral(errs[f"{key}_a"], f"open activities of {q.of.label}")
                return [{"id": _int(r.get("ID")), "kind": activity_kind(r),
                         "deadline": str(r.get("DEADLINE") or ""),
                         "responsible": _int(r.get("RESPONSIBLE_ID")),
                         # ASSOCIATED_ENTITY_ID: the task (activity-base/crm-activity-fields.md)
                         "task_id": _int(r.get("ASSOCIATED_ENTITY_ID"))
                         if activity_kind(r) == "task" else 0}
                        for r in _rows(raw.get(f"{key}_a")) if r.get("COMPLETED") != "Y"]
            plan.parse[key] = open_activities
        elif isinstance(q, p.FindTask):
            # tasks-task-list.md: filter TAG, select ID; {"tasks": [{"id": "…"}]}
            cmds[f"{key}_t"] = ("tasks.task.list", {"filter": {"TAG": q.tag},
                                                    "select": ["ID"], "order": {"ID": "asc"}})

            def task(raw: dict, errs: dict, key: str = key, q: p.FindTask = q) -> int:
                if f"{key}_t" in errs:
                    raise neutral(errs[f"{key}_t"], f"task tagged {q.tag}")
                got = raw.get(f"{key}_t")
                rows = got.get("tasks") if isinstance(got, dict) else None
                return next((_int(r.get("id")) for r in rows or [] if _int(r.get("id"))), 0)
            plan.parse[key] = task
        elif isinstance(q, p.TaskState):
            # tasks-task-get.md: {"task": {"id": …, "status": "5"}}; 5 is completed
            # (tasks/status/tasks-task-complete.md); a task deleted or hidden is an error
            cmds[f"{key}_t"] = ("tasks.task.get", {"taskId": q.task_id,
                                                   "select": ["ID", "STATUS"]})

            def task_state(raw: dict, errs: dict, key: str = key, q: p.TaskState = q) -> str:
                if f"{key}_t" in errs:
                    err = neutral(errs[f"{key}_t"], f"task {q.task_id}")
                    if isinstance(err, p.NotFound | p.AccessDenied):
                        return "gone"
                    raise err
                got = raw.get(f"{key}_t")
                task = got.get("task") if isinstance(got, dict) else None
                if not isinstance(task, dict):
                    return "gone"
                return "done" if str(task.get("status")) == "5" else "open"
            plan.parse[key] = task_state
        elif isinstance(q, p.WorkCalendar):
            cmds[f"{key}_s"] = ("calendar.settings.get", {})

            def calendar(raw: dict, errs: dict, key: str = key) -> dict[str, Any]:
                if f"{key}_s" in errs:
                    raise neutral(errs[f"{key}_s"], "working time")
                return work_calendar(raw.get(f"{key}_s") or {})
            plan.parse[key] = calendar
        else:
            return False
        return True

    def _plan_documents(self, plan: _Plan, key: str, q: p.Query) -> bool:
        """What documents read (connector/bitrix/documents.py decides, purely): a document's
        parties in two batches, our companies in three, an item's product rows (its further
        pages in a second batch)."""
        if isinstance(q, p.DocumentParties):
            for k, cmd in docs.party_commands(key, q).items():
                plan.commands.setdefault(k, cmd)
            plan.after(1, lambda raw, key=key, q=q: docs.party_follow_up(key, q, raw))
            src = docs.item_command(q.of)[0]

            def parties(raw: dict, errs: dict, key: str = key, q: p.DocumentParties = q,
                        src: str = src) -> dict[str, p.Party | None]:
                if src in errs:
                    raise neutral(errs[src], q.of.label, ITEM_NOT_FOUND_CODES)
                if not isinstance(raw.get(src), dict):
                    raise p.NotFound(q.of.label, "no such item")
                return docs.parties_from(key, q, raw)
            plan.parse[key] = parties
        elif isinstance(q, p.MyCompanies):
            plan.commands.update(docs.my_companies_commands(key))
            plan.after(1, lambda raw, key=key: docs.my_companies_requisites(key, raw))
            plan.after(2, lambda raw, key=key: docs.my_companies_details(key, raw))

            def companies(raw: dict, errs: dict, key: str = key) -> list[p.Party]:
                if f"{key}_mc" in errs:
                    raise neutral(errs[f"{key}_mc"], "my companies")
                return docs.my_companies_from(key, raw)
            plan.parse[key] = companies
        elif isinstance(q, p.ProductRows):
            plan.commands[f"{key}_p0"] = docs.product_rows_command(q.of)
            plan.after(1, lambda raw, key=key, q=q: docs.product_pages(
                key, q.of, raw.get(f"{key}_p0#total")))

            def product_rows(raw: dict, errs: dict, key: str = key, q: p.ProductRows = q
                             ) -> list[p.ProductRow]:
                failed = [k for k in errs if k == f"{key}_p0" or k.startswith(f"{key}_p")]
                if failed:
                    raise neutral(errs[failed[0]], f"product rows of {q.of.label}")
                return docs.product_rows_from(key, raw)
            plan.parse[key] = product_rows
        else:
            return False
        return True

    def _day(self, key: str, uid: int, raw: dict, errs: dict) -> str:
        err = errs.get(f"{key}_tm{uid}")
        if err is not None and err.code in SCOPE_CODES:
            raise p.MissingScope("timeman", err.description or err.code, err)
        tm = raw.get(f"{key}_tm{uid}")
        if not isinstance(tm, dict):
            return "unknown" if err is not None else "not_started"
        status = str(tm.get("STATUS") or "")
        if status == "CLOSED" and not tm.get("TIME_START"):
            return "not_started"
        return DAY.get(status, "unknown" if err is not None else "not_started")

    def _count(self, q: p.CountInWork) -> Command:
        if is_item(q.kind):
            flt: dict[str, Any] = {"assignedById": q.user_id}
            flt.update({"@stageId": list(q.stages)} if q.stages else {"stageSemanticId": "P"})
            return "crm.item.list", {"entityTypeId": type_id(q.kind), "filter": flt,
                                     "select": ["id"], "start": 0}
        flt = {"ASSIGNED_BY_ID": q.user_id}
        field_ = "STATUS" if q.kind == "lead" else "STAGE"
        flt.update({f"@{field_}_ID": list(q.stages)} if q.stages else
                   {f"{field_}_SEMANTIC_ID": "P"})
        return f"crm.{q.kind}.list", {"filter": flt, "select": ["ID"], "start": 0}

    def _latest(self, q: p.LatestItems) -> Command:
        if is_item(q.kind):
            return "crm.item.list", {"entityTypeId": type_id(q.kind), "order": {"id": "DESC"},
                                     "select": ["id", "title", "assignedById", "createdTime"],
                                     "start": -1}
        return f"crm.{q.kind}.list", {"order": {"ID": "DESC"}, "start": -1,
                                      "select": ["ID", "TITLE", "ASSIGNED_BY_ID", "DATE_CREATE"]}

    def _run(self, plan: _Plan) -> tuple[dict[str, Any], dict[str, BitrixError]]:
        """Send what is not known yet: two batches at most (the second for guarded refs and
        the commands chosen from the first's answers), one more per further `later` step."""
        raw: dict[str, Any] = {}
        errors: dict[str, BitrixError] = {}
        pending = dict(plan.commands)
        for phase in range(max(2, len(plan.later) + 1)):
            for build in plan.later[phase - 1] if 0 < phase <= len(plan.later) else ():
                for key, cmd in build(raw).items():
                    if key not in raw and key not in errors:
                        pending.setdefault(key, cmd)
            ready: dict[str, Command] = {}
            for key, (method, params) in list(pending.items()):
                sig = signature(method, params)
                if sig in self.known:
                    raw[key] = self.known[sig]
                    raw[f"{key}#total"] = self.known.get(f"{sig}#total")
                    del pending[key]
                    continue
                resolved = _substitute(params, raw, set(pending) | set(ready), set(errors),
                                       key in plan.guarded)
                if resolved is MISSING:
                    raw[key] = None  # its input does not exist: nothing to ask
                    del pending[key]
                elif resolved is not None:
                    del pending[key]
                    literal = signature(method, resolved)
                    if literal in self.known:  # read before, with the same values
                        raw[key] = self.known[literal]
                        raw[f"{key}#total"] = self.known.get(f"{literal}#total")
                    else:
                        ready[key] = (method, resolved)
            if ready:
                res = self._send(ready)
                for key in ready:
                    if key in res.errors:
                        errors[key] = res.errors[key]
                        continue
                    raw[key] = res.result.get(key)
                    raw[f"{key}#total"] = res.total.get(key)
                for key, (method, params) in ready.items():  # remember, by literal params
                    if key in errors:
                        continue
                    literal = _substitute(params, raw, set(), set(errors), False)
                    if literal is MISSING or _REF.search(json.dumps(literal, default=str)):
                        continue
                    sig = signature(method, literal)
                    self.seen[sig] = raw[key]
                    self.seen[f"{sig}#total"] = raw[f"{key}#total"]
            if not pending and phase >= len(plan.later):
                break
        for key in pending:  # a reference that stayed unresolved after both phases
            raw[key] = None
        return raw, errors

    # ------------------------------------------------------------------ writes
    def apply(self, ops: Mapping[str, p.Op], halt: bool = False) -> p.Applied:
        cmds: dict[str, Command] = {}
        for key, op in ops.items():
            try:
                cmds[key] = self._command(op)
            except spa.BadValue as exc:  # nothing is sent: the set stays whole
                raise p.CrmPermanent(f"{type(op).__name__} {key}", str(exc)) from exc
        out = p.Applied()
        if not cmds:
            return out
        res = self._send(cmds, halt)
        for key, op in ops.items():
            if key in res.errors:
                out.errors[key] = neutral(res.errors[key], f"{type(op).__name__} {key}")
            elif key in res.result:
                out.values[key] = _produced(op, res.result[key])
        return out

    def _send(self, cmds: dict[str, Command], halt: bool = False) -> BatchResult:
        """One command as a plain call (the transport retries it), more as one batch."""
        if len(cmds) > 1:
            return self.rest.batch(cmds, halt=halt)
        ((key, (method, params)),) = cmds.items()
        out = BatchResult()
        try:
            res = self.rest.call_full(method, params)
        except BitrixError as exc:
            if isinstance(exc, Retryable):
                raise
            out.errors[key] = exc
            return out
        out.result[key] = res.result
        if res.total is not None:
            out.total[key] = res.total
        return out

    def _command(self, op: p.Op) -> Command:  # noqa: C901 - one branch per operation
        if isinstance(op, p.Assign):
            return self._update(op.ref, {"ASSIGNED_BY_ID": op.user_id}, quiet=False)
        if isinstance(op, p.UpdateItem) and op.process is not None:
            return "crm.item.update", {"entityTypeId": op.process.entity_type_id,
                                       "id": op.ref.id, "useOriginalUfNames": "Y",
                                       "fields": spa.item_fields(op.process, op.fields)}
        if isinstance(op, p.UpdateItem):
            return self._update(op.ref, {k: _ref(v) for k, v in op.fields.items()}, op.quiet)
        if isinstance(op, p.CreateItem):
            # crm-item-add.md; useOriginalUfNames: the fields go by their UF_CRM_… names
            return "crm.item.add", {"entityTypeId": op.process.entity_type_id,
                                    "useOriginalUfNames": "Y",
                                    "fields": spa.item_fields(op.process, op.fields)}
        if isinstance(op, p.AddComment):
            return "crm.timeline.comment.add", {"fields": {
                "ENTITY_ID": op.ref.id, "ENTITY_TYPE": timeline_entity(op.ref.kind),
                "COMMENT": op.text}}
        if isinstance(op, p.PostToChat):
            return "im.message.add", {"DIALOG_ID": f"chat{op.chat_id}", "MESSAGE": op.text,
                                      "URL_PREVIEW": "N"}
        if isinstance(op, p.NotifyUser):
            params = {"USER_ID": op.user_id, "MESSAGE": op.text}
            return "im.notify.system.add", {**params, "TAG": op.tag} if op.tag else params
        if isinstance(op, p.AnswerTrigger):
            return "bizproc.event.send", {"EVENT_TOKEN": op.token,
                                          "RETURN_VALUES": dict(op.values),
                                          "LOG_MESSAGE": op.message[:900]}
        if isinstance(op, p.LogToTrigger):
            return "bizproc.activity.log", {"EVENT_TOKEN": op.token,
                                            "LOG_MESSAGE": op.message[:900]}
        if isinstance(op, p.CreateFolder):
            return "disk.folder.addsubfolder", {"id": op.parent_id, "data": {"NAME": op.name}}
        if isinstance(op, p.ShareFolder):
            return "disk.folder.sharetouser", {"id": _ref(op.folder), "userId": op.user_id,
                                               "taskName": "disk_access_edit"}
        if isinstance(op, p.CreateChat):
            params: dict[str, Any] = {"TYPE": "CHAT", "TITLE": op.title[:255],
                                      "USERS": list(op.users)}
            if op.bound_to is not None:
                params |= {"ENTITY_TYPE": "CRM",
                           "ENTITY_ID": f"{op.bound_to.kind.upper()}|{op.bound_to.id}"}
            if op.description:
                params["DESCRIPTION"] = op.description
            if op.message:
                params["MESSAGE"] = op.message
            return "im.chat.add", params
        if isinstance(op, p.AddChatMembers):
            return "im.chat.user.add", {"CHAT_ID": op.chat_id, "USERS": list(op.users),
                                        "HIDE_HISTORY": "N"}
        if isinstance(op, p.RemoveChatMember):
            return "im.chat.user.delete", {"CHAT_ID": op.chat_id, "USER_ID": op.user_id}
        if isinstance(op, p.CreateTask):
            return "tasks.task.add", {"fields": task_fields(op)}
        if isinstance(op, p.MoveItem):
            # crm-deal-update.md: a deal changes pipeline only through crm.item.update
            # (entityTypeId 2); crm-item-update.md: categoryId with a stageId of that pipeline
            # without a stage the item lands in the new pipeline's first stage
            fields: dict[str, Any] = {"stageId": op.stage} if op.stage else {}
            if op.ref.kind != "lead":  # leads have no pipelines
                fields["categoryId"] = _int(op.category)
            return "crm.item.update", {"entityTypeId": type_id(op.ref.kind), "id": op.ref.id,
                                       "fields": fields}
        raise TypeError(f"the Bitrix24 adapter cannot do {type(op).__name__}")

    def _update(self, ref: p.ItemRef, fields: dict[str, Any], quiet: bool) -> Command:
        if is_item(ref.kind):
            camel = {"ASSIGNED_BY_ID": "assignedById"}
            return "crm.item.update", {"entityTypeId": type_id(ref.kind), "id": ref.id,
                                       "fields": {camel.get(k, k): v for k, v in fields.items()}}
        return f"crm.{ref.kind}.update", {"id": ref.id, "fields": fields, "params": {
            "REGISTER_SONET_EVENT": "N" if quiet else "Y"}}

    # ------------------------------------------------------------------ single calls
    def answer_trigger(self, token: str, values: Mapping[str, Any], message: str) -> None:
        try:
            self.rest.call(*self._command(p.AnswerTrigger(token, values, message)))
        except BitrixError as exc:
            if exc.code == "ACCESS_DENIED":
                raise p.TriggerGone("trigger", exc.description, exc) from exc
            raise

    def item(self, ref: p.ItemRef, observers: bool = False) -> p.Item:
        return self.read({"item": p.GetItem(ref, observers)}).get("item")

    def create_chat(self, title: str, users: tuple[int, ...], description: str = "") -> int:
        return int(self.rest.call(*self._command(p.CreateChat(title, users, description))))

    def ensure_smart_process(self, spec: p.SmartProcessSpec, existing: int = 0,
                             lang: str = "ru") -> p.SmartProcess:
        from connector.bitrix.smart_process_setup import ensure

        return ensure(self, spec, existing, lang)

    def _has_item_field(self, kind: str, name: str) -> bool:
        existing = self.rest.call(f"crm.{kind}.userfield.list",
                                  {"filter": {"FIELD_NAME": name}}) or []
        return any(str(f.get("FIELD_NAME")) == name for f in existing)

    def ensure_item_field(self, kind: str, name: str, type_: str, label: str) -> None:
        """Bitrix prefixes UF_CRM_ itself: the field is added under the bare name.

        A field made meanwhile by someone else is refused with ERROR_CORE "Поле UF_CRM_X для
        объекта CRM_DEAL уже существует" (api-reference/crm/requisites/user-fields/
        crm-requisite-userfield-add.md; crm-deal-userfield-add.md lists no code of its own and
        the text follows the portal's language): an ERROR_CORE after which the field is there
        is success.
        """
        if self._has_item_field(kind, name):
            return
        try:
            self.rest.call(f"crm.{kind}.userfield.add", {"fields": {
                "FIELD_NAME": name.removeprefix("UF_CRM_"), "USER_TYPE_ID": type_,
                "XML_ID": name, "EDIT_FORM_LABEL": {"ru": label, "en": label},
                "LIST_COLUMN_LABEL": {"ru": label, "en": label}}})
        except BitrixError as exc:
            if exc.code == "ERROR_CORE" and self._has_item_field(kind, name):
                return
            raise neutral(exc, f"field {name}") from exc

    def storage_root(self, storage: str) -> int:
        try:
            if str(storage) == "common":
                rows = self.rest.call("disk.storage.getlist",
                                      {"filter": {"ENTITY_TYPE": "common"}}) or []
                if not rows:
                    raise p.NotFound("common storage", "the portal has no shared storage")
                return int(rows[0]["ROOT_OBJECT_ID"])
            return int(self.rest.call("disk.storage.get", {"id": int(storage)})[
                "ROOT_OBJECT_ID"])
        except BitrixError as exc:
            raise neutral(exc, f"storage {storage}", ITEM_NOT_FOUND_CODES) from exc

    def find_subfolder(self, parent_id: int, name: str) -> p.Folder | None:
        rows = self.rest.call("disk.folder.getchildren", {
            "id": parent_id, "filter": {"NAME": name, "TYPE": "folder"}})
        for row in rows or []:
            if str(row.get("NAME")) == name and str(row.get("TYPE", "folder")) == "folder":
                return p.Folder(int(row["ID"]), str(row.get("DETAIL_URL") or ""), name)
        return None

    def subfolder(self, parent_id: int, name: str) -> tuple[p.Folder, bool]:
        try:
            made = self.rest.call("disk.folder.addsubfolder", {"id": parent_id,
                                                               "data": {"NAME": name}})
            return _folder(made), True
        except BitrixError as exc:
            if exc.code != "DISK_OBJ_22000":
                raise neutral(exc, f"folder {name}") from exc
        found = self.find_subfolder(parent_id, name)
        if found is None:
            raise p.CrmPermanent(f"folder {name}", f"Disk says it exists in {parent_id} but "
                                 "it cannot be found")
        if not found.url:
            found = _folder(self.rest.call("disk.folder.get", {"id": found.id}))
        return found, False

    def folder_files(self, folder_id: int, depth: int = 5) -> list[p.FileEntry]:
        rows = self.rest.call("disk.folder.getchildren", {"id": folder_id}) or []
        return self.walk([file_from(r) for r in rows], depth)

    def walk(self, entries: list[p.FileEntry], depth: int) -> list[p.FileEntry]:
        return p.files_below(entries, depth, self.folder_files)

    def item_ids(self, kind: str, after: int = 0) -> Iterator[int]:
        params: dict[str, Any] = {"select": ["ID"]}
        if after:
            params["filter"] = {">ID": after}
        for row in self.rest.iter_by_id(f"crm.{kind}.list", params):
            yield int(row["ID"])

    def list_items(self, kind: str, process: p.SmartProcess | None = None, after: int = 0,
                   category: str | None = None, won: bool = False) -> Iterator[p.Item]:
        """By ID cursor, 2,500 rows a request (BitrixClient.iter_by_id). Deals and leads:
        crm.<kind>.list with their user fields; smart processes: crm.item.list with original
        UF names (decision 29), `won` left to the caller (crm.item.list has no stage group
        filter: crm-item-list.md)."""
        if is_item(kind):
            etid = int(kind.split(":", 1)[1])
            flt: dict[str, Any] = {">id": after} if after else {}
            if category is not None:
                flt["categoryId"] = category
            for row in self.rest.iter_by_id("crm.item.list", {
                    "entityTypeId": etid, "useOriginalUfNames": "Y", "select": ["*", "UF_*"],
                    "filter": flt}, id_field="id", result_key="items"):
                item = item_from(p.ItemRef(kind, _int(row.get("id"))), {"item": row})
                if process is not None:
                    item.values = spa.item_values(process, row)
                yield item
            return
        flt = {">ID": after} if after else {}
        if category is not None and kind == "deal":
            flt["CATEGORY_ID"] = category
        if won:  # crm-deal-list.md: STAGE_SEMANTIC_ID "S" is the won group
            flt["STAGE_SEMANTIC_ID" if kind == "deal" else "STATUS_SEMANTIC_ID"] = "S"
        for row in self.rest.iter_by_id(f"crm.{kind}.list", {
                "select": ["*", "UF_*"], "filter": flt}):
            yield item_from(p.ItemRef(kind, _int(row.get("ID"))), row)

    def deals(self, client: p.ItemRef | None = None, after: int = 0, won: bool = False, *,
              closed: bool | None = None, created_since: str = "", moved_since: str = "",
              categories: tuple[str, ...] = ()) -> Iterator[p.Item]:
        """Through crm.item.list, the one list that gives every contact of a deal and filters
        by any of them (crm-deal-list.md: crm.deal.list neither returns nor filters by
        CONTACT_IDS, and sends to crm.item.list for them)."""
        flt: dict[str, Any] = {}
        if client is not None:
            if client.kind not in ("contact", "company"):
                raise ValueError(f"deals of a {client.kind}: contacts and companies have them")
            flt["contactIds" if client.kind == "contact" else "companyId"] = client.id
        if after:
            flt[">id"] = after
        if won:  # object-fields.md: stageSemanticId "S" is a deal's won group
            flt["stageSemanticId"] = "S"
        # crm-item-list.md: "@" is IN (an array), ">=" at or after; object-fields.md: the
        # groups are P (in work), S (won), F (lost)
        if closed is not None and not won:
            flt.update({"@stageSemanticId": ["S", "F"]} if closed else {"stageSemanticId": "P"})
        if created_since:
            flt[">=createdTime"] = created_since
        if moved_since:
            flt[">=movedTime"] = moved_since
        if categories:
            flt["@categoryId"] = [int(c) for c in categories]
        for row in self.rest.iter_by_id("crm.item.list", {
                "entityTypeId": 2, "select": [*DEAL_CLIENT_FIELDS], "filter": flt},
                id_field="id", result_key="items"):
            yield universal_item(p.ItemRef("deal", _int(row.get("id"))), row)

    def file(self, file_id: int) -> p.FileEntry:
        try:
            return file_from(self.rest.call("disk.file.get", {"id": file_id}))
        except BitrixError as exc:
            raise neutral(exc, f"file {file_id}") from exc

    def upload(self, folder_id: int, name: str, content: bytes, unique: bool = True
               ) -> p.FileEntry:
        """Two requests whatever the size (uploads.upload_file); DISK_OBJ_22000 for a taken
        name is AlreadyExists, a folder gone or in the trash NotFound."""
        try:
            return file_from(uploads.upload_file(self.rest, folder_id, name, content, unique))
        except AuthLost:
            raise  # the admin must reopen the app: not a refusal of this one file
        except BitrixError as exc:
            raise neutral(exc, f"file {name} in folder {folder_id}") from exc

    def upload_version(self, file_id: int, content: bytes, name: str = "") -> p.FileEntry:
        """One request with `name` (two when it renames the file), two without it."""
        try:
            return file_from(uploads.upload_version(self.rest, file_id, content, name))
        except AuthLost:
            raise
        except BitrixError as exc:
            raise neutral(exc, f"file {file_id}") from exc

    def download(self, url: str, declared_size: int | None = None) -> Any:
        """The file streamed with our own token filled in (the portal's links carry `auth=`)."""
        try:
            return open_download(self.rest.session, self.rest, url, declared_size,
                                 self.rest.timeout)
        except FileGone as exc:
            raise p.NotFound("file", str(exc), exc) from exc

    # ------------------------------------------------------------------ texts
    def item_folder(self, ref: p.ItemRef) -> p.Folder | None:
        """None: a deal's folder is made on Disk (deal_workspace), not kept on the item."""
        return None

    def item_link(self, ref: p.ItemRef) -> str:
        if is_item(ref.kind):
            return f"https://{self.domain}/crm/type/{type_id(ref.kind)}/details/{ref.id}/"
        return f"https://{self.domain}/crm/{ref.kind}/details/{ref.id}/"

    def mention(self, user_id: int) -> str:
        return f"[USER={user_id}][/USER]"

    def link(self, url: str, text: str) -> str:
        return f"[URL={url}]{text}[/URL]"


# helpers ----------------------------------------------------------------------------------
def signature(method: str, params: Mapping[str, Any]) -> str:
    return f"{method}?{json.dumps(params, sort_keys=True, default=str)}"


# what CrmPort.deals reads of a deal (crm.item.list camelCase names, object-fields.md)
DEAL_CLIENT_FIELDS = ("id", "title", "stageId", "stageSemanticId", "categoryId", "opportunity",
                      "currencyId", "closedate", "companyId", "contactIds", "assignedById",
                      "createdTime", "movedTime")


def currency_rates(rows: Any) -> dict[str, Any]:
    """crm.currency.list rows → {"base": code, "rates": {code: Decimal per unit}}."""
    from decimal import Decimal, InvalidOperation

    out: dict[str, Any] = {"base": "", "rates": {}}
    for row in rows if isinstance(rows, list) else []:
        code = str(row.get("CURRENCY") or "")
        try:
            rate = Decimal(str(row.get("AMOUNT") or "0")) / Decimal(
                str(row.get("AMOUNT_CNT") or "1"))
        except (InvalidOperation, ZeroDivisionError):
            continue
        if code and rate > 0:
            out["rates"][code] = rate
        if str(row.get("BASE")) == "Y":
            out["base"] = code
    return out


def _activity(row: Mapping[str, Any]) -> dict[str, Any]:
    files = [_int(f.get("id")) for f in row.get("FILES") or []
             if isinstance(f, dict) and str(f.get("id", "")).isdigit()]
    return {"id": _int(row.get("ID")), "owner_type": _int(row.get("OWNER_TYPE_ID")),
            "owner_id": _int(row.get("OWNER_ID")), "files": files}


def _folder(row: Mapping[str, Any]) -> p.Folder:
    return p.Folder(int(row["ID"]), str(row.get("DETAIL_URL") or ""), str(row.get("NAME") or ""))


def _ref(value: Any) -> Any:
    if isinstance(value, p.Produced):
        return f"$result[{value.key}]" + {"id": "[ID]", "url": "[DETAIL_URL]",
                                          "value": ""}[value.attr]
    return value


def _produced(op: p.Op, result: Any) -> Any:
    if isinstance(op, p.CreateFolder):
        return _folder(result)
    if isinstance(op, p.CreateChat):
        return int(result)
    if isinstance(op, p.CreateItem):  # crm-item-add.md: {"item": {"id": 342, …}}
        return _int(((result or {}).get("item") or {}).get("id"))
    if isinstance(op, p.CreateTask):  # tasks-task-add.md: {"task": {"id": "3711", …}}
        return _int(((result or {}).get("task") or {}).get("id"))
    return result


# watchdogs -------------------------------------------------------------------------------
ACTIVITY_SELECT = ("ID", "TYPE_ID", "PROVIDER_ID", "AUTHOR_ID", "RESPONSIBLE_ID", "DEADLINE",
                   "COMPLETED", "CREATED", "ASSOCIATED_ENTITY_ID")
# timeline/activities/index.md, TYPE_ID: 1 meeting, 2 call, 3 task, 4 e-mail, 6 provider's
ACTIVITY_TYPES = {1: "meeting", 2: "call", 3: "task", 4: "email"}
# todo/index.md: to-dos are PROVIDER_ID CRM_TODO; a task's provider on the modern portal
ACTIVITY_PROVIDERS = {"CRM_TODO": "todo", "TASKS_TASK": "task", "CRM_TASKS_TASK": "task",
                      "VOXIMPLANT_CALL": "call", "CRM_EMAIL": "email", "CRM_MEETING": "meeting"}
# calendar-settings-get.md: week_holidays as two-letter day codes
WEEKDAYS = {"MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6, "SU": 7}


def activity_kind(row: Mapping[str, Any]) -> str:
    """A neutral kind of a crm.activity.list row, by its provider, else its TYPE_ID."""
    return ACTIVITY_PROVIDERS.get(str(row.get("PROVIDER_ID") or "")) or ACTIVITY_TYPES.get(
        _int(row.get("TYPE_ID")), "activity")


def timeline_entity(kind: str) -> str:
    """crm-timeline-comment-add.md ENTITY_TYPE: "deal", "lead", …, "dynamic_1046"."""
    return f"dynamic_{type_id(kind)}" if is_item(kind) else kind


def task_fields(op: p.CreateTask) -> dict[str, Any]:
    """tasks.task.add fields (tasks-task-add.md) of a CreateTask."""
    fields: dict[str, Any] = {"TITLE": op.title, "DESCRIPTION": op.description,
                              "RESPONSIBLE_ID": op.responsible, "DEADLINE": op.deadline,
                              "UF_CRM_TASK": [crm_binding(op.bound_to)]}
    if op.auditors:
        fields["AUDITORS"] = list(op.auditors)
    if op.tag:
        fields["TAGS"] = [op.tag]
    return fields


def _rows(value: Any) -> list[Mapping[str, Any]]:
    return [r for r in value or [] if isinstance(r, dict)] if isinstance(value, list) else []


def _when(value: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def reactions_from(activities: Any, comments: Any, since: str) -> list[dict[str, Any]]:
    """Activities and comments at or after `since`, oldest first, in the port's shape."""
    start = _when(since)
    out = []
    for row in _rows(activities):
        out.append({"id": f"activity:{_int(row.get('ID'))}", "kind": activity_kind(row),
                    "at": str(row.get("CREATED") or ""),
                    "author": _int(row.get("AUTHOR_ID")), "completed": row.get("COMPLETED")
                    == "Y"})
    for row in _rows(comments):
        out.append({"id": f"comment:{_int(row.get('ID'))}", "kind": "comment",
                    "at": str(row.get("CREATED") or ""),
                    "author": _int(row.get("AUTHOR_ID")), "completed": True})
    dated = [(_when(r["at"]), r) for r in out]
    kept = [(at, r) for at, r in dated if at is not None and (start is None or at >= start)]
    return [r for _at, r in sorted(kept, key=lambda pair: pair[0])]


def _hour(value: Any) -> str:
    """ "9" → "09:00", "9.30" / "9:30" → "09:30" (calendar-settings-get.md prints hours)."""
    text = str(value or "").strip().replace(":", ".")
    hours, _, minutes = text.partition(".")
    if not hours.isdigit():
        return ""
    return f"{int(hours):02d}:{int(minutes or 0):02d}" if (minutes or "0").isdigit() else ""


def _days(value: Any) -> list[str]:
    """ "1.01,7.01" → ["01.01", "07.01"]."""
    parts = value if isinstance(value, list) else str(value or "").split(",")
    out = []
    for part in parts:
        day, _, month = str(part).strip().partition(".")
        if day.isdigit() and month.isdigit():
            out.append(f"{int(day):02d}.{int(month):02d}")
    return out


def work_calendar(raw: Mapping[str, Any]) -> dict[str, Any]:
    """calendar.settings.get → the port's {"start", "end", "weekend", "holidays",
    "workdays"} (WorkCalendar)."""
    weekend = raw.get("week_holidays")
    return {"start": _hour(raw.get("work_time_start")), "end": _hour(raw.get("work_time_end")),
            "weekend": sorted(WEEKDAYS[d] for d in {str(x).upper() for x in (
                weekend if isinstance(weekend, list) else [])} if d in WEEKDAYS),
            "holidays": _days(raw.get("year_holidays")),
            "workdays": _days(raw.get("year_workdays"))}


def _lookup(value: Any, path: str) -> Any:
    for part in re.findall(r"\[([^\]]*)\]", path):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return MISSING
    return value


def _substitute(params: Any, raw: dict[str, Any], unsent: set[str], failed: set[str],
                guarded: bool) -> Any:
    """Params with references into known answers replaced by their values.

    MISSING when a referenced answer is known and the value does not exist (or is empty),
    or the referenced command failed: there is nothing to ask. None when a guarded
    reference points at a command not answered yet (it waits for the next batch).
    """
    wait = False
    missing = False

    def walk(value: Any) -> Any:
        nonlocal wait, missing
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and (m := _REF.fullmatch(value)):
            target, path = m.group(1), m.group(2)
            if target in raw:
                found = _lookup(raw[target], path)
                if found is MISSING or found in (None, "", "0", 0):
                    missing = True
                    return value
                return found
            if target in failed:
                missing = True
            elif guarded and target in unsent:
                wait = True
        return value

    out = walk(dict(params))
    if missing:  # the value it needs is known not to exist: nothing to ask
        return MISSING
    if wait:
        return None
    return out

"""Create a new deal's folder and chat: one read batch, one write batch, exactly once.

Exactly once comes from three layers: a per-deal Redis lock (simultaneous deliveries of the
same event wait for each other), the deal's own fields (a rerun after a crash sees the link
and the chat id the first run wrote in the same batch as it created them), and Disk's
refusal of a duplicate name (an existing folder of that name is reused, never duplicated).
"""

from __future__ import annotations

import json
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import LockError

from connector.bitrix.errors import BitrixError
from connector.bitrix.rest import BitrixClient, Command
from connector.errors import Permanent
from robots.deal_workspace.naming import bb_escape, folder_name, path_segments, render

EXISTS = "DISK_OBJ_22000"
RECORD_TTL_S = 400 * 24 * 3600


class SetupError(Permanent):
    """A setting or portal state the admin must fix; the text says what."""


@dataclass
class Outcome:
    folder_id: int = 0
    folder_url: str = ""
    chat_id: int = 0
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped: str = ""


class Workspace:
    """Redis records, caches and the lock for one portal's deal folders and chats."""

    def __init__(self, redis: Any, prefix: str, member_id: str):
        self.redis = redis
        self.base = f"{prefix}:deals:{member_id}"

    def record_key(self, deal_id: int) -> str:
        return f"{self.base}:deal:{deal_id}"

    def record(self, deal_id: int) -> dict[str, Any]:
        raw = self.redis.get(self.record_key(deal_id))
        return json.loads(raw) if raw else {}

    def save(self, deal_id: int, **values: Any) -> None:
        rec = {**self.record(deal_id), **{k: v for k, v in values.items() if v}}
        self.redis.set(self.record_key(deal_id), json.dumps(rec), ex=RECORD_TTL_S)

    def lock(self, deal_id: int) -> Any:
        return self.redis.lock(f"{self.base}:lock:{deal_id}", timeout=120, blocking_timeout=120)

    def cached(self, key: str) -> str | None:
        raw = self.redis.get(f"{self.base}:cache:{key}")
        return raw.decode() if raw else None

    def cache(self, key: str, value: Any, ttl_s: int = 7 * 24 * 3600) -> None:
        self.redis.set(f"{self.base}:cache:{key}", str(value), ex=ttl_s)


# prerequisites, cached: user fields and the parent folder ------------------------------------
def ensure_field(rest: BitrixClient, ws: Workspace, name: str, user_type: str, label: str
                 ) -> None:
    """Create the deal user field once; Bitrix prefixes UF_CRM_ itself."""
    if not name.startswith("UF_CRM_") or ws.cached(f"uf:{name}"):
        return
    existing = rest.call("crm.deal.userfield.list", {"filter": {"FIELD_NAME": name}}) or []
    if not any(str(f.get("FIELD_NAME")) == name for f in existing):
        try:
            rest.call("crm.deal.userfield.add", {"fields": {
                "FIELD_NAME": name[len("UF_CRM_"):], "USER_TYPE_ID": user_type, "XML_ID": name,
                "EDIT_FORM_LABEL": {"ru": label, "en": label},
                "LIST_COLUMN_LABEL": {"ru": label, "en": label}}})
        except BitrixError as exc:
            if exc.code == "ACCESS_DENIED":
                raise SetupError(f"cannot create the deal field {name}: the app needs a CRM "
                                 "administrator's rights (reinstall as an administrator)") from exc
            raise
    ws.cache(f"uf:{name}", 1)


def _child_folder(rest: BitrixClient, parent_id: int, name: str) -> int | None:
    rows = rest.call("disk.folder.getchildren", {"id": parent_id,
                                                 "filter": {"NAME": name, "TYPE": "folder"}})
    for row in rows or []:
        if str(row.get("NAME")) == name and str(row.get("TYPE", "folder")) == "folder":
            return int(row["ID"])
    return None


def subfolder(rest: BitrixClient, parent_id: int, name: str) -> tuple[dict[str, Any], bool]:
    """The named subfolder, created if missing; (folder, created)."""
    try:
        return rest.call("disk.folder.addsubfolder", {"id": parent_id,
                                                      "data": {"NAME": name}}), True
    except BitrixError as exc:
        if exc.code != EXISTS:
            raise
    found = _child_folder(rest, parent_id, name)
    if found is None:
        raise SetupError(f"Disk says '{name}' exists but it cannot be found in folder "
                         f"{parent_id}")
    return rest.call("disk.folder.get", {"id": found}), False


def storage_root(rest: BitrixClient, ws: Workspace, storage: str | int) -> int:
    key = f"root:{storage}"
    if hit := ws.cached(key):
        return int(hit)
    if str(storage) == "common":
        rows = rest.call("disk.storage.getlist", {"filter": {"ENTITY_TYPE": "common"}}) or []
        if not rows:
            raise SetupError("the portal has no common (shared) Disk storage")
        root = int(rows[0]["ROOT_OBJECT_ID"])
    else:
        try:
            row = rest.call("disk.storage.get", {"id": int(storage)})
        except BitrixError as exc:
            raise SetupError(f"Disk storage {storage} does not exist or is not accessible "
                             f"({exc.code}); check deal_folders.storage") from exc
        root = int(row["ROOT_OBJECT_ID"])
    ws.cache(key, root)
    return root


def parent_folder(rest: BitrixClient, ws: Workspace, storage: str | int, path: list[str]) -> int:
    key = f"path:{storage}:{'/'.join(path)}"
    if hit := ws.cached(key):
        return int(hit)
    folder_id = storage_root(rest, ws, storage)
    for segment in path:
        folder, _ = subfolder(rest, folder_id, segment)
        folder_id = int(folder["ID"])
    ws.cache(key, folder_id)
    return folder_id


# the deal setup itself ----------------------------------------------------------------------
def deal_values(deal: dict[str, Any], extra: dict[str, Any], tz: str, domain: str
                ) -> dict[str, Any]:
    created = deal.get("DATE_CREATE")
    try:
        when = datetime.fromisoformat(str(created)).astimezone(ZoneInfo(tz))
    except (TypeError, ValueError):
        when = datetime.now(ZoneInfo(tz))
    deal_id = deal.get("ID")
    return {
        "ID": deal_id, "TITLE": deal.get("TITLE") or "", "YEAR": when.year,
        "MONTH": f"{when.month:02d}", "AMOUNT": deal.get("OPPORTUNITY") or "0",
        "CURRENCY": deal.get("CURRENCY_ID") or "", **extra,
        "LINK": f"https://{domain}/crm/deal/details/{deal_id}/",
    }


def observers(item_result: Any) -> list[Any]:
    """Deal observers: crm.deal.get does not return them, crm.item.get does (`observers`)."""
    item = item_result.get("item") if isinstance(item_result, dict) else None
    return list((item or {}).get("observers") or [])


def people(deal: dict[str, Any], extra: list[int]) -> list[int]:
    ids = [deal.get("ASSIGNED_BY_ID"), *(deal.get("OBSERVER_IDS") or deal.get("OBSERVERS") or []),
           *extra]
    out: list[int] = []
    for raw in ids:
        try:
            uid = int(raw or 0)
        except (TypeError, ValueError):
            continue
        if uid and uid not in out:
            out.append(uid)
    return out


def set_up_deal(rest: BitrixClient, ws: Workspace, settings: dict[str, Any], domain: str,
                deal_id: int, folder: bool, chat: bool) -> Outcome:
    """Create what is missing of (folder, chat) for one deal; safe to run any number of times."""
    out = Outcome()
    fcfg, ccfg = settings["deal_folders"], settings["deal_chats"]
    link_field, chat_field = fcfg["link_field"], ccfg["chat_field"]
    lock = ws.lock(deal_id)
    if not lock.acquire():
        raise TimeoutError(f"deal {deal_id} setup is busy")
    try:
        rec = ws.record(deal_id)
        folder = folder and not rec.get("folder_id")
        chat = chat and not rec.get("chat_id")
        out.folder_id, out.folder_url = int(rec.get("folder_id") or 0), rec.get("folder_url", "")
        out.chat_id = int(rec.get("chat_id") or 0)
        if not folder and not chat:
            out.skipped = "already set up"
            return out
        if folder and link_field != "COMMENTS":
            ensure_field(rest, ws, link_field, "url", "Deal folder")
        if chat and chat_field:
            ensure_field(rest, ws, chat_field, "string", "Deal chat id")
        reads: dict[str, Command] = {
            "deal": ("crm.deal.get", {"id": deal_id}),
            "responsible": ("user.get", {"ID": "$result[deal][ASSIGNED_BY_ID]"}),
        }
        if chat:
            reads["contact"] = ("crm.contact.get", {"id": "$result[deal][CONTACT_ID]"})
            reads["company"] = ("crm.company.get", {"id": "$result[deal][COMPANY_ID]"})
            reads["stages"] = ("crm.status.list", {"filter": {"%ENTITY_ID": "DEAL_STAGE"}})
            reads["item"] = ("crm.item.get", {"entityTypeId": 2, "id": deal_id})
        got = rest.batch(reads)
        if "deal" in got.errors:
            err = got.errors["deal"]
            if err.code in ("ERROR_NOT_FOUND", "NOT_FOUND", "ERROR_CORE", "ERROR_ARGUMENT"):
                out.skipped = f"deal {deal_id} not found (deleted?)"
                return out
            raise err
        deal = {**got.result["deal"], "OBSERVER_IDS": observers(got.result.get("item"))}
        users = got.result.get("responsible") or []
        responsible = users[0] if users else {}
        extra = {"RESPONSIBLE": bb_escape(f"{responsible.get('NAME', '')} "
                                          f"{responsible.get('LAST_NAME', '')}".strip())}
        if chat:
            client = got.result.get("company") or got.result.get("contact") or {}
            extra["CLIENT"] = bb_escape(client.get("TITLE") or " ".join(
                str(client.get(k) or "") for k in ("NAME", "LAST_NAME")).strip() or "—")
            stage = next((s for s in got.result.get("stages") or []
                          if s.get("STATUS_ID") == deal.get("STAGE_ID")), {})
            extra["STAGE"] = bb_escape(stage.get("NAME") or deal.get("STAGE_ID") or "")
        values = deal_values(deal, extra, settings["general"]["timezone"], domain)
        values["TITLE"] = bb_escape(values["TITLE"]) if chat else values["TITLE"]
        # the deal itself may already carry what an earlier, interrupted run created
        name = folder_name(fcfg["name_template"], {**values, "TITLE": deal.get("TITLE")},
                           fcfg["max_name_length"]) if folder else ""
        parent = parent_folder(rest, ws, fcfg["storage"],
                               path_segments(fcfg["parent_path"], values)) if folder else 0
        if folder and link_field != "COMMENTS" and deal.get(link_field):
            folder = False
            out.folder_url = str(deal[link_field])
            out.folder_id = _child_folder(rest, parent, name) or 0
            out.reused.append("folder")
        if chat and chat_field and str(deal.get(chat_field) or "").isdigit():
            chat = False
            out.chat_id = int(deal[chat_field])
            out.reused.append("chat")
        writes: dict[str, Command] = {}
        update: dict[str, Any] = {}
        if folder:
            writes["folder"] = ("disk.folder.addsubfolder", {"id": parent,
                                                             "data": {"NAME": name}})
            if fcfg["share_with_responsible"] and deal.get("ASSIGNED_BY_ID"):
                writes["share"] = ("disk.folder.sharetouser", {
                    "id": "$result[folder][ID]", "userId": deal["ASSIGNED_BY_ID"],
                    "taskName": "disk_access_edit"})
            if link_field != "COMMENTS":
                update[link_field] = "$result[folder][DETAIL_URL]"
        if chat:
            writes["chat"] = ("im.chat.add", {
                "TYPE": "CHAT", "ENTITY_TYPE": "CRM", "ENTITY_ID": f"DEAL|{deal_id}",
                "TITLE": render(ccfg["title_template"], values)[:255],
                "USERS": people(deal, ccfg["extra_user_ids"]),
                "DESCRIPTION": values["LINK"],
                "MESSAGE": render(ccfg["message_template"], values)})
            if chat_field:
                update[chat_field] = "$result[chat]"
        if update:
            writes["update"] = ("crm.deal.update", {"id": deal_id, "fields": update,
                                                    "params": {"REGISTER_SONET_EVENT": "N"}})
        res = rest.batch(writes) if writes else None
        # records are written only once the deal carries the links, so a run that fails
        # in between is repeated in full (and finds its folder and chat through the deal)
        follow_up: dict[str, Any] = {}
        if folder and res is not None:
            if "folder" in res.errors:
                if res.errors["folder"].code != EXISTS:
                    raise res.errors["folder"]
                existing, _ = subfolder(rest, writes["folder"][1]["id"], name)
                out.folder_id, out.folder_url = int(existing["ID"]), str(existing["DETAIL_URL"])
                out.reused.append("folder")
                if link_field != "COMMENTS":
                    follow_up[link_field] = out.folder_url
            else:
                made = res.result["folder"]
                out.folder_id, out.folder_url = int(made["ID"]), str(made["DETAIL_URL"])
                out.created.append("folder")
            if link_field == "COMMENTS":
                comments = str(deal.get("COMMENTS") or "")
                if out.folder_url not in comments:
                    follow_up["COMMENTS"] = (comments + "\n" if comments else "") + \
                        f"Deal folder: {out.folder_url}"
        if chat and res is not None:
            if "chat" in res.errors:
                raise res.errors["chat"]
            out.chat_id = int(res.result["chat"])
            out.created.append("chat")
        if follow_up or (res is not None and "update" in res.errors):
            if chat_field and out.chat_id:
                follow_up.setdefault(chat_field, out.chat_id)
            if link_field != "COMMENTS" and out.folder_url:
                follow_up.setdefault(link_field, out.folder_url)
            rest.call("crm.deal.update", {"id": deal_id, "fields": follow_up,
                                          "params": {"REGISTER_SONET_EVENT": "N"}})
        ws.save(deal_id, folder_id=out.folder_id, folder_url=out.folder_url,
                chat_id=out.chat_id, updated=time.time(),
                members=people(deal, ccfg["extra_user_ids"]) if out.chat_id else None)
        return out
    finally:
        with suppress(LockError):  # an expired lock: the work is done
            lock.release()

"""Create a new deal's folder and chat: one read, one write, exactly once.

Portal-wide prerequisites (the deal fields, the parent folders) are made once per portal under
its lock, with the CRM's "already exists" taken as success (connector.once). Exactly once per
deal comes from three layers: a per-deal Redis lock (simultaneous deliveries of the
same event wait for each other), the deal's own fields (a rerun after a crash sees the link
and the chat id the first run wrote in the same write as it created them), and the file
store's refusal of a duplicate name (an existing folder of that name is reused, never
duplicated).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import LockError

from connector.crm import port as crm
from connector.errors import Permanent
from connector.i18n import N_, money, t
from connector.once import once
from connector.templating import bb_escape, folder_name, item_values, path_segments, render

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
    """Redis records, caches and the lock of one tenant's deal folders and chats."""

    def __init__(self, redis: Any, base: str):
        self.redis = redis
        self.base = base

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

    def once(self, key: str, make: Callable[[], str]) -> str:
        """The cached `key`, or `make()` (which caches it) run once for the whole portal."""
        return once(self.redis, f"{self.base}:lock:once:{key}", lambda: self.cached(key), make)


# prerequisites, made once per portal and cached: custom fields and the parent folder --------
def ensure_field(port: crm.CrmPort, ws: Workspace, name: str, type_: str, label: str,
                 lang: str) -> None:
    """The deal field exists: made once under the portal's lock (the port takes the CRM's
    "already exists" as success, for a field someone else made meanwhile)."""
    if not name.startswith("UF_CRM_"):
        return

    def make() -> str:
        try:
            port.ensure_item_field("deal", name, type_, label)
        except crm.AccessDenied as exc:
            raise SetupError(t(lang, N_("cannot create the deal field {field}: the app needs a "
                                        "CRM administrator's rights (reinstall as an "
                                        "administrator)"), field=name)) from exc
        ws.cache(f"uf:{name}", 1)
        return "1"

    ws.once(f"uf:{name}", make)


def storage_root(port: crm.CrmPort, ws: Workspace, storage: str | int, lang: str) -> int:
    key = f"root:{storage}"
    if hit := ws.cached(key):
        return int(hit)
    try:
        root = port.storage_root(str(storage))
    except (crm.NotFound, crm.AccessDenied) as exc:
        if str(storage) == "common":
            raise SetupError(t(lang, N_("the portal has no common (shared) Disk storage"))
                             ) from exc
        raise SetupError(t(lang, N_("Disk storage {storage} does not exist or is not "
                                    "accessible; check deal_folders.storage"),
                           storage=storage)) from exc
    ws.cache(key, root)
    return root


def parent_folder(port: crm.CrmPort, ws: Workspace, storage: str | int, path: list[str],
                  lang: str) -> int:
    """The deals' parent folder (Deals/2025): made once per path under the portal's lock."""
    key = f"path:{storage}:{'/'.join(path)}"

    def make() -> str:
        folder_id = storage_root(port, ws, storage, lang)
        for segment in path:  # Disk's "already exists" is the folder found (port.subfolder)
            folder, _ = port.subfolder(folder_id, segment)
            folder_id = folder.id
        ws.cache(key, folder_id)
        return str(folder_id)

    return int(ws.once(key, make))


# the deal setup itself ----------------------------------------------------------------------
def people(deal: crm.Item, extra: list[int]) -> list[int]:
    out: list[int] = []
    for uid in [deal.assigned, *deal.observers, *extra]:
        if uid and uid not in out:
            out.append(uid)
    return out


def setup_queries(ref: crm.ItemRef, chat: bool) -> dict[str, crm.Query]:
    """What a set-up reads: the deal with its observers and responsible (+ chat facts)."""
    out: dict[str, crm.Query] = {"deal": crm.GetItem(ref, observers=True),
                                 "responsible": crm.Responsible(ref)}
    if chat:
        out |= {"client": crm.ClientName(ref), "stage": crm.StageName(ref)}
    return out


def own_folder(port: crm.CrmPort, ref: crm.ItemRef) -> crm.Folder | None:
    """The item's own files as its folder, on a CRM that keeps files on the item itself
    (amoCRM's Files tab, connector.amocrm.adapter_files): there is nothing to make, and
    its link is the item's own page, so nothing is written into the item either."""
    return port.item_folder(ref)


def set_up_deal(ctx: Any, ws: Workspace, deal_id: int, folder: bool, chat: bool,
                reading: crm.Reading | None = None) -> Outcome:
    """Create what is missing of (folder, chat) for one deal; safe to run any number of times."""
    out = Outcome()
    port: crm.CrmPort = ctx.crm
    lang, settings = ctx.lang, ctx.settings
    fcfg, ccfg = settings["deal_folders"], settings["deal_chats"]
    link_field, chat_field = fcfg["link_field"], ccfg["chat_field"]
    lock = ws.lock(deal_id)
    # waited for (another run held it, perhaps one that died mid-write): what was read
    # before may be stale — a chat its write made meanwhile — so it is read again inside
    waited = not lock.acquire(blocking=False)
    if waited and not lock.acquire():
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
        if folder and (own := own_folder(port, crm.ItemRef("deal", deal_id))) is not None:
            folder = False
            out.folder_id, out.folder_url = own.id, own.url
            out.reused.append("folder")
            if not chat:
                ws.save(deal_id, folder_id=out.folder_id, folder_url=out.folder_url,
                        updated=time.time())
                return out
        if folder and link_field != "COMMENTS":
            ensure_field(port, ws, link_field, "url", t(lang, N_("Deal folder")), lang)
        if chat and chat_field:
            ensure_field(port, ws, chat_field, "string", t(lang, N_("Deal chat id")), lang)
        ref = crm.ItemRef("deal", deal_id)
        wanted = setup_queries(ref, chat)
        if reading is None or waited or any(
                not reading.ok(k) and k not in reading.errors for k in wanted):
            reading = port.read(wanted)
        try:
            deal: crm.Item = reading.get("deal")
        except crm.NotFound:
            out.skipped = f"deal {deal_id} not found (deleted?)"
            return out
        responsible = reading.values.get("responsible")
        chosen = ctx.service("assignee")  # published by distribution, when it is loaded
        assigned = chosen(ctx, ref) if chosen else None
        if assigned is not None and assigned.id != deal.assigned:  # read before it assigned
            deal.assigned, responsible = assigned.id, assigned
        link = port.item_link(ref)
        values = item_values(deal, ctx.tz, link)
        values["RESPONSIBLE"] = bb_escape(responsible.name if responsible else "")
        if chat:
            values["CLIENT"] = bb_escape(reading.values.get("client") or "—")
            values["STAGE"] = bb_escape(reading.values.get("stage") or deal.stage)
        name = folder_name(fcfg["name_template"], values, fcfg["max_name_length"]) \
            if folder else ""
        parent = parent_folder(port, ws, fcfg["storage"],
                               path_segments(fcfg["parent_path"], values), lang) if folder else 0
        # the deal itself may already carry what an earlier, interrupted run created
        if folder and link_field != "COMMENTS" and deal.fields.get(link_field):
            folder = False
            out.folder_url = str(deal.fields[link_field])
            found = port.find_subfolder(parent, name)
            out.folder_id = found.id if found else 0
            out.reused.append("folder")
        if chat and chat_field and str(deal.fields.get(chat_field) or "").isdigit():
            chat = False
            out.chat_id = int(deal.fields[chat_field])
            out.reused.append("chat")
        ops: dict[str, crm.Op] = {}
        update: dict[str, Any] = {}
        if folder:
            ops["folder"] = crm.CreateFolder(parent, name)
            if fcfg["share_with_responsible"] and deal.assigned:
                ops["share"] = crm.ShareFolder(crm.Produced("folder", "id"), deal.assigned)
            if link_field != "COMMENTS":
                update[link_field] = crm.Produced("folder", "url")
        if chat:
            title_values = {**values, "TITLE": bb_escape(deal.title),
                            "MONEY": money(deal.amount, deal.currency, lang)}
            # a template left at its default is a msgid: it is written in the portal's language
            ops["chat"] = crm.CreateChat(
                render(t(lang, ccfg["title_template"]), title_values)[:255],
                tuple(people(deal, ccfg["extra_user_ids"])), link,
                render(t(lang, ccfg["message_template"]), title_values), bound_to=ref)
            if chat_field:
                update[chat_field] = crm.Produced("chat", "value")
        if update:
            ops["update"] = crm.UpdateItem(ref, update)
        done = port.apply(ops) if ops else None
        # records are written only once the deal carries the links, so a run that fails
        # in between is repeated in full (and finds its folder and chat through the deal)
        follow_up: dict[str, Any] = {}
        if folder and done is not None:
            if "folder" in done.errors:
                if not isinstance(done.errors["folder"], crm.AlreadyExists):
                    raise done.errors["folder"]
                existing, _ = port.subfolder(parent, name)
                out.folder_id, out.folder_url = existing.id, existing.url
                out.reused.append("folder")
                if link_field != "COMMENTS":
                    follow_up[link_field] = out.folder_url
            else:
                made: crm.Folder = done.values["folder"]
                out.folder_id, out.folder_url = made.id, made.url
                out.created.append("folder")
            if link_field == "COMMENTS" and out.folder_url not in deal.comments:
                note = t(lang, N_("Deal folder: {url}"), url=out.folder_url)
                follow_up["COMMENTS"] = f"{deal.comments}\n{note}" if deal.comments else note
        if chat and done is not None:
            if "chat" in done.errors:
                raise done.errors["chat"]
            out.chat_id = int(done.values["chat"])
            out.created.append("chat")
        if follow_up or (done is not None and "update" in done.errors):
            if chat_field and out.chat_id:
                follow_up.setdefault(chat_field, out.chat_id)
            if link_field != "COMMENTS" and out.folder_url:
                follow_up.setdefault(link_field, out.folder_url)
            redo = port.apply({"update": crm.UpdateItem(ref, follow_up)})
            if "update" in redo.errors:
                raise redo.errors["update"]
        ws.save(deal_id, folder_id=out.folder_id, folder_url=out.folder_url,
                chat_id=out.chat_id, updated=time.time(),
                members=people(deal, ccfg["extra_user_ids"]) if out.chat_id else None)
        return out
    finally:
        with suppress(LockError):  # an expired lock: the work is done
            lock.release()

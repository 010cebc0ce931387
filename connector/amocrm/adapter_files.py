"""The file side of the amoCRM port: files of leads (the Files API and attachment notes),
downloads and uploads through the account's Files host (amocrm.md §4.7, §4.10;
https://www.amocrm.ru/developers/content/files/files-api).

Decisions (the port speaks Bitrix24 Disk's shapes: int ids, folders):

* **File ids.** amoCRM's file model has no numeric id, only `uuid` and `version_uuid`
  (files-api, "Параметры ответа"); the `id` of `GET /api/v4/leads/{id}/files` is the id of
  the lead–file *link*, different for each lead the file is linked to. So each uuid gets
  a number of its own, kept per account in the Redis hash `{prefix}:amo-files:{account}`
  (`u:<uuid>` → n, `i:<n>` → uuid, `n` the counter). Numbers are never reused, so a
  capability's record of "file 7" always names one amoCRM file. `FileEntry.version` is the
  `version_uuid`: a new version (an upload session with `file_uuid`, §4.10) changes it,
  the id stays.
* **Folders.** amoCRM Files has no folders. Folder ids are numbers too, in ranges of
  FOLDER = 10**12 (file numbers come from a counter and stay below it):
  `1·F + id` a lead's files, `2·F + id` a contact's, `3·F + id` a company's — the card's
  files, i.e. its Files tab (`/api/v4/{entity}/{id}/files`) and its attachment notes,
  one entry per uuid; an upload there is linked to the card
  (`PUT /api/v4/{entity}/{id}/files`) so people find it on the card. `item_folder(ref)`
  names that folder. `storage_root("common")` is the account's Files (`ROOT`, the only
  storage amoCRM has); a named subfolder of it (the documents' «Документы/Сделка 12»)
  is the app's own grouping, `8·F + n` (`f:<id>` in the same hash; a folder's subfolders
  in the hash `…:sub:<parent>`, name → id; its files in the set `…:in:<id>`): its files
  are on the Files host, linked to no card. A card's folder has no subfolders. Names are
  unique per folder, compared case-blind.
* **Activities.** A note is amoCRM's activity (connector.amocrm.events: `note_lead` is
  `activity.created`). ItemActivities lists the card's attachment notes
  (`note_type=attachment`, `params.file_uuid`), and, when the card's Files tab holds files
  no note carries, one more entry `{"id": 0, "kind": "files"}` with them: so a capability
  that copies an item's activity files (the Drive mirror) sees every file of the card
  exactly once, as a file with a version (read again by `file`, so a new version is
  copied as a revision; a file field's attachment is copied once by its key).
  `owner_type` takes the neutral codes the capabilities read (2 deal, 3 contact,
  4 company, as Bitrix24's CRM types).
* **Attachments.** `Item.attachments` are the values of `file` custom fields
  (`{file_uuid, version_uuid, file_name, file_size}`, §4.6): `attachments_of(lead)` gives
  them, with the field id as the field and the `version_uuid` as the id (a file field's
  id changes whenever its file does, which is what the port's readers rely on).
* **Downloads** are streamed GETs of the Files host's links, through the account's rate
  window and the Hosts template, with the Bearer token (§10.15 leaves open whether it is
  needed: it is sent). `FileEntry.download_url` is the link of the version described
  (`download_version`), `FileEntry.url` the file's current link (`download`): amoCRM shows
  no page of a single file.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from connector.amocrm.errors import AmoError, AmoPermanentError
from connector.crm import port as p
from connector.errors import AuthLost

FOLDER = 10**12
CARD_CODES = {1: "leads", 2: "contacts", 3: "companies"}
CODE_OF = {v: k for k, v in CARD_CODES.items()}
ENTITY = {"deal": "leads", "contact": "contacts", "company": "companies"}
OWNER_TYPE = {"leads": 2, "contacts": 3, "companies": 4}  # the neutral activity owner codes
OWN = 8  # the app's own folders under the root
ROOT = 9 * FOLDER
LINKS_PAGE = 50  # GET /{entity}/{id}/files pages by `limit` + `before_id` (§4.10)
NOTES_PAGE = 250  # §4.1
UUIDS_PER_READ = 50  # uuids per GET /v1.0/files?filter[uuid]=…


# pure decisions -------------------------------------------------------------------------
def folder_kind(folder_id: int) -> tuple[str, int]:
    """("leads"|"contacts"|"companies", id), ("own", n) or ("root", 0); ValueError else."""
    code, n = divmod(int(folder_id), FOLDER)
    if folder_id == ROOT:
        return "root", 0
    if code in CARD_CODES and n > 0:
        return CARD_CODES[code], n
    if code == OWN and n > 0:
        return "own", n
    raise ValueError(f"{folder_id} is not an amoCRM folder of this app")


def card_folder(entity: str, entity_id: int) -> int:
    return CODE_OF[entity] * FOLDER + int(entity_id)


def unique_name(name: str, taken: Iterable[str]) -> str:
    """`name`, or the first free "stem (n).ext" — the variant people know from Disk."""
    used = {t.casefold() for t in taken}
    if name.casefold() not in used:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    n = 1
    while True:
        candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
        if candidate.casefold() not in used:
            return candidate
        n += 1


def entry_of(file_id: int, model: Mapping[str, Any]) -> p.FileEntry:
    """A FileEntry from the Files host's file model (files-api "Параметры ответа")."""
    links = model.get("_links") or {}
    current = str((links.get("download") or {}).get("href") or "")
    pinned = str((links.get("download_version") or {}).get("href") or "") or current
    return p.FileEntry(file_id, str(model.get("name") or ""), int(model.get("size") or 0),
                       str(model.get("version_uuid") or ""), pinned,
                       bool(model.get("is_trashed")), False, current or pinned)


def note_uuid(note: Mapping[str, Any]) -> str:
    """The file of an attachment note (§4.7: params.file_uuid), "" for any other note."""
    params = note.get("params") if isinstance(note.get("params"), Mapping) else {}
    if note.get("note_type") != "attachment":
        return ""
    return str((params or {}).get("file_uuid") or "")


class AmoFiles:
    """Mixin of AmoCrm (connector.amocrm.adapter): uses self.client, self.get, self.seen,
    self.redis, self.prefix, self.tenant."""

    _READS: ClassVar[dict[type, str]] = {
        p.ItemActivities: "_item_activities",
        p.GetActivity: "_get_activity",
        p.FolderChildren: "_folder_children",
    }
    _WRITES: ClassVar[dict[type, str]] = {p.CreateFolder: "_create_folder"}
    client: Any
    redis: Any
    prefix: str
    domain: str
    tenant: p.Tenant
    seen: dict[str, Any]
    if TYPE_CHECKING:  # AmoCrm's
        get: Callable[..., Any]
        resolve: Callable[[Any, Mapping[str, Any]], Any]

    # the uuid ↔ number map --------------------------------------------------------------
    @property
    def _files_key(self) -> str:
        return f"{self.prefix}:amo-files:{self.tenant.account}"

    def file_id(self, uuid: str) -> int:
        """The number of an amoCRM file, given once (safe when many workers ask at once)."""
        key = self._files_key
        known = self.redis.hget(key, f"u:{uuid}")
        if known is not None:
            return int(known)
        n = int(self.redis.hincrby(key, "n", 1))
        self.redis.hset(key, f"i:{n}", uuid)  # before u:, so whoever reads n finds it
        if self.redis.hsetnx(key, f"u:{uuid}", n):
            return n
        self.redis.hdel(key, f"i:{n}")  # another worker numbered it first
        return int(self.redis.hget(key, f"u:{uuid}"))

    def file_uuid(self, file_id: int) -> str:
        raw = self.redis.hget(self._files_key, f"i:{int(file_id)}")
        if raw is None:
            raise p.NotFound(f"file {file_id}", "no amoCRM file has this number")
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    # reading the Files host -------------------------------------------------------------
    def _model(self, uuid: str, what: str) -> dict[str, Any]:
        try:
            return self.client.file(uuid)
        except AmoError as exc:
            if isinstance(exc, AmoPermanentError) and exc.status in (204, 404):
                raise p.NotFound(what, "not on the account's Files host", exc) from exc
            raise

    def _models(self, uuids: list[str]) -> dict[str, dict[str, Any]]:
        """The live (not trashed) files among these uuids: one read per UUIDS_PER_READ."""
        out: dict[str, dict[str, Any]] = {}
        drive = self.client.drive_url()
        for start in range(0, len(uuids), UUIDS_PER_READ):
            chunk = uuids[start:start + UUIDS_PER_READ]
            body = self.client.get(f"{drive}/v1.0/files", {"filter[uuid]": ",".join(chunk),
                                                           "limit": len(chunk)})
            for _ in range(len(chunk) + 1):  # pages: never more than the files asked
                if not isinstance(body, dict):
                    break
                for row in (body.get("_embedded") or {}).get("files") or []:
                    if isinstance(row, dict) and row.get("uuid") in chunk:
                        out[str(row["uuid"])] = row
                href = ((body.get("_links") or {}).get("next") or {}).get("href")
                body = self.client.get(href) if href else None
        return out

    def file(self, file_id: int) -> p.FileEntry:
        with neutral_errors(f"file {file_id}"):
            uuid = self.file_uuid(file_id)
            return entry_of(int(file_id), self._model(uuid, f"file {file_id}"))

    # cards' files -----------------------------------------------------------------------
    def _pages(self, path: str, key: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row of a v4 list, each page through self.get (kept in `seen`)."""
        rows: list[dict[str, Any]] = []
        body = self.get(path, {**params, "limit": NOTES_PAGE})
        hrefs: set[str] = set()
        while isinstance(body, dict):
            rows += [r for r in (body.get("_embedded") or {}).get(key) or []
                     if isinstance(r, dict)]
            href = ((body.get("_links") or {}).get("next") or {}).get("href")
            if not href or href in hrefs:
                break
            hrefs.add(href)
            body = self.get(href)
        return rows

    def _attachment_notes(self, entity: str, entity_id: int) -> list[dict[str, Any]]:
        return self._pages(f"/api/v4/{entity}/{entity_id}/notes", "notes",
                           {"filter[note_type]": "attachment", "order[id]": "asc"})

    def _linked(self, entity: str, entity_id: int) -> list[str]:
        """The card's Files tab (pages by `limit` and `before_id`, a link id, §4.10)."""
        path = f"/api/v4/{entity}/{entity_id}/files"
        out: list[str] = []
        params: dict[str, Any] = {"limit": LINKS_PAGE}
        while True:
            body = self.get(path, params)
            rows = [r for r in ((body or {}).get("_embedded") or {}).get("files") or []
                    if isinstance(r, dict) and r.get("file_uuid")] if isinstance(
                body, dict) else []
            out += [str(r["file_uuid"]) for r in rows if str(r["file_uuid"]) not in out]
            ids = [int(r["id"]) for r in rows if str(r.get("id", "")).isdigit()]
            if len(rows) < LINKS_PAGE or not ids:
                return out
            params = {"limit": LINKS_PAGE, "before_id": min(ids)}

    def _card_uuids(self, entity: str, entity_id: int) -> list[str]:
        """Every file of a card once: its notes' files, then the Files tab's others."""
        out: list[str] = []
        for uuid in [note_uuid(n) for n in self._attachment_notes(entity, entity_id)] + \
                self._linked(entity, entity_id):
            if uuid and uuid not in out:
                out.append(uuid)
        return out

    def _forget(self, *paths: str) -> None:
        """Drop what `seen` keeps of these lists: a write changed them."""
        for key in [k for k in self.seen if any(k.startswith(path + "?") for path in paths)]:
            del self.seen[key]

    def item_folder(self, ref: p.ItemRef) -> p.Folder:
        """The card's files as a folder (see the module's notes); its url is the card."""
        entity = entity_of(ref.kind)
        return p.Folder(card_folder(entity, ref.id),
                        f"https://{self.domain}/{entity}/detail/{ref.id}", str(ref.id))

    # activities -------------------------------------------------------------------------
    def _activity(self, note: Mapping[str, Any], entity: str) -> dict[str, Any]:
        uuid = note_uuid(note)
        return {"id": int(note.get("id") or 0), "kind": str(note.get("note_type") or ""),
                "owner_type": OWNER_TYPE[entity], "owner_id": int(note.get("entity_id") or 0),
                "files": [self.file_id(uuid)] if uuid else []}

    def _item_activities(self, q: p.ItemActivities) -> list[dict[str, Any]]:
        entity = entity_of(q.of.kind)
        notes = self._attachment_notes(entity, q.of.id)
        out = [self._activity(n, entity) for n in notes]
        noted = {note_uuid(n) for n in notes}
        rest = [u for u in self._linked(entity, q.of.id) if u not in noted]
        if rest:
            out.append({"id": 0, "kind": "files", "owner_type": OWNER_TYPE[entity],
                        "owner_id": q.of.id, "files": [self.file_id(u) for u in rest]})
        return out

    def _get_activity(self, q: p.GetActivity) -> dict[str, Any]:
        """A note by id: a lead's first (amoCRM's note ids are the account's), then a
        contact's and a company's."""
        for entity in ("leads", "contacts", "companies"):
            note = self.get(f"/api/v4/{entity}/notes/{q.id}")
            if isinstance(note, dict) and note.get("id"):
                return self._activity(note, entity)
        raise p.NotFound(f"activity {q.id}", "no such note")

    # attachments (file custom fields) ---------------------------------------------------
    def attachments_of(self, lead: int | Mapping[str, Any]) -> list[p.Attachment]:
        """The files in a lead's `file` custom fields: `lead` is its id (read through
        `seen`) or the lead as GET /api/v4/leads/{id} gave it."""
        raw = self.get(f"/api/v4/leads/{int(lead)}") if isinstance(lead, int) else lead
        out: list[p.Attachment] = []
        for fv in (raw or {}).get("custom_fields_values") or []:
            if not isinstance(fv, dict) or fv.get("field_type") != "file":
                continue
            for value in fv.get("values") or []:
                v = value.get("value") if isinstance(value, dict) else None
                if not isinstance(v, dict) or not v.get("file_uuid"):
                    continue
                try:
                    entry = self.file(self.file_id(str(v["file_uuid"])))
                except p.NotFound:
                    continue
                out.append(p.Attachment(str(fv.get("field_id")),
                                        str(v.get("version_uuid") or entry.version),
                                        entry.download_url))
        return out

    # folders ----------------------------------------------------------------------------
    def _subs(self, parent: int) -> str:
        return f"{self._files_key}:sub:{parent}"  # a folder's subfolders: name → id

    def _own_key(self, folder: int) -> str:
        return f"{self._files_key}:in:{folder}"  # the uuids filed in an own folder

    def _check_folder(self, folder_id: int) -> tuple[str, int]:
        try:
            kind, n = folder_kind(folder_id)
        except ValueError as exc:
            raise p.NotFound(f"folder {folder_id}", str(exc)) from None
        if kind == "own" and not self.redis.hexists(self._files_key, f"f:{folder_id}"):
            raise p.NotFound(f"folder {folder_id}", "no such folder of the app")
        return kind, n

    def storage_root(self, storage: str) -> int:
        if str(storage) != "common":
            raise p.NotFound(f"storage {storage}", "amoCRM has one Files section: common")
        return ROOT

    def find_subfolder(self, parent_id: int, name: str) -> p.Folder | None:
        kind, _ = self._check_folder(parent_id)
        raw = self.redis.hget(self._subs(parent_id), name) if kind in ("root", "own") else None
        return p.Folder(int(raw), "", name) if raw is not None else None

    def subfolder(self, parent_id: int, name: str) -> tuple[p.Folder, bool]:
        kind, _ = self._check_folder(parent_id)
        if kind not in ("root", "own"):
            raise p.CrmPermanent(f"folder {parent_id}",
                                 "an amoCRM card's files have no subfolders")
        if (known := self.find_subfolder(parent_id, name)) is not None:
            return known, False
        folder = OWN * FOLDER + int(self.redis.hincrby(self._files_key, "folders", 1))
        self.redis.hset(self._files_key, f"f:{folder}", json.dumps(
            {"parent": parent_id, "name": name}, ensure_ascii=False))
        if self.redis.hsetnx(self._subs(parent_id), name, folder):
            return p.Folder(folder, "", name), True
        self.redis.hdel(self._files_key, f"f:{folder}")  # another worker made it first
        return p.Folder(int(self.redis.hget(self._subs(parent_id), name)), "", name), False

    def _create_folder(self, op: p.CreateFolder, produced: Mapping[str, Any]) -> p.Folder:
        folder, created = self.subfolder(int(self.resolve(op.parent_id, produced)), op.name)
        if not created:
            raise p.AlreadyExists(f"folder {op.name}", "a folder of that name exists")
        return folder

    def _folder_children(self, q: p.FolderChildren) -> list[p.FileEntry]:
        kind, n = self._check_folder(q.folder_id)
        if kind in CODE_OF:
            uuids = self._card_uuids(kind, n)
        else:
            uuids = sorted(text(m) for m in self.redis.smembers(self._own_key(q.folder_id)))
        models = self._models(uuids)
        out = [entry_of(self.file_id(u), models[u]) for u in uuids if u in models]
        if kind in ("root", "own"):
            subs = self.redis.hgetall(self._subs(q.folder_id))
            out += [p.FileEntry(int(v), text(k), is_folder=True)
                    for k, v in sorted(subs.items(), key=lambda kv: int(kv[1]))]
        return out

    def folder_files(self, folder_id: int, depth: int = 5) -> list[p.FileEntry]:
        with neutral_errors(f"folder {folder_id}"):
            return self.walk(self._folder_children(p.FolderChildren(folder_id)), depth)

    def walk(self, entries: list[p.FileEntry], depth: int) -> list[p.FileEntry]:
        return p.files_below(entries, depth, self.folder_files)

    # uploads ----------------------------------------------------------------------------
    def _names_in(self, folder_id: int, but: int = 0) -> set[str]:
        return {e.name.casefold() for e in self._folder_children(p.FolderChildren(folder_id))
                if not e.is_folder and not e.deleted and e.id != but}

    def _put(self, name: str, content: bytes, uuid: str | None = None) -> dict[str, Any]:
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return self.client.upload(name, content, ctype, file_uuid=uuid)

    def upload(self, folder_id: int, name: str, content: bytes, unique: bool = True
               ) -> p.FileEntry:
        """Upload to the Files host, then file it: a card's folder links it to the card
        (PUT /api/v4/{entity}/{id}/files, §4.10), the app's own folder remembers it. A card
        gone between the two leaves the file unlinked in the account's Files (NotFound)."""
        with neutral_errors(f"file {name} in folder {folder_id}"):
            kind, n = self._check_folder(folder_id)
            taken = self._names_in(folder_id)
            if name.casefold() in taken:
                if not unique:
                    raise p.AlreadyExists(f"file {name}", f"folder {folder_id} has one")
                name = unique_name(name, taken)
            model = self._put(name, content)
            uuid = str(model["uuid"])
            file_id = self.file_id(uuid)
            if kind in CODE_OF:
                path = f"/api/v4/{kind}/{n}/files"
                self._forget(path)
                self.client.put(path, [{"file_uuid": uuid}])
            else:
                self.redis.sadd(self._own_key(folder_id), uuid)
            self.redis.hset(self._files_key, f"in:{file_id}", folder_id)
            return entry_of(file_id, model)

    def upload_version(self, file_id: int, content: bytes, name: str = "") -> p.FileEntry:
        """A new version of the same file (a session with `file_uuid`, §4.10: it becomes
        the active version). A name another file of its folder has (where the app filed it)
        keeps the old name and raises AlreadyExists after the content is stored."""
        with neutral_errors(f"file {file_id}"):
            uuid = self.file_uuid(file_id)
            model = self._model(uuid, f"file {file_id}")
            if model.get("is_trashed"):
                raise p.NotFound(f"file {file_id}", "in the account's trash")
            current = str(model.get("name") or "")
            clash = False
            if name and name != current:
                where = self.redis.hget(self._files_key, f"in:{int(file_id)}")
                clash = where is not None and name.casefold() in self._names_in(
                    int(where), but=int(file_id))
            made = self._put(current if clash or not name else name, content, uuid)
            if clash:
                raise p.AlreadyExists(f"file {name}", "another file of its folder has that "
                                                      "name; the new content is kept")
            return entry_of(int(file_id), made)

    # downloads --------------------------------------------------------------------------
    def download(self, url: str, declared_size: int | None = None) -> requests.Response:
        """A streamed GET of a Files host link; the caller reads and closes it."""
        from connector.amocrm.domains import DomainRefused
        from connector.amocrm.rest import window_key

        client = self.client
        try:
            target = client.url(url)
        except DomainRefused as exc:
            raise p.CrmPermanent("download", str(exc), exc) from exc
        tokens = client.tokens.valid(client.member_id)
        for attempt in (0, 1):
            client._check_open()
            client.window.acquire(window_key(client.domain()), client.plan)
            client.http_requests += 1
            try:
                resp = client.session.get(
                    target, stream=True, timeout=client.timeout, allow_redirects=False,
                    headers={"Authorization": f"Bearer {tokens.access_token}"})
            except requests.RequestException as exc:
                raise p.CrmRetryable("download", type(exc).__name__, exc) from exc
            if resp.status_code == 401 and attempt == 0 and tokens.refresh_token:
                resp.close()
                tokens = client.tokens.refresh(client.member_id, tokens)
                continue
            break
        try:
            check_download(resp, declared_size)
        except Exception:
            resp.close()
            raise
        return resp


def check_download(resp: requests.Response, declared_size: int | None) -> None:
    """The answer is the file, whole, or a neutral error saying why not."""
    status = resp.status_code
    if status in (404, 410):
        raise p.NotFound("download", f"the file is gone (HTTP {status})")
    if status in (401, 403):
        raise p.AccessDenied("download", f"the Files host refused the file (HTTP {status})")
    if status == 429 or status >= 500:
        raise p.CrmRetryable("download", f"the Files host could not send it now ({status})")
    if status != 200:
        raise p.CrmPermanent("download", f"the Files host answered HTTP {status}")
    if re.match(r"text/html\b", resp.headers.get("Content-Type", "").lower()):
        raise p.CrmPermanent("download", "a web page came where a file was expected")
    length = resp.headers.get("Content-Length")
    if declared_size is not None and length is not None and int(length) != declared_size:
        raise p.CrmRetryable("download", f"the file is {length} bytes, {declared_size} "
                                         "were declared (changed meanwhile)")


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def entity_of(kind: str) -> str:
    """The API v4 entity of a neutral kind ("deal" → "leads")."""
    try:
        return ENTITY[kind]
    except KeyError:
        raise p.CrmPermanent(f"kind {kind}", "amoCRM has no such entity") from None


@contextmanager
def neutral_errors(what: str) -> Iterator[None]:
    """A client error as the port's (retryable ones stay retryable); a lost token stays."""
    from connector.amocrm.adapter import neutral

    try:
        yield
    except AuthLost:
        raise
    except AmoError as exc:
        raise neutral(exc, what) from exc

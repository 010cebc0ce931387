"""AmoCrm: the CRM port (connector.crm.port) on an amoCRM account.

amoCRM has no batch of mixed reads like Bitrix24's `batch`, so a `read` asks one GET per
distinct request; the same request asked twice in one set (two queries about one lead) is
sent once, and every answer is kept in `seen` by its request so that an event delivery's
subscribers are answered from what the delivery already read (connector.jobs). A write
forgets what it changed, so a read after it asks again.

Neutral names on amoCRM (decision 46):

* kinds: amoCRM's leads are the neutral "deal" (amoCRM has no separate lead entity);
  "contact" and "company" are themselves. Anything else is refused (CrmPermanent).
* `Item.category` is the pipeline id and `Item.stage` the status id, both as text; status
  142 is won and 143 lost in every pipeline (amocrm.md §4.5).
* custom fields are keyed by their field id as text (and by `field_code` where one is set).
* a task's tag is the last line of its text, "#cc:<tag>" (amoCRM tasks have no tags).
* trigger tokens: "dp:{lead_id}[:{run}]" (a pipeline action: nothing waits for an answer)
  and "salesbot:{bot_id}:{continue_id}:{lead_id}" (a Salesbot step waiting, §3.2).

Handlers are registered per query and operation type in `_READS` / `_WRITES` (method
names); mixins (files, catalogs) add their own, so each area stays in its own module. What
maps amoCRM's answers to neutral shapes is in connector.amocrm.mapping (no I/O).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from connector.amocrm import mapping as m
from connector.amocrm.adapter_files import AmoFiles
from connector.amocrm.catalogs import AmoCatalogs
from connector.amocrm.errors import AmoError, AmoPermanentError
from connector.amocrm.rest import AmoClient, embedded
from connector.crm import port as p
from connector.errors import AuthLost

log = logging.getLogger(__name__)

ENTITY = {"deal": "leads", "contact": "contacts", "company": "companies"}
WON, LOST = m.WON, m.LOST  # amocrm.md §4.5: the closing statuses of every pipeline
DETAIL = {"deal": "leads", "contact": "contacts", "company": "companies"}
PAGE = 250  # amocrm.md §4.1: at most 250 leads, contacts, companies, tasks, notes a page
EVENTS_PAGE = 100  # amocrm.md §4.9
IDS_PER_REQUEST = 50  # filter[id][] values per list request (keeps the address short)
SEARCH_LIMIT = 50  # hits of one `query` search looked at
MAX_COMM_VALUES = 20  # CommMatches: at most 20 phones and 20 e-mails (the port's contract)
FIND_TASK_WINDOW_S = 30 * 86400  # FindTask looks at tasks changed in the last 30 days
SHOW_MAX = 80  # amocrm.md §3.2: a Salesbot `show` value is at most 80 characters
# how long every job of a tenant re-uses a read of what changes rarely (our choice): the
# account's currency and drive address; its pipelines and users (a new stage or manager
# is seen within five minutes, as distribution's department members are)
ACCOUNT_TTL_S = 3600
PIPELINES_TTL_S = 300
USERS_TTL_S = 300

# availability of users, from the admin's schedules and each manager's "away" switch
# (connector.amocrm.presence): user ids → one of port.AVAILABILITY
Presence = Callable[[tuple[int, ...]], dict[int, str]]


def entity_of(kind: str) -> str:
    """The API v4 entity of a neutral kind ("deal" → "leads")."""
    try:
        return ENTITY[kind]
    except KeyError:
        raise p.CrmPermanent(f"kind {kind}", "amoCRM has no such entity") from None


def neutral(err: AmoError, what: str) -> p.CrmError:
    """The port's error for a client error: retryable ones stay retryable; a validation
    refusal keeps its field errors (amocrm.md §5: they point to array paths)."""
    if isinstance(err, AmoPermanentError):
        status = getattr(err, "status", 0)
        if status == 404:
            return p.NotFound(what, str(err), err)
        if status == 403:
            return p.AccessDenied(what, str(err), err)
        found = [f"{e.code} at {e.path}" for errs in err.problem.validation.values()
                 for e in errs]
        reason = f"{err} ({'; '.join(found[:5])})" if found else str(err)
        return p.CrmPermanent(what, reason, err)
    return p.CrmRetryable(what, str(err), err)


def _relative(key: str) -> str:
    """The API path of a `seen` key (page links are absolute addresses)."""
    path = key.split("?", 1)[0]
    at = path.find("/api/v4/")
    return path[at:] if at >= 0 else path


class AmoCrm(AmoFiles, AmoCatalogs):
    """One amoCRM account as the CRM port."""

    _READS: ClassVar[dict[type, str]] = {}
    _WRITES: ClassVar[dict[type, str]] = {}
    # ProductRows is always empty here (see _r_product_rows): a capability that needs rows
    # (robots.documents) takes the lead's amount as its one row instead of refusing
    keeps_product_rows: ClassVar[bool] = False

    def __init__(self, client: AmoClient, domain: str, known: dict[str, Any] | None = None,
                 redis: Any = None, prefix: str = "cc", presence: Presence | None = None):
        from connector.amocrm.domains import account_id_of

        self.client = client
        self.domain = domain
        self.tenant = p.Tenant(p.AMOCRM, str(account_id_of(client.member_id)))
        self.seen: dict[str, Any] = dict(known or {})
        self.redis = redis
        self.prefix = prefix
        self.presence = presence

    # requests ----------------------------------------------------------------------------
    @staticmethod
    def request_key(path: str, params: Mapping[str, Any] | None = None) -> str:
        """How `seen` names a GET: the path and its parameters, sorted."""
        return path + "?" + json.dumps(dict(params or {}), sort_keys=True, default=str)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """A GET answered from `seen` when this port (or the delivery) read it already."""
        key = self.request_key(path, params)
        if key not in self.seen:
            self.seen[key] = self.client.get(path, params)
        return self.seen[key]

    def pages(self, path: str, key: str, params: Mapping[str, Any] | None = None,
              limit: int = PAGE) -> Iterator[dict[str, Any]]:
        """The rows of a list, page by page through `get` (so kept in `seen`), following
        `_links.next` until a 204 or a page without it (amocrm.md §4.1)."""
        body = self.get(path, {**(params or {}), "limit": limit})
        followed: set[str] = set()
        while isinstance(body, dict):
            yield from embedded(body, key)
            href = ((body.get("_links") or {}).get("next") or {}).get("href")
            if not href or href in followed:
                return
            followed.add(href)
            body = self.get(href)

    def forget(self, *items: str, lists: tuple[str, ...] = ()) -> None:
        """Drop what a write changed from `seen`: everything under each item path
        ("/api/v4/leads/7" and its notes), and the lists named exactly."""
        for key in list(self.seen):
            rel = _relative(key.removeprefix("count:"))
            if rel in lists or any(rel == x or rel.startswith(x + "/") for x in items):
                del self.seen[key]

    # the port ----------------------------------------------------------------------------
    @classmethod
    def _handler(cls, table: str, thing: Any) -> str | None:
        for klass in cls.__mro__:
            found = klass.__dict__.get(table, {}).get(type(thing))
            if found:
                return found
        return None

    def read(self, queries: Mapping[str, p.Query]) -> p.Reading:
        out = p.Reading()
        for key, query in queries.items():
            name = self._handler("_READS", query)
            try:
                if name is None:
                    raise p.CrmPermanent(type(query).__name__, "not available on amoCRM")
                out.values[key] = getattr(self, name)(query)
            except p.CrmError as exc:
                out.errors[key] = exc
            except AuthLost:
                raise
            except AmoError as exc:
                out.errors[key] = neutral(exc, type(query).__name__)
        return out

    def apply(self, ops: Mapping[str, p.Op], halt: bool = False) -> p.Applied:
        out = p.Applied()
        for key, op in ops.items():
            name = self._handler("_WRITES", op)
            try:
                if name is None:
                    raise p.CrmPermanent(type(op).__name__, "not available on amoCRM")
                out.values[key] = getattr(self, name)(op, out.values)
            except AuthLost:
                raise
            except (p.CrmError, AmoError) as exc:
                err = exc if isinstance(exc, p.CrmError) else neutral(exc, type(op).__name__)
                out.errors[key] = err
                if halt:
                    break
        return out

    def resolve(self, value: Any, produced: Mapping[str, Any]) -> Any:
        """A `Produced` reference replaced by what the earlier operation made."""
        if isinstance(value, p.Produced):
            made = produced.get(value.key)
            return getattr(made, value.attr, made)
        return value

    def item(self, ref: p.ItemRef, observers: bool = False) -> p.Item:
        return self.read({"i": p.GetItem(ref, observers=observers)}).get("i")

    def item_link(self, ref: p.ItemRef) -> str:
        return f"https://{self.domain}/{DETAIL.get(ref.kind, 'leads')}/detail/{ref.id}"

    def link(self, url: str, text: str) -> str:
        """amoCRM notes and tasks are plain text: the address follows the words."""
        return f"{text} ({url})" if text and text != url else url

    def mention(self, user_id: int) -> str:
        """amoCRM notes have no mention markup: the person's name as text."""
        user = self.users().get(int(user_id))
        return m.person_name(user) if user else f"#{user_id}"

    # what many handlers read (once per port, through `seen`) -----------------------------
    def shared(self, name: str, ttl_s: int, fetch: Callable[[], Any]) -> Any:
        """What changes rarely (the account, its pipelines, its users), kept for every job
        of the tenant for `ttl_s`: each job asking again would triple a distribution's
        requests (bench.amocrm). Without Redis, read each time."""
        if self.redis is None:
            return fetch()
        key = f"{self.prefix}:amo-cache:{self.tenant.key}:{name}"
        raw = self.redis.get(key)
        if raw is not None:
            return json.loads(raw)
        value = fetch()
        self.redis.set(key, json.dumps(value, default=str), ex=ttl_s)
        return value

    def account(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            body = self.get("/api/v4/account")
            return body if isinstance(body, dict) else {}

        return self.shared("account", ACCOUNT_TTL_S, read)

    def currency(self) -> str:
        """The account's currency (amocrm.md §4.12): every lead's price is in it."""
        return str(self.account().get("currency") or "")

    def users(self) -> dict[int, dict[str, Any]]:
        """Every user of the account (amocrm.md §4.4: admin only, 250 a page)."""
        rows = self.shared("users", USERS_TTL_S,
                           lambda: list(self.pages("/api/v4/users", "users")))
        return {m.as_int(u.get("id")): u for u in rows}

    def pipelines(self) -> list[dict[str, Any]]:
        """amocrm.md §4.5: every pipeline with its statuses, in one answer."""
        def read() -> list[dict[str, Any]]:
            body = self.get("/api/v4/leads/pipelines")
            return embedded(body, "pipelines") if isinstance(body, dict) else []

        return self.shared("pipelines", PIPELINES_TTL_S, read)

    def statuses(self) -> dict[int, list[Mapping[str, Any]]]:
        return m.statuses_of(self.pipelines())

    def raw(self, ref: p.ItemRef) -> dict[str, Any]:
        """A lead (with its contacts), contact or company; NotFound on amoCRM's 204."""
        params = {"with": "contacts"} if ref.kind == "deal" else None
        body = self.get(f"/api/v4/{entity_of(ref.kind)}/{int(ref.id)}", params)
        if not isinstance(body, dict):
            raise p.NotFound(ref.label, "no such item")
        return body

    def raw_or_none(self, ref: p.ItemRef) -> dict[str, Any] | None:
        try:
            return self.raw(ref)
        except p.NotFound:
            return None

    def to_item(self, kind: str, raw: Mapping[str, Any], custom: bool = True) -> p.Item:
        return m.item_from(kind, raw, self.currency() if kind == "deal" else "", custom)

    def leads_by_ids(self, ids: list[int], params: Mapping[str, Any] | None = None,
                     cached: bool = True) -> Iterator[dict[str, Any]]:
        """Leads of these ids (and of the other filters), 50 ids a request."""
        for start in range(0, len(ids), IDS_PER_REQUEST):
            chunk = {"with": "contacts", **(params or {}),
                     "filter[id][]": ids[start:start + IDS_PER_REQUEST]}
            if cached:
                yield from self.pages("/api/v4/leads", "leads", chunk)
            else:
                yield from self.client.paginate("/api/v4/leads", "leads", chunk)

    def linked_leads(self, client: p.ItemRef) -> list[int]:
        """The lead ids of a contact or company (`with=leads`, amocrm.md §4.3)."""
        if client.kind not in ("contact", "company"):
            raise ValueError(f"deals of a {client.kind}: contacts and companies have them")
        body = self.get(f"/api/v4/{entity_of(client.kind)}/{int(client.id)}", {"with": "leads"})
        return m.embedded_ids(body, "leads") if isinstance(body, dict) else []

    def moved_at(self, lead_id: int) -> int:
        """When the lead entered its current status: its latest lead_status_changed event
        (amocrm.md §4.9); 0 when it never moved."""
        body = self.get("/api/v4/events", {"filter[type]": "lead_status_changed",
                                           "filter[entity]": "lead",
                                           "filter[entity_id]": int(lead_id),
                                           "limit": EVENTS_PAGE})
        rows = embedded(body, "events") if isinstance(body, dict) else []
        return m.moved_times(rows).get(int(lead_id), 0)

    # reads: items ------------------------------------------------------------------------
    def _r_get_item(self, q: p.GetItem) -> p.Item:
        """One GET (`with=contacts` for a lead: every contact, the main one first), the
        account once per port for the currency, and with `moved` one GET of the lead's
        status events. amoCRM has no observers: `observers` stays empty."""
        raw = self.raw(q.ref)
        item = self.to_item(q.ref.kind, raw)
        if q.moved and q.ref.kind == "deal":
            try:
                moved = self.moved_at(q.ref.id) or m.as_int(raw.get("created_at"))
            except AmoPermanentError as exc:  # 402: events are closed to an unpaid account
                log.info("no status events for lead %s: %s", q.ref.id, exc)
            else:
                item.fields["movedTime"] = m.iso(moved)
        return item

    def _r_responsible(self, q: p.Responsible) -> p.Person | None:
        raw = self.raw_or_none(q.of)
        if raw is None:
            return None
        user = self.users().get(m.as_int(raw.get("responsible_user_id")))
        return m.person_from(user) if user else None

    def _r_client_name(self, q: p.ClientName) -> str:
        """The company's name, else the main contact's; a contact without a company is
        its own client."""
        raw = self.raw_or_none(q.of)
        if raw is None:
            return ""
        item = self.to_item(q.of.kind, raw, custom=False)
        if q.of.kind == "company":
            return item.title
        if item.company_id:
            company = self.raw_or_none(p.ItemRef("company", item.company_id))
            if company and m.person_name(company):
                return m.person_name(company)
        if q.of.kind == "contact":
            return item.title
        for cid in item.contact_ids[:1]:
            contact = self.raw_or_none(p.ItemRef("contact", cid))
            if contact:
                return m.person_name(contact)
        return ""

    def _r_stage_name(self, q: p.StageName) -> str:
        """The status's name from the pipelines list (one answer for every pipeline, shared
        with the other reads that need statuses)."""
        if q.of.kind != "deal":
            return ""
        raw = self.raw(q.of)
        rows = self.statuses().get(m.as_int(raw.get("pipeline_id")), [])
        sid = m.as_int(raw.get("status_id"))
        return next((str(s.get("name") or "") for s in rows if m.as_int(s.get("id")) == sid),
                    str(sid))

    def _r_latest_items(self, q: p.LatestItems) -> list[p.Item]:
        entity = entity_of(q.kind)
        params: dict[str, Any] = {"order[created_at]": "desc"}
        if q.kind == "deal":
            params["with"] = "contacts"
        body = self.get(f"/api/v4/{entity}", {**params, "limit": max(1, min(q.limit, PAGE))})
        rows = embedded(body, entity) if isinstance(body, dict) else []
        return [self.to_item(q.kind, r) for r in rows[:q.limit]]

    def _r_open_deals(self, q: p.OpenDeals) -> list[p.Item]:
        """The client's leads (`with=leads`) read by id, those in work, newest first."""
        ids = self.linked_leads(q.client)
        rows = [r for r in self.leads_by_ids(ids)
                if m.as_int(r.get("status_id")) not in (WON, LOST)]
        rows.sort(key=lambda r: (m.as_int(r.get("created_at")), m.as_int(r.get("id"))),
                  reverse=True)
        return [self.to_item("deal", r) for r in rows[:q.limit]]

    def _r_count_in_work(self, q: p.CountInWork) -> int:
        """Leads of the person in these stages (any in work when none): one list request
        per 250 of them, filtered by amoCRM (filter[responsible_user_id] and
        filter[statuses], amocrm.md §4.1) plus the pipelines once; amoCRM has no count nor
        field selection, so whole pages are read and only their size is kept (in `seen`
        as the count alone)."""
        entity = entity_of(q.kind)
        params: dict[str, Any] = {"filter[responsible_user_id]": int(q.user_id)}
        if q.kind == "deal":
            by = self.statuses()
            pairs = m.stage_pairs(q.stages, by) if q.stages else m.open_pairs(by)
            if not pairs:
                return 0
            params |= m.status_filter(pairs)
        key = "count:" + self.request_key(f"/api/v4/{entity}", params)
        if key not in self.seen:
            self.seen[key] = sum(1 for _ in self.client.paginate(f"/api/v4/{entity}", entity,
                                                                  params, limit=PAGE))
        return int(self.seen[key])

    # reads: people -------------------------------------------------------------------------
    def _r_get_people(self, q: p.GetPeople) -> dict[int, p.Person]:
        """The users list (one request per 250); availability from `presence` (amoCRM
        has no time tracking), "unknown" without it."""
        ids = list(dict.fromkeys(int(i) for i in q.ids))
        users = self.users() if ids else {}
        days = self.presence(tuple(ids)) if q.availability and self.presence and ids else {}
        out = {}
        for uid in ids:
            person = m.person_from(users[uid]) if uid in users else p.Person(uid, "", False)
            if q.availability:
                person.availability = days.get(uid, "unknown")
            out[uid] = person
        return out

    def _r_department_members(self, q: p.DepartmentMembers) -> list[p.Person]:
        """amoCRM's user groups are the departments (rights.group_id; the main group 0)."""
        wanted = {int(d) for d in q.departments}
        return [m.person_from(u) for u in self.users().values()
                if m.group_of(u) in wanted and m.person_from(u).active]

    # reads: phones and e-mails -----------------------------------------------------------
    def _search(self, phones: tuple[str, ...], emails: tuple[str, ...]) -> dict[str, list[int]]:
        """Contacts and companies found by amoCRM's `query` search for each value (one
        request per value and entity), kept only when they hold the value itself."""
        out: dict[str, list[int]] = {"contact": [], "company": []}
        values = [(v, True) for v in dict.fromkeys(x for x in phones if x.strip())]
        values += [(v, False) for v in dict.fromkeys(x for x in emails if x.strip())]
        for kind in out:
            entity = entity_of(kind)
            for value, is_phone in values:
                body = self.get(f"/api/v4/{entity}", {"query": value, "limit": SEARCH_LIMIT})
                for row in embedded(body, entity) if isinstance(body, dict) else []:
                    hit = m.holds(row, [value] if is_phone else [],
                                  [] if is_phone else [value])
                    if hit and m.as_int(row.get("id")) not in out[kind]:
                        out[kind].append(m.as_int(row.get("id")))
        return {kind: sorted(ids) for kind, ids in out.items()}

    def _r_duplicates(self, q: p.Duplicates) -> dict[str, list[int]]:
        """Others holding the contact's or company's phones (as kept and as digits alone)
        and e-mails. A lead keeps none of its own on amoCRM (its contacts are in
        `contact_ids`): nothing to look for."""
        if q.of.kind == "deal":
            return {"contact": [], "company": []}
        raw = self.raw(q.of)
        phones = [form for x in m.coded(raw, "PHONE") for form in (x, m.digits(x))]
        found = self._search(tuple(phones), tuple(m.coded(raw, "EMAIL")))
        found[q.of.kind] = [i for i in found[q.of.kind] if i != q.of.id]
        return found

    def _r_comm_matches(self, q: p.CommMatches) -> dict[str, list[int]]:
        """amoCRM has no lead entity: "lead" is always empty."""
        found = self._search(tuple(q.phones)[:MAX_COMM_VALUES], tuple(q.emails)[:MAX_COMM_VALUES])
        return {"lead": [], **found}

    # reads: notes and tasks ----------------------------------------------------------------
    def _notes(self, ref: p.ItemRef, params: Mapping[str, Any] | None = None
              ) -> Iterator[dict[str, Any]]:
        return self.pages(f"/api/v4/{entity_of(ref.kind)}/{int(ref.id)}/notes", "notes",
                          params)

    def _tasks_of(self, ref: p.ItemRef, completed: bool | None = None
                 ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"filter[entity_type]": entity_of(ref.kind),
                                  "filter[entity_id]": int(ref.id)}
        if completed is not None:
            params["filter[is_completed]"] = int(completed)
        return self.pages("/api/v4/tasks", "tasks", params)

    def _r_reactions(self, q: p.Reactions) -> list[dict[str, Any]]:
        """The item's notes written by people (common, calls, mail, sms, files) and its
        tasks, since `since`: every note page of the item and its task pages."""
        since = _since(q.since)
        return m.reactions_from(self._notes(q.of), self._tasks_of(q.of), since)

    def _r_find_comment(self, q: p.FindComment) -> int:
        since = _since(q.since)
        found = [m.as_int(n.get("id")) for n in self._notes(q.of, {"filter[note_type]": "common"})
                 if str((n.get("params") or {}).get("text") or "") == q.text
                 and m.as_int(n.get("created_at")) >= since]
        return max(found, default=0)

    def _r_open_activities(self, q: p.OpenActivities) -> list[dict[str, Any]]:
        """The item's tasks not completed (amoCRM's only planned activity)."""
        return [m.open_activity(t) for t in self._tasks_of(q.of, completed=False)
                if not t.get("is_completed")]

    def _r_find_task(self, q: p.FindTask) -> int:
        """Tasks changed in the last 30 days, newest first, until one ends with the tag's
        line: a retried step looks for the task its first attempt made minutes before."""
        hour = int(time.time() // 3600 * 3600)
        params = {"filter[updated_at][from]": hour - FIND_TASK_WINDOW_S, "order[id]": "desc"}
        for task in self.pages("/api/v4/tasks", "tasks", params):
            if m.has_tag(task.get("text"), q.tag):
                return m.as_int(task.get("id"))
        return 0

    def _r_task_state(self, q: p.TaskState) -> str:
        try:
            task = self.get(f"/api/v4/tasks/{int(q.task_id)}")
        except AmoPermanentError as exc:
            if exc.status == 404:
                return "gone"
            raise
        if not isinstance(task, dict):
            return "gone"  # amocrm.md §0: a missing id answers 204
        return "done" if task.get("is_completed") else "open"

    def _r_work_calendar(self, q: p.WorkCalendar) -> dict[str, Any]:
        """amoCRM's API exposes no working calendar: the company's own settings count
        (robots.watchdogs keeps them when this read fails)."""
        raise p.MissingScope("working time", "amoCRM has no working calendar in its API")

    # reads: account set-up -----------------------------------------------------------------
    def _r_custom_fields(self, q: p.CustomFields) -> set[str]:
        """Every field of the entity (50 a page, amocrm.md §4.6): ids as text and codes."""
        out = set()
        for f in self.pages(f"/api/v4/{entity_of(q.kind)}/custom_fields", "custom_fields"):
            out.add(str(f.get("id")))
            if f.get("code"):
                out.add(str(f["code"]))
        return out

    def _r_pipeline_names(self, q: p.PipelineNames) -> dict[str, str]:
        entity_of(q.kind)
        if q.kind != "deal":
            return {}  # contacts and companies have no pipelines
        return {str(m.as_int(x.get("id"))): str(x.get("name") or "") for x in self.pipelines()}

    def _r_currency_rates(self, q: p.CurrencyRates) -> dict[str, Any]:
        """amoCRM keeps one currency per account and no rates."""
        base = self.currency()
        return {"base": base, "rates": {base: Decimal(1)} if base else {}}

    # reads: documents ----------------------------------------------------------------------
    def _r_document_parties(self, q: p.DocumentParties) -> dict[str, p.Party | None]:
        """amoCRM has no requisites: the client is the lead's company (its INN/KPP from
        custom fields of that code or name), else its main contact; the seller is the
        company `my_company` names, else None."""
        raw = self.raw(q.of)
        client: p.Party | None = None
        if q.of.kind in ("contact", "company"):
            client = m.party_from(q.of.kind, raw)
        else:
            item = self.to_item("deal", raw, custom=False)
            others = [p.ItemRef("company", item.company_id)] if item.company_id else []
            others += [p.ItemRef("contact", c) for c in item.contact_ids[:1]]
            for ref in others:
                found = self.raw_or_none(ref)
                if found is not None:
                    client = m.party_from(ref.kind, found)
                    break
        seller = None
        if q.my_company:
            found = self.raw_or_none(p.ItemRef("company", int(q.my_company)))
            seller = m.party_from("company", found) if found else None
        return {"client": client, "seller": seller}

    def _r_my_companies(self, q: p.MyCompanies) -> list[p.Party]:
        """amoCRM keeps no "my companies": the admin names ours (DocumentParties)."""
        return []

    def _r_product_rows(self, q: p.ProductRows) -> list[p.ProductRow]:
        """amoCRM's products live in its products catalog (`with=catalog_elements`), which
        the emulator does not emulate and no capability fills on amoCRM yet: no rows
        (`keeps_product_rows` says so, and documents print the lead's amount as one row)."""
        entity_of(q.of.kind)
        return []

    # writes --------------------------------------------------------------------------------
    def _changed(self, ref: p.ItemRef) -> None:
        entity = entity_of(ref.kind)
        self.forget(f"/api/v4/{entity}/{int(ref.id)}",
                    lists=(f"/api/v4/{entity}", "/api/v4/events"))

    def _patch(self, ref: p.ItemRef, body: Mapping[str, Any]) -> bool:
        self.client.patch(f"/api/v4/{entity_of(ref.kind)}/{int(ref.id)}", dict(body))
        self._changed(ref)
        return True

    def _w_assign(self, op: p.Assign, produced: dict[str, Any]) -> bool:
        return self._patch(op.ref, {"responsible_user_id": int(op.user_id)})

    def _w_update_item(self, op: p.UpdateItem, produced: dict[str, Any]) -> Any:
        """Fields by custom field id or code; "title" is the name, "amount" a lead's price.
        amoCRM records every change in its events: `quiet` has no meaning there."""
        if op.process is not None:
            update = getattr(self, "update_element", None)  # AmoCatalogs
            if update is None:
                raise p.CrmPermanent("UpdateItem", "catalog elements are not available")
            return update(op)
        fields = {k: self.resolve(v, produced) for k, v in op.fields.items()}
        body = m.update_body(op.ref.kind, fields)
        if not body:
            return True
        return self._patch(op.ref, body)

    def _w_move_item(self, op: p.MoveItem, produced: dict[str, Any]) -> bool:
        """amocrm.md §4.2: another pipeline takes pipeline_id and status_id together;
        without a stage the lead goes to the pipeline's first working status."""
        if op.ref.kind != "deal":
            raise p.CrmPermanent(op.ref.label, "only leads have pipelines on amoCRM")
        head, _, tail = str(op.stage).partition(":")
        pipeline = m.as_int(head) if tail else m.as_int(op.category)
        status = m.as_int(tail or head)
        body: dict[str, Any] = {}
        if pipeline:
            body["pipeline_id"] = pipeline
            if not status:
                status = m.first_stage(self.statuses().get(pipeline, []))
        if not status:
            raise p.CrmPermanent(op.ref.label, f"no stage to move to in {op.category!r}")
        body["status_id"] = status
        return self._patch(op.ref, body)

    def _note(self, ref: p.ItemRef, text: str) -> int:
        """A common note (amocrm.md §4.7), in plain text (BB codes written as text,
        mapping.plain_text); its id."""
        entity = entity_of(ref.kind)
        body = self.client.post(f"/api/v4/{entity}/{int(ref.id)}/notes", [{
            "note_type": "common", "params": {"text": m.plain_text(text)}}])
        self.forget(f"/api/v4/{entity}/{int(ref.id)}/notes")
        rows = embedded(body, "notes") if isinstance(body, dict) else []
        return m.as_int(rows[0].get("id")) if rows else 0

    def _w_add_comment(self, op: p.AddComment, produced: dict[str, Any]) -> int:
        return self._note(op.ref, str(self.resolve(op.text, produced)))

    def _w_log_to_trigger(self, op: p.LogToTrigger, produced: dict[str, Any]) -> int:
        """amoCRM shows no log of a widget action: a note on the lead the token names."""
        trigger = m.trigger_of(op.token)
        return self._note(p.ItemRef("deal", trigger.lead_id), op.message)

    def _w_answer(self, op: p.AnswerTrigger, produced: dict[str, Any]) -> None:
        """A pipeline action waits for nothing (a refusal becomes a note on the lead); a
        Salesbot step continues with the values and the message shown (amocrm.md §3.2: 202;
        404 when nobody waits)."""
        trigger = m.trigger_of(op.token)
        if trigger.kind != "salesbot":
            # nobody reads a pipeline action's answer: a refusal or an explanation (a
            # robot's "reason": whom distribution chose and why) is told on the lead;
            # plain success speaks for itself
            if (op.values.get("error") or op.values.get("reason")) and op.message:
                self._note(p.ItemRef("deal", trigger.lead_id), op.message)
            return None
        body: dict[str, Any] = {"data": m.bot_values(op.values)}
        if op.message:
            body["execute_handlers"] = [{"handler": "show", "params": {
                "type": "text", "value": op.message[:SHOW_MAX]}}]
        try:
            self.client.post(f"/api/v4/salesbot/{trigger.bot_id}/continue/"
                             f"{trigger.continue_id}", body)
        except AmoPermanentError as exc:
            if exc.status == 404:
                raise p.TriggerGone("trigger", "the Salesbot no longer waits", exc) from exc
            raise
        return None

    def answer_trigger(self, token: str, values: Mapping[str, Any], message: str) -> None:
        try:
            self._w_answer(p.AnswerTrigger(token, values, message), {})
        except AuthLost:
            raise
        except AmoError as exc:
            raise neutral(exc, "trigger") from exc

    def _w_skip(self, op: p.Op, produced: dict[str, Any]) -> dict[str, str]:
        """amoCRM offers no notification or chat API the app may use: capabilities tell
        people through Telegram on amoCRM."""
        why = f"amoCRM has no {'chat' if isinstance(op, p.PostToChat) else 'notification'} " \
              "API for apps"
        log.info("%s skipped on %s: %s", type(op).__name__, self.tenant.key, why)
        return {"skipped": why}

    def _w_no_chat(self, op: p.CreateChat, produced: dict[str, Any]) -> int:
        raise p.CrmPermanent("CreateChat", "amoCRM has no chats the app may create")

    def create_chat(self, title: str, users: tuple[int, ...], description: str = "") -> int:
        """0: amoCRM has no group chats an app may create, so there is none to post to
        (distribution's supervisors are told on the lead and through Telegram there)."""
        log.info("no chat %r on %s: amoCRM has no chats for apps", title, self.tenant.key)
        return 0

    def _w_create_task(self, op: p.CreateTask, produced: dict[str, Any]) -> int:
        """amocrm.md §4.8: text and complete_till (Unix time); the tag as the text's last
        line (FindTask). amoCRM tasks have no auditors: `auditors` are not kept."""
        try:
            deadline = m.ts_of(op.deadline)
        except ValueError as exc:
            raise p.CrmPermanent("CreateTask", f"deadline {op.deadline!r}") from exc
        body = self.client.post("/api/v4/tasks", [{
            "text": m.task_text(m.plain_text(op.title), m.plain_text(op.description), op.tag),
            "complete_till": deadline,
            "entity_type": entity_of(op.bound_to.kind), "entity_id": int(op.bound_to.id),
            "responsible_user_id": int(op.responsible)}])
        self.forget(lists=("/api/v4/tasks",))
        rows = embedded(body, "tasks") if isinstance(body, dict) else []
        return m.as_int(rows[0].get("id")) if rows else 0

    # lists ---------------------------------------------------------------------------------
    def item_ids(self, kind: str, after: int = 0) -> Iterator[int]:
        for item in self.list_items(kind, after=after):
            yield item.ref.id

    def list_items(self, kind: str, process: p.SmartProcess | None = None, after: int = 0,
                   category: str | None = None, won: bool = False) -> Iterator[p.Item]:
        """Ascending by id (`order[id]=asc`); amoCRM has no "id above" filter, so the ones
        up to `after` are read and dropped. Not kept in `seen` (a backfill reads much)."""
        if process is not None:
            elements = getattr(self, "catalog_elements", None)  # AmoCatalogs
            if elements is None:
                raise p.CrmPermanent("list_items", "catalog elements are not available")
            yield from elements(process, after)
            return
        entity = entity_of(kind)
        params: dict[str, Any] = {"order[id]": "asc"}
        if kind == "deal":
            params["with"] = "contacts"
            pipes = [m.as_int(category)] if category is not None else []
            if won:
                params |= m.status_filter([(pid, WON) for pid in pipes or self.statuses()])
            elif pipes:
                params["filter[pipeline_id]"] = pipes[0]
        for row in self.client.paginate(f"/api/v4/{entity}", entity, params):
            if m.as_int(row.get("id")) > after:
                yield self.to_item(kind, row)

    def deals(self, client: p.ItemRef | None = None, after: int = 0, won: bool = False, *,
              closed: bool | None = None, created_since: str = "", moved_since: str = "",
              categories: tuple[str, ...] = ()) -> Iterator[p.Item]:
        """Filtered by amoCRM (filter[statuses], filter[pipeline_id], filter[created_at],
        amocrm.md §4.1); a client's deals through its linked leads (`with=leads`). A lead's
        updated_at changes on any edit, so `moved_since` reads the lead_status_changed
        events since then (100 a page, §4.9) and the leads created since (they entered
        their stage then), each lead's latest one being its movedTime."""
        params: dict[str, Any] = {"with": "contacts", "order[id]": "asc"}
        by = self.statuses()
        pipes = [m.as_int(c) for c in categories]
        pairs: list[tuple[int, int]] | None = None
        if won:
            pairs = [(pid, WON) for pid in pipes or by]
        elif closed is True:
            pairs = [(pid, s) for pid in pipes or by for s in (WON, LOST)]
        elif closed is False:
            pairs = m.open_pairs(by, pipes)
        if pairs is not None:
            if not pairs:
                return
            params |= m.status_filter(pairs)
        elif pipes:
            params |= {f"filter[pipeline_id][{i}]": pid for i, pid in enumerate(pipes)}
        created_from = m.ts_of(created_since) if created_since else 0
        if created_from:
            params["filter[created_at][from]"] = created_from
        only = set(self.linked_leads(client)) if client is not None else None
        moved: dict[int, int] = {}
        if moved_since:
            since = m.ts_of(moved_since)
            moved = m.moved_times(self.client.paginate(
                "/api/v4/events", "events", {"filter[type]": "lead_status_changed",
                                             "filter[created_at][from]": since},
                limit=EVENTS_PAGE))
            ids = sorted(i for i in moved if only is None or i in only)
            rows = {m.as_int(r.get("id")): r
                    for r in self.leads_by_ids(ids, params, cached=False)}
            fresh = {**params, "filter[created_at][from]": max(since, created_from)}
            source = (self.leads_by_ids(sorted(only), fresh, cached=False)
                      if only is not None else
                      self.client.paginate("/api/v4/leads", "leads", fresh))
            rows |= {m.as_int(r.get("id")): r for r in source}
            found: Iterator[dict[str, Any]] = iter([rows[k] for k in sorted(rows)])
        elif only is not None:
            found = self.leads_by_ids(sorted(only), params, cached=False)
        else:
            found = self.client.paginate("/api/v4/leads", "leads", params)
        for row in found:
            lid = m.as_int(row.get("id"))
            if lid <= after or (only is not None and lid not in only):
                continue
            item = self.to_item("deal", row, custom=False)
            item.fields = {"createdTime": item.created_at}
            if moved_since:
                item.fields["movedTime"] = m.iso(moved.get(lid) or row.get("created_at"))
            yield item

    # set-up --------------------------------------------------------------------------------
    def _has_field(self, entity: str, code: str) -> bool:
        return any(str(f.get("code") or "").upper() == code for f in self.client.paginate(
            f"/api/v4/{entity}/custom_fields", "custom_fields"))

    def ensure_item_field(self, kind: str, name: str, type_: str, label: str) -> None:
        """The field is found by its code (the name in capitals), else created with that
        code (amocrm.md §4.6). A refusal after which the field is there (someone made it
        meanwhile) is success."""
        entity, code = entity_of(kind), name.upper()
        try:
            if self._has_field(entity, code):
                return
            self.client.post(f"/api/v4/{entity}/custom_fields", [{
                "name": label or name, "type": m.FIELD_TYPES.get(type_, "text"), "code": code}])
        except AuthLost:
            raise
        except AmoError as exc:
            if exc.status == 400 and self._has_field(entity, code):
                return
            raise neutral(exc, f"field {name}") from exc
        finally:
            self.forget(lists=(f"/api/v4/{entity}/custom_fields",))


def _since(text: str) -> int:
    try:
        return m.ts_of(text)
    except ValueError as exc:
        raise p.CrmPermanent("since", f"not a date-time: {text!r}") from exc


# each query and operation type → its handler (mixins register their own)
AmoCrm._READS.update({
    p.GetItem: "_r_get_item",
    p.GetPeople: "_r_get_people",
    p.DepartmentMembers: "_r_department_members",
    p.Duplicates: "_r_duplicates",
    p.CommMatches: "_r_comm_matches",
    p.OpenDeals: "_r_open_deals",
    p.Responsible: "_r_responsible",
    p.ClientName: "_r_client_name",
    p.StageName: "_r_stage_name",
    p.CountInWork: "_r_count_in_work",
    p.LatestItems: "_r_latest_items",
    p.Reactions: "_r_reactions",
    p.FindComment: "_r_find_comment",
    p.OpenActivities: "_r_open_activities",
    p.FindTask: "_r_find_task",
    p.TaskState: "_r_task_state",
    p.WorkCalendar: "_r_work_calendar",
    p.CustomFields: "_r_custom_fields",
    p.PipelineNames: "_r_pipeline_names",
    p.CurrencyRates: "_r_currency_rates",
    p.DocumentParties: "_r_document_parties",
    p.MyCompanies: "_r_my_companies",
    p.ProductRows: "_r_product_rows",
})
AmoCrm._WRITES.update({
    p.Assign: "_w_assign",
    p.UpdateItem: "_w_update_item",
    p.MoveItem: "_w_move_item",
    p.AddComment: "_w_add_comment",
    p.LogToTrigger: "_w_log_to_trigger",
    p.AnswerTrigger: "_w_answer",
    p.NotifyUser: "_w_skip",
    p.PostToChat: "_w_skip",
    p.CreateChat: "_w_no_chat",
    p.CreateTask: "_w_create_task",
})

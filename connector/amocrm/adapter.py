"""AmoCrm: the CRM port (connector.crm.port) on an amoCRM account.

amoCRM has no batch of mixed reads like Bitrix24's `batch`, so a `read` asks one GET per
distinct request; the same request asked twice in one set (two queries about one lead) is
sent once, and every answer is kept in `seen` by its request so that an event delivery's
subscribers are answered from what the delivery already read (connector.jobs).

Neutral names on amoCRM (decision 46):

* kinds: amoCRM's leads are the neutral "deal" (amoCRM has no separate lead entity);
  "contact" and "company" are themselves. Anything else is refused (CrmPermanent).
* `Item.category` is the pipeline id and `Item.stage` the status id, both as text; status
  142 is won and 143 lost in every pipeline (amocrm.md §4.5).
* custom fields are keyed by their field id as text (and by `field_code` where one is set).

Handlers are registered per query and operation type in `_READS` / `_WRITES` (method
names); mixins (files, catalogs) add their own, so each area stays in its own module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from connector.amocrm.adapter_files import AmoFiles
from connector.amocrm.catalogs import AmoCatalogs
from connector.amocrm.errors import AmoError, AmoPermanentError
from connector.amocrm.rest import AmoClient
from connector.crm import port as p
from connector.errors import AuthLost

log = logging.getLogger(__name__)

ENTITY = {"deal": "leads", "contact": "contacts", "company": "companies"}
WON, LOST = 142, 143  # amocrm.md §4.5: the closing statuses of every pipeline
DETAIL = {"deal": "leads", "contact": "contacts", "company": "companies"}

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
    """The port's error for a client error: retryable ones stay retryable."""
    if isinstance(err, AmoPermanentError):
        status = getattr(err, "status", 0)
        if status == 404:
            return p.NotFound(what, str(err), err)
        if status == 403:
            return p.AccessDenied(what, str(err), err)
        return p.CrmPermanent(what, str(err), err)
    return p.CrmRetryable(what, str(err), err)


class AmoCrm(AmoFiles, AmoCatalogs):
    """One amoCRM account as the CRM port."""

    _READS: ClassVar[dict[type, str]] = {}
    _WRITES: ClassVar[dict[type, str]] = {}

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

    def item_ids(self, kind: str, after: int = 0) -> Iterator[int]:
        for item in self.list_items(kind, after=after):
            yield item.ref.id

    def list_items(self, kind: str, process: p.SmartProcess | None = None, after: int = 0,
                   category: str | None = None, won: bool = False) -> Iterator[p.Item]:
        raise NotImplementedError  # filled in by the items part

"""Smart processes on amoCRM: a capability's registry kept as an amoCRM catalog («Список»,
https://www.amocrm.ru/developers/content/crm/platform/catalogs-api), its fields as the
catalog's custom fields (the mapping is catalog_fields').

How a catalog is found again: the id the app made (or mapped) is remembered for good in
Redis, `{prefix}:amo-catalog:{tenant}:{code}`, and checked to still exist; else a regular
catalog named as the spec; else one is created. Fields are ours by `code`, else by title;
only missing ones (and missing options of a choice) are added, nothing is deleted. What was
made for this very spec is kept READY_S, so jobs ask nothing while it holds. All of it under
one per-tenant Redis lock (connector.once): many workers asking at once make one catalog.

Reads and writes: FindItems lists the catalog's elements (narrowed by `filter[id]` and a
`query` where the conditions allow) and applies every condition, the order and the limit
here; CreateItem / UpdateItem write one element (POST / PATCH), uploading NewFiles first,
then link it to the cards its item links name (entity-links-api) — a failed link is logged,
never a failed write, since the element exists and a retry would make a second one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from connector.amocrm import catalog_fields as cf
from connector.amocrm.errors import AmoError, AmoPermanentError, AmoValidationError
from connector.crm import port as p

log = logging.getLogger(__name__)

READY_S = 600
CATALOGS = "/api/v4/catalogs"


class AmoCatalogs:
    """Mixin of AmoCrm (connector.amocrm.adapter): uses self.client, self.redis,
    self.prefix, self.tenant, self.domain and self.resolve."""

    _READS: ClassVar[dict[type, str]] = {p.FindItems: "find_items"}
    _WRITES: ClassVar[dict[type, str]] = {p.CreateItem: "create_element"}
    client: Any
    redis: Any
    prefix: str
    tenant: p.Tenant
    domain: str

    def resolve(self, value: Any, produced: Mapping[str, Any]) -> Any:
        raise NotImplementedError  # AmoCrm.resolve

    # making the catalog ---------------------------------------------------------------------
    def _catalog_key(self, code: str, *more: str) -> str:
        return ":".join([f"{self.prefix}:amo-catalog:{self.tenant.key}:{code}", *more])

    def ensure_smart_process(self, spec: p.SmartProcessSpec, existing: int = 0,
                             lang: str = "ru") -> p.SmartProcess:
        if self.redis is None:
            raise TypeError("ensure_smart_process needs the adapter's Redis (lock, memory)")

        def make() -> p.SmartProcess:
            try:
                return self._reconcile(spec, existing, lang)
            except cf.BadValue as exc:
                raise p.CrmPermanent(f"smart process {spec.code}", str(exc)) from exc
            except AmoError as exc:
                from connector.amocrm.adapter import neutral

                raise neutral(exc, f"smart process {spec.code}") from exc

        return p.made_once(self.redis, self._catalog_key(spec.code, "ready"),
                           f"{self.prefix}:amo-catalog:{self.tenant.key}:lock", spec,
                           existing, lang, make, READY_S)

    def _catalog(self, catalog_id: int) -> dict[str, Any] | None:
        """The catalog, or None when it is gone (a 204, catalogs-api)."""
        try:
            row = self.client.get(f"{CATALOGS}/{int(catalog_id)}")
        except AmoPermanentError as exc:
            if exc.status == 404:
                return None
            raise
        return row if isinstance(row, dict) and row.get("id") else None

    def _reconcile(self, spec: p.SmartProcessSpec, existing: int, lang: str
                   ) -> p.SmartProcess:
        remembered = self._catalog_key(spec.code)
        if existing:
            catalog = self._catalog(existing)
            if catalog is None:
                raise p.NotFound(f"catalog {existing}", "the account has no such catalog")
        else:
            raw = self.redis.get(remembered)
            catalog = self._catalog(int(raw)) if raw else None
            if catalog is None:
                catalog = cf.find_catalog(self.client.paginate(CATALOGS, "catalogs"), spec)
            if catalog is None:
                made = self.client.post(CATALOGS, [cf.catalog_payload(spec, lang)])
                rows = ((made or {}).get("_embedded") or {}).get("catalogs") or []
                if not rows or not rows[0].get("id"):
                    raise p.CrmPermanent(f"smart process {spec.code}",
                                         "amoCRM answered no catalog")
                catalog = rows[0]
            self.redis.set(remembered, int(catalog["id"]))
        fields = self._complete(spec, int(catalog["id"]), lang)
        found, missing = cf.match_fields(spec, fields)
        if missing:
            raise p.CrmPermanent(f"smart process {catalog.get('name')}",
                                 "fields could not be made: " + ", ".join(missing))
        process = cf.smart_process(spec, catalog, found)
        if gaps := process.missing_options():
            raise p.CrmPermanent(f"smart process {catalog.get('name')}",
                                 "options could not be made: " + ", ".join(gaps))
        return process

    def _fields(self, catalog_id: int) -> list[dict[str, Any]]:
        return list(self.client.paginate(f"{CATALOGS}/{catalog_id}/custom_fields",
                                         "custom_fields"))

    def _complete(self, spec: p.SmartProcessSpec, catalog_id: int, lang: str
                  ) -> list[dict[str, Any]]:
        """Add the fields the catalog lacks and the options its choice fields lack (in one
        POST and one PATCH, custom-fields); the catalog's fields afterwards."""
        path = f"{CATALOGS}/{catalog_id}/custom_fields"
        fields = self._fields(catalog_id)
        found, missing = cf.match_fields(spec, fields)
        if missing:
            top = max([int(f.get("sort") or 0) for f in fields] + [0])
            new: list[dict[str, Any]] = []
            for n, f in enumerate(spec.fields):
                if f.code in missing:
                    new += cf.definitions(f, lang, top + 10 * (n + 1))
                elif f.code + cf.CURRENCY in missing:
                    new.append(cf.currency_definition(f, lang, top + 10 * (n + 1) + 1))
            self.client.post(path, new)
        edits = []
        for code, row in found.items():
            f = next((x for x in spec.fields if x.code == code), None)
            if f is None or f.type != "choice":
                continue
            have = cf.option_ids(f, row)
            lacking = [(k, label) for k, label in f.choices if k not in have]
            if lacking:  # the whole list: those the field has, with their ids, and ours
                old = [{"id": e["id"], "value": e["value"], "sort": e.get("sort", 0),
                        **({"code": e["code"]} if e.get("code") else {})}
                       for e in row.get("enums") or []]
                edits.append({"id": row["id"], "enums": old + cf.enum_items(
                    lacking, lang, start=len(old))})
        if edits:
            self.client.patch(path, edits)
        return self._fields(catalog_id) if missing or edits else fields

    # reads ---------------------------------------------------------------------------------
    def _elements(self, process: p.SmartProcess, params: Mapping[str, Any] | None = None
                  ) -> Iterator[dict[str, Any]]:
        return self.client.paginate(f"{CATALOGS}/{process.entity_type_id}/elements",
                                    "elements", params)

    def find_items(self, q: p.FindItems) -> list[p.Item]:
        try:
            cf.check(q.process, q.filter, q.order)
            params = cf.pushed(q.process, q.filter)
        except (cf.BadValue, ValueError) as exc:
            raise p.CrmPermanent(f"find in {q.process.title}", str(exc)) from exc
        items = [cf.element_item(q.process, row) for row in self._elements(q.process, params)
                 if not row.get("is_deleted")]
        try:
            kept = [i for i in items if all(cf.holds(q.process, i, c) for c in q.filter)]
            return cf.arrange(q.process, kept, q.order)[:max(q.limit, 0)]
        except cf.BadValue as exc:
            raise p.CrmPermanent(f"find in {q.process.title}", str(exc)) from exc

    def catalog_elements(self, process: p.SmartProcess, after: int = 0) -> Iterator[p.Item]:
        """Every element above `after`, ascending, with its values (the port's list_items
        of a smart process)."""
        rows = sorted((r for r in self._elements(process) if int(r.get("id") or 0) > after
                       and not r.get("is_deleted")), key=lambda r: int(r["id"]))
        for row in rows:
            yield cf.element_item(process, row)

    # writes --------------------------------------------------------------------------------
    def _payload(self, process: p.SmartProcess, values: Mapping[str, Any]) -> dict[str, Any]:
        files = {}
        for f in process.spec.fields:  # custom-fields "file": uploaded to the Files host first
            v = values.get(f.code)
            for one in (v if isinstance(v, list | tuple) else [v]):
                if f.type == "file" and isinstance(one, p.NewFile):
                    files[id(one)] = self.client.upload(one.name, one.content)
        try:
            return cf.element_payload(process, values, self.domain, files)
        except cf.BadValue as exc:
            raise p.CrmPermanent(f"item of {process.title}", str(exc)) from exc

    def _link(self, process: p.SmartProcess, element_id: int, values: Mapping[str, Any]
              ) -> None:
        """The element in the cards its links name (entity-links-api, catalog_elements)."""
        for ref in cf.links_of(process, values):
            try:
                self.client.post(f"/api/v4/{cf.ENTITY_OF[ref.kind]}/{ref.id}/link", [{
                    "to_entity_id": element_id, "to_entity_type": "catalog_elements",
                    "metadata": {"catalog_id": process.entity_type_id, "quantity": 1}}])
            except AmoError as exc:
                log.warning("%s/%s: not linked to %s: %s", process.kind, element_id,
                            ref.label, exc)

    def create_element(self, op: p.CreateItem, produced: Mapping[str, Any]) -> int:
        values = {k: self.resolve(v, produced) for k, v in op.fields.items()}
        body = self._payload(op.process, values)
        body.setdefault("name", op.process.title)  # catalogs-api: an element needs a name
        made = self.client.post(f"{CATALOGS}/{op.process.entity_type_id}/elements", [body])
        rows = ((made or {}).get("_embedded") or {}).get("elements") or []
        if not rows or not rows[0].get("id"):
            raise p.CrmRetryable(f"item of {op.process.title}", "amoCRM answered no element")
        element_id = int(rows[0]["id"])
        self._link(op.process, element_id, values)
        return element_id

    def update_element(self, op: p.UpdateItem) -> bool:
        """PATCH /api/v4/catalogs/{id}/elements/{id} with our fields (the core's UpdateItem
        with a process delegates here); NotFound when the element is gone."""
        process = op.process
        if process is None or op.ref.kind != process.kind:
            raise p.CrmPermanent(f"item {op.ref.label}", "not an item of this smart process")
        body = self._payload(process, op.fields)
        if not body:
            return True
        try:
            self.client.patch(f"{CATALOGS}/{process.entity_type_id}/elements/{op.ref.id}",
                              body)
        except AmoValidationError as exc:
            if any(e.code == "NotFound" and e.path == "id"
                   for errs in exc.by_request_id.values() for e in errs):
                raise p.NotFound(f"item {op.ref.label}", "the element is gone", exc) from exc
            raise
        self._link(process, op.ref.id, op.fields)
        return True

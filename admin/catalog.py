"""The portal's names (users, departments, pipelines, stages, sources, fields, smart
processes), read with the admin's own token when the app is opened.

The settings store ids exactly as the CRM names them; an admin picks and reads them by
name. The names are read once per opening, with the admin's own frame token (so they are
what that admin may see), in one batch (a second one only for the pages past the first 50
users or departments and for the pipelines of smart processes), and kept in Redis for as
long as the frame token lives. A read the portal refuses (a scope not granted, a user
without the right) leaves its kinds empty: the form then asks for ids and says why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.bitrix.errors import BitrixError
from connector.bitrix.viewer import viewer_client
from connector.crm.port import (
    CrmError,
    LatestItems,
    PipelineNames,
    tenant_of,
)
from connector.errors import AuthLost
from connector.frames import FRAME_TTL_S
from connector.i18n import N_, t

log = logging.getLogger(__name__)

# the reference types of settings_schema, plus the latest deals (for previews)
KINDS = ("user", "department", "pipeline", "stage", "source", "smart_process", "crm_field",
         "entity_type", "deal")
ENTITY_NAMES = {"lead": N_("Leads"), "deal": N_("Deals")}
RECENT_DEALS = 20
PAGE = 50

# (value, label) and, for stages, the pipeline they belong to
Option = tuple[str, str]


@dataclass(frozen=True)
class Catalog:
    """Names by kind and entity: `names[kind][entity][value] = label`; `groups` keeps the
    pipeline of each stage; `missing` lists the kinds the portal would not tell."""

    names: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    groups: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # stage → pipeline
    missing: frozenset[str] = frozenset()
    lang: str = "ru"

    def name(self, kind: str, value: Any) -> str | None:
        """The portal's name of a user, department, pipeline…, or None when unknown."""
        if kind == "entity_type":
            return dict(self.options(kind)).get(str(value))
        for by_value in self.names.get(kind, {}).values():
            if str(value) in by_value:
                return by_value[str(value)]
        return None

    def options(self, kind: str, entity: str = "") -> list[Option]:
        """(value, label) for a picker; `entity` narrows pipelines, stages and fields."""
        if kind == "entity_type":
            own = [(e, t(self.lang, msgid)) for e, msgid in ENTITY_NAMES.items()]
            return own + [(f"item:{v}", label)
                          for v, label in self.options("smart_process")]
        by_entity = self.names.get(kind, {})
        if entity:
            return list(by_entity.get(entity, {}).items())
        return [pair for by_value in by_entity.values() for pair in by_value.items()]

    def stage_groups(self, entity: str) -> list[tuple[str, list[Option]]]:
        """An entity's stages by pipeline, in the portal's order: (pipeline name, stages)."""
        out: dict[str, list[Option]] = {}
        for value, label in self.options("stage", entity):
            out.setdefault(self.groups.get(entity, {}).get(value, ""), []).append(
                (value, label))
        return list(out.items())

    def knows(self, kind: str) -> bool:
        """Whether the names of this kind were read (the form can offer a picker)."""
        return kind not in self.missing

    def to_json(self) -> str:
        return json.dumps({"names": self.names, "groups": self.groups,
                           "missing": sorted(self.missing), "lang": self.lang},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Catalog:
        data = json.loads(raw)
        return cls(data["names"], data["groups"], frozenset(data["missing"]), data["lang"])


def key(services: Any, member_id: str, user_id: Any) -> str:
    """Under the core's keyspace of the tenant, one per (member, admin)."""
    tenant = tenant_of(member_id).key
    return f"{services.settings.queue_prefix}:core:{tenant}:admin-catalog:{user_id}"


def _rows(value: Any, inner: str = "") -> list[dict[str, Any]]:
    if isinstance(value, dict) and inner:
        value = value.get(inner)
    if isinstance(value, dict):
        value = list(value.values())
    return [r for r in value or [] if isinstance(r, dict)]


def _person(row: Mapping[str, Any]) -> str:
    full = " ".join(str(row.get(k) or "").strip() for k in ("NAME", "LAST_NAME")).strip()
    return full or str(row.get("EMAIL") or f"#{row.get('ID')}")


def _label(row: Mapping[str, Any]) -> str:
    for k in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL"):
        value = row.get(k)
        if isinstance(value, dict):  # without LANG some portals answer every language
            value = next(iter(value.values()), "")
        if value:
            return str(value)
    return str(row.get("FIELD_NAME") or "")


FIRST: dict[str, tuple[str, dict[str, Any]]] = {
    "users": ("user.get", {"FILTER": {"ACTIVE": True}, "SORT": "ID", "ORDER": "ASC"}),
    "departments": ("department.get", {}),
    "pipelines": ("crm.category.list", {"entityTypeId": 2}),
    "statuses": ("crm.status.list", {"order": {"SORT": "ASC"}}),
    "types": ("crm.type.list", {}),
    # api-reference/crm/deals/user-defined-fields/crm-deal-userfield-list.md: LANG gives
    # the labels as text in that language
    "fields": ("crm.deal.userfield.list", {"filter": {}}),
    "deals": ("crm.deal.list", {"order": {"ID": "DESC"}, "select": ["ID", "TITLE"],
                                "start": -1}),
}
# which kinds a refused command leaves empty
KINDS_OF = {"users": ("user",), "departments": ("department",), "pipelines": ("pipeline",),
            "statuses": ("stage", "source"), "types": ("smart_process",),
            "fields": ("crm_field",), "deals": ("deal",)}


def read(client: Any, lang: str) -> Catalog:
    """Everything in one batch, then what the first one says is still missing."""
    first = dict(FIRST)
    first["fields"] = ("crm.deal.userfield.list", {"filter": {"LANG": lang}})
    got = client.batch(first)
    missing: set[str] = set()
    values: dict[str, Any] = {}
    for name in first:
        try:
            values[name] = got.get(name)
        except BitrixError as exc:
            log.info("catalog: %s refused for %s: %s", first[name][0], client.member_id,
                     exc.code)
            missing.update(KINDS_OF[name])
            values[name] = None
    more: dict[str, tuple[str, dict[str, Any]]] = {}
    for name in ("users", "departments"):
        method, params = first[name]
        for start in range(PAGE, got.total.get(name, 0), PAGE):
            more[f"{name}:{start}"] = (method, {**params, "start": start})
    types = _rows(values["types"], "types")
    for spa in types:
        more[f"spa:{spa.get('entityTypeId')}"] = (
            "crm.category.list", {"entityTypeId": spa.get("entityTypeId")})
    extra = client.batch(more) if more else None
    users, departments = _rows(values["users"]), _rows(values["departments"])
    spa_pipelines: dict[str, list[dict[str, Any]]] = {}
    for k in more:
        assert extra is not None
        try:
            rows = _rows(extra.get(k), "categories") if k.startswith("spa:") else _rows(
                extra.get(k))
        except BitrixError:
            missing.update(("pipeline",) if k.startswith("spa:") else KINDS_OF[
                k.partition(":")[0]])
            continue
        if k.startswith("users:"):
            users += rows
        elif k.startswith("departments:"):
            departments += rows
        else:
            spa_pipelines[k.partition(":")[2]] = rows
    return _assemble(lang, missing, users, departments, _rows(values["pipelines"], "categories"),
                     _rows(values["statuses"]), types, spa_pipelines, _rows(values["fields"]),
                     _rows(values["deals"])[:RECENT_DEALS])


def _assemble(lang: str, missing: set[str], users: list[dict[str, Any]],
              departments: list[dict[str, Any]], pipelines: list[dict[str, Any]],
              statuses: list[dict[str, Any]], types: list[dict[str, Any]],
              spa_pipelines: Mapping[str, list[dict[str, Any]]],
              fields: list[dict[str, Any]], deals: list[dict[str, Any]]) -> Catalog:
    """The answers as names by kind and entity (pure: the tests feed it rows)."""
    pipes: dict[str, dict[str, str]] = {"deal": {str(p["id"]): str(p["name"])
                                                 for p in pipelines}}
    for type_id, rows in spa_pipelines.items():
        pipes[f"item:{type_id}"] = {str(p["id"]): str(p["name"]) for p in rows}
    stages: dict[str, dict[str, str]] = {}
    groups: dict[str, dict[str, str]] = {}
    sources: dict[str, str] = {}
    for row in statuses:
        entity_id, value, label = str(row.get("ENTITY_ID")), str(row.get("STATUS_ID")), str(
            row.get("NAME"))
        if entity_id == "SOURCE":
            sources[value] = label
            continue
        if entity_id == "STATUS":
            entity, pipeline = "lead", ""
        elif entity_id.startswith("DEAL_STAGE"):
            entity = "deal"
            pipeline = pipes["deal"].get(entity_id.removeprefix("DEAL_STAGE").lstrip("_")
                                         or "0", "")
        elif entity_id.startswith("DYNAMIC_") and "_STAGE_" in entity_id:
            type_id, _, cat = entity_id.removeprefix("DYNAMIC_").partition("_STAGE_")
            entity = f"item:{type_id}"
            pipeline = pipes.get(entity, {}).get(cat, "")
        else:
            continue
        stages.setdefault(entity, {})[value] = label
        groups.setdefault(entity, {})[value] = pipeline
    names = {
        "user": {"": {str(u["ID"]): _person(u) for u in users}},
        "department": {"": {str(d["ID"]): str(d.get("NAME") or "") for d in departments}},
        "pipeline": pipes,
        "stage": stages,
        # sources are one list for leads, deals and smart processes alike
        "source": {"": sources},
        "smart_process": {"": {str(s["entityTypeId"]): str(s.get("title") or "")
                               for s in types}},
        "crm_field": {"deal": {str(f["FIELD_NAME"]): _label(f) for f in fields}},
        "deal": {"": {str(d["ID"]): str(d.get("TITLE") or "") for d in deals}},
    }
    return Catalog(names, groups, frozenset(missing), lang)


def remember(services: Any, portal: Any, viewer: Any, auth_id: str, lang: str = "") -> None:
    """Read the portal's names as this admin sees them and keep them for the frame's life.

    A portal that cannot be asked right now leaves the previous catalog (or none): the
    pages then say that the names could not be read; they never fail for it.
    """
    from connector.i18n import portal_language

    lang = lang or portal_language("", getattr(portal, "language", ""))
    try:
        catalog = read(viewer_client(services, portal, auth_id), lang)
    except BitrixError as exc:
        log.info("catalog of %s not read: %s", portal.member_id, exc.code)
        return
    services.redis.set(key(services, portal.member_id, viewer.user_id), catalog.to_json(),
                       ex=FRAME_TTL_S)


# what an amoCRM admin's pages can name: amoCRM hands the widget no user token to read with,
# so the names come through the CRM port with the integration's own token; the kinds the
# port has no list query for (users, departments, stages, sources, fields) stay missing
PORT_KINDS = ("pipeline", "deal")


def read_through_port(crm: Any, lang: str) -> Catalog:
    """The names the CRM port answers: the deals' pipelines and the latest deals."""
    reading = crm.read({"pipelines": PipelineNames("deal"),
                        "deals": LatestItems("deal", RECENT_DEALS)})
    names: dict[str, dict[str, dict[str, str]]] = {}
    if reading.ok("pipelines"):
        names["pipeline"] = {"deal": {str(k): str(v)
                                      for k, v in dict(reading.get("pipelines")).items()}}
    if reading.ok("deals"):
        names["deal"] = {"": {str(item.ref.id): str(item.title or "")
                              for item in reading.get("deals")}}
    missing = {k for k in KINDS if k != "entity_type" and k not in names}
    return Catalog(names, {}, frozenset(missing), lang)


def remember_through_port(services: Any, member_id: str, user_id: Any, lang: str) -> None:
    """An amoCRM admin opened the settings: keep the names the port gives for the frame's
    life (a failed read leaves the previous catalog, like `remember`)."""
    try:
        catalog = read_through_port(services.crm(member_id), lang)
    except (CrmError, AuthLost) as exc:
        log.info("catalog of %s not read: %s", member_id, exc)
        return
    services.redis.set(key(services, member_id, user_id), catalog.to_json(), ex=FRAME_TTL_S)


def recall(services: Any, member_id: str, user_id: Any) -> Catalog | None:
    """The names read when this admin last opened the app, while the frame lives."""
    where = key(services, member_id, user_id)
    raw = services.redis.get(where)
    if not raw:
        return None
    services.redis.expire(where, FRAME_TTL_S)  # each page re-signs the frame token
    return Catalog.from_json(raw)

"""The `distribution` settings section and the Group it describes.

Declared once here; the settings store validates every group with the field path and the
reason, so an admin importing a broken document learns exactly what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.i18n import N_
from connector.settings_schema import (
    Bool,
    Chat,
    Choice,
    Departments,
    Duration,
    EntityTypes,
    ListOf,
    Number,
    Option,
    PerUser,
    Pipelines,
    Problem,
    Schema,
    Sources,
    StagesByEntity,
    Text,
    Users,
)
from robots.distribution.policy import LEAST_LOADED, WEIGHTED


@dataclass(frozen=True)
class AutoRule:
    """Distribute automatically when an item of this entity (and category/source) is added."""

    entity: str
    category_ids: tuple[int, ...] = ()
    source_ids: tuple[str, ...] = ()

    def matches(self, entity: str, category_id: Any, source_id: Any) -> bool:
        if entity != self.entity:
            return False
        if self.category_ids and _int(category_id) not in self.category_ids:
            return False
        return not (self.source_ids and str(source_id or "") not in self.source_ids)


@dataclass(frozen=True)
class Group:
    """A validated group; its defaults are those of GROUP's fields."""

    id: str
    name: str
    entity_types: tuple[str, ...]
    users: tuple[int, ...]
    departments: tuple[int, ...]
    in_work: dict[str, tuple[str, ...]]
    weights: dict[int, float]
    max_in_work: int
    max_per_day: int
    rule: str
    supervisors: tuple[int, ...]
    chat_id: int
    recheck_minutes: int
    auto: tuple[AutoRule, ...]
    placeholder_user_ids: tuple[int, ...]

    def weight(self, user_id: int) -> float:
        return self.weights.get(user_id, 1.0)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


AUTO_RULE = Schema("auto", N_("Automatic distribution"), (
    EntityTypes("entity", N_("Entity"), N_("Items of this entity type are distributed when "
                                           "they are added."), many=False),
    Pipelines("category_ids", N_("Pipelines"),
              N_("Only items of these pipelines; none chosen means all."), [],
              entity_from="entity", messages={"invalid": N_("must be a list of category ids")}),
    Sources("source_ids", N_("Sources"), N_("Only items from these sources; none chosen means "
                                            "all."), [], entity_from="entity"),
))


def _check_group(group: dict[str, Any]) -> Problem | None:
    """What no single field can say: someone to receive, and entities the group serves."""
    if not group["users"] and not group["departments"]:
        return "users", N_("a group needs users or departments")
    for entity in group["in_work"]:
        if entity not in group["entity_types"]:
            return f"in_work.{entity}", N_("entity type not served by the group")
    for i, rule in enumerate(group["auto"]):
        if rule["entity"] not in group["entity_types"]:
            return f"auto[{i}].entity", N_("must be one of the group's entity types")
    return None


WHOLE = {"low": 0, "high": 100000}

GROUP = Schema("group", N_("Distribution group"), (
    Text("id", N_("Group id"), N_("A short id used by robots and the CLI: a-z, 0-9, _ or -."),
         pattern=r"[a-z0-9_-]{1,40}",
         messages={"pattern": N_("must be 1-40 of a-z, 0-9, _ or -"),
                   "type": N_("must be 1-40 of a-z, 0-9, _ or -"),
                   "required": N_("must be 1-40 of a-z, 0-9, _ or -")}),
    Text("name", N_("Name"), N_("The group's name in messages; the id when not given."),
         blank=False, default_from="id"),
    EntityTypes("entity_types", N_("Entity types"),
                N_("What the group distributes: leads, deals or smart-process items."),
                ["lead"]),
    Users("users", N_("Members"), N_("The people who receive items."), []),
    Departments("departments", N_("Departments"),
                N_("Everyone in these departments receives items too."), []),
    StagesByEntity("in_work", N_("Stages that count as in work"),
                   N_("Per entity type, the stages whose items count towards a person's "
                      "workload."), {}, entities_from="entity_types"),
    PerUser("weights", N_("Weights"),
            N_("With the weighted rule, a person with weight 2 receives twice as many items; "
               "1 when not given."), {},
            value=Number("weight", N_("Weight"), N_("Above 0, at most 100."), 1.0, whole=False,
                         low=0, high=100, low_open=True,
                         messages={"range_open": N_("weight must be a number in (0, 100]"),
                                   "type": N_("weight must be a number in (0, 100]")})),
    Number("max_in_work", N_("Most items in work"),
           N_("A person with this many items in work receives no more; 0 means no limit."), 0,
           **WHOLE),
    Number("max_per_day", N_("Most items per day"),
           N_("A person who received this many today receives no more; 0 means no limit."), 0,
           **WHOLE),
    Choice("rule", N_("Rule"), N_("How the next person is chosen."), LEAST_LOADED,
           options=(Option(LEAST_LOADED, N_("The least loaded person")),
                    Option(WEIGHTED, N_("In proportion to the weights")))),
    Users("supervisors", N_("Supervisors"),
          N_("The people told about every choice and about items nobody could take."), []),
    Chat("chat_id", N_("Supervisors' chat"),
         N_("The chat where choices are explained; 0 means a chat the app creates."), 0,
         optional=True),
    Duration("recheck_minutes", N_("Re-check interval"),
             N_("Minutes between re-checks of items held because nobody was working."), 10,
             unit="min", low=1, high=1440),
    ListOf("auto", N_("Automatic distribution"),
           N_("Which new items the group distributes by itself, without a robot."), [],
           item=AUTO_RULE),
    Users("placeholder_user_ids", N_("Placeholder responsibles"),
          N_("Items whose responsible is one of these people count as not yet assigned."), []),
), check=_check_group)


def parse_group(path: str, raw: Any) -> Group:
    """One group from the settings document, or SettingsInvalid naming the field."""
    g = GROUP.validate(raw, path)
    return Group(
        id=g["id"], name=g["name"].strip(), entity_types=tuple(g["entity_types"]),
        users=tuple(g["users"]), departments=tuple(g["departments"]),
        in_work={entity: tuple(stages) for entity, stages in g["in_work"].items()},
        weights={int(uid): weight for uid, weight in g["weights"].items()},
        max_in_work=g["max_in_work"], max_per_day=g["max_per_day"], rule=g["rule"],
        supervisors=tuple(g["supervisors"]), chat_id=g["chat_id"],
        recheck_minutes=g["recheck_minutes"],
        auto=tuple(AutoRule(a["entity"], tuple(a["category_ids"]), tuple(a["source_ids"]))
                   for a in g["auto"]),
        placeholder_user_ids=tuple(g["placeholder_user_ids"]),
    )


DISTRIBUTION = Schema("distribution", N_("Fair distribution"), (
    ListOf("groups", N_("Distribution groups"),
           N_("Who receives what, by which rule, and who is told."), [], item=GROUP,
           unique="id", messages={"duplicate": N_("duplicate group id {value}")}),
    Bool("pin_on_won", N_("Keep clients with their manager"),
         N_("Pin a client to the manager of their first won deal; their next items go to "
            "that manager."), True),
    Number("audit_days", N_("Keep the decision log"), N_("Days the decision log is kept."), 90,
           low=1, high=365),
    Duration("reconcile_minutes", N_("Counter reconciliation interval"),
             N_("Minutes between reconciliations of the workload counters with the CRM."), 15,
             unit="min", low=1, high=1440),
), help=N_("Leads, deals and requests handed out by workload and work day; returning "
          "clients kept with their manager."))

SCHEMAS = (DISTRIBUTION,)


def groups(settings: dict[str, Any]) -> list[Group]:
    section = settings.get("distribution") or {}
    return [parse_group(f"distribution.groups[{i}]", g)
            for i, g in enumerate(section.get("groups", []))]


def group_by_id(settings: dict[str, Any], group_id: str) -> Group | None:
    return next((g for g in groups(settings) if g.id == group_id), None)

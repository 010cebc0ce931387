"""A capability is declared once; the registry is what every part of the app reads from.

A capability package under robots/ exports one `Capability`: its settings schema, its
triggers (robots), the events it listens to, its periodic tasks and on-demand tasks, its
deal-card sections, its CLI commands, the scopes it needs, and the services it publishes
for other capabilities (e.g. "the deal's folder"). The app factory and the worker entry
point hand the list to `Registry`; the router, the installer, the worker, the settings
store, the deal tab and the CLI take what they need from it. Nothing in connector/ names a
capability.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.crm.port import ItemRef, Query
from connector.i18n import Msg
from connector.queue import MAINTENANCE, QUEUE_NAMES

# neutral event names; each CRM adapter maps its own events onto them (handlers/)
EVENTS = ("lead.created", "lead.updated", "deal.created", "deal.updated", "item.created",
          "item.updated", "activity.created", "activity.updated")


@dataclass(frozen=True)
class Event:
    """One delivery of a CRM event, as a subscriber sees it."""

    name: str  # one of EVENTS
    ref: ItemRef
    data: Mapping[str, Any] = field(default_factory=dict)
    delivery: str = ""  # the delivery's key: subscribers of one delivery share its reads


Reads = Callable[[Any, Event], Mapping[str, Query]]
Handler = Callable[[Any, Event, Any], Any]


@dataclass(frozen=True)
class Subscription:
    """A capability's listener for one event.

    `wants(ctx, event)` decides from settings alone (no CRM call) whether this delivery
    concerns the capability; `reads(ctx, event)` names the CRM queries it will need, so the
    delivery reads them once for all its subscribers; `handle(ctx, event, reading)` does the
    work in its own job with its own retries; `after` orders it behind other subscribers.
    """

    event: str
    name: str
    handle: Handler
    wants: Callable[[Any, Event], bool] = lambda ctx, event: True
    reads: Reads = lambda ctx, event: {}
    # "<capability>.<subscription>" of the same event to run first when both take part
    # (a deal's chat is made after its responsible is chosen); it runs even if they fail
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class Periodic:
    """A task run for each portal every `every(settings)` seconds (None: not for this one)."""

    name: str
    every: Callable[[Mapping[str, Any]], int | None]
    run: Callable[[Any], Any]
    title: Msg = ""  # what it does, for an admin reading a failed job ("Re-check held items")


@dataclass(frozen=True)
class Task:
    """An on-demand job of the capability (a file copy, a re-scan), queued by its own code."""

    name: str
    run: Callable[[Any, Mapping[str, Any]], Any]
    queue: str = MAINTENANCE  # where ctx.enqueue and ctx.schedule put it (QUEUE_NAMES)
    title: Msg = ""  # what it does, for an admin reading a failed job ("Copy a file")


@dataclass(frozen=True)
class CardAction:
    """A button of a deal-tab section ("Create the folder now").

    `run(ctx, deal_id)` queues the capability's own task (JobContext.enqueue_job: a double
    click queues one job) and returns that job's id, which the tab follows until it ends;
    "" when there is nothing to do. `shown(facts)` says, from the section's facts, whether
    the button is offered now. The tab only ever shows it to a viewer who may read the deal.

    An action on one thing of the section (one of the deal's documents) takes a `value`:
    its buttons sit by those things in the section's own template (sections/_act.html),
    post the value, and `run(ctx, deal_id, value)` gets it as text the viewer may have
    changed, so it checks it (decision 36).

    An action that needs a small form (an offer: the carrier, the rate, the terms) names its
    `form` fields: the value is then those fields of the posted form, each cut to the value's
    length, as a JSON object (decision 37).
    """

    name: str
    label: Msg
    run: Callable[..., str]
    shown: Callable[[Mapping[str, Any]], bool] = lambda facts: True
    value: bool = False  # run(ctx, deal_id, value); its buttons are the section template's
    form: tuple[str, ...] = ()  # the value is these posted fields as JSON (implies value)


@dataclass(frozen=True)
class CardSection:
    """A part of the deal-card tab: facts read from Redis (never the CRM), a template, and
    the actions a manager may start from it."""

    name: str
    title: Msg
    facts: Callable[[Any, int], Mapping[str, Any]]  # (ctx, deal id) -> template values
    template: str
    actions: tuple[CardAction, ...] = ()


@dataclass(frozen=True)
class PostedFile:
    """A file an admin sent with a panel's form (multipart), without Flask's types: its name
    as their computer had it and `read(n)`, which returns at most n bytes."""

    name: str
    read: Callable[[int], bytes]


@dataclass(frozen=True)
class AdminView:
    """Who is looking at an admin page and what they sent: a panel's input."""

    user_id: int
    values: Mapping[str, str]  # the page's query (filters) or the submitted form
    catalog: Any = None  # admin.catalog.Catalog: the portal's names, read with the admin's token
    files: Mapping[str, PostedFile] = field(default_factory=dict)  # a multipart form's files

    def name(self, kind: str, value: Any) -> str:
        """A user, department, pipeline… by its name on the portal; "#<id>" when unknown."""
        found = self.catalog.name(kind, value) if self.catalog is not None else None
        return str(found) if found else f"#{value}"

    def lang(self, fallback: str) -> str:
        """The page's language (its query carries LANG), else `fallback` (the portal's)."""
        from connector.i18n import language

        return language(self.values.get("LANG") or fallback)


def whole(value: Any) -> int:
    """A number as people type it ("12", "#12", "№ 12"); 0 when it is none."""
    try:
        return int(str(value).strip().lstrip("#№").strip())
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class Outcome:
    """What an admin action did, as a msgid with its placeholders (the page translates it)."""

    ok: bool
    msgid: Msg
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Panel:
    """A part of a capability's admin page, under its settings forms: what the admin reads
    there (a dry run, an audit, a chart) and what they may do (`actions`).

    `facts(ctx, view)` reads the app's state (or the CRM through ctx.crm) and returns the
    template's values; an action `fn(ctx, view) -> Outcome` enqueues or changes something.
    Templates live in templates/html/panels/.
    """

    name: str
    title: Msg
    facts: Callable[[Any, AdminView], Mapping[str, Any]]
    template: str
    actions: Mapping[str, Callable[[Any, AdminView], Outcome]] = field(default_factory=dict)
    admin_only: bool = False  # on a page every user may open (the overview): admins only
    # the largest file its actions accept, in bytes; 0: its forms carry no file. The page
    # refuses a longer body before reading it (admin.views, decision 36)
    max_upload: int = 0


@dataclass(frozen=True)
class Command:
    """A CLI sub-command: `crm-connector <name> …`."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Any, argparse.Namespace], int]


@dataclass(frozen=True)
class Capability:
    name: str
    title: Msg
    settings: tuple[Any, ...] = ()  # settings_schema.Schema sections
    triggers: tuple[Any, ...] = ()  # robots.spec.RobotSpec
    subscriptions: tuple[Subscription, ...] = ()
    periodic: tuple[Periodic, ...] = ()
    tasks: tuple[Task, ...] = ()
    card_sections: tuple[CardSection, ...] = ()
    panels: tuple[Panel, ...] = ()  # its admin page, under the settings forms
    cli: tuple[Command, ...] = ()
    scopes: frozenset[str] = frozenset()
    provides: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    # where this capability kept a Bitrix24 portal's keys before keys were CRM-neutral:
    # "<prefix>:<legacy_keyspace>:<member_id>…" moves to "<prefix>:<name>:b24:<member_id>…"
    legacy_keyspace: str = ""


class Registry:
    """The capabilities of this deployment, indexed the ways the app looks them up."""

    def __init__(self, capabilities: Iterable[Capability]):
        self.capabilities = list(capabilities)
        self.by_name: dict[str, Capability] = {}
        self.triggers: dict[str, Any] = {}
        self.subscribers: dict[str, list[tuple[Capability, Subscription]]] = {}
        self.tasks: dict[str, tuple[Capability, Task]] = {}
        self.periodic: dict[str, tuple[Capability, Periodic]] = {}
        self.services: dict[str, Callable[..., Any]] = {}
        for cap in self.capabilities:
            if cap.name in self.by_name:
                raise ValueError(f"capability {cap.name!r} is declared twice")
            self.by_name[cap.name] = cap
            for trig in cap.triggers:
                self._unique(self.triggers, trig.code, trig, "trigger")
            for sub in cap.subscriptions:
                if sub.event not in EVENTS:
                    raise ValueError(f"{cap.name}.{sub.name}: unknown event {sub.event!r}")
                self.subscribers.setdefault(sub.event, []).append((cap, sub))
            for task in cap.tasks:
                if task.queue not in QUEUE_NAMES:
                    raise ValueError(f"{cap.name}.{task.name}: unknown queue {task.queue!r} "
                                     f"(the queues are {', '.join(QUEUE_NAMES)})")
                self._unique(self.tasks, f"{cap.name}.{task.name}", (cap, task), "task")
            for per in cap.periodic:
                self._unique(self.periodic, f"{cap.name}.{per.name}", (cap, per), "periodic")
            for name, fn in cap.provides.items():
                self._unique(self.services, name, fn, "service")

    @staticmethod
    def _unique(index: dict[str, Any], key: str, value: Any, what: str) -> None:
        if key in index:
            raise ValueError(f"{what} {key!r} is declared twice")
        index[key] = value

    def subscription(self, capability: str, name: str) -> Subscription | None:
        cap = self.by_name.get(capability)
        return next((s for s in cap.subscriptions if s.name == name), None) if cap else None

    def events(self) -> list[str]:
        """Neutral events someone listens to."""
        return [e for e in EVENTS if self.subscribers.get(e)]

    def schemas(self) -> list[Any]:
        return [schema for cap in self.capabilities for schema in cap.settings]

    def scopes(self) -> set[str]:
        return {s for cap in self.capabilities for s in cap.scopes}

    def card_sections(self) -> list[tuple[Capability, CardSection]]:
        return [(cap, sec) for cap in self.capabilities for sec in cap.card_sections]

    def commands(self) -> list[Command]:
        return [cmd for cap in self.capabilities for cmd in cap.cli]

    def service(self, name: str) -> Callable[..., Any] | None:
        """A service another capability publishes, or None when that one is not loaded."""
        return self.services.get(name)

"""Which notices an event makes, and which rules send them. Pure: no Redis, no CRM.

Bitrix24 tells only that a deal changed (ONCRMDEALUPDATE carries its id), so "won" is
read as a change of the deal's stage semantics (connector.bitrix.adapter: Item.won is the
stage group "S", Item.closed "S" or "F") against what the app saw of the deal last time.
A deal won, reopened and won again is won twice; a change that leaves it won is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from connector.crm.port import Item
from connector.settings_schema import in_pipelines
from robots.notices.config import (
    DEAL_CREATED,
    DEAL_EVENTS,
    DEAL_LOST,
    DEAL_STAGE,
    DEAL_WON,
    LEAD_CREATED,
)

# a deal first seen already closed this long ago was closed before the app watched it
STALE_CLOSE = timedelta(days=2)


@dataclass(frozen=True)
class Seen:
    """What the app saw of a deal last time."""

    stage: str
    won: bool
    closed: bool

    @classmethod
    def of(cls, item: Item) -> Seen:
        return cls(item.stage, item.won, bool(item.closed))

    @classmethod
    def load(cls, raw: Mapping[str, Any] | None) -> Seen | None:
        if not raw:
            return None
        return cls(str(raw.get("stage") or ""), bool(raw.get("won")), bool(raw.get("closed")))

    def dump(self) -> dict[str, Any]:
        return {"stage": self.stage, "won": self.won, "closed": self.closed}


def _closed_long_ago(item: Item, today: date) -> bool:
    try:
        return date.fromisoformat(item.closed_on[:10]) < today - STALE_CLOSE
    except ValueError:
        return False


def happened(neutral: str, item: Item, before: Seen | None, today: date) -> list[str]:
    """The notice events of one CRM event (config's DEAL_WON…), oldest knowledge `before`.

    A deal the app has not seen before (made before notices were on) only teaches it its
    stage, unless it is won or lost now and was not closed days ago: then that is news."""
    if neutral == "lead.created":
        return [LEAD_CREATED]
    if neutral not in ("deal.created", "deal.updated"):
        return []
    now = Seen.of(item)
    out = [DEAL_CREATED] if neutral == "deal.created" else []
    if neutral == "deal.created" or (before is not None and before.stage != now.stage):
        out.append(DEAL_STAGE)
    first_sight = before is None and neutral == "deal.updated"
    if first_sight and _closed_long_ago(item, today):
        return out
    if now.won and not (before is not None and before.won):
        out.append(DEAL_WON)
    lost = now.closed and not now.won
    if lost and not (before is not None and before.closed and not before.won):
        out.append(DEAL_LOST)
    return out


def listens(rules: Iterable[Mapping[str, Any]], neutral: str) -> bool:
    """Whether an enabled rule may care about this CRM event (decided from settings only)."""
    wanted = DEAL_EVENTS if neutral in ("deal.created", "deal.updated") else (
        (LEAD_CREATED,) if neutral == "lead.created" else ())
    return any(r["enabled"] and r["event"] in wanted for r in rules)


def matches(rule: Mapping[str, Any], event: str, item: Item) -> bool:
    """Whether this rule sends a message for this notice event about this item."""
    if not rule["enabled"] or rule["event"] != event:
        return False
    if event in DEAL_EVENTS and not in_pipelines(rule["category_ids"], item.category):
        return False
    stages = rule["stage_ids"]
    if event == DEAL_STAGE:
        return item.stage in stages
    return not stages or item.stage in stages


def firing(rules: Iterable[Mapping[str, Any]], events: Iterable[str], item: Item
           ) -> list[tuple[str, Mapping[str, Any]]]:
    """(event, rule) of every message to send, in the rules' order within each event."""
    rules = list(rules)
    return [(event, rule) for event in events for rule in rules if matches(rule, event, item)]

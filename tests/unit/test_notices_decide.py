"""Which notices a CRM event makes, and which rules send them (robots.notices.decide)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connector.crm.port import Item, ItemRef
from connector.settings_schema import SettingsInvalid
from robots.notices import config, decide
from robots.notices.decide import Seen

TODAY = date(2026, 12, 2)


def deal(stage: str = "NEW", won: bool = False, closed: bool = False, category: str = "0",
         closed_on: str = "") -> Item:
    return Item(ItemRef("deal", 1), stage=stage, won=won, closed=closed, category=category,
                closed_on=closed_on)


WON = deal("WON", won=True, closed=True)
LOST = deal("LOSE", closed=True)


@pytest.mark.parametrize(("before", "now", "expected"), [
    (Seen("NEW", False, False), WON, ["deal_stage", "deal_won"]),
    (Seen("NEW", False, False), LOST, ["deal_stage", "deal_lost"]),
    (Seen("WON", True, True), WON, []),  # changed, still won: no news
    (Seen("WON", True, True), deal("EXECUTING"), ["deal_stage"]),  # reopened
    (Seen("WON", True, True), LOST, ["deal_stage", "deal_lost"]),  # won, then lost
    (Seen("LOSE", False, True), WON, ["deal_stage", "deal_won"]),
    (Seen("NEW", False, False), deal("NEW"), []),
])
def test_a_change_against_what_was_seen(before: Seen, now: Item, expected: list[str]):
    assert decide.happened("deal.updated", now, before, TODAY) == expected


def test_won_reopened_and_won_again_is_won_twice():
    seen, told = Seen("NEW", False, False), []
    for item in (WON, deal("EXECUTING"), WON):
        told += decide.happened("deal.updated", item, seen, TODAY)
        seen = Seen.of(item)
    assert told.count("deal_won") == 2


def test_a_deal_first_seen_won_is_news_unless_it_closed_days_ago():
    assert decide.happened("deal.updated", WON, None, TODAY) == ["deal_won"]
    fresh = deal("WON", won=True, closed=True, closed_on="2026-12-01")
    assert decide.happened("deal.updated", fresh, None, TODAY) == ["deal_won"]
    old = deal("WON", won=True, closed=True, closed_on="2026-10-01")
    assert decide.happened("deal.updated", old, None, TODAY) == []
    assert decide.happened("deal.updated", deal("PREPARATION"), None, TODAY) == []


def test_a_new_deal_is_created_in_its_stage_and_may_be_won_at_once():
    assert decide.happened("deal.created", deal(), None, TODAY) == ["deal_created", "deal_stage"]
    assert decide.happened("deal.created", WON, None, TODAY) == ["deal_created", "deal_stage",
                                                                 "deal_won"]
    assert decide.happened("lead.created", Item(ItemRef("lead", 3)), None, TODAY) == [
        "lead_created"]
    assert decide.happened("activity.created", WON, None, TODAY) == []


def rule(**values: Any) -> dict[str, Any]:
    return config.RULE.validate({"id": "r", "destination": "telegram",
                                 "telegram_chat": "-100123", **values})


def test_which_rules_fire_filters_by_event_pipeline_and_stage():
    rules = [rule(id="won"), rule(id="won_c1", category_ids=[1]),
             rule(id="lost", event="deal_lost"), rule(id="off", enabled=False),
             rule(id="to_won_stage", event="deal_stage", stage_ids=["WON"]),
             rule(id="won_in_stage", stage_ids=["C1:WON"])]
    fired = decide.firing(rules, ["deal_stage", "deal_won"], WON)
    assert [(e, r["id"]) for e, r in fired] == [("deal_stage", "to_won_stage"),
                                                ("deal_won", "won")]
    c1 = deal("C1:WON", won=True, closed=True, category="1")
    assert [r["id"] for _, r in decide.firing(rules, ["deal_won"], c1)] == [
        "won", "won_c1", "won_in_stage"]


def test_a_capability_listens_only_while_an_enabled_rule_may_care():
    assert not decide.listens([rule(enabled=False)], "deal.updated")
    assert decide.listens([rule()], "deal.updated")
    assert not decide.listens([rule()], "lead.created")
    assert decide.listens([rule(event="lead_created")], "lead.created")


def test_the_preset_ships_switched_off_and_without_a_destination():
    [preset] = config.SETTINGS.defaults()["rules"]
    assert preset["id"] == "won_finance" and not preset["enabled"]
    assert config.destination_missing(preset)
    assert not config.destination_missing(rule())


def test_a_stage_rule_without_stages_and_a_bad_telegram_chat_are_refused():
    with pytest.raises(SettingsInvalid) as stage:
        rule(event="deal_stage")
    assert stage.value.path.endswith("stage_ids")
    with pytest.raises(SettingsInvalid) as chat:
        rule(telegram_chat="финансы")
    assert chat.value.message("ru").endswith("должен быть ID чата, например -1001234567890, "
                                             "или @канал")
    with pytest.raises(SettingsInvalid):
        rule(template="{NOPE}")

"""The presets' plan, pure: markers filled, rules merged by id, a second apply empty, a
section needing a department left out without one, every preset valid on a fresh portal."""

from __future__ import annotations

import pytest

from connector.capability import Registry
from connector.settings_schema import SettingsInvalid, defaults
from robots import CAPABILITIES
from robots.presets.catalog import DEPARTMENT, ME, PRESETS, Preset, Words
from robots.presets.plan import fill, merge, plan

SCHEMAS = {s.name: s for s in Registry(CAPABILITIES).schemas()}


def words(msgid: str) -> str:
    return f"ru:{msgid}"


def test_markers_become_the_admin_their_department_and_the_portals_words():
    value = {"users": [ME, 7], "departments": [DEPARTMENT], "name": Words("Logists")}
    assert fill(value, 1, 3, words) == {"users": [1, 7], "departments": [3],
                                        "name": "ru:Logists"}
    assert fill(value, 1, 0, words)["departments"] == []


def test_rules_merge_by_id_update_in_place_and_append_new():
    current = {"rules": [{"id": "a", "enabled": False, "x": 1}, {"id": "b"}], "on": False}
    got = merge(current, {"rules": [{"id": "a", "enabled": True}, {"id": "c"}], "on": True})
    assert got == {"rules": [{"id": "a", "enabled": True, "x": 1}, {"id": "b"}, {"id": "c"}],
                   "on": True}


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.id)
def test_every_preset_is_valid_on_a_fresh_portal_and_idempotent(preset: Preset):
    fresh = defaults(SCHEMAS)
    first = plan(preset, fresh, SCHEMAS, 1, 2, words)
    assert not first.empty and not first.skipped
    second = plan(preset, {**fresh, **first.sections}, SCHEMAS, 1, 2, words)
    assert second.empty, second.changes


def test_without_a_department_the_distribution_group_is_left_out():
    found = plan(next(p for p in PRESETS if p.id == "freight"), defaults(SCHEMAS), SCHEMAS, 1,
                 0, words)
    assert found.skipped == ("distribution",) and "distribution" not in found.sections


def test_a_preset_the_schema_refuses_is_refused_before_anything_is_saved():
    bad = Preset("bad", "Bad", "", {"digests": {"hour": 99}})
    with pytest.raises(SettingsInvalid):
        plan(bad, defaults(SCHEMAS), SCHEMAS, 1, 0, words)

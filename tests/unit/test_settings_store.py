"""The settings store: a process never drops or rewrites the sections it has no schema for."""

from __future__ import annotations

import json

import pytest

from connector.settings_schema import (
    CORE_SCHEMAS,
    SettingsInvalid,
    SettingsStore,
    schema_map,
)
from robots.deal_workspace import config as deal_workspace
from robots.distribution import config as distribution

GROUP = {"id": "sales", "name": "Sales", "departments": [2], "supervisors": [1]}


@pytest.fixture
def stores(redis):
    """Two processes: one with the distribution capability loaded, one with the core only."""
    full = SettingsStore(redis, "cc", schema_map(CORE_SCHEMAS, distribution.SCHEMAS))
    core = SettingsStore(redis, "cc", schema_map(CORE_SCHEMAS))
    return full, core


def stored(redis, member_id="m1"):
    return json.loads(redis.get(f"cc:settings:{member_id}"))


def test_a_section_without_a_schema_here_is_read_and_kept_as_stored(redis, stores):
    full, core = stores
    full.put("m1", {"distribution": {"groups": [GROUP]}, "general": {"language": "en"}})
    theirs = stored(redis)["distribution"]
    doc = core.get("m1")
    assert doc["distribution"] == theirs and doc["general"]["language"] == "en"

    core.put("m1", {"general": {"timezone": "Asia/Omsk"}})  # a document without it
    assert stored(redis)["distribution"] == theirs
    doc = core.get("m1")
    doc["events"]["drain_every_s"] = 120  # what the CLI's `set` does: read, change, write
    core.put("m1", doc)
    assert stored(redis)["distribution"] == theirs
    assert stored(redis)["events"]["drain_every_s"] == 120

    (group,) = distribution.groups(full.get("m1"))
    assert (group.id, group.departments, full.get("m1")["general"]["timezone"]) == (
        "sales", (2,), "Asia/Omsk")


def test_a_process_cannot_change_a_section_it_cannot_check(redis, stores):
    full, core = stores
    full.put("m1", {"distribution": {"groups": [GROUP]}})
    before = redis.get("cc:settings:m1")
    for doc in ({"distribution": {"groups": []}}, {"deal_chats": {"enabled": True}}):
        with pytest.raises(SettingsInvalid) as err:
            core.put("m1", doc)
        assert err.value.path == next(iter(doc))
        assert err.value.reason == "unknown section (known: amocrm, events, general)"
    assert redis.get("cc:settings:m1") == before


def test_known_sections_are_complete_and_removed_fields_are_dropped(redis, stores):
    full, core = stores
    redis.set("cc:settings:m1", json.dumps({
        "general": {"language": "en", "retired_option": 1},
        "deal_folders": {"enabled": True}}))
    doc = full.get("m1")
    assert doc["general"] == {"timezone": "Europe/Moscow", "language": "en",
                              "admin_user_ids": []}
    assert doc["distribution"]["audit_days"] == 90 and doc["events"]["offline_backup"] is True
    assert doc["deal_folders"] == {"enabled": True}  # not loaded in this process: as stored
    full.put("m1", doc)
    assert stored(redis)["deal_folders"] == {"enabled": True}
    assert "retired_option" not in stored(redis)["general"]

    both = SettingsStore(redis, "cc", schema_map(CORE_SCHEMAS, deal_workspace.SCHEMAS))
    assert both.get("m1")["deal_folders"]["storage"] == "common"


def test_an_invalid_document_changes_nothing_and_delete_forgets_all(redis, stores):
    full, _ = stores
    full.put("m1", {"general": {"language": "en"}})
    before = redis.get("cc:settings:m1")
    for doc in ([], {"general": {"language": "xx"}},
                {"distribution": {"groups": [{**GROUP, "rule": "random"}]}}):
        with pytest.raises(SettingsInvalid):
            full.put("m1", doc)
    assert redis.get("cc:settings:m1") == before
    full.delete("m1")
    assert full.get("m1")["general"]["language"] == "auto"

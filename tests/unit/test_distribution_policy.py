import pytest

from connector.crm.port import ItemRef
from connector.settings_schema import SettingsInvalid, validate_document
from connector.triggers import RobotError
from robots.distribution.config import SCHEMAS, groups
from robots.distribution.entities import from_document
from robots.distribution.policy import (
    CLOSED,
    EXPIRED,
    NOT_STARTED,
    OPENED,
    PAUSED,
    WEIGHTED,
    Caps,
    Member,
    decide,
)


def validate(doc):
    return validate_document(doc, {s.name: s for s in SCHEMAS})


def m(uid, day=OPENED, **kw):
    return Member(user_id=uid, name=f"U{uid}", day=day, **kw)


def test_least_in_work_wins_then_today_then_month_then_longest_wait():
    assert decide([m(1, in_work=3), m(2, in_work=1), m(3, in_work=2)]).user_id == 2
    assert decide([m(1, in_work=1, today=5), m(2, in_work=1, today=2)]).user_id == 2
    assert decide([m(1, today=1, month=9), m(2, today=1, month=3)]).user_id == 2
    assert decide([m(1, last_assigned_at=200.0), m(2, last_assigned_at=100.0)]).user_id == 2


@pytest.mark.parametrize("day", [PAUSED, CLOSED, EXPIRED, NOT_STARTED])
def test_only_an_open_day_receives(day):
    d = decide([m(1, day=day, in_work=0), m(2, in_work=9)])
    assert d.user_id == 2 and 1 in d.skipped


def test_deactivated_never_receive():
    assert decide([m(1, active=False), m(2, in_work=5)]).user_id == 2


def test_nobody_eligible_assigns_nobody_and_says_why():
    d = decide([m(1, day=PAUSED), m(2, day=CLOSED), m(3, day=NOT_STARTED)])
    assert d.user_id is None
    assert "on a break" in d.reason and "work day closed" in d.reason
    assert "not started" in d.reason


def test_caps():
    caps = Caps(max_in_work=2, max_per_day=3)
    d = decide([m(1, in_work=2), m(2, in_work=1, today=3), m(3, in_work=1, today=0)], caps=caps)
    assert d.user_id == 3
    assert "in-work cap reached" in d.reason and "daily cap reached" in d.reason


def test_repeat_client_goes_to_pinned_manager_even_on_a_break():
    d = decide([m(1, day=PAUSED, in_work=9), m(2)], pinned=1)
    assert d.user_id == 1 and d.repeat_client and "repeat client" in d.reason


def test_pinned_manager_off_falls_back_and_says_so():
    d = decide([m(1, day=CLOSED), m(2)], pinned=1)
    assert d.user_id == 2 and "unavailable (work day closed)" in d.reason
    d = decide([m(1, active=False), m(2)], pinned=1)
    assert d.user_id == 2 and "deactivated" in d.reason


def test_weighted_rule_follows_weights_and_the_reason_names_it():
    team = [m(1, weight=2.0), m(2, weight=1.0)]
    got = {1: 0, 2: 0}
    for _ in range(300):
        d = decide(team, rule=WEIGHTED)
        got[d.user_id] += 1
        for x in team:
            if x.user_id == d.user_id:
                x.today += 1
    assert got == {1: 200, 2: 100}
    assert "weight" in d.reason


def test_empty_group():
    assert decide([]).reason == "the group has no members"


def test_documents_map_to_entities():
    assert from_document(["crm", "CCrmDocumentLead", "LEAD_12"]) == ItemRef("lead", 12)
    ref = from_document(["crm", "Bitrix\\Crm\\Integration\\BizProc\\Document\\Dynamic",
                         "DYNAMIC_128_5"])
    assert ref == ItemRef("item:128", 5)
    with pytest.raises(RobotError, match="unsupported"):
        from_document(["crm", "CCrmDocumentContact", "CONTACT_3"])


GOOD = {"id": "sales", "name": "Sales", "entity_types": ["lead", "deal"], "users": [2, 3],
        "weights": {"2": 2}, "auto": [{"entity": "lead", "source_ids": ["WEB"]}]}


def test_groups_parse():
    (g,) = groups(validate({"distribution": {"groups": [GOOD]}}))
    assert g.weight(2) == 2.0 and g.weight(3) == 1.0
    assert g.auto[0].matches("lead", None, "WEB") and not g.auto[0].matches("lead", None, "CALL")


@pytest.mark.parametrize("patch,path", [
    ({"id": "Bad Id"}, "distribution.groups[0].id"),
    ({"users": [], "departments": []}, "distribution.groups[0].users"),
    ({"users": ["x"]}, "distribution.groups[0].users"),
    ({"entity_types": ["contact"]}, "distribution.groups[0].entity_types"),
    ({"rule": "random"}, "distribution.groups[0].rule"),
    ({"weights": {"2": 0}}, "distribution.groups[0].weights.2"),
    ({"recheck_minutes": 0}, "distribution.groups[0].recheck_minutes"),
    ({"auto": [{"entity": "item:128"}]}, "distribution.groups[0].auto[0].entity"),
    ({"in_work": {"item:5": ["X"]}}, "distribution.groups[0].in_work.item:5"),
    ({"colour": "red"}, "distribution.groups[0].colour"),
])
def test_bad_groups_are_refused_with_the_field(patch, path):
    with pytest.raises(SettingsInvalid) as err:
        validate({"distribution": {"groups": [{**GOOD, **patch}]}})
    assert err.value.path == path


def test_duplicate_group_ids_refused():
    with pytest.raises(SettingsInvalid, match="duplicate"):
        validate({"distribution": {"groups": [GOOD, GOOD]}})

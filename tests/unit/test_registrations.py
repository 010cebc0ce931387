from install.registrations import plan
from placements.registry import PLACEMENTS
from tests.capabilities import BOUND_LIFECYCLE, EVENTS, REGISTRY, ROBOTS

OFFLINE_EVENTS = EVENTS

BASE = "https://app.example.com"


def test_empty_portal_gets_everything_added():
    todo = plan(REGISTRY, {"robots": [], "events": [], "placements": []}, BASE, "1", offline=True)
    methods = [m for m, _ in todo.commands.values()]
    assert methods.count("bizproc.robot.add") == len(ROBOTS)
    assert methods.count("event.bind") == len(EVENTS) + len(BOUND_LIFECYCLE) + len(OFFLINE_EVENTS)
    assert methods.count("placement.bind") == len(PLACEMENTS)
    robot = next(p for m, p in todo.commands.values() if m == "bizproc.robot.add")
    assert robot["USE_SUBSCRIPTION"] == "Y"
    assert robot["HANDLER"].startswith(f"{BASE}/robots/")
    assert "error" in robot["RETURN_PROPERTIES"]


def test_reconcile_of_a_complete_portal_only_updates_robots():
    state = {
        "robots": [r.code for r in ROBOTS],
        "events": [{"event": e, "handler": f"{BASE}/events", "offline": 0}
                   for e in (*EVENTS, *BOUND_LIFECYCLE)]
        + [{"event": e, "handler": "", "offline": 1} for e in OFFLINE_EVENTS],
        "placements": [{"placement": p.code, "handler": f"{BASE}/placements/{p.name}"}
                       for p in PLACEMENTS],
    }
    todo = plan(REGISTRY, state, BASE, "1", offline=True)
    assert {m for m, _ in todo.commands.values()} == {"bizproc.robot.update"}


def test_stale_registrations_of_ours_are_removed_and_foreign_ones_kept():
    state = {
        "robots": ["old_robot"],
        "events": [{"event": "ONCRMCONTACTADD", "handler": f"{BASE}/events", "offline": 0},
                   {"event": "ONCRMCONTACTADD", "handler": "https://other.app/x", "offline": 0}],
        "placements": [{"placement": "CRM_LEAD_DETAIL_TAB", "handler": f"{BASE}/placements/x"}],
    }
    todo = plan(REGISTRY, state, BASE, "1", offline=False)
    assert todo.commands["robot_delete_old_robot"] == ("bizproc.robot.delete",
                                                       {"CODE": "old_robot"})
    unbinds = [p for m, p in todo.commands.values() if m == "event.unbind"]
    assert unbinds == [{"event": "ONCRMCONTACTADD", "handler": f"{BASE}/events"}]
    assert "unplace_CRM_LEAD_DETAIL_TAB" in todo.commands
    assert not any(m == "event.bind" and p.get("event_type") == "offline"
                   for m, p in todo.commands.values())

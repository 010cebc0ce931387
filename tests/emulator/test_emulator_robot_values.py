"""bizproc.event.send checks RETURN_VALUES against the robot's RETURN_PROPERTIES types."""

from __future__ import annotations

import re

import requests

from tests.fixtures.docs import load

DOC = "api-reference__bizproc__bizproc-robot__bizproc-event-send.md"


def _robot(emu_url: str, emu_call, emu_app_stub) -> str:
    assert emu_call("bizproc.robot.add", {
        "CODE": "pick", "HANDLER": f"{emu_app_stub.url}/robots/pick", "NAME": "Pick",
        "USE_SUBSCRIPTION": "Y",
        "RETURN_PROPERTIES": {"who": {"Name": "Who", "Type": "user"},
                              "n": {"Name": "N", "Type": "int"},
                              "team": {"Name": "Team", "Type": "user", "Multiple": "Y"}},
    }).json()["result"] is True
    run = requests.post(f"{emu_url}/_emulator/robots/run", json={"code": "pick"}).json()
    return run["event_token"]


def test_event_token_has_the_documented_three_parts(emu_url, emu_call, emu_app_stub):
    token = _robot(emu_url, emu_call, emu_app_stub)
    sample = load(f"{DOC}__request")["event_token"]
    shape = r"^[0-9a-f]{14}\.[0-9]{8}\|A[0-9]{5}(_[0-9]{5}){3}\|[0-9A-Za-z]{32}\.[0-9a-f]{64}$"
    assert re.match(shape, sample) and re.match(shape, token), token


def test_user_values_must_be_user_id_form(emu_url, emu_call, emu_app_stub):
    token = _robot(emu_url, emu_call, emu_app_stub)
    for wrong in ({"who": "3"}, {"who": 3}, {"n": "three"}, {"team": ["user_3", "4"]}):
        r = emu_call("bizproc.event.send", {"EVENT_TOKEN": token, "RETURN_VALUES": wrong})
        assert r.status_code == 400 and r.json()["error"] == "ERROR_ARGUMENT", wrong
    ok = emu_call("bizproc.event.send", {"EVENT_TOKEN": token, "RETURN_VALUES": {
        "who": "user_3", "n": "7", "team": ["user_3", "user_4"], "undeclared": "ignored"}})
    assert ok.json()["result"] is True
    again = emu_call("bizproc.event.send", {"EVENT_TOKEN": token, "RETURN_VALUES": {}})
    assert again.status_code == 403 and again.json() == load(f"{DOC}__access-denied")


def test_an_empty_value_fits_every_type(emu_url, emu_call, emu_app_stub):
    token = _robot(emu_url, emu_call, emu_app_stub)
    r = emu_call("bizproc.event.send", {"EVENT_TOKEN": token,
                                        "RETURN_VALUES": {"who": "", "n": ""}})
    assert r.json()["result"] is True

"""Batch references that do not resolve get the deepest value reached (CRestUtil's rule)."""

from __future__ import annotations

import requests


def _params(emu_url: str, method: str) -> list[dict]:
    calls = requests.get(f"{emu_url}/_emulator/calls", params={"method": method}).json()
    return [c["params"] for c in calls if c["batch"]]


def test_unresolved_references_take_the_deepest_value_reached(emu_url, emu_call):
    r = emu_call("batch", {"halt": 0, "cmd": {
        "deals": "crm.deal.list?select[]=ID&select[]=TITLE&filter[<ID]=3&order[ID]=ASC",
        "short": "crm.contact.list?filter[ID]=$result[deals][49][ID]",
        "field": "crm.company.list?filter[ID]=$result[deals][0][NO_SUCH_FIELD]",
        "whole": "crm.lead.list?filter[ID]=$result[nosuchkey][ID]",
        "text": "user.get?filter[NAME]=Deal%20$result[deals][0][ID]%20and%20$result[deals][9]",
        "glued": "user.get?filter[NAME]=x$result[deals][0][ID]-and-$result[deals][1][ID]",
        "total": "crm.status.list?filter[ENTITY_ID]=$total[deals]",
    }}).json()["result"]
    deals = r["result"]["deals"]
    assert [d["ID"] for d in deals] == ["1", "2"]
    # a short page: [49] is past the end, so the reference becomes the page itself
    assert _params(emu_url, "crm.contact.list")[0]["filter"]["ID"] == deals
    # a missing field: the row that was reached
    assert _params(emu_url, "crm.company.list")[0]["filter"]["ID"] == deals[0]
    # an unknown command key: the whole result map so far
    whole = _params(emu_url, "crm.lead.list")[0]["filter"]["ID"]
    assert set(whole) == {"deals", "short", "field"} and whole["deals"] == deals
    # inside a longer string a scalar is spliced in, an array is left as written
    text, glued = (c["filter"]["NAME"] for c in _params(emu_url, "user.get"))
    assert text == "Deal 1 and $result[deals][9]"
    # a reference runs to the next whitespace, so what is glued to it is replaced with it
    assert glued == "x1"
    assert _params(emu_url, "crm.status.list")[0]["filter"]["ENTITY_ID"] == 2

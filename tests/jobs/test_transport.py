"""The REST transport against the emulator: batch, paging, the ID cursor, typed errors."""

from __future__ import annotations

import pytest

from connector.bitrix.errors import BitrixError, BitrixRetryableError
from tests.conftest import Stack


@pytest.fixture
def client(installed: Stack):
    return installed.app.extensions["connector"].client(installed.portal()["member_id"])


def test_call_and_typed_errors(installed: Stack, client):
    assert client.call("profile")["ID"]
    with pytest.raises(BitrixError) as err:
        client.call("crm.nosuch.method")
    assert err.value.code == "ERROR_METHOD_NOT_FOUND" and err.value.status == 404


def test_batch_keeps_keys_references_and_errors(installed: Stack, client):
    res = client.batch({
        "add": ("crm.deal.add", {"fields": {"TITLE": "Batch deal"}}),
        "get": ("crm.deal.get", {"id": "$result[add]"}),
        "bad": ("crm.deal.get", {"id": 99999999}),
    })
    assert res.get("get")["TITLE"] == "Batch deal"
    assert "bad" in res.errors
    with pytest.raises(BitrixError):
        res.get("bad")


def test_batch_over_fifty_is_chunked(installed: Stack, client):
    before = installed.stats()["requests"]
    res = client.batch({f"g{i}": ("profile", {}) for i in range(120)})
    assert len(res.result) == 120
    assert installed.stats()["requests"] - before == 3


def test_references_may_not_cross_a_chunk(client):
    cmds = {f"g{i}": ("profile", {}) for i in range(50)}
    cmds["late"] = ("crm.deal.get", {"id": "$result[g0][ID]"})
    with pytest.raises(ValueError, match="crosses a chunk"):
        client.batch(cmds)


def test_id_cursor_reads_everything_in_order_with_few_requests(installed: Stack, client):
    installed.control("POST", "seed", json={"deals": 3000})
    total = installed.rest("crm.deal.list", {"select": ["ID"]}).json()["total"]
    before = installed.stats()["requests"]
    ids = [int(r["ID"]) for r in client.iter_by_id("crm.deal.list", {"select": ["ID", "TITLE"]})]
    used = installed.stats()["requests"] - before
    assert len(ids) == total and ids == sorted(ids) and len(set(ids)) == total
    assert used <= total // 2500 + 1


def test_list_all_pages_by_start(installed: Stack, client):
    installed.control("POST", "seed", json={"deals": 400})
    total = installed.rest("crm.deal.list", {"select": ["ID"]}).json()["total"]
    rows = list(client.list_all("crm.deal.list", {"select": ["ID"]}))
    assert len(rows) == total


def test_retries_are_bounded(installed: Stack, client):
    installed.control("POST", "faults", json={"method": "profile",
                                              "error": "QUERY_LIMIT_EXCEEDED", "count": 50})
    before = installed.stats()["by_method"].get("profile", 0)
    with pytest.raises(BitrixRetryableError):
        client.call("profile")
    calls = installed.stats()["by_method"]["profile"] - before
    assert calls == client.retry.max_retries + 1

"""connector.amocrm against the amoCRM emulator over real HTTP, with a real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from connector.amocrm.errors import AmoAuthLost, AmoBlocked, AmoRateLimited
from connector.amocrm.oauth import (
    BLOCKED,
    LONG_LIVED,
    connect_long_lived,
    disable_signature,
    on_disabled,
    unblock,
    verify_disable_hook,
)
from connector.amocrm.widget_token import verify_widget_token
from connector.bitrix.store import ACTIVE, NEEDS_REINSTALL, UNINSTALLED
from devstack.processes import ROOT
from tests.amocrm.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI


# OAuth --------------------------------------------------------------------------------------
def test_code_exchange_stores_the_account_under_its_id(world):
    mid = world.connect()
    assert mid == f"amo-{world.acc.id}"
    portal = world.store.get(mid)
    assert portal.domain == world.acc.domain == "autoservis.amocrm.ru"
    assert portal.extra["kind"] == "oauth" and portal.extra["drive_url"]
    tokens = world.store.get_tokens(mid)
    assert tokens.refresh_token and 86000 < tokens.expires_at - time.time() <= 86400
    assert world.amo.client(mid).get("/api/v4/account")["id"] == world.acc.id


def test_a_referer_outside_amocrm_is_never_called(world):
    from connector.amocrm.domains import DomainRefused
    from connector.amocrm.oauth import connect_with_code

    before = world.requests()
    with pytest.raises(DomainRefused):
        connect_with_code(world.store, world.amo.oauth, "evil.example.com", "code",
                          world.amo.account_of)
    assert world.requests() == before


def test_four_threads_racing_refresh_once(world):
    mid = world.connect()
    stale = world.store.get_tokens(mid)
    calls_before = world.token_calls()
    results, errors = [], []
    barrier = threading.Barrier(4)

    def race():
        try:
            barrier.wait()
            results.append(world.amo.tokens.refresh(mid, stale))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert world.token_calls() - calls_before == 1
    assert len({r.access_token for r in results}) == 1
    assert results[0].refresh_token != stale.refresh_token
    # the new pair works, the old refresh token is spent (single-use)
    assert world.amo.client(mid).get("/api/v4/account")["id"] == world.acc.id
    with pytest.raises(AmoAuthLost):
        world.amo.oauth.refresh_grant(world.acc.domain, stale.refresh_token)


def test_four_processes_racing_refresh_once(world):
    mid = world.connect()
    stale = world.store.get_tokens(mid)
    stale.expires_at = time.time() + 30  # inside the proactive window
    world.store.save_tokens(mid, stale)
    before = world.token_calls()
    procs = [hammer(world, mid, 3) for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert world.token_calls() - before == 1
    assert world.store.get_tokens(mid).expires_at > time.time() + 3600


def test_proactive_refresh_near_expiry(world):
    mid = world.connect()
    tokens = world.store.get_tokens(mid)
    tokens.expires_at = time.time() + 60
    world.store.save_tokens(mid, tokens)
    before = world.token_calls()
    world.amo.client(mid).get("/api/v4/account")
    assert world.token_calls() - before == 1


def test_401_refreshes_once_and_retries_once(world):
    mid = world.connect()
    client = world.amo.client(mid)
    world.emu.fault(world.acc.id, method="GET", path=r"^/api/v4/account", status=401, count=1)
    before, calls = world.requests(), world.token_calls()
    assert client.get("/api/v4/account")["id"] == world.acc.id
    assert world.token_calls() - calls == 1
    assert world.requests() - before == 3  # the 401, the refresh, the retry


def test_a_second_401_is_auth_lost(world):
    mid = world.connect()
    client = world.amo.client(mid)
    world.emu.fault(world.acc.id, method="GET", path=r"^/api/v4/account", status=401, count=2)
    with pytest.raises(AmoAuthLost):
        client.get("/api/v4/account")
    assert world.store.get(mid).status == NEEDS_REINSTALL
    before = world.requests()
    with pytest.raises(AmoAuthLost):
        client.get("/api/v4/account")
    assert world.requests() == before


def test_disabled_integration_ends_in_auth_lost_and_the_hook_cleans_up(world):
    mid = world.connect()
    world.emu.disable(world.acc.id)  # tokens revoked (no hook URL configured here)
    with pytest.raises(AmoAuthLost):
        world.amo.client(mid).get("/api/v4/account")
    assert world.store.get(mid).status == NEEDS_REINSTALL
    args = {"account_id": str(world.acc.id), "client_uuid": CLIENT_ID,
            "signature": disable_signature(CLIENT_ID, str(world.acc.id), CLIENT_SECRET)}
    assert on_disabled(world.store, verify_disable_hook(args, CLIENT_ID, CLIENT_SECRET))
    assert world.store.get(mid).status == UNINSTALLED
    assert world.store.get_tokens(mid) is None


def test_long_lived_token_is_never_refreshed(world):
    token = world.emu.long_lived_token(world.acc.id, days=30)
    portal = connect_long_lived(world.store, world.acc.domain, token, world.amo.account_of)
    mid = portal.member_id
    assert portal.extra["kind"] == LONG_LIVED
    tokens = world.store.get_tokens(mid)
    assert tokens.refresh_token == ""
    assert 29 * 86400 < tokens.expires_at - time.time() <= 30 * 86400 + 5
    client = world.amo.client(mid)
    world.emu.fault(world.acc.id, method="GET", path=r"^/api/v4/account", status=401, count=1)
    with pytest.raises(AmoAuthLost):
        client.get("/api/v4/account")
    assert world.token_calls() == 0


# limits and blocks ---------------------------------------------------------------------------
def test_429_backs_off_then_succeeds(world):
    mid = world.connect()
    world.emu.fault(world.acc.id, method="GET", path=r"^/api/v4/account", status=429, count=2)
    assert world.amo.client(mid).get("/api/v4/account")["id"] == world.acc.id


def test_429_is_bounded_then_retryable(world):
    mid = world.connect()
    client = world.amo.client(mid)
    world.emu.fault(world.acc.id, method="GET", path=r"^/api/v4/account", status=429, count=50)
    before = world.requests()
    with pytest.raises(AmoRateLimited):
        client.get("/api/v4/account")
    assert world.requests() - before == client.retry.max_retries + 1


def test_403_blocks_the_tenant_and_sends_nothing_more(world):
    mid = world.connect()
    client = world.amo.client(mid)
    world.emu.block(world.acc.id)
    with pytest.raises(AmoBlocked):
        client.get("/api/v4/leads")
    portal = world.store.get(mid)
    assert portal.status == BLOCKED and "403" in portal.status_reason
    before = world.requests()
    for _ in range(3):
        with pytest.raises(AmoBlocked):
            world.amo.client(mid).get("/api/v4/leads")
    with pytest.raises(AmoBlocked):
        client.post("/api/v4/leads", [{"name": "x"}])
    assert world.requests() == before
    world.emu.unblock(world.acc.id)
    unblock(world.store, mid)
    assert world.store.get(mid).status == ACTIVE
    assert client.get("/api/v4/account")["id"] == world.acc.id


# lists, batches, files ----------------------------------------------------------------------
def test_batch_of_120_in_3_requests_with_a_validation_error_mapped(world):
    mid = world.connect()
    client = world.amo.client(mid)
    items = [{"name": f"Lead {i}", "price": 100 + i} for i in range(120)]
    items[77]["price"] = "a lot"
    before = world.requests()
    res = client.batch("POST", "/api/v4/leads", "leads", items)
    assert res.requests == 3 and world.requests() - before == 3
    assert list(res.errors) == [77]
    assert res.errors[77][0].path == "price"
    # the chunk with item 77 (50..99) was refused as a whole
    assert res.not_sent == [i for i in range(50, 100) if i != 77]
    assert sorted(res.results) == list(range(50)) + list(range(100, 120))
    ids = res.ids()
    lead = client.get(f"/api/v4/leads/{ids[110]}")
    assert lead["name"] == "Lead 110"


def test_pagination_past_250_and_204(world):
    mid = world.connect()
    client = world.amo.client(mid)
    res = client.batch("POST", "/api/v4/leads", "leads",
                       [{"name": f"L{i}"} for i in range(260)])
    assert res.ok and len(res.results) == 260
    before = world.requests()
    names = [lead["name"] for lead in client.paginate("/api/v4/leads", "leads")]
    assert sorted(names) == sorted(f"L{i}" for i in range(260))
    assert world.requests() - before == 2
    assert list(client.paginate("/api/v4/leads", "leads", {"query": "nothing-like-it"})) == []
    assert client.get("/api/v4/leads/999999999") is None  # 204


def test_update_batch_maps_by_id(world):
    mid = world.connect()
    client = world.amo.client(mid)
    ids = client.batch("POST", "/api/v4/leads", "leads", [{"name": "a"}, {"name": "b"}]).ids()
    res = client.batch("PATCH", "/api/v4/leads", "leads",
                       [{"id": ids[1], "name": "B"}, {"id": ids[0], "name": "A"}])
    assert res.ok and res.results[0]["id"] == ids[1]
    assert client.get(f"/api/v4/leads/{ids[1]}")["name"] == "B"


def test_files_upload_in_parts_and_download(world):
    mid = world.connect()
    client = world.amo.client(mid)
    content = os.urandom(1_300_000)  # more than one part of 524288
    model = client.upload("scan.pdf", content, "application/pdf")
    assert model["uuid"] and model["name"] == "scan.pdf"
    assert client.download(model["uuid"]) == content
    assert world.emu.file(model["uuid"]) is not None


# the widget's token --------------------------------------------------------------------------
def test_the_emulators_widget_token_verifies(world):
    mid = world.connect()
    token = world.emu.widget_token(world.acc.id, world.acc.admin_id)
    claims = verify_widget_token(
        token, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI,
        domain_of=lambda a: (world.store.get(f"amo-{a}").domain
                             if world.store.exists(f"amo-{a}") else None))
    assert (claims.account_id, claims.user_id) == (world.acc.id, world.acc.admin_id)
    assert mid == f"amo-{claims.account_id}"


# the limiter across processes ----------------------------------------------------------------
def hammer(world, mid: str, n: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": world.settings.redis_url,
           "AMO_KEY": world.key, "AMO_EMU": world.emu.url, "AMO_MEMBER": mid,
           "AMO_N": str(n)}
    return subprocess.Popen([sys.executable, "-m", "tests.amocrm.hammer"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_four_processes_hammering_one_tenant_get_no_429(world):
    mid = world.connect()
    world.emu.limits(enabled=True)
    start = time.monotonic()
    procs = [hammer(world, mid, 15) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    elapsed = time.monotonic() - start
    assert all(p.returncode == 0 for p in procs), outs
    stats = world.emu.stats(world.acc.id)
    assert stats["limited_429"] == 0 and not stats["blocked"]
    assert stats["max_in_one_second"] <= 6
    assert elapsed >= (60 / 6 - 1) * 1.1 - 1  # 60 requests at 6 per 1.1 s


def test_403_on_the_token_endpoint_blocks_rather_than_asking_for_a_reinstall(world):
    mid = world.connect()
    world.emu.block(world.acc.id)
    stale = world.store.get_tokens(mid)
    with pytest.raises(AmoBlocked):
        world.amo.tokens.refresh(mid, stale)
    assert world.store.get(mid).status == BLOCKED
    assert world.store.get_tokens(mid).refresh_token == stale.refresh_token

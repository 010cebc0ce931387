"""Connecting an amoCRM account, its webhooks at the tenant's secret address, the pipeline
action and the disable hook — over real HTTP, with the amoCRM emulator's own deliveries."""

from __future__ import annotations

from urllib.parse import urlencode

import requests

from install.amocrm_registrations import hook_url
from tests.amoflow.conftest import AmoStack


def _hook(stack: AmoStack) -> str:
    s = stack.services.settings
    return hook_url(s.public_base_url, s.secret_key, stack.member)


def test_connect_stores_the_account_and_registers_one_webhook(connected: AmoStack) -> None:
    portal = connected.services.store.get(connected.member)
    assert portal is not None and portal.status == "active"
    assert portal.domain == "autoservis.amocrm.ru"
    hooks = connected.emu.webhooks(connected.acc.id)
    assert [h["destination"] for h in hooks] == [_hook(connected)]
    assert {"add_lead", "status_lead", "update_lead"} <= set(hooks[0]["settings"])
    again = connected.connect()  # installing again updates the same webhook
    assert again.status_code == 200
    assert len(connected.emu.webhooks(connected.acc.id)) == 1
    assert "amoCRM" in again.text and "autoservis.amocrm.ru" in again.text


def test_refused_or_broken_consent_connects_nothing(amo_stack: AmoStack) -> None:
    denied = requests.get(f"{amo_stack.app_url}/amocrm/oauth",
                          params={"error": "access_denied"}, timeout=10)
    assert denied.status_code == 400
    forged = requests.get(f"{amo_stack.app_url}/amocrm/oauth",
                          params={"code": "forged", "referer": "autoservis.amocrm.ru"},
                          timeout=10)
    assert forged.status_code == 401
    elsewhere = requests.get(f"{amo_stack.app_url}/amocrm/oauth",
                             params={"code": "x", "referer": "evil.example.com"}, timeout=10)
    assert elsewhere.status_code == 400
    assert amo_stack.services.store.get(amo_stack.member) is None


def test_a_lead_added_in_amocrm_reaches_the_inbox_once(connected: AmoStack) -> None:
    connected.configure("client_value", enabled=True)
    before = connected.services.queues.inbox.waiting()
    connected.emu.create_lead(connected.acc.id, name="Ремонт бампера", price=12000)
    connected.emu.settle()
    sent = [d for d in connected.emu.deliveries(connected.acc.id)
            if d["url"] == _hook(connected)]
    assert sent and all(d["status"] == 200 for d in sent), sent
    assert connected.services.queues.inbox.waiting() > before


def test_forged_webhooks_are_refused_before_anything_is_queued(connected: AmoStack) -> None:
    connected.configure("client_value", enabled=True)
    inbox = connected.services.queues.inbox
    before = inbox.waiting()
    good = _hook(connected)
    body = urlencode({"leads[add][0][id]": "5", "account[id]": str(connected.acc.id),
                      "account[subdomain]": "autoservis"})
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    wrong_secret = good.rsplit("/", 1)[0] + "/" + "0" * 40
    assert requests.post(wrong_secret, data=body, headers=form, timeout=10).status_code == 401
    other = body.replace(f"account%5Bid%5D={connected.acc.id}", "account%5Bid%5D=999")
    assert requests.post(good, data=other, headers=form, timeout=10).status_code == 400
    assert requests.post(good, data="x=1", headers=form, timeout=10).status_code == 400
    assert inbox.waiting() == before
    ok = requests.post(good, data=body, headers=form, timeout=10)
    assert ok.status_code == 200 and len(ok.json()["jobs"]) == 1
    again = requests.post(good, data=body, headers=form, timeout=10)  # amoCRM's retry
    assert again.json()["jobs"] == ok.json()["jobs"]
    assert inbox.waiting() == before + 1


def test_disabling_the_integration_stops_the_tenant(connected: AmoStack) -> None:
    assert connected.emu.disable(connected.acc.id) == 200
    portal = connected.services.store.get(connected.member)
    assert portal.status == "uninstalled"
    assert connected.services.store.get_tokens(connected.member) is None
    forged = requests.get(f"{connected.app_url}/amocrm/disabled",
                          params={"account_id": str(connected.acc.id), "client_uuid": "x",
                                  "signature": "00"}, timeout=10)
    assert forged.status_code == 401


def test_the_admin_lands_on_a_connected_page_in_russian(amo_stack: AmoStack) -> None:
    """The browser follows amoCRM's redirect: the page says what happened and what next."""
    from tests.e2e.browser import accessibility_problems, browser_page, shoot

    grant = amo_stack.emu.authorize(amo_stack.acc.id, state="install")
    with browser_page(locale="ru-RU") as page:
        page.goto(f"{amo_stack.app_url}/amocrm/oauth?{urlencode(grant)}")
        text = page.inner_text("main")
        shoot(page, "amocrm-connected")
        assert "crm-connector подключён к amoCRM" in text
        assert "autoservis.amocrm.ru" in text and "виджет" in text
        assert accessibility_problems(page) == []
        page.goto(f"{amo_stack.app_url}/amocrm/oauth?error=access_denied")
        assert "«Разрешить»" in page.inner_text("main")
        shoot(page, "amocrm-connect-denied")


def test_updates_of_one_lead_merge_while_queued(connected: AmoStack) -> None:
    """A change of responsible comes as update_lead and responsible_lead (the same neutral
    deal.updated): the worker re-reads the lead once."""
    connected.configure("client_value", enabled=True)
    inbox = connected.services.queues.inbox
    before = inbox.waiting()
    account = {"account[id]": str(connected.acc.id), "account[subdomain]": "autoservis"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    both = urlencode({"leads[update][0][id]": "7", "leads[update][0][last_modified]": "1",
                      "leads[responsible][0][id]": "7",
                      "leads[responsible][0][responsible_user_id]": "3", **account})
    answer = requests.post(_hook(connected), data=both, headers=form, timeout=10).json()
    assert len(answer["jobs"]) == 2 and inbox.waiting() == before + 1
    other = urlencode({"leads[update][0][id]": "8", **account})
    requests.post(_hook(connected), data=other, headers=form, timeout=10)
    assert inbox.waiting() == before + 2

"""The capabilities on amoCRM through the same capability code as on Bitrix24: a manager
works in the emulated account, amoCRM posts its webhooks and pipeline actions to the app,
real burst workers act, and the outcome is read back from the account."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from connector.telegram import connection
from faketelegram import FakeTelegram
from tests.amoflow.conftest import AmoStack

pytestmark = pytest.mark.fake_telegram

TOKEN = "7000001:AAH-test-token-for-autoservis-0001"
FINANCE_TG = -1001000000777


def lead_of(s: AmoStack, lead_id: int) -> dict[str, Any]:
    return s.emu.account(s.acc.id).leads[lead_id]


def field_values(obj: dict[str, Any]) -> dict[str, Any]:
    """A contact's or lead's custom fields by code: the first value of each."""
    out = {}
    for f in obj.get("custom_fields_values") or []:
        values = f.get("values") or []
        out[f.get("field_code") or str(f.get("field_id"))] = values[0]["value"] if values \
            else None
    return out


def pipeline(s: AmoStack) -> dict[str, Any]:
    return next(p for p in s.emu.account(s.acc.id).pipelines.values() if p["is_main"])


def status(s: AmoStack, name: str) -> int:
    return next(st["id"] for st in pipeline(s)["statuses"] if st["name"] == name)


def always_at_work(s: AmoStack, users: list[int]) -> None:
    """Schedules round the clock, no holidays: the test's answer does not hang on its hour."""
    s.configure("work_time", production_calendar=False)
    s.configure("amocrm", schedules=[{"user_id": u, "weekdays": [1, 2, 3, 4, 5, 6, 7],
                                      "start": "00:00", "end": "24:00"} for u in users])


def masters_group(s: AmoStack, supervisors: list[int] | None = None) -> list[int]:
    """Two masters at work round the clock in the distribution group «masters»; their ids."""
    masters = [s.emu.add_user(s.acc.id, name, f"{i}@autoservis.example")
               for i, name in enumerate(["Иван Кузовщик", "Олег Маляр"])]
    ids = [m.id for m in masters]
    always_at_work(s, ids)
    s.configure("distribution", groups=[{
        "id": "masters", "name": "Мастера", "entity_types": ["deal"], "users": ids,
        "supervisors": supervisors or [], "placeholder_user_ids": []}])
    return ids


def away(s: AmoStack, user_id: int, is_away: bool = True) -> None:
    """The manager presses the widget's «Меня нет» switch (with amoCRM's X-Auth-Token)."""
    token = s.emu.widget_token(s.acc.id, user_id)
    resp = requests.post(f"{s.app_url}/amocrm/widget/away", json={"away": is_away},
                         headers={"X-Auth-Token": token,
                                  "Origin": "https://autoservis.amocrm.ru"}, timeout=10)
    assert resp.status_code == 200, resp.text


def test_a_won_lead_counts_into_its_contact_and_a_reopen_takes_it_back(connected: AmoStack):
    s = connected
    s.configure("client_value", enabled=True)
    contact = s.emu.create_contact(s.acc.id, name="Пётр Сидоров")
    lead = s.emu.create_lead(s.acc.id, name="Покраска двери", price=15000,
                             _embedded={"contacts": [{"id": contact["id"]}]})
    s.run_worker()
    s.emu.move_lead(s.acc.id, lead["id"], 142)
    s.run_worker()
    got = field_values(s.emu.account(s.acc.id).contacts[contact["id"]])
    assert str(got["UF_CRM_CC_WON_DEALS"]) == "1"
    assert float(got["UF_CRM_CC_LIFETIME_VALUE"]) == 15000
    s.emu.move_lead(s.acc.id, lead["id"], status(s, "Переговоры"))  # reopened
    s.run_worker()
    got = field_values(s.emu.account(s.acc.id).contacts[contact["id"]])
    assert str(got["UF_CRM_CC_WON_DEALS"]) == "0"


def test_a_won_lead_tells_finance_in_telegram(connected: AmoStack, fake_telegram: FakeTelegram):
    s = connected
    fake_telegram.add_bot(TOKEN, "autoservis_bot", "Автосервис бот")
    fake_telegram.add_chat(FINANCE_TG, "supergroup", "Финансы")
    connection.connect(s.services, s.member, TOKEN)
    s.configure("notices", rules=[{
        "id": "won_tg", "name": "Выигрыш в Telegram", "event": "deal_won", "enabled": True,
        "destination": "telegram", "telegram_chat": str(FINANCE_TG),
        "template": "[B]Выиграна:[/B] {DEAL} — {AMOUNT}"}])
    lead = s.emu.create_lead(s.acc.id, name="Ремонт бампера", price=12000)
    s.run_worker()
    s.emu.move_lead(s.acc.id, lead["id"], 142)
    s.run_worker()
    sent = [m["text"] for m in fake_telegram.sent(FINANCE_TG)]
    assert len(sent) == 1 and "Ремонт бампера" in sent[0], sent
    assert "12" in sent[0] and "autoservis.amocrm.ru/leads/detail/" in str(
        fake_telegram.sent(FINANCE_TG)[0])


def test_a_pipeline_action_distributes_the_lead_fairly(connected: AmoStack):
    s = connected
    # supervisors: amoCRM has no chat to tell them in, and the group still works
    ids = masters_group(s, supervisors=[s.acc.admin_id])
    first = s.emu.create_lead(s.acc.id, name="Вмятина на крыле")
    second = s.emu.create_lead(s.acc.id, name="Скол на капоте")
    for lead in (first, second):
        status_code, body = s.emu.run_dp_action(
            s.acc.id, lead["id"], {"robot": "fair_distribution", "group": "masters"},
            webhook_url=f"{s.app_url}/amocrm/dp")
        assert status_code == 200, body
    s.run_worker()
    owners = {lead_of(s, first["id"])["responsible_user_id"],
              lead_of(s, second["id"])["responsible_user_id"]}
    assert owners == set(ids)  # one each: the fairer choice
    (why,) = notes_of(s, first["id"])  # amoCRM shows no step's answer: the lead tells why
    assert "Иван Кузовщик" in why or "Олег Маляр" in why, why  # whom, and why
    assert not any(ch in why for ch in "[]"), why  # plain text, no BB codes


def notes_of(s: AmoStack, lead_id: int) -> list[str]:
    return [str((n.get("params") or {}).get("text") or "")
            for n in s.emu.account(s.acc.id).notes.values()
            if n.get("entity_id") == lead_id and n.get("note_type") == "common"]


def test_a_forged_pipeline_action_changes_nothing(connected: AmoStack):
    s = connected
    s.configure("distribution", groups=[{
        "id": "masters", "name": "Мастера", "entity_types": ["deal"], "users": [s.acc.admin_id],
        "supervisors": [], "placeholder_user_ids": []}])
    lead = s.emu.create_lead(s.acc.id, name="Полировка")
    body = s.emu.dp_body(s.acc.id, lead["id"], {"robot": "fair_distribution"})
    body["event"]["data"]["status_id"] = 999999  # the lead is not there
    resp = requests.post(f"{s.app_url}/amocrm/dp", json=body, timeout=10)
    assert resp.status_code == 200
    before = lead_of(s, lead["id"])["updated_at"]
    s.run_worker()
    assert lead_of(s, lead["id"])["updated_at"] == before
    gone = s.emu.create_lead(s.acc.id, name="Удалённая")
    body_gone = s.emu.dp_body(s.acc.id, gone["id"], {"robot": "fair_distribution"})
    with s.emu.state.lock:  # deleted in amoCRM before the worker got to it
        s.emu.account(s.acc.id).leads.pop(gone["id"])
    assert requests.post(f"{s.app_url}/amocrm/dp", json=body_gone, timeout=10).ok
    s.run_worker()
    assert s.services.queues.failed_of(s.member) == []  # dropped, not a failed job
    unknown = {**body, "account_id": 424242}
    assert requests.post(f"{s.app_url}/amocrm/dp", json=unknown, timeout=10).status_code == 403


def test_a_manager_who_is_away_gets_no_new_leads(connected: AmoStack):
    s = connected
    ids = masters_group(s)
    away(s, ids[0])
    leads = [s.emu.create_lead(s.acc.id, name=f"Заявка {n}") for n in range(3)]
    for lead in leads:
        code, body = s.emu.run_dp_action(s.acc.id, lead["id"], {"robot": "fair_distribution"},
                                         webhook_url=f"{s.app_url}/amocrm/dp")
        assert code == 200, body
    s.run_worker()
    assert {lead_of(s, lead["id"])["responsible_user_id"] for lead in leads} == {ids[1]}

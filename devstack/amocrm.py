"""`./dev up`'s amoCRM demo: the amoCRM emulator with the demo account of the repair shop
(amoemu/demo.py), the app pointed at it, the account connected through the app's real OAuth
redirect, and capabilities switched on for it.

Apart from devstack/__main__.py so the Bitrix24 demo stays as it was: this module only adds
processes, environment and lines to print. The settings document is built from what the
emulator reports (pipeline and status ids), never from numbers written here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devstack.processes import spawn, wait_for

CLIENT_ID = "local.amo-demo"
# the demo's made-up secret (as the Bitrix24 demo's "demo-secret"): amoCRM's secrets are
# 64 characters (amocrm.md §1.1), so this one is too
CLIENT_SECRET = "amo-demo-secret-" + "d" * 48
DEMO_DOMAIN = "autoservis.amocrm.ru"
FINANCE_CHAT = "-1001000000001"  # faketelegram DEMO_CHATS: «Финансы»
DISTRIBUTION_GROUP = "masters"


@dataclass
class AmoDemo:
    """The running demo account, as the emulator's control API reports it."""

    emu_url: str
    account: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.account["id"])

    @property
    def member_id(self) -> str:
        return f"amo-{self.id}"

    @property
    def control(self) -> str:
        return f"{self.emu_url}/_emulator/accounts/{self.id}"

    def consent_url(self, client_id: str = CLIENT_ID) -> str:
        """The consent page a browser opens to connect the account again (amocrm.md §1.2)."""
        return (f"{self.emu_url}/www.amocrm.ru/oauth?client_id={client_id}&state=demo"
                f"&mode=post_message")


def app_env(emu_url: str, app_url: str) -> dict[str, str]:
    """What points the app at the emulator: our integration's id, secret and redirect URI
    (as an admin enters them in amoCRM), and where account hosts are reached."""
    from amoemu import app_env as amo_url_env

    return {"AMOCRM_CLIENT_ID": CLIENT_ID, "AMOCRM_CLIENT_SECRET": CLIENT_SECRET,
            "AMOCRM_REDIRECT_URI": f"{app_url}/amocrm/oauth", **amo_url_env(emu_url)}


def emulator_args(port: int, app_url: str) -> list[str]:
    """`python -m amoemu` with the demo account and our integration's addresses."""
    return [sys.executable, "-m", "amoemu", "--port", str(port), "--demo",
            f"--client-id={CLIENT_ID}", f"--client-secret={CLIENT_SECRET}",
            f"--redirect-uri={app_url}/amocrm/oauth",
            f"--disable-hook-url={app_url}/amocrm/disabled"]


def start(port: int, app_url: str, env: dict[str, str], log: Path | None) -> Any:
    return spawn(emulator_args(port, app_url), env, log)


def demo_account(emu_url: str, timeout: float = 30) -> AmoDemo:
    """The demo account once the emulator answers."""
    def found() -> dict[str, Any] | None:
        accounts = requests.get(f"{emu_url}/_emulator/accounts", timeout=2).json()["accounts"]
        return next((a for a in accounts if a["domain"] == DEMO_DOMAIN), None)

    return AmoDemo(emu_url, wait_for(found, timeout, 0.2, "the amoCRM emulator"))


def connect(demo: AmoDemo) -> int:
    """The admin presses «Разрешить»: the emulator sends the browser's GET to our redirect
    URI (code, referer, state), so the app connects the account and registers its webhook
    exactly as for a real one. The redirect's HTTP status back."""
    resp = requests.post(f"{demo.control}/authorize", json={"state": "demo", "deliver": True},
                         timeout=60)
    resp.raise_for_status()
    return int(resp.json().get("delivered_status") or 0)


def _pipeline(account: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in account["pipelines"] if p["name"] == name)


def _status(pipeline: dict[str, Any], name: str) -> str:
    return str(next(s["id"] for s in pipeline["statuses"] if s["name"] == name))


def demo_settings(account: dict[str, Any]) -> dict[str, Any]:
    """The capabilities the demo account gets, in the neutral terms of amoCRM (decision 46:
    leads are "deal", a pipeline id is the category, a status id the stage)."""
    from robots.notices.config import WON_TEMPLATE

    repair = _pipeline(account, "Ремонт")
    follow_up = _pipeline(account, "Повторный контакт")
    admin = int(account["admin_id"])
    masters = [int(u["id"]) for u in account["users"] if not u["is_admin"] and u["is_active"]]
    return {
        "client_value": {"enabled": True},
        # the won-deal notice to the fake Telegram's «Финансы» group, as on the Bitrix24 demo
        "notices": {"rules": [{"id": "won_finance", "name": "Выдан клиенту → финансы",
                               "enabled": True, "event": "deal_won",
                               "destination": "telegram", "telegram_chat": FINANCE_CHAT,
                               "template": WON_TEMPLATE}]},
        # fair distribution by the widget's pipeline step on «Заявка» (./dev demo-amo-lead)
        "distribution": {"groups": [{
            "id": DISTRIBUTION_GROUP, "name": "Мастера-приёмщики", "entity_types": ["deal"],
            "users": masters, "placeholder_user_ids": [admin], "recheck_minutes": 1,
            # no supervisors: on Bitrix24 they get a chat with the reasons, amoCRM has none
            "supervisors": []}]},
        # amoCRM has no work-day button: the masters' schedules say who works; around the
        # clock here, so the demo distributes at any hour you try it
        "amocrm": {"schedules": [{"user_id": uid, "weekdays": [1, 2, 3, 4, 5, 6, 7],
                                  "start": "00:00", "end": "24:00"} for uid in masters]},
        "watchdogs": {
            "reaction": [{"id": "new_request", "name": "Ответить на заявку",
                          "entity": "deal", "category_ids": [int(repair["id"])],
                          "stage_ids": [_status(repair, "Заявка")], "due_minutes": 30,
                          "reactions": ["stage", "call", "comment", "activity"],
                          "steps": [{"after_minutes": 0, "action": "remind"},
                                    {"after_minutes": 30, "action": "supervisors",
                                     "users": [admin]}]}],
            "stage_limits": [{"id": "approval_stalled", "name": "Согласование затянулось",
                              "stage_ids": [_status(repair, "Согласование")],
                              "limit_minutes": 3 * 24 * 60,
                              "move_category": int(follow_up["id"]),
                              "move_stage": _status(follow_up, "Напомнить"),
                              "task": "Перезвонить клиенту: {TITLE}"}],
        },
    }


def configure(services: Any, demo: AmoDemo, fake_telegram: bool) -> None:
    """Save the demo's settings once the app stored the account's tokens, and connect the
    fake Telegram bot for it when the stack runs one."""
    wait_for(lambda: services.store.get_tokens(demo.member_id), 30, 0.2,
             "the amoCRM account's stored tokens")
    services.portal_settings.put(demo.member_id, demo_settings(demo.account))
    if fake_telegram:
        from connector.telegram import connection as telegram
        from faketelegram import DEMO_TOKEN

        telegram.connect(services, demo.member_id, DEMO_TOKEN)


def dp_settings() -> dict[str, Any]:
    """What the widget's pipeline step on «Заявка» carries: our robot and its property."""
    return {"robot": "fair_distribution", "group": DISTRIBUTION_GROUP}


def add_lead(demo: AmoDemo, app_url: str, title: str) -> dict[str, Any]:
    """A manager adds a lead on «Заявка» (the app gets `add_lead`), then amoCRM runs the
    stage's pipeline step, the widget's «Распределить» (POST /amocrm/dp, amocrm.md §3.1)."""
    repair = _pipeline(demo.account, "Ремонт")
    lead = requests.post(f"{demo.control}/leads", json={
        "name": title, "price": 15000, "pipeline_id": int(repair["id"]),
        "status_id": int(_status(repair, "Заявка"))}, timeout=30)
    lead.raise_for_status()
    made = lead.json()
    step = requests.post(f"{demo.control}/dp_action", json={
        "lead_id": made["id"], "settings": dp_settings(),
        "webhook_url": f"{app_url}/amocrm/dp"}, timeout=30).json()
    return {"lead": {"id": made["id"], "name": made.get("name")},
            "pipeline_step": {"status": step.get("status"), "answer": step.get("body")}}


def lines(demo: AmoDemo, problem: str, app_url: str) -> str:
    """What `./dev up` prints about the amoCRM demo ("" problem: all went well)."""
    state = ("connected to the app through its OAuth redirect (webhook registered)"
             if not problem else f"NOT ready: {problem}; see amoemu.log and web.log")
    return f"""
amoCRM demo account: {demo.account['name']} ({DEMO_DOMAIN}), {state}.
Switched on for it: client value, fair distribution by the widget's pipeline step on
«Заявка», a won deal told to the «Финансы» group of the fake Telegram, watchdogs on
«Заявка» (answer within 30 min) and «Согласование» (3 days → «Повторный контакт»).
  Account (JSON)    {demo.control}
  Its leads         {demo.control}/leads
  Webhooks sent     {demo.control}/deliveries
  Connect again     {demo.consent_url()}
  Add a lead        ./dev demo-amo-lead 'Вмятина на крыле, Lada Vesta'
  Redirect URI      {app_url}/amocrm/oauth   (disable hook {app_url}/amocrm/disabled)"""


def main(argv: list[str]) -> int:
    """`./dev demo-amo-lead ["Title"]`: a lead on the running stack's demo account."""
    import json

    from devstack import running

    info = running.read()
    if info is None or not info.get("amocrm"):
        print("no amoCRM demo is running: start it with ./dev up", file=sys.stderr)
        return 1
    demo = demo_account(info["amocrm"])
    title = argv[0] if argv else "Вмятина на крыле, Lada Vesta"
    print(json.dumps(add_lead(demo, info["app"], title), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

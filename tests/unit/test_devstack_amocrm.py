"""`./dev up`'s amoCRM demo: the emulator it starts (`python -m amoemu --demo`, as devstack
runs it) is connected to a real app through the app's OAuth redirect, its settings are
accepted by the app's own store, and `./dev demo-amo-lead` reaches the app's pipeline-step
address; the port it wants is checked with the others."""

from __future__ import annotations

import argparse
import os
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from redis import Redis
from werkzeug.serving import make_server

from devstack import amocrm
from devstack.__main__ import cli_env, wanted_ports
from devstack.processes import ROOT, free_port, stop, wait_for


def _not_ready(environ: Any, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@pytest.fixture
def demo(redis_url: str, redis: Redis, fake_telegram: Any) -> Iterator[tuple[Any, str, Any]]:
    """The app on a free port with devstack's amoCRM environment, and the emulator as
    `./dev up` starts it."""
    from connector.config import load_settings
    from faketelegram import DEMO_TOKEN
    from faketelegram import app_env as telegram_env
    from wiring import create_app

    fake_telegram.add_bot(DEMO_TOKEN, "crm_demo_bot")  # as `faketelegram --demo` has it
    server = make_server("127.0.0.1", 0, _not_ready, threaded=True)
    app_url = f"http://127.0.0.1:{server.server_port}"
    emu_url = f"http://127.0.0.1:{free_port()}"
    env = {**{k: v for k, v in os.environ.items()
              if not k.startswith(("B24_", "CONNECTOR_", "AMOCRM_"))},
           "REDIS_URL": redis_url, "PUBLIC_BASE_URL": app_url, "B24_CLIENT_ID": "b24-unused",
           "B24_CLIENT_SECRET": "b24-unused", "CONNECTOR_SECRET_KEY": "test-signing-key",
           "CONNECTOR_ENCRYPTION_KEY": Fernet.generate_key().decode(), "LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT), **telegram_env(fake_telegram.url),
           **amocrm.app_env(emu_url, app_url)}
    app = create_app(load_settings(env))
    server.app = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proc = amocrm.start(int(emu_url.rsplit(":", 1)[1]), app_url, env, None)
    try:
        yield app.extensions["connector"], app_url, amocrm.demo_account(emu_url)
    finally:
        stop([proc])
        server.shutdown()


def test_the_demo_account_connects_through_the_redirect_and_gets_its_settings(
        demo: tuple[Any, str, Any]) -> None:
    services, app_url, account = demo
    assert account.account["name"] == "Автосервис Вмятин.нет"
    assert amocrm.connect(account) == 200
    portal = services.store.get(account.member_id)
    assert portal is not None and portal.domain == amocrm.DEMO_DOMAIN
    amocrm.configure(services, account, fake_telegram=True)
    saved = services.portal_settings.get(account.member_id)
    assert saved["client_value"]["enabled"] is True
    assert saved["notices"]["rules"][0]["telegram_chat"] == amocrm.FINANCE_CHAT
    repair = next(p for p in account.account["pipelines"] if p["name"] == "Ремонт")
    first = next(s for s in repair["statuses"] if s["name"] == "Заявка")
    assert saved["watchdogs"]["reaction"][0]["stage_ids"] == [str(first["id"])]
    group = saved["distribution"]["groups"][0]
    assert sorted(group["users"]) == sorted(
        u["id"] for u in account.account["users"] if not u["is_admin"])
    hooks = requests.get(f"{account.control}/deliveries", timeout=10).json()
    assert hooks["pending"] == []  # nothing delivered yet: no lead changed since connecting
    made = amocrm.add_lead(account, app_url, "Вмятина на крыле, Lada Vesta")
    assert made["pipeline_step"]["status"] == 200, made
    assert '"job"' in made["pipeline_step"]["answer"]
    lead = requests.get(f"{account.control}/leads/{made['lead']['id']}", timeout=10).json()
    assert lead["status_id"] == first["id"]
    sent = wait_for(lambda: requests.get(f"{account.control}/deliveries", timeout=10)
                    .json()["deliveries"], 10, 0.1, "the add_lead webhook")
    assert sent[0]["url"].startswith(f"{app_url}/amocrm/hooks/{account.id}/")
    assert sent[0]["status"] == 200
    text = amocrm.lines(account, "", app_url)
    assert account.control in text and "./dev demo-amo-lead" in text
    assert "client_id=local.amo-demo" in text


def test_the_amocrm_port_is_checked_with_the_others_and_can_be_switched_off() -> None:
    args = argparse.Namespace(port=1, redis_port=2, emulator_port=3, drive_port=4,
                              telegram_port=5, amocrm_port=6)
    wanted = wanted_ports(args, {}, demo=True, amo_demo=True)
    assert wanted["the amoCRM emulator (demo account)"] == (6, "--amocrm-port")
    only_amo = wanted_ports(args, {"B24_CLIENT_ID": "x"}, demo=False, amo_demo=True)
    assert "the fake Telegram Bot API" in only_amo  # the won notice needs it
    assert "the amoCRM emulator (demo account)" not in wanted_ports(args, {}, True, False)


def test_the_cli_line_carries_the_demo_secret_but_never_a_real_one() -> None:
    env = {"PUBLIC_BASE_URL": "http://127.0.0.1:8000", "AMOCRM_CLIENT_ID": "real",
           "AMOCRM_CLIENT_SECRET": "real-secret", "AMOCRM_URL_TEMPLATE": "https://{domain}"}
    assert "AMOCRM_CLIENT_SECRET" not in cli_env(env, set(), demo=True)
    own = cli_env({**env, "AMOCRM_CLIENT_SECRET": amocrm.CLIENT_SECRET},
                  {"AMOCRM_CLIENT_ID", "AMOCRM_CLIENT_SECRET"}, demo=True)
    assert own["AMOCRM_CLIENT_SECRET"] == amocrm.CLIENT_SECRET


def test_demo_amo_lead_says_when_no_stack_runs(tmp_path: Any) -> None:
    done = subprocess.run(["./dev", "demo-amo-lead"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    if "no amoCRM demo is running" not in done.stderr:
        pytest.skip("a ./dev up stack with the amoCRM demo runs on this machine")
    assert done.returncode == 1

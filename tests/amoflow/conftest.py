"""The whole path on amoCRM: the amoCRM emulator and the app as real HTTP servers, a real
Redis and real workers; the account is connected through the OAuth redirect."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from redis import Redis
from werkzeug.serving import make_server

from tests.amocrm.conftest import CLIENT_ID, CLIENT_SECRET

ROOT = Path(__file__).resolve().parents[2]


def _not_ready(environ: Any, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@dataclass
class AmoStack:
    app_url: str
    emu: Any  # amoemu.AmoEmulator
    acc: Any  # the account (amoemu.state.Account)
    env: dict[str, str]
    redis: Redis
    app: Any

    @property
    def services(self) -> Any:
        return self.app.extensions["connector"]

    @property
    def member(self) -> str:
        return f"amo-{self.acc.id}"

    def connect(self) -> requests.Response:
        """The admin allows access in amoCRM: the browser lands on our redirect URI."""
        grant = self.emu.authorize(self.acc.id, state="install")
        return requests.get(f"{self.app_url}/amocrm/oauth", params=grant, timeout=30)

    def configure(self, section: str, **values: Any) -> None:
        store = self.services.portal_settings
        doc = store.get(self.member)
        store.put(self.member, {**doc, section: {**doc[section], **values}})

    def run_worker(self, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        self.emu.settle()
        done = subprocess.run([sys.executable, "-m", "wiring", "worker", "--burst"],
                              env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, done.stderr[-3000:]
        return done


@pytest.fixture
def amo_stack(redis_url: str, redis: Redis, app_env_overrides: dict[str, str]
              ) -> Iterator[AmoStack]:
    """Marks `fake_telegram` / `fake_drive` add the fakes' environment (tests/conftest)."""
    from amoemu import AmoEmulator, app_env
    from connector.config import load_settings
    from wiring import create_app

    server = make_server("127.0.0.1", 0, _not_ready, threaded=True)
    app_url = f"http://127.0.0.1:{server.server_port}"
    emu = AmoEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                      redirect_uri=f"{app_url}/amocrm/oauth",
                      disable_hook_url=f"{app_url}/amocrm/disabled").start()
    acc = emu.add_account("autoservis", zone="amocrm.ru", name="Автосервис Вмятин.нет")
    env = {
        **{k: v for k, v in os.environ.items()
           if not k.startswith(("B24_", "CONNECTOR_", "AMOCRM_"))},
        "REDIS_URL": redis_url, "PUBLIC_BASE_URL": app_url,
        "B24_CLIENT_ID": "b24-unused", "B24_CLIENT_SECRET": "b24-unused",
        "CONNECTOR_SECRET_KEY": "test-signing-key",
        "CONNECTOR_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CONNECTOR_JOB_RETRY_INTERVALS": "0,0", "CONNECTOR_REST_BACKOFF": "0.05",
        "AMOCRM_CLIENT_ID": CLIENT_ID, "AMOCRM_CLIENT_SECRET": CLIENT_SECRET,
        "AMOCRM_REDIRECT_URI": f"{app_url}/amocrm/oauth",
        "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT), **app_env(emu.url),
        **app_env_overrides,
    }
    app = create_app(load_settings(env))
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield AmoStack(app_url, emu, acc, env, redis, app)
    finally:
        server.shutdown()
        emu.stop()


@pytest.fixture
def connected(amo_stack: AmoStack) -> AmoStack:
    """An account that has connected the integration (webhook registered)."""
    resp = amo_stack.connect()
    assert resp.status_code == 200, resp.text
    return amo_stack

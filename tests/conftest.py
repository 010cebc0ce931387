"""Shared fixtures: a real redis-server, the emulator over HTTP, the app over HTTP, real workers.

Nothing here is mocked: the app reaches the emulator through the client_endpoint the
emulator's OAuth server hands out, and jobs run in real `crm-connector worker --burst`
processes against the same Redis.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from redis import Redis
from werkzeug.serving import make_server

from devstack.processes import ROOT, free_port, start_redis, stop, wait_for

CLIENT_ID = "local.test-app"
CLIENT_SECRET = "test-secret"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private redis-server for the whole test session (never the developer's own)."""
    if not shutil.which("redis-server"):
        pytest.exit("redis-server is not installed: run ./dev test (it installs it)", 2)
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="cc-redis-"))
    proc = start_redis(port, workdir)
    yield f"redis://127.0.0.1:{port}/0"
    stop([proc])
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    client.flushall()
    yield client
    client.close()


@dataclass
class Stack:
    """Everything a full-path test needs: the URLs, the environment, helpers."""

    app_url: str
    emu_url: str
    env: dict[str, str]
    redis: Redis
    app: Any

    # emulator control API -------------------------------------------------------------
    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = requests.request(method, f"{self.emu_url}/_emulator/{path}", timeout=30, **kwargs)
        assert resp.status_code < 500, resp.text
        return resp.json()

    def portal(self) -> dict[str, Any]:
        return self.control("GET", "portal")

    def install(self, **body: Any) -> dict[str, Any]:
        return self.control("POST", "install", json=body)

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")

    def rest(self, method: str, params: dict[str, Any] | None = None, token: str | None = None
             ) -> requests.Response:
        if token is None:
            token = self.control("POST", "tokens", json={})["access_token"]
        return requests.post(f"{self.emu_url}/rest/{method}.json",
                             json={**(params or {}), "auth": token}, timeout=30)

    # workers ----------------------------------------------------------------------------
    def settle(self) -> None:
        """Wait until the emulator has delivered every event it queued (deliveries are async)."""
        self.control("GET", "deliveries", params={"wait": 10, "since": 10**9})

    def run_worker(self, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        self.settle()
        return subprocess.run(
            [sys.executable, "-m", "wiring", "worker", "--burst"],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        )

    def start_workers(self, n: int) -> list[subprocess.Popen[str]]:
        self.settle()
        return [subprocess.Popen([sys.executable, "-m", "wiring", "worker", "--burst",
                                  "--name", f"w{i}-{os.getpid()}-{time.time_ns()}"],
                                 env=self.env, cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True) for i in range(n)]

    def queued(self) -> int:
        """Jobs waiting, deliveries still in the inbox included."""
        return sum(self.app.extensions["connector"].queues.depth().values())

    def pump(self) -> int:
        """Turn the inbox into RQ jobs now, as a worker's pump does; returns jobs created."""
        from connector.pump import Pump

        return Pump(self.app.extensions["connector"].queues).drain()


@pytest.fixture
def emulator_overrides() -> dict[str, Any]:
    """EmulatorConfig fields a test module wants different (override this fixture there)."""
    return {}


@pytest.fixture
def fake_drive() -> Iterator[Any]:
    """A fake Google Drive (fakedrive/) on loopback, reached by the real Google client."""
    from fakedrive import FakeDrive

    drive = FakeDrive().start()
    yield drive
    drive.stop()


@pytest.fixture
def fake_telegram() -> Iterator[Any]:
    """A fake Telegram Bot API (faketelegram/) on loopback, reached by connector.telegram."""
    from faketelegram import FakeTelegram

    bot_api = FakeTelegram().start()
    yield bot_api
    bot_api.stop()


@pytest.fixture
def app_env_overrides(request: pytest.FixtureRequest) -> dict[str, str]:
    """Extra environment for the app and its workers. A module marked
    `pytestmark = pytest.mark.fake_drive` gets the fake Google Drive's, one marked
    `pytest.mark.fake_telegram` the fake Telegram Bot API's; for anything else override this
    fixture in the module."""
    env: dict[str, str] = {}
    if request.node.get_closest_marker("fake_telegram") is not None:
        from faketelegram import app_env as telegram_env

        env.update(telegram_env(request.getfixturevalue("fake_telegram").url))
    if request.node.get_closest_marker("fake_drive") is None:
        return env
    from fakedrive import app_env

    drive = request.getfixturevalue("fake_drive")
    return {**env, **app_env(drive.url, "g-client.apps.test", "g-secret")}


def _not_ready(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """What the app's port answers before the app is made (nothing calls it that early)."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@pytest.fixture
def stack(redis_url: str, redis: Redis, emulator_overrides: dict[str, Any],
          app_env_overrides: dict[str, str]) -> Iterator[Stack]:
    """Emulator + app, both real HTTP servers on loopback, sharing a fresh Redis."""
    from emulator import Emulator, EmulatorConfig, EmulatorServer
    from wiring import create_app

    # The app's port is bound here, before anything else opens a socket, and the app is put
    # behind it once made: a port chosen free and bound later can be taken meanwhile (by the
    # emulator's own bind, by any outgoing connection), and werkzeug answers a taken port
    # with sys.exit(1), which no fixture should meet.
    server = make_server("127.0.0.1", 0, _not_ready, threaded=True)
    app_url = f"http://127.0.0.1:{server.server_port}"
    emu = Emulator(EmulatorConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                  app_url=app_url, **emulator_overrides))
    emu_server = EmulatorServer(emu)
    emu_server.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("B24_", "CONNECTOR_"))},
        "REDIS_URL": redis_url,
        "PUBLIC_BASE_URL": app_url,
        "B24_CLIENT_ID": CLIENT_ID,
        "B24_CLIENT_SECRET": CLIENT_SECRET,
        "B24_OAUTH_SERVER": f"{emu_server.url}/oauth-server",
        "CONNECTOR_SECRET_KEY": "test-signing-key",
        "CONNECTOR_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CONNECTOR_JOB_RETRY_INTERVALS": "0,0",
        "CONNECTOR_REST_BACKOFF": "0.05",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **app_env_overrides,
    }
    from connector.config import load_settings

    app = create_app(load_settings(env))
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Stack(app_url, emu_server.url, env, redis, app)
    server.shutdown()
    emu_server.stop()


@pytest.fixture
def installed(stack: Stack) -> Stack:
    """A stack whose demo portal has installed the app (installer page + ONAPPINSTALL)."""
    result = stack.install(event="after")
    assert result["installed"], result
    wait_for(lambda: stack.app.extensions["connector"].store.get_tokens(
        stack.portal()["member_id"]))
    stack.run_worker()  # the ONAPPINSTALL reconcile job
    return stack


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Where the browser tests left their screenshots (kept as the run's artefacts)."""
    from tests.e2e.browser import ARTEFACTS

    shots = sorted(ARTEFACTS.glob("*.png")) if ARTEFACTS.exists() else []
    if shots:
        terminalreporter.write_line(f"screenshots: {len(shots)} in {ARTEFACTS}")

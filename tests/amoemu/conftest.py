"""The `amo` fixture: a started amoCRM emulator with one account, and a local receiver
that records what the emulator sends (webhooks, the disable hook, DP actions)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from amoemu import AmoEmulator

CLIENT_ID = "9f5b3c1e-0000-4000-8000-00000000a1b2"
CLIENT_SECRET = "amo-test-secret-" + "0123456789abcdef" * 3  # 64 chars, as amoCRM issues


@dataclass
class Receiver:
    """A tiny HTTP server on loopback: answers `status` (per path) and keeps requests."""

    url: str = ""
    got: list[dict[str, Any]] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    delay: float = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        self.got.append({"method": req.method, "path": req.path, "args": req.args.to_dict(),
                         "body": req.get_data(as_text=True),
                         "content_type": req.headers.get("Content-Type", "")})
        if self.delay:
            threading.Event().wait(self.delay)
        code = self.status.get(req.path, 200)
        return Response("ok" if code < 300 else "no", code)(environ, start_response)

    def at(self, path: str) -> list[dict[str, Any]]:
        return [g for g in self.got if g["path"] == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = make_server("127.0.0.1", 0, rec, threaded=True)
    rec.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@dataclass
class Amo:
    emu: AmoEmulator
    acc: Any
    receiver: Receiver
    token: str

    @property
    def base(self) -> str:
        return f"{self.emu.url}/{self.acc.domain}"

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        headers.setdefault("Authorization", f"Bearer {token or self.token}")
        return requests.request(method, self.base + path, headers=headers, timeout=10, **kw)


@pytest.fixture
def amo(receiver: Receiver) -> Iterator[Amo]:
    emu = AmoEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                      redirect_uri=f"{receiver.url}/amocrm/oauth",
                      disable_hook_url=f"{receiver.url}/amocrm/disabled").start()
    emu.limits(enabled=False)  # the limit's own tests switch it on
    acc = emu.add_account("autoservis", zone="amocrm.ru")
    token = emu.long_lived_token(acc.id)
    try:
        yield Amo(emu, acc, receiver, token)
    finally:
        emu.stop()

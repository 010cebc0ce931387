"""`FakeTelegram`: the fake Bot API served over real HTTP on loopback, plus a Python API for
tests (bots, chats, revoked tokens, forced errors, what was sent)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from faketelegram.app import create_app, state_json
from faketelegram.state import Chat, Fault, State

DEMO_TOKEN = "1000001:DEMO-bot-token-for-the-local-fake-0001"
DEMO_CHATS = ((-1001000000001, "supergroup", "Финансы"), (-1001000000002, "supergroup",
              "Менеджеры"), (100200300, "private", "Бухгалтер"))


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def app_env(root_url: str) -> dict[str, str]:
    """The environment that points crm-connector's Telegram client at a fake on root_url."""
    return {"TELEGRAM_API_ROOT": root_url.rstrip("/")}


class FakeTelegram:
    """A local Telegram Bot API for tests and `./dev up`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, demo: bool = False) -> None:
        self.host, self.port = host, port
        self.state = State()
        self.app = create_app(self.state)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        if demo:
            self.state.add_bot(DEMO_TOKEN, "crm_demo_bot", "CRM Demo")
            for chat_id, kind, title in DEMO_CHATS:
                self.state.add_chat(chat_id, kind, title)

    def start(self) -> FakeTelegram:
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"faketelegram:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=_QuietHandler)
        self.port = self._server.server_port
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # set-up and faults ----------------------------------------------------------------------
    def add_bot(self, token: str, username: str = "finance_bot", first_name: str = "") -> None:
        self.state.add_bot(token, username, first_name)

    def add_chat(self, chat_id: int, type_: str = "", title: str = "",
                 blocked: bool = False) -> Chat:
        return self.state.add_chat(chat_id, type_, title, blocked)

    def revoke(self, token: str) -> None:
        self.state.revoke(token)

    def fail_next(self, n: int = 1, code: int = 429, description: str = "",
                  retry_after: int | None = None, method: str = "", chat_id: Any = "") -> None:
        """The next `n` matching calls fail so (default: a 429 with `retry_after`)."""
        if not description:
            description = (f"Too Many Requests: retry after {retry_after or 1}" if code == 429
                           else "Internal Server Error")
        if code == 429 and retry_after is None:
            retry_after = 1
        with self.state.lock:
            self.state.faults.append(Fault(n, code, description, retry_after, method,
                                           str(chat_id or "")))

    def limits(self, **values: Any) -> None:
        """Change flood control (enabled, per_chat_s, group_per_minute, global_per_second)."""
        with self.state.lock:
            for name, value in values.items():
                setattr(self.state.limits, name, value)

    # inspection ---------------------------------------------------------------------------
    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(r) for r in self.state.sent
                    if chat_id is None or r["chat_id"] == chat_id]

    def calls(self, method: str = "") -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(c) for c in self.state.calls
                    if not method or c["method"].lower() == method.lower()]

    def state_json(self) -> dict[str, Any]:
        return state_json(self.state)

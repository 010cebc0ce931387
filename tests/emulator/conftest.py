"""Fixtures: a real emulator on a free port and a tiny app stub it can post to."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from emulator import Emulator, EmulatorConfig, EmulatorServer
from emulator.forms import parse_pairs


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class AppStub:
    """Records every POST the portal makes; answers like a minimal app would."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.install_html = "<script>BX24.init(function(){BX24.installFinish();});</script>"
        self.status = 200
        self.on_request: Callable[[dict[str, Any]], None] | None = None
        self._cond = threading.Condition()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True,
                                   request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        entry = {
            "path": req.path,
            "query": dict(req.args),
            "form": parse_pairs(list(req.form.items(multi=True))),
        }
        if self.on_request is not None:
            self.on_request(entry)
        with self._cond:
            self.requests.append(entry)
            self._cond.notify_all()
        if req.path == "/install":
            resp = Response(self.install_html, status=self.status, mimetype="text/html")
        else:
            resp = Response("ok", status=self.status)
        return resp(environ, start_response)

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(pred(r) for r in self.requests), timeout)
            assert ok, f"no matching request; got {[r['path'] for r in self.requests]}"
            return next(r for r in self.requests if pred(r))

    def start(self) -> AppStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def emu_app_stub() -> Iterator[AppStub]:
    stub = AppStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def emu_config(emu_app_stub: AppStub) -> EmulatorConfig:
    return EmulatorConfig(app_url=emu_app_stub.url)


@pytest.fixture
def emu_server(emu_config: EmulatorConfig) -> Iterator[EmulatorServer]:
    server = EmulatorServer(Emulator(emu_config)).start()
    yield server
    server.stop()


@pytest.fixture
def emu_url(emu_server: EmulatorServer) -> str:
    return emu_server.url


@pytest.fixture
def emu_tokens(emu_url: str) -> dict[str, Any]:
    """A token pair for the admin with the app marked installed (no installer round-trip)."""
    return requests.post(f"{emu_url}/_emulator/install", json={"direct": True}).json()["tokens"]


@pytest.fixture
def emu_call(emu_url: str, emu_tokens: dict[str, Any]) -> Callable[..., requests.Response]:
    """POST a REST method with a JSON body authorised by the admin token."""

    def call(method: str, params: dict[str, Any] | None = None,
             token: str | None = None) -> requests.Response:
        body = dict(params or {})
        body["auth"] = token or emu_tokens["access_token"]
        return requests.post(f"{emu_url}/rest/{method}", json=body, timeout=10)

    return call

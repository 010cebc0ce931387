"""The real BitrixClient reading answers exactly as the docs print them.

A tiny HTTP server on 127.0.0.1 stands in for the portal and its OAuth server and answers
with the docs' samples: settings/how-to-call-rest-api/batch.md (the answer and both error
answers), every row of _includes/system-errors.md, and settings/oauth/auto-renewal.md's
refresh answer. The client is the one the app builds (Services.client), on a real Redis.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet

from connector.bitrix.errors import (
    BitrixAccessDenied,
    BitrixPermanentError,
    BitrixRetryableError,
    TokenExpired,
)
from connector.bitrix.store import Portal, Tokens
from connector.config import load_settings
from connector.services import Services, build_services
from tests.fixtures.docs import load
from tests.fixtures.docs.printed import system_errors

BATCH = "settings__how-to-call-rest-api__batch.md"
REFRESH = load("settings__oauth__auto-renewal.md__refresh-answer")
MEMBER_ID = REFRESH["member_id"]  # the portal of the docs' refresh sample
OLD_TOKEN = "old-access-token"


@dataclass
class Portal24:
    """Answers queued per path prefix ("/rest/", "/oauth/"); the last one repeats."""

    answers: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def answer(self, prefix: str, *replies: tuple[int, Any]) -> None:
        self.answers[prefix] = list(replies)

    def reply(self, path: str) -> tuple[int, Any]:
        prefix = next(p for p in self.answers if path.startswith(p))
        queue = self.answers[prefix]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def portal24() -> Iterator[Portal24]:
    state = Portal24()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, body: Any) -> None:
            parts = urlsplit(self.path)
            state.seen.append({"method": self.command, "path": parts.path,
                               "query": parse_qs(parts.query), "body": body})
            status, reply = state.reply(parts.path)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._answer(None)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            self._answer(json.loads(self.rfile.read(length) or b"null"))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def services(redis_url: str, redis: Any, portal24: Portal24) -> Iterator[Services]:
    settings = load_settings({
        "REDIS_URL": redis_url, "CONNECTOR_SECRET_KEY": "unit-signing-key",
        "CONNECTOR_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "B24_CLIENT_ID": "local.unit", "B24_CLIENT_SECRET": "unit-secret",
        "B24_OAUTH_SERVER": f"{portal24.url}/oauth", "CONNECTOR_REST_BACKOFF": "0.01",
        "CONNECTOR_REST_MAX_RETRIES": "2"})
    svc = build_services(settings)
    svc.store.save(Portal(MEMBER_ID, domain="portal.bitrix24.ru",
                          client_endpoint=f"{portal24.url}/rest/"))
    svc.store.save_tokens(MEMBER_ID, Tokens(OLD_TOKEN, "old-refresh-token", 2e9))
    yield svc
    svc.redis.close()


def docs_commands() -> dict[str, tuple[str, dict[str, Any]]]:
    """The docs' batch request's `cmd`, as commands for BitrixClient.batch."""
    return {key: (method, {}) for key, method in load(f"{BATCH}__request")["cmd"].items()}


def test_the_documented_request_is_what_the_client_sends(services: Services, portal24):
    portal24.answer("/rest/", (200, load(f"{BATCH}__answer")))
    services.client(MEMBER_ID).batch(docs_commands())
    (sent,) = portal24.seen
    request = load(f"{BATCH}__request")
    assert sent["method"] == "POST" and sent["path"] == "/rest/batch.json"
    assert sent["body"] == {**request, "auth": OLD_TOKEN}


def test_the_documented_answer_becomes_results_totals_and_no_errors(services: Services,
                                                                    portal24):
    portal24.answer("/rest/", (200, load(f"{BATCH}__answer")))
    res = services.client(MEMBER_ID).batch(docs_commands())
    assert res.errors == {}
    assert res.get("get_user")["NAME"] == "John" and res.get("get_user")["UF_DEPARTMENT"] == [1]
    # the docs' answer names "get_department" where the request said "get_departments":
    # a key is read as answered, a command without an answer reads as nothing
    assert res.result["get_department"] == [{"ID": "1", "NAME": "DEMO", "SORT": 500}]
    assert res.get("get_departments") is None and res.get("get_app") is None
    assert res.total == {"get_department": 1}
    assert res.next == {}  # "result_next": [] is PHP's empty map


@pytest.mark.parametrize("sample, halt, keys", [
    ("error-halt-0", False, {"get_user", "get_department"}),
    ("error-halt-1", True, {"get_user"}),
])
def test_the_documented_error_answers_become_typed_errors(services: Services, portal24,
                                                          sample: str, halt: bool, keys: set):
    portal24.answer("/rest/", (200, load(f"{BATCH}__{sample}")))
    res = services.client(MEMBER_ID).batch(docs_commands(), halt=halt)
    assert res.result == {} and res.total == {} and res.next == {}
    assert set(res.errors) == keys
    for key in keys:
        err = res.errors[key]
        assert type(err) is BitrixPermanentError  # insufficient_scope: no retry can help
        assert (err.code, err.description) == ("insufficient_scope", "")
    with pytest.raises(BitrixPermanentError):
        res.get("get_user")
    assert len(portal24.seen) == 1


# What each row of _includes/system-errors.md means to the client: retried a bounded number
# of times, refreshed once, or a permanent error of a given class.
RETRIED = {"INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER", "QUERY_LIMIT_EXCEEDED",
           "OPERATION_TIME_LIMIT", "OVERLOAD_LIMIT", "PORTAL_DELETED"}
REFRESHED = {"expired_token", "NO_AUTH_FOUND"}
DENIED = {"ACCESS_DENIED"}


def test_the_table_has_the_rows_the_docs_print():
    rows = system_errors()
    assert len(rows) == 16
    assert (rows["QUERY_LIMIT_EXCEEDED"].status, rows["QUERY_LIMIT_EXCEEDED"].text) == (
        503, "Too many requests")
    assert (rows["expired_token"].status, rows["expired_token"].text) == (
        401, "The access token provided has expired")
    assert rows["insufficient_scope"].status == 403


@pytest.mark.parametrize("code", sorted(system_errors()))
def test_each_documented_system_error_is_handled_as_it_means(services: Services, portal24,
                                                             code: str):
    row = system_errors()[code]
    portal24.answer("/rest/", (row.status, row.body()))
    portal24.answer("/oauth/", (200, REFRESH))
    client = services.client(MEMBER_ID)
    with pytest.raises(Exception) as raised:
        client.call("profile")
    err = raised.value
    assert (err.code, err.status, err.description) == (code, row.status, row.text)
    rest = [s for s in portal24.seen if s["path"].startswith("/rest/")]
    oauth = [s for s in portal24.seen if s["path"].startswith("/oauth/")]
    if code in RETRIED:
        assert isinstance(err, BitrixRetryableError)
        assert len(rest) == client.retry.max_retries + 1 and oauth == []
    elif code in REFRESHED:
        assert isinstance(err, TokenExpired)
        # one refresh (GET, as settings/oauth/auto-renewal.md says), one retry with its token
        assert [s["method"] for s in oauth] == ["GET"]
        assert [s["body"]["auth"] for s in rest] == [OLD_TOKEN, REFRESH["access_token"]]
    else:
        assert isinstance(err, BitrixAccessDenied if code in DENIED else BitrixPermanentError)
        assert not isinstance(err, BitrixRetryableError | TokenExpired)
        assert len(rest) == 1 and oauth == []


def test_an_expired_token_is_refreshed_and_the_batch_answered(services: Services, portal24):
    expired = system_errors()["expired_token"]
    portal24.answer("/rest/", (expired.status, expired.body()), (200, load(f"{BATCH}__answer")))
    portal24.answer("/oauth/", (200, REFRESH))
    res = services.client(MEMBER_ID).batch(docs_commands())
    assert res.get("get_user")["ID"] == "1"
    assert services.store.get_tokens(MEMBER_ID).access_token == REFRESH["access_token"]
    refresh = next(s for s in portal24.seen if s["path"] == "/oauth/oauth/token/")
    assert refresh["query"]["grant_type"] == ["refresh_token"]
    assert refresh["query"]["refresh_token"] == ["old-refresh-token"]


def test_too_many_requests_then_the_answer(services: Services, portal24):
    limit = system_errors()["QUERY_LIMIT_EXCEEDED"]
    portal24.answer("/rest/", (limit.status, limit.body()), (200, load(f"{BATCH}__answer")))
    res = services.client(MEMBER_ID).batch(docs_commands())
    assert res.get("get_user")["NAME"] == "John" and len(portal24.seen) == 2

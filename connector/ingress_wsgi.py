"""POST /events and /robots/<code> answered in plain WSGI, beneath Flask.

Every delivery of every portal comes through these two routes, and Flask's request context,
URL map, session and response objects cost about as much as our own checks: measured with
bench.ingress, going through Flask kept the app near half the floor. This layer turns the
environ into an InboundRequest and the Answer into bytes, nothing else; every other request
(another path, another method on these paths) goes on to Flask, whose views answer them
with the same `accept()` and the same `render()`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from redis.exceptions import RedisError

from connector.ingress import Answer, InboundRequest, accept
from connector.services import Services

log = logging.getLogger("connector.ingress")

EVENTS = "/events"
ROBOTS = "/robots/"


def route_of(path: str) -> tuple[str, str] | None:
    """(kind, name) of an ingress path as Flask's rules match it, None for any other."""
    if path == EVENTS:
        return "event", ""
    code = path[len(ROBOTS):] if path.startswith(ROBOTS) else ""
    if code and "/" not in code:  # PATH_INFO is latin-1 text of the raw bytes, as in WSGI
        return "robot", code.encode("latin-1").decode("utf-8", "replace")
    return None


def render(answer: Answer, started: float) -> tuple[int, list[tuple[str, str]], bytes]:
    """An Answer as status, headers and compact JSON; `Server-Timing` says how long the app
    itself took, without the time the request waited in the server (for operators)."""
    body = json.dumps(answer.body, separators=(",", ":")).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
               ("Server-Timing", f"app;dur={(time.perf_counter() - started) * 1000:.2f}")]
    return answer.status, headers, body


class FastIngress:
    """WSGI middleware: the ingress' POSTs here, everything else to `app` (Flask)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], services: Services):
        self.app, self.services = app, services

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        route = route_of(environ.get("PATH_INFO", "")) \
            if environ.get("REQUEST_METHOD") == "POST" else None
        if route is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        answer = self.answer(route, environ)
        status, headers, body = render(answer, started)
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    def answer(self, route: tuple[str, str], environ: dict[str, Any]) -> Answer:
        length = _content_length(environ)
        body = b""
        if length and length <= self.services.settings.max_body_bytes:
            body = environ["wsgi.input"].read(length)
            if len(body) < length:  # the client went away: never a cut body processed
                return Answer(400, {"error": "malformed_body", "detail": "body cut short"})
        try:
            return accept(self.services, InboundRequest(
                kind=route[0], name=route[1], method="POST",
                content_type=environ.get("CONTENT_TYPE", ""), body=body,
                content_length=length))
        except RedisError as exc:
            log.error("refused %s %s: Redis unavailable (%s)", route[0], route[1] or "-",
                      type(exc).__name__)
            return Answer(503, {"error": "unavailable", "detail": "storage unreachable"})


def _content_length(environ: dict[str, Any]) -> int | None:
    """CONTENT_LENGTH as Werkzeug reads it: None when absent, 0 when not ASCII digits."""
    raw = environ.get("CONTENT_LENGTH")
    if raw is None:
        return None
    text = raw.strip(" \t")
    return int(text) if text.isascii() and text.isdigit() else 0

"""create_app(): the application factory — settings, services, blueprints, error pages."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from flask import Blueprint, Flask, Request, jsonify
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.wrappers import Response

from connector.config import Settings, load_settings
from connector.ingress_wsgi import FastIngress
from connector.page_i18n import init_pages
from connector.services import Services, build_services


def create_app(config: Settings | Mapping[str, Any] | None = None,
               build: Callable[[Settings], Services] | None = None,
               blueprints: Sequence[Blueprint] = ()) -> Flask:
    """Build the web app. `config` may be Settings, overrides for the environment, or None.

    `build` makes the Services (with the capabilities) and `blueprints` are the pages of the
    installer and the placements: both come from the composition root (wiring).
    """
    if isinstance(config, Settings):
        settings = config.validate()
    else:
        settings = load_settings(**dict(config or {}))
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Flask(__name__, template_folder="../templates/html", static_folder="../templates/static")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["SECRET_KEY"] = settings.secret_key
    app.session_interface = SessionOnlyWhenSent()
    services = build(settings) if build else build_services(settings, web=True)
    app.extensions["connector"] = services
    # whole bodies first, then the ingress' POSTs beneath Flask, then Flask
    app.wsgi_app = WholeBody(FastIngress(app.wsgi_app, services),  # type: ignore[method-assign]
                             settings.max_body_bytes)

    from connector.routes import bp as core_bp

    app.register_blueprint(core_bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    init_pages(app)  # Flask-Babel: the viewer's language, the portal's time zone

    @app.errorhandler(413)
    def too_large(_: Exception) -> Any:
        return jsonify(error="body_too_large", limit=settings.max_body_bytes), 413

    @app.errorhandler(404)
    def not_found(_: Exception) -> Any:
        return jsonify(error="not_found"), 404

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Any:
        return jsonify(error="method_not_allowed"), 405

    return app


class WholeBody:
    """WSGI middleware: a body sent without Content-Length (chunked) is read here, whole and
    at most `limit` bytes, so every route sees a body of known length. Longer is 413 and a
    broken chunked encoding 400 — never a cut body processed as if it were all, nor a 500."""

    def __init__(self, app: Callable[..., Iterable[bytes]], limit: int):
        self.app, self.limit = app, limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if environ.get("CONTENT_LENGTH") or not (chunked or environ.get("wsgi.input_terminated")):
            return self.app(environ, start_response)
        try:
            body = _read_at_most(environ["wsgi.input"], self.limit + 1)
        except (OSError, ValueError):  # the servers' "invalid chunk" errors
            return _refuse(400, {"error": "malformed_body", "detail": "invalid chunked body"},
                           environ, start_response)
        if len(body) > self.limit:
            return _refuse(413, {"error": "body_too_large", "limit": self.limit},
                           environ, start_response)
        environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        environ.pop("wsgi.input_terminated", None)
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


class SessionOnlyWhenSent(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened without building its signer when the request
    carries no session cookie (every Bitrix24 delivery): that was a tenth of /events' time."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def _read_at_most(stream: Any, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        part = stream.read(min(65536, size - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _refuse(status: int, body: dict[str, Any], environ: dict[str, Any],
            start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A JSON refusal that closes the connection (the rest of the body was not read)."""
    resp = Response(json.dumps(body), status, mimetype="application/json",
                    headers={"Connection": "close"})
    return resp(environ, start_response)


def services_of(app: Flask) -> Services:
    return app.extensions["connector"]

"""The WSGI app (REST + OAuth server + control API) and an in-process server for tests."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler, make_server

from . import methods as _methods  # noqa: F401  (registers REST methods)
from .core import Emulator
from .errors import RestError
from .forms import parse_pairs
from .rest import handle_rest

log = logging.getLogger("emulator")


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
    )


def request_params() -> dict[str, Any]:
    """Query string + PHP-style form body + JSON body, merged in that order."""
    pairs = list(request.args.items(multi=True))
    mimetype = request.mimetype or ""
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        pairs += list(request.form.items(multi=True))
    params = parse_pairs(pairs)
    raw = request.get_data(cache=True)
    if raw and ("json" in mimetype or raw.lstrip()[:1] == b"{"):
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            params.update(body)
    return params


def request_token(params: dict[str, Any]) -> str | None:
    """``auth`` or ``access_token`` parameter, or an ``Authorization: Bearer`` header."""
    token = params.pop("auth", None) or params.pop("access_token", None)
    params.pop("access_token", None)
    header = request.headers.get("Authorization", "")
    if not token and header.lower().startswith("bearer "):
        token = header[7:].strip()
    return str(token) if token and isinstance(token, str | int) else None


def create_emulator_app(emulator: Emulator) -> Flask:
    """Build the Flask app serving one :class:`Emulator`."""
    app = Flask("emulator")
    app.url_map.strict_slashes = False
    app.config["EMULATOR"] = emulator
    emu = emulator

    @app.before_request
    def _remember_url() -> None:
        if emu.base_url is None and not emu.config.public_url:
            emu.base_url = request.host_url.rstrip("/")

    @app.route("/rest/<path:method>", methods=["GET", "POST"])
    def rest(method: str) -> Response:
        params = request_params()
        token = request_token(params)
        moved = emu.moved_to(token, request.host)
        if moved is not None:
            # settings/how-to-call-rest-api/change-domen.md: the old address answers 302 with
            # the new one in Location; a POST must be re-sent there by the caller
            query = request.query_string.decode()
            location = f"{moved}{request.path}" + (f"?{query}" if query else "")
            emu.add_log(path=request.path, method=method, status=302, error="MOVED",
                        portal=None)
            return Response("", status=302, headers={"Location": location})
        if not emu.serves(token, request.host):
            err = RestError("NO_AUTH_FOUND")
            emu.add_log(path=request.path, method=method, status=err.status,
                        error=err.code, portal=None)
            return json_response(err.body(), err.status)
        status, body = handle_rest(emu, method, params, token)
        return json_response(body, status)

    def get_only() -> Response | None:
        """settings/oauth/auto-renewal.md: the OAuth server is called with GET requests.

        b24pysdk does the same for /oauth/token/ and /rest/app.info; anything else gets 405
        here, so an app that POSTs (and would be surprised on the real server) fails in tests.
        """
        if request.method == "GET":
            return None
        err = RestError("invalid_request", "The OAuth server is called with GET", 405)
        resp = json_response(err.body(), 405)
        resp.headers["Allow"] = "GET"
        return resp

    def oauth_token() -> Response:
        refused = get_only()
        if refused is not None:
            return refused
        params = request_params()
        try:
            rec = emu.refresh(params)
        except RestError as err:
            emu.add_log(path=request.path, method="oauth.token", status=err.status,
                        error=err.code, portal=None)
            return json_response(err.body(), err.status)
        emu.add_log(path=request.path, method="oauth.token", status=200, error=None,
                    portal=rec.member_id)
        return json_response(emu.token_response(rec))

    app.add_url_rule("/oauth/token/", "oauth_token", oauth_token, methods=["GET", "POST"])
    app.add_url_rule("/oauth-server/oauth/token/", "oauth_token2", oauth_token,
                     methods=["GET", "POST"])

    @app.route("/oauth-server/rest/<path:method>", methods=["GET", "POST"])
    def oauth_rest(method: str) -> Response:
        """The OAuth server's own REST: only app.info, which proves whose token it is.

        settings/oauth/simple-way.md: "call app.info on the OAuth server" (GET, as above).
        """
        refused = get_only()
        if refused is not None:
            return refused
        name = method.lower().removesuffix(".json")
        params = request_params()
        token = request_token(params)
        if name != "app.info":
            return json_response(RestError("ERROR_METHOD_NOT_FOUND").body(), 404)
        with emu.lock:
            rec = emu.tokens.get(token or "")
            if rec is None or rec.revoked:
                err = RestError("invalid_token", "Unable to get application by token", 401)
                return json_response(err.body(), 401)
            if not rec.active or rec.expires_at <= emu.now():
                return json_response(RestError("expired_token").body(), 401)
            portal = emu.portals[rec.member_id]
            result = {
                "scope": rec.scope,
                "client_id": emu.config.client_id,
                "expires": emu.iso(rec.expires_at),
                "install": {
                    "installed": portal.app.installed,
                    "version": portal.app.version,
                    "status": "L",
                    "scope": rec.scope,
                    "domain": portal.domain,
                    "uri": f"https://{portal.domain}",
                    "client_endpoint": emu.endpoint_for(portal),
                    "member_id": portal.member_id,
                    "member_type": "PORTAL",
                },
                "user_id": rec.user_id,
            }
        emu.add_log(path=request.path, method="oauth.app.info", status=200, error=None,
                    portal=rec.member_id)
        return json_response({"result": result})

    from .control import register_control
    from .demo import register_demo
    from .files_http import register_files

    register_files(app, emu)
    register_control(app, emu)
    register_demo(app, emu)
    return app


class _Handler(WSGIRequestHandler):
    """Request logging without query strings (they carry tokens)."""

    verbose = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.verbose:
            path = self.path.split("?", 1)[0]
            log.info("%s %s %s", self.command, path, code)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug(format, *args)


class _VerboseHandler(_Handler):
    verbose = True


class EmulatorServer:
    """Runs the emulator on a real port in a daemon thread (``port=0`` picks a free one)."""

    def __init__(
        self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0, verbose: bool = False
    ) -> None:
        self.emulator = emulator
        self.app = create_emulator_app(emulator)
        self._server = make_server(
            host, port, self.app, threaded=True,
            request_handler=_VerboseHandler if verbose else _Handler,
        )
        self.host = host
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        if not emulator.config.public_url:
            emulator.base_url = self.url
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="emulator-http", daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.emulator.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

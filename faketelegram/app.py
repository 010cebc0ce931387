"""HTTP layer of the fake Bot API: `/bot<token>/<method>` and the `/_fake/` control API.

#making-requests: parameters may come as a URL query string, application/x-www-form-
urlencoded, application/json or multipart/form-data (files); every answer is JSON with
"ok"; an unsuccessful one has "error_code" and "description", and its HTTP status is the
error code.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, jsonify, request

from faketelegram.state import ApiError, Fault, State


def _params() -> tuple[dict[str, Any], bytes | None]:
    params: dict[str, Any] = request.args.to_dict()
    photo = None
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            params.update(body)
    else:
        params.update(request.form.to_dict())
        upload = request.files.get("photo")
        if upload is not None:
            photo = upload.read()
    return params, photo


def create_app(state: State) -> Flask:
    app = Flask("faketelegram")

    @app.route("/bot<path:token>/<method>", methods=["GET", "POST"])
    def api(token: str, method: str) -> Response:
        params, photo = _params()
        try:
            result = state.call(token, method, params, photo)
        except ApiError as err:
            resp = jsonify(err.body())
            resp.status_code = err.code
            return resp
        return jsonify({"ok": True, "result": result})

    # control API for tests and demos ------------------------------------------------------
    @app.get("/_fake/sent")
    def sent() -> Response:
        chat = request.args.get("chat_id")
        with state.lock:
            rows = [dict(r) for r in state.sent if chat is None or str(r["chat_id"]) == chat]
        return jsonify({"sent": rows})

    @app.get("/_fake/state")
    def whole() -> Response:
        return jsonify(state_json(state))

    @app.post("/_fake/bots")
    def bots() -> Response:
        body = request.get_json(force=True)
        bot = state.add_bot(body["token"], body.get("username", "test_bot"),
                            body.get("first_name", ""))
        return jsonify({"id": bot.id, "username": bot.username})

    @app.post("/_fake/revoke")
    def revoke() -> Response:
        state.revoke(request.get_json(force=True)["token"])
        return jsonify({"revoked": True})

    @app.post("/_fake/chats")
    def chats() -> Response:
        body = request.get_json(force=True)
        chat = state.add_chat(int(body["id"]), body.get("type", ""), body.get("title", ""),
                              bool(body.get("blocked")))
        return jsonify({"id": chat.id, "type": chat.type})

    @app.post("/_fake/fail")
    def fail() -> Response:
        body = request.get_json(force=True)
        with state.lock:
            state.faults.append(Fault(int(body.get("n", 1)), int(body.get("code", 429)),
                                      str(body.get("description") or "Too Many Requests"),
                                      body.get("retry_after"), str(body.get("method", "")),
                                      str(body.get("chat_id", ""))))
        return jsonify({"armed": True})

    @app.post("/_fake/limits")
    def limits() -> Response:
        body = request.get_json(force=True)
        with state.lock:
            for name, value in body.items():
                if hasattr(state.limits, name):
                    setattr(state.limits, name, type(getattr(state.limits, name))(value))
        return jsonify(vars(state.limits))

    @app.post("/_fake/reset")
    def reset() -> Response:
        with state.lock:
            state.sent.clear()
            state.calls.clear()
            state.faults.clear()
        return jsonify({"reset": True})

    return app


def state_json(state: State) -> dict[str, Any]:
    """Everything but the tokens' secrets: the bots by id and name, chats, sent, limits."""
    with state.lock:
        return json.loads(json.dumps({
            "bots": [{"id": b.id, "username": b.username, "revoked": t in state.revoked}
                     for t, b in state.bots.items()],
            "chats": [vars(c) for c in state.chats.values()],
            "sent": state.sent, "limits": vars(state.limits),
            "faults": [vars(f) for f in state.faults if f.remaining > 0]}))

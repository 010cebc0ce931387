"""The floor for bench.ingress: a Flask app whose every POST only reads the body.

Served by its own gunicorn with the same workers and threads as the app, so the ratio of
the two throughputs says what our checks, dedup and inbox write cost on top of Flask.
"""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/<path:_path>")
def bare(_path: str) -> object:
    request.get_data(cache=False)
    return jsonify(ok=True)


@app.get("/healthz")
def healthz() -> object:
    return jsonify(ok=True)

"""The public HTTP surface for Bitrix24: /events, /robots/<code>, /healthz. Thin views."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from connector.ingress import InboundRequest, accept
from connector.ingress_wsgi import render

bp = Blueprint("core", __name__)


def _services() -> Any:
    return current_app.extensions["connector"]


def _inbound(kind: str, name: str) -> Any:
    """What reaches Flask of the ingress (its POSTs are answered beneath: ingress_wsgi)."""
    started = time.perf_counter()
    answer = accept(_services(), InboundRequest(
        kind=kind, name=name, method=request.method,
        content_type=request.content_type or "", content_length=request.content_length,
        body=request.get_data(cache=False),
    ))
    status, headers, body = render(answer, started)
    return current_app.response_class(body, status, headers)


@bp.route("/events", methods=["GET", "POST", "PUT", "DELETE"])
def events() -> Any:
    return _inbound("event", "")


@bp.route("/robots/<code>", methods=["GET", "POST", "PUT", "DELETE"])
def robots(code: str) -> Any:
    return _inbound("robot", code)


REINSTALL_LISTED = 20  # /healthz names at most this many portals; the count is exact


@bp.get("/healthz")
def healthz() -> Any:
    """Liveness plus what an operator needs at a glance: Redis, queues, portals at risk.

    Monitoring polls this, so it costs the same with 10 portals or 100,000: counters and
    registry sizes only, never a walk over portals, keys or jobs.
    """
    services = _services()
    try:
        services.redis.ping()
    except Exception as exc:  # noqa: BLE001 - any Redis failure means unhealthy
        return jsonify(ok=False, redis=f"down: {type(exc).__name__}"), 503
    reinstall_count, member_ids = services.store.needing_reinstall(REINSTALL_LISTED)
    reinstall = []
    for member_id in member_ids:
        portal = services.store.get(member_id)
        if portal is not None:
            reinstall.append({"member_id": member_id, "domain": portal.domain,
                              "reason": portal.status_reason})
    return jsonify(
        ok=True, redis="up", queues=services.queues.depth(),
        # retries, timers and periodic slots move only while a worker's scheduler runs
        scheduler=services.queues.scheduler_health(),
        # accepted deliveries not yet jobs (counted in queues' inbound too) and their movers
        inbox=services.queues.inbox.health(),
        failed_jobs=services.queues.failed_count(),
        portals=services.store.count(), needs_reinstall=reinstall,
        needs_reinstall_count=reinstall_count,
    )

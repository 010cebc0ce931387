"""Runs a robot job and always ends it with exactly one bizproc.event.send per event token.

The answer is guarded by a per-token lock and an 'answered' marker written after the portal
accepted it, so a job that runs twice (worker killed after answering, a requeue) does not
answer twice, and a job that failed before answering still answers on its next run.
"""

from __future__ import annotations

import hashlib
from typing import Any

from connector.bitrix.errors import BitrixError
from connector.context import JobContext
from connector.errors import Permanent
from robots.spec import RobotCall, RobotError

ANSWERED_TTL_S = 30 * 24 * 3600
MAX_LOG = 900


def call_from_payload(payload: dict[str, Any]) -> RobotCall:
    def as_list(value: Any) -> list[str]:
        if isinstance(value, dict):
            order = sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)
            return [str(value[k]) for k in order]
        return [str(v) for v in value or []]

    props = payload.get("properties") or {}
    return RobotCall(
        code=str(payload.get("code", "")),
        event_token=str(payload.get("event_token", "")),
        workflow_id=str(payload.get("workflow_id", "")),
        document_id=as_list(payload.get("document_id")),
        document_type=as_list(payload.get("document_type")),
        properties=props if isinstance(props, dict) else {},
    )


def _keys(ctx: JobContext, token: str) -> tuple[str, str]:
    digest = hashlib.sha256(token.encode()).hexdigest()[:32]
    prefix = ctx.services.settings.queue_prefix
    return f"{prefix}:robot-answered:{digest}", f"{prefix}:lock:robot:{digest}"


class Answered(dict):
    """Returned by a robot that answers by itself: in its own write batch, or later."""


def already_answered(ctx: JobContext, token: str) -> bool:
    return bool(ctx.services.redis.exists(_keys(ctx, token)[0]))


def mark_answered(ctx: JobContext, token: str) -> None:
    ctx.services.redis.set(_keys(ctx, token)[0], "1", ex=ANSWERED_TTL_S)


def answer(ctx: JobContext, call: RobotCall, values: dict[str, Any], log_message: str) -> bool:
    """Send the one bizproc.event.send for this token; False if it was already sent."""
    done_key, lock_key = _keys(ctx, call.event_token)
    redis = ctx.services.redis
    with redis.lock(lock_key, timeout=120, blocking_timeout=120):
        if redis.exists(done_key):
            return False
        try:
            ctx.rest.call("bizproc.event.send", {
                "EVENT_TOKEN": call.event_token,
                "RETURN_VALUES": values,
                "LOG_MESSAGE": log_message[:MAX_LOG],
            })
        except BitrixError as exc:
            if exc.code != "ACCESS_DENIED":
                raise
            # the workflow no longer waits for this token (answered, timed out or deleted)
            ctx.log.warning("robot %s: event token no longer accepted (%s)", call.code,
                            exc.description)
        mark_answered(ctx, call.event_token)
        return True


def run_robot(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    call = call_from_payload(payload)
    from robots import ROBOTS_BY_CODE  # the registry imports robots that import this module

    if already_answered(ctx, call.event_token):
        return {"answered": False, "reason": "already answered"}
    spec = ROBOTS_BY_CODE.get(call.code)
    values: dict[str, Any]
    try:
        if spec is None:
            raise RobotError(f"robot '{call.code}' is not provided by this app any more")
        if not spec.supports(call.document_type):
            raise RobotError(
                f"robot '{call.code}' does not work on {'/'.join(call.document_type) or '?'}")
        result = spec.run(ctx, call)
        if isinstance(result, Answered):
            return {"answered": True, "values": dict(result)}
        values = dict(result)
        values.setdefault("error", "")
        message = f"{spec.name_en}: done"
    except Permanent as exc:
        if isinstance(exc, BitrixError):
            text = f"{exc.method or 'Bitrix24'}: {exc.description or exc.code}"
        else:
            text = str(exc)
        values, message = {"error": text}, f"{call.code}: {text}"
        ctx.log.warning("robot %s failed: %s", call.code, text)
    except Exception as exc:  # noqa: BLE001 - retryable or a bug: retried, answered at last
        if not ctx.final_attempt:
            raise  # RQ retries; the answer comes from a later run
        text = f"gave up after retries: {type(exc).__name__}: {exc}"
        values, message = {"error": text}, f"{call.code}: {text}"
    answered = answer(ctx, call, values, message)
    return {"answered": answered, "values": values}

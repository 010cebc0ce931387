"""Triggers (Bitrix24 robots): one declaration per robot, and the one way a call is answered.

Registration and dispatch are derived from the RobotSpec. A robot call always ends with
exactly one answer per event token: the answer is guarded by a per-token lock and an
'answered' marker written after the CRM accepted it, so a job that runs twice (worker killed
after answering, a requeue) does not answer twice, and a job that failed before answering
still answers on its next run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.crm.port import ItemRef, TriggerGone
from connector.errors import Permanent
from connector.i18n import LANGUAGES, N_, t

LEAD = ("crm", "CCrmDocumentLead", "LEAD")
DEAL = ("crm", "CCrmDocumentDeal", "DEAL")
DYNAMIC = ("crm", "Bitrix\\Crm\\Integration\\BizProc\\Document\\Dynamic")


class RobotError(Permanent):
    """A problem the portal admin can fix; its text goes back to the workflow log.

    Raised with an English msgid and its parameters, so the answer can be written in the
    portal's language.
    """

    def __init__(self, msgid: str, **params: Any):
        self.msgid = msgid
        self.params = params
        super().__init__(msgid.format(**params) if params else msgid)

    def text(self, lang: str) -> str:
        return t(lang, self.msgid, **self.params)


def localized(msgid: str) -> dict[str, str]:
    """{"ru": …, "en": …}: Bitrix24 shows a robot's texts in each user's language."""
    return {lang: t(lang, msgid) for lang in LANGUAGES}


@dataclass(frozen=True)
class Prop:
    """A robot property (input) or return property (output); name and description are msgids."""

    name: str
    type: str = "string"
    required: bool = False
    multiple: bool = False
    default: Any = None
    options: dict[str, str] | None = None
    description: str = ""

    def as_bitrix(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": localized(self.name),
            "Type": self.type,
            "Required": "Y" if self.required else "N",
            "Multiple": "Y" if self.multiple else "N",
        }
        if self.description:
            out["Description"] = localized(self.description)
        if self.default is not None:
            out["Default"] = self.default
        if self.options:
            out["Options"] = self.options  # Bitrix24 takes plain labels here, not per language
        return out


@dataclass(frozen=True)
class RobotCall:
    """What Bitrix24 posted to the robot handler, tokens removed."""

    code: str
    event_token: str
    workflow_id: str
    document_id: list[str]
    document_type: list[str]
    properties: dict[str, Any]

    @property
    def ref(self) -> ItemRef:
        """The item: ['crm','CCrmDocumentLead','LEAD_12'] → lead/12; DYNAMIC_128_5 → item:128/5."""
        raw = self.document_id[2] if len(self.document_id) > 2 else ""
        parts = raw.split("_")
        if len(parts) == 2 and parts[0] in ("LEAD", "DEAL") and parts[1].isdigit():
            return ItemRef(parts[0].lower(), int(parts[1]))
        if len(parts) == 3 and parts[0] == "DYNAMIC" and parts[1].isdigit() and parts[
                2].isdigit():
            return ItemRef(f"item:{parts[1]}", int(parts[2]))
        raise RobotError(N_("unsupported document {document}: leads, deals and smart-process "
                            "items only"), document=raw or "?")


RobotFn = Callable[[Any, RobotCall], dict[str, Any]]

ERROR_RETURN = Prop(N_("Error"), "string", description=N_("Empty when the robot succeeded"))


@dataclass(frozen=True)
class RobotSpec:
    """One robot; name and description are English msgids (N_), registered in ru and en."""

    code: str
    name: str
    description: str
    run: RobotFn
    properties: dict[str, Prop] = field(default_factory=dict)
    return_properties: dict[str, Prop] = field(default_factory=dict)
    document_types: tuple[tuple[str, ...], ...] = (LEAD, DEAL)
    # the queue the robot's work runs on when not the inbound one (documents: a render, an
    # upload and a wait for the sequence's lock must not hold up events and other robots);
    # the inbound job hands the call on to it, and the job there answers
    queue: str = ""

    @property
    def name_en(self) -> str:
        return t("en", self.name)

    @property
    def all_returns(self) -> dict[str, Prop]:
        return {**self.return_properties, "error": ERROR_RETURN}

    def registration(self, handler_url: str, auth_user_id: str = "") -> dict[str, Any]:
        """The bizproc.robot.add/update fields; USE_SUBSCRIPTION is always explicit."""
        fields: dict[str, Any] = {
            "HANDLER": handler_url,
            "USE_SUBSCRIPTION": "Y",
            "NAME": localized(self.name),
            "DESCRIPTION": localized(self.description),
            "PROPERTIES": {k: p.as_bitrix() for k, p in self.properties.items()},
            "RETURN_PROPERTIES": {k: p.as_bitrix() for k, p in self.all_returns.items()},
            "FILTER": {"INCLUDE": [list(t) for t in self.document_types]},
        }
        if auth_user_id:
            fields["AUTH_USER_ID"] = auth_user_id
        return fields

    def supports(self, document_type: list[str]) -> bool:
        return any(list(t) == document_type[: len(t)] for t in self.document_types)


# answering --------------------------------------------------------------------------------
ANSWERED_TTL_S = 30 * 24 * 3600
MAX_LOG = 900


class Answered(dict):
    """Returned by a robot that answers by itself: in its own write batch, or later."""


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


def _keys(ctx: Any, token: str) -> tuple[str, str]:
    digest = hashlib.sha256(token.encode()).hexdigest()[:32]
    prefix = ctx.services.settings.queue_prefix
    return f"{prefix}:robot-answered:{digest}", f"{prefix}:lock:robot:{digest}"


def already_answered(ctx: Any, token: str) -> bool:
    return bool(ctx.services.redis.exists(_keys(ctx, token)[0]))


def mark_answered(ctx: Any, token: str) -> None:
    ctx.services.redis.set(_keys(ctx, token)[0], "1", ex=ANSWERED_TTL_S)


def answer(ctx: Any, call: RobotCall, values: dict[str, Any], log_message: str) -> bool:
    """Send the one answer for this token; False if it was already sent."""
    done_key, lock_key = _keys(ctx, call.event_token)
    redis = ctx.services.redis
    with redis.lock(lock_key, timeout=120, blocking_timeout=120):
        if redis.exists(done_key):
            return False
        try:
            ctx.crm.answer_trigger(call.event_token, values, log_message[:MAX_LOG])
        except TriggerGone as exc:  # answered, timed out or deleted meanwhile
            ctx.log.warning("robot %s: event token no longer accepted (%s)", call.code,
                            exc.reason)
        mark_answered(ctx, call.event_token)
        return True


HANDED = "_cc_queue"  # in a handed-on payload: the queue it was handed to


def hand_on(ctx: Any, spec: RobotSpec, payload: dict[str, Any]) -> dict[str, Any]:
    """Queue the call again on the robot's own queue, once per event token."""
    from connector.inbox import JOB_FUNC
    from connector.queue import job_id

    token = str(payload.get("event_token", ""))
    queued = ctx.services.queues.enqueue(
        JOB_FUNC, ["robot", spec.code, ctx.member_id, {**payload, HANDED: spec.queue}],
        job_id("robot", ctx.member_id, spec.queue, token), queue=spec.queue,
        member_id=ctx.member_id)
    return {"handed_to": spec.queue, "job": queued.job_id, "new": queued.created}


def _robot_name(lang: str, spec: RobotSpec | None, call: RobotCall) -> str:
    """How an answer names the robot: as people see it, its code when it is unknown."""
    return t(lang, spec.name) if spec is not None else call.code


def run_robot(ctx: Any, robots: dict[str, RobotSpec], payload: dict[str, Any]) -> dict[str, Any]:
    """Run one robot call and answer it, whatever happens."""
    call = call_from_payload(payload)
    if already_answered(ctx, call.event_token):
        return {"answered": False, "reason": "already answered"}
    spec = robots.get(call.code)
    if spec is not None and spec.queue and payload.get(HANDED) != spec.queue:
        return hand_on(ctx, spec, payload)
    lang = ctx.lang
    values: dict[str, Any]
    try:
        if spec is None:
            raise RobotError(N_("robot '{code}' is not provided by this app any more"),
                             code=call.code)
        if not spec.supports(call.document_type):
            raise RobotError(N_("robot '{code}' does not work on {document}"), code=call.code,
                             document="/".join(call.document_type) or "?")
        result = spec.run(ctx, call)
        if isinstance(result, Answered):
            return {"answered": True, "values": dict(result)}
        values = dict(result)
        values.setdefault("error", "")
        message = t(lang, N_("{robot}: done"), robot=t(lang, spec.name))
    except Permanent as exc:
        text = exc.text(lang) if isinstance(exc, RobotError) else str(exc)
        values, message = {"error": text}, f"{_robot_name(lang, spec, call)}: {text}"
        ctx.log.warning("robot %s failed: %s", call.code, text)
    except Exception as exc:  # noqa: BLE001 - retryable or a bug: retried, answered at last
        if not ctx.final_attempt:
            raise  # RQ retries; the answer comes from a later run
        text = t(lang, N_("gave up after retries: {error}"), error=f"{type(exc).__name__}: {exc}")
        values, message = {"error": text}, f"{_robot_name(lang, spec, call)}: {text}"
    answered = answer(ctx, call, values, message)
    return {"answered": answered, "values": values}

"""REST gateway: auth, the leaky bucket, scopes, faults, operating time, batch, ``time``."""

from __future__ import annotations

import copy
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from .errors import RestError
from .forms import parse_query
from .limits import OperatingTime
from .listing import ListResult
from .registry import METHODS, CallContext, method, scope_allows, yes

if TYPE_CHECKING:
    from .core import Emulator
    from .state import Portal

log = logging.getLogger("emulator.rest")

BATCH_MAX = 50
CALLS_KEPT = 100_000
# CRestUtil::processBatchElement: "/\$(result|next|total|time|error)([^\s]*)/i"
_REF_RE = re.compile(r"\$(result|next|total|time|error)(\S*)", re.IGNORECASE)
_PART_RE = re.compile(r"\[([^\]]+)\]")


def normalize_method(raw: str) -> str:
    """Bitrix lower-cases method names and ignores a ``.json`` / ``.xml`` suffix."""
    name = raw.strip().strip("/").lower()
    for suffix in (".json", ".xml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def time_block(
    emu: Emulator, portal: Portal, name: str, start: float, finish: float, processing: float
) -> dict[str, Any]:
    now = emu.now()
    with emu.lock:
        ot = portal.operating.get(name)
        used = ot.used(now) if ot else 0.0
        reset_at = ot.reset_at(now) if ot else int(now)
    return {
        "start": round(start, 6),
        "finish": round(finish, 6),
        "duration": round(finish - start, 6),
        "processing": round(processing, 6),
        "date_start": emu.iso(start),
        "date_finish": emu.iso(finish),
        "operating_reset_at": reset_at,
        "operating": round(used, 6),
    }


def call_method(ctx: CallContext, name: str, params: dict[str, Any]) -> Any:
    """Run one method (a top-level call or a batch sub-call) with every per-method check."""
    emu = ctx.emu
    spec = METHODS.get(name)
    if spec is None:
        raise RestError("ERROR_METHOD_NOT_FOUND")
    if ctx.in_batch and name == "batch":
        raise RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Batch call is not allowed in batch")
    if not scope_allows(spec.scope, emu.config.scope_list()):
        raise RestError("insufficient_scope")
    with emu.lock:
        emu.stats["by_method"][name] += 1
        calls = ctx.portal.calls
        calls.append(
            {"method": name, "params": params, "user_id": ctx.user_id, "ts": emu.now(),
             "batch": ctx.in_batch}
        )
        if len(calls) > CALLS_KEPT + 10_000:
            del calls[: len(calls) - CALLS_KEPT]
    fault = emu.take_fault(name)
    delay = emu.latency_for(name)
    if delay:
        time.sleep(delay)
    if fault is not None:
        raise fault
    counted = name != "batch"
    cfg = emu.config
    if counted and cfg.operating_enabled:
        with emu.lock:
            ot = ctx.portal.operating.setdefault(name, OperatingTime())
            if ot.used(emu.now()) >= cfg.operating_limit_s:
                emu.stats["operation_time_limit"] += 1
                raise RestError("OPERATION_TIME_LIMIT")
    if spec.admin:
        ctx.require_admin()
    started = time.perf_counter()
    try:
        if name == "batch":
            result = spec.func(ctx, params)
        else:
            with emu.lock:
                result = spec.func(ctx, params)
    except RestError:
        raise
    except Exception:
        log.exception("method %s failed", name)
        raise RestError("INTERNAL_SERVER_ERROR") from None
    finally:
        if counted:
            spent = time.perf_counter() - started + cfg.operating_cost_s
            with emu.lock:
                ctx.portal.operating.setdefault(name, OperatingTime()).add(emu.now(), spent)
    return result


def handle_rest(
    emu: Emulator, raw_method: str, params: dict[str, Any], token: str | None
) -> tuple[int, dict[str, Any]]:
    """One HTTP request to ``/rest/<method>``: returns (status, JSON body)."""
    name = normalize_method(raw_method)
    start = emu.now()
    perf = time.perf_counter()
    portal_id = None
    with emu.lock:
        emu.stats["requests"] += 1
        emu.stats["http_by_method"][name] += 1
    try:
        rec = emu.check_access(token)
        portal = emu.portals[rec.member_id]
        portal_id = portal.member_id
        emu.charge(portal)
        with emu.lock:
            emu.stats["requests_accepted"] += 1
        ctx = CallContext(emu, portal, rec)
        result = call_method(ctx, name, params)
        body: dict[str, Any] = {}
        if isinstance(result, ListResult):
            body["result"] = result.items
            if result.next is not None:
                body["next"] = result.next
            if result.total is not None:
                body["total"] = result.total
        else:
            body["result"] = result
        body["time"] = time_block(
            emu, portal, name, start, emu.now(), time.perf_counter() - perf
        )
        status = 200
    except RestError as err:
        status, body = err.status, err.body()
    emu.add_log(
        path=f"/rest/{raw_method}",
        method=name,
        status=status,
        error=body.get("error"),
        portal=portal_id,
    )
    return status, body


# ------------------------------------------------------------------ batch
def _php_array(d: dict[str, Any]) -> Any:
    """PHP json_encode: empty → [], keys 0..n-1 → list, else an object."""
    if not d:
        return []
    if all(k == str(i) for i, k in enumerate(d)):
        return list(d.values())
    return d


def _walk(node: Any, path: str) -> Any:
    """Follow ``[a][b]…`` from `node` as far as it goes; stop at the first missing step.

    PHP's ``isset($r[$key])``: a missing key, an index past the end and a null value all
    stop the walk, and the value reached so far is the answer (not an empty string).
    """
    for part in _PART_RE.findall(path):
        if isinstance(node, dict) and node.get(part) is not None:
            node = node[part]
        elif isinstance(node, list | str) and part.isdigit() and int(part) < len(node) and (
                node[int(part)] is not None):
            node = node[int(part)]
        else:
            break
    return node


def _substitute(value: Any, state: dict[str, Any]) -> Any:
    """Replace ``$result[key][field]`` (and ``$next``/``$total``/``$time``/``$error``)
    references the way the server's ``CRestUtil::processBatchElement`` does.

    settings/how-to-call-rest-api/batch.md documents ``$result[key][field]``; what happens
    when it does not resolve is the server's code: the deepest value reached is used. A
    parameter that is only the reference gets that value as is (an array stays an array);
    inside a longer string a number or string is spliced in and anything else is left as
    written.
    """
    if isinstance(value, dict):
        return {k: _substitute(v, state) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, state) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    for match in list(_REF_RE.finditer(value)):
        if not _PART_RE.search(match.group(2)):
            continue
        node = _walk(state[match.group(1).lower()], match.group(2))
        if match.group(0) == value:
            return copy.deepcopy(node)  # a snapshot: later sub-calls add to the results
        if isinstance(node, bool) or not isinstance(node, int | float | str):
            continue
        value = value.replace(match.group(0), str(node))
    return value


@method("batch")
def batch(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """Up to 50 sub-calls; counts once for the bucket, per method for operating time."""
    cmd = params.get("cmd") or {}
    if isinstance(cmd, list):
        items = [(str(i), c) for i, c in enumerate(cmd)]
    elif isinstance(cmd, dict):
        items = [(str(k), c) for k, c in cmd.items()]
    else:
        raise RestError("ERROR_ARGUMENT", "cmd must be an array", 400)
    if len(items) > BATCH_MAX:
        raise RestError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", 400)
    halt = yes(params.get("halt", 0))
    emu = ctx.emu
    sub_ctx = CallContext(emu, ctx.portal, ctx.token, in_batch=True)
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}
    for key, command in items:
        raw_name, _, qs = str(command).partition("?")
        name = normalize_method(raw_name)
        state = {"result": results, "next": nexts, "total": totals, "time": times,
                 "error": errors}
        sub_params = _substitute(parse_query(qs), state)
        if isinstance(sub_params, dict):
            sub_params.pop("auth", None)
        start, perf = emu.now(), time.perf_counter()
        try:
            res = call_method(sub_ctx, name, sub_params)
            if isinstance(res, ListResult):
                results[key] = res.items
                if res.total is not None:
                    totals[key] = res.total
                if res.next is not None:
                    nexts[key] = res.next
            else:
                results[key] = res
            times[key] = time_block(
                emu, ctx.portal, name, start, emu.now(), time.perf_counter() - perf
            )
        except RestError as err:
            errors[key] = err.body()
            if halt:
                break
    return {
        "result": _php_array(results),
        "result_error": _php_array(errors),
        "result_total": _php_array(totals),
        "result_next": _php_array(nexts),
        "result_time": _php_array(times),
    }

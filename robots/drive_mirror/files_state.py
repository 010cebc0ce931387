"""What the mirror did with each file of a deal: pending, on Drive, not copied, failed and why.

The per-file records of mirror.py say which version is on Drive; this is the deal's view
for its readers (the deal tab, the history): one Redis hash per deal, a field per source.
A failure keeps its reason as a msgid with placeholders, so the tab says it in the
reader's language. When the deal's last pending file ends, the history gets one line for
the whole batch ("Files copied to Drive: 3").
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from connector.context import JobContext
from connector.crm.port import ItemRef
from connector.errors import Permanent
from connector.gdrive.errors import DrivePermanent, GoogleAccessRevoked
from connector.i18n import N_, NP_, Msg

PENDING, MIRRORED, NOT_COPIED, FAILED = "pending", "mirrored", "not_copied", "failed"
STATE_TTL_S = 400 * 24 * 3600

# Google's own reason -> what the reader is told
DRIVE_REASONS: dict[str, Msg] = {
    "storageQuotaExceeded": N_("the Google account's storage is full"),
    "insufficientFilePermissions": N_("the Google account may not write to that folder"),
    "forbidden": N_("the Google account may not write to that folder"),
    "notFound": N_("the Drive folder is gone or not visible to the Google account"),
}


def _key(ctx: JobContext, deal_id: int) -> str:
    return ctx.key("dealfiles", deal_id)


def _put(ctx: JobContext, deal_id: int, source_key: str, state: str, name: str = "",
         reason: str = "", **params: Any) -> None:
    key = _key(ctx, deal_id)
    value = {"state": state, "name": name, "reason": reason, "params": params,
             "ts": time.time()}
    with ctx.redis.pipeline() as pipe:
        pipe.hset(key, source_key, json.dumps(value, ensure_ascii=False))
        pipe.expire(key, STATE_TTL_S)
        pipe.execute()


def queued(ctx: JobContext, deal_id: int, sources: Iterable[Any]) -> None:
    """Files about to be queued (marked first: a fast worker may finish before we return)."""
    for src in sources:
        _put(ctx, deal_id, src.key, PENDING, src.name)


def reason_of(exc: BaseException) -> tuple[Msg, dict[str, Any]]:
    """A failed copy's reason in words (a msgid and its placeholders)."""
    from robots.drive_mirror.connection import NotConnected

    if isinstance(exc, GoogleAccessRevoked):
        return N_("Google refused the app's access: an administrator connects Google "
                  "again"), {}
    if isinstance(exc, NotConnected):
        return N_("Google Drive is not connected"), {}
    if isinstance(exc, DrivePermanent) and exc.reason in DRIVE_REASONS:
        return DRIVE_REASONS[str(exc.reason)], {}
    if isinstance(exc, Permanent):
        return N_("the copy was refused: {detail}"), {"detail": str(exc)[:300]}
    return N_("Bitrix24 or Google Drive did not answer: {detail}"), {"detail": str(exc)[:300]}


def failed(ctx: JobContext, deal_id: int, source: Any, exc: BaseException) -> None:
    """A copy that will not be retried: kept with its reason, told in the history once."""
    reason, params = reason_of(exc)
    _put(ctx, deal_id, source.key, FAILED, source.name, reason, **params)
    ctx.remember(ItemRef("deal", deal_id), N_("Copy to Drive failed: {reason}"),
                 reason=Msg(reason).render(ctx.lang, **params))
    _report(ctx, deal_id)


def finished(ctx: JobContext, deal_id: int, source: Any, result: dict[str, Any]) -> None:
    """A file job that ended: on Drive (copied now or before), or not to be copied."""
    name = str(result.get("name") or source.name)
    if result.get("mirrored") or result.get("on_drive"):
        _put(ctx, deal_id, source.key, MIRRORED, name)
        if result.get("mirrored"):
            ctx.redis.incr(f"{_key(ctx, deal_id)}:copied")
    elif result.get("too_large_mb"):
        _put(ctx, deal_id, source.key, NOT_COPIED, name, N_("larger than the {mb} MB limit"),
             mb=result["too_large_mb"])
    else:
        _put(ctx, deal_id, source.key, NOT_COPIED, name,
             N_("deleted or no longer shared in Bitrix24"))
    _report(ctx, deal_id)


def _report(ctx: JobContext, deal_id: int) -> None:
    """Once nothing of the deal is pending, one history line for what this batch copied."""
    if summary(ctx, deal_id)["pending"]:
        return
    copied = int(ctx.redis.getdel(f"{_key(ctx, deal_id)}:copied") or 0)
    if copied:
        ctx.remember(ItemRef("deal", deal_id), NP_("File copied to Drive: {n}",
                                                   "Files copied to Drive: {n}"), n=copied)


def summary(ctx: JobContext, deal_id: int) -> dict[str, Any]:
    """Counts per state, and the files not on Drive with their reasons (newest first)."""
    files = [json.loads(raw) for raw in ctx.redis.hvals(_key(ctx, deal_id))]
    out: dict[str, Any] = {"total": len(files), MIRRORED: 0, PENDING: 0,
                           "problems": sorted((f for f in files if f["state"] in
                                               (FAILED, NOT_COPIED)),
                                              key=lambda f: -float(f["ts"]))}
    for f in files:
        if f["state"] in (MIRRORED, PENDING):
            out[f["state"]] += 1
    return out

"""Notifications (``im.notify.*``); recorded so tests can read what users were told."""

from __future__ import annotations

from typing import Any

from ..errors import RestError
from ..registry import CallContext, method, up


def _notify(ctx: CallContext, params: dict[str, Any], kind: str) -> int:
    p = up(params)
    if not p.get("USER_ID") or not p.get("MESSAGE"):
        raise RestError("ERROR_ARGUMENT", "USER_ID and MESSAGE are required", 400)
    try:
        uid = int(str(p["USER_ID"]))
    except ValueError:
        raise RestError("USER_ID_EMPTY", "User ID can't be empty", 400) from None
    if uid not in ctx.portal.users:
        raise RestError("USER_ID_EMPTY", "User ID can't be empty", 400)
    ctx.portal.notifications.append({
        "ID": len(ctx.portal.notifications) + 1, "KIND": kind, "USER_ID": uid,
        "FROM_USER_ID": ctx.user_id, "MESSAGE": str(p["MESSAGE"]),
        "MESSAGE_OUT": p.get("MESSAGE_OUT"), "TAG": p.get("TAG"), "SUB_TAG": p.get("SUB_TAG"),
        "ATTACH": p.get("ATTACH"), "DATE": ctx.emu.iso(),
    })
    return len(ctx.portal.notifications)


@method("im.notify.system.add", scope="im")
def notify_system(ctx: CallContext, params: dict[str, Any]) -> int:
    return _notify(ctx, params, "system")


@method("im.notify.personal.add", scope="im")
def notify_personal(ctx: CallContext, params: dict[str, Any]) -> int:
    return _notify(ctx, params, "personal")

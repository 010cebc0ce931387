"""Robots create_deal_folder / create_deal_chat, the ONCRMDEALADD trigger and chat members
that follow the deal's responsible and observers (ONCRMDEALUPDATE)."""

from __future__ import annotations

from typing import Any

from connector.context import JobContext
from connector.i18n import N_
from robots.deal_workspace.config import wants
from robots.deal_workspace.setup import (
    Outcome,
    SetupError,
    Workspace,
    observers,
    people,
    set_up_deal,
)
from robots.spec import DEAL, Prop, RobotCall, RobotError, RobotSpec


def workspace(ctx: JobContext) -> Workspace:
    return Workspace(ctx.services.redis, ctx.services.settings.queue_prefix, ctx.member_id)


def _deal_id(call: RobotCall) -> int:
    kind, deal_id = call.entity
    if kind != "DEAL":
        raise RobotError(f"works on deals only, not {kind.lower()}s")
    return deal_id


def _run(ctx: JobContext, deal_id: int, folder: bool, chat: bool) -> Outcome:
    try:
        return set_up_deal(ctx.rest, workspace(ctx), ctx.settings, ctx.portal.domain, deal_id,
                           folder, chat)
    except SetupError as exc:
        raise RobotError(str(exc)) from exc


def run_folder(ctx: JobContext, call: RobotCall) -> dict[str, Any]:
    out = _run(ctx, _deal_id(call), folder=True, chat=False)
    if out.skipped and not out.folder_url:
        raise RobotError(out.skipped)
    return {"folder_id": out.folder_id or "", "folder_url": out.folder_url}


def run_chat(ctx: JobContext, call: RobotCall) -> dict[str, Any]:
    out = _run(ctx, _deal_id(call), folder=False, chat=True)
    if out.skipped and not out.chat_id:
        raise RobotError(out.skipped)
    return {"chat_id": out.chat_id or ""}


FOLDER_SPEC = RobotSpec(
    code="create_deal_folder",
    name=N_("Deal folder on Disk"),
    description=N_("Creates the deal's folder (exactly one) and writes its link into the deal"),
    run=run_folder,
    return_properties={"folder_id": Prop(N_("Folder ID"), "int"),
                       "folder_url": Prop(N_("Folder link"), "string")},
    document_types=(DEAL,),
)
CHAT_SPEC = RobotSpec(
    code="create_deal_chat",
    name=N_("Deal chat"),
    description=N_("Creates the deal's chat (exactly one) with its people and key facts"),
    run=run_chat,
    return_properties={"chat_id": Prop(N_("Chat ID"), "int")},
    document_types=(DEAL,),
)


def on_deal_add(ctx: JobContext, deal_id: int, data: dict[str, Any]) -> None:
    folder_cfg, chat_cfg = ctx.settings["deal_folders"], ctx.settings["deal_chats"]
    if not folder_cfg["enabled"] and not chat_cfg["enabled"]:
        return
    category = None
    if folder_cfg["category_ids"] or chat_cfg["category_ids"]:
        category = (ctx.rest.call("crm.deal.get", {"id": deal_id}) or {}).get("CATEGORY_ID")
    folder, chat = wants(folder_cfg, category), wants(chat_cfg, category)
    if folder or chat:
        try:
            set_up_deal(ctx.rest, workspace(ctx), ctx.settings, ctx.portal.domain, deal_id,
                        folder, chat)
        except SetupError as exc:
            ctx.log.warning("deal %s set-up: %s", deal_id, exc)
            raise


def on_deal_update(ctx: JobContext, deal_id: int, data: dict[str, Any]) -> None:
    """Keep the deal chat's members in step with the deal's responsible and observers.

    Only people the app itself added for the deal are ever removed; anyone invited by hand
    stays.
    """
    ws = workspace(ctx)
    rec = ws.record(deal_id)
    chat_id = int(rec.get("chat_id") or 0)
    if not chat_id:
        return
    cfg = ctx.settings["deal_chats"]
    got = ctx.rest.batch({"deal": ("crm.deal.get", {"id": deal_id}),
                          "item": ("crm.item.get", {"entityTypeId": 2, "id": deal_id}),
                          "members": ("im.chat.user.list", {"CHAT_ID": chat_id})})
    if "deal" in got.errors:
        return  # deleted meanwhile: nothing to follow
    deal = {**got.get("deal"), "OBSERVER_IDS": observers(got.result.get("item"))}
    wanted = people(deal, cfg["extra_user_ids"])
    current = {int(u) for u in got.result.get("members") or []}
    before = [int(u) for u in rec.get("members") or []]
    cmds = {}
    missing = [u for u in wanted if u not in current]
    if missing:
        cmds["add"] = ("im.chat.user.add", {"CHAT_ID": chat_id, "USERS": missing,
                                            "HIDE_HISTORY": "N"})
    if cfg["remove_departed"]:
        for uid in before:
            if uid not in wanted and uid in current:
                cmds[f"del{uid}"] = ("im.chat.user.delete", {"CHAT_ID": chat_id, "USER_ID": uid})
    if cmds:
        res = ctx.rest.batch(cmds)
        for key, err in res.errors.items():
            ctx.log.warning("deal %s chat %s: %s failed: %s", deal_id, chat_id, key, err)
    ws.save(deal_id, members=wanted)

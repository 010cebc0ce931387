"""Deal folders and deal chats, declared: the robots create_deal_folder / create_deal_chat,
set-up of new deals, and chat members that follow the deal's responsible and observers."""

from __future__ import annotations

from typing import Any

from connector.capability import Capability, CardAction, CardSection, Event, Subscription, Task
from connector.context import JobContext
from connector.crm import port as crm
from connector.errors import Permanent
from connector.i18n import N_
from connector.triggers import DEAL, Prop, RobotCall, RobotError, RobotSpec
from robots.deal_workspace import config
from robots.deal_workspace.config import wants
from robots.deal_workspace.panels import PANELS
from robots.deal_workspace.setup import (
    Outcome,
    SetupError,
    Workspace,
    people,
    set_up_deal,
    setup_queries,
)

NAME = "deal_workspace"


def workspace(ctx: JobContext) -> Workspace:
    return Workspace(ctx.redis, ctx.of(NAME).key())


def _deal_id(call: RobotCall) -> int:
    ref = call.ref
    if ref.kind != "deal":
        raise RobotError(N_("works on deals only, not {kind}"), kind=ref.kind)
    return ref.id


CREATED = {"folder": N_("Folder created"), "chat": N_("Chat created")}


def set_up(ctx: JobContext, deal_id: int, folder: bool, chat: bool,
           reading: crm.Reading | None = None) -> Outcome:
    """set_up_deal, told in the deal's history: what was created, or why it could not be."""
    ref = crm.ItemRef("deal", deal_id)
    try:
        out = set_up_deal(ctx, workspace(ctx), deal_id, folder, chat, reading)
    except Exception as exc:
        if isinstance(exc, Permanent) or ctx.final_attempt:
            ctx.remember(ref, N_("Folder or chat not created: {reason}"), reason=str(exc))
        raise
    for made in out.created:
        ctx.remember(ref, CREATED[made], identity=f"created:{made}")
    return out


def _run(ctx: JobContext, deal_id: int, folder: bool, chat: bool,
         reading: crm.Reading | None = None) -> Outcome:
    try:
        return set_up(ctx, deal_id, folder, chat, reading)
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


# new deals --------------------------------------------------------------------------------
def wants_new(ctx: JobContext, event: Event) -> bool:
    return bool(ctx.settings["deal_folders"]["enabled"] or ctx.settings["deal_chats"]["enabled"])


def reads_new(ctx: JobContext, event: Event) -> dict[str, crm.Query]:
    return setup_queries(event.ref, chat=bool(ctx.settings["deal_chats"]["enabled"]))


def on_deal_add(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    folder_cfg, chat_cfg = ctx.settings["deal_folders"], ctx.settings["deal_chats"]
    try:
        category = reading.get("deal").category
    except crm.NotFound:
        return {"skipped": f"deal {event.ref.id} not found"}
    folder, chat = wants(folder_cfg, category), wants(chat_cfg, category)
    if not (folder or chat):
        return {"skipped": "pipeline not set up"}
    try:
        out = set_up(ctx, event.ref.id, folder, chat, reading)
    except SetupError as exc:
        ctx.log.warning("deal %s set-up: %s", event.ref.id, exc)
        raise
    return {"created": out.created, "reused": out.reused, "skipped": out.skipped}


# chat members follow the deal ---------------------------------------------------------------
def _chat_of(ctx: JobContext, deal_id: int) -> int:
    return int(workspace(ctx).record(deal_id).get("chat_id") or 0)


def wants_members(ctx: JobContext, event: Event) -> bool:
    return bool(_chat_of(ctx, event.ref.id))


def reads_members(ctx: JobContext, event: Event) -> dict[str, crm.Query]:
    return {"deal": crm.GetItem(event.ref, observers=True),
            "members": crm.ChatMembers(_chat_of(ctx, event.ref.id))}


def on_deal_update(ctx: JobContext, event: Event, reading: crm.Reading) -> Any:
    """Keep the deal chat's members in step with the deal's responsible and observers.

    Only people the app itself added for the deal are ever removed; anyone invited by hand
    stays.
    """
    ws = workspace(ctx)
    deal_id = event.ref.id
    rec = ws.record(deal_id)
    chat_id = int(rec.get("chat_id") or 0)
    if not chat_id or not reading.ok("deal"):
        return {"skipped": "no chat, or the deal is gone"}
    cfg = ctx.settings["deal_chats"]
    wanted = people(reading.get("deal"), cfg["extra_user_ids"])
    current = set(reading.get("members") or [])
    before = [int(u) for u in rec.get("members") or []]
    ops: dict[str, crm.Op] = {}
    missing = tuple(u for u in wanted if u not in current)
    if missing:
        ops["add"] = crm.AddChatMembers(chat_id, missing)
    if cfg["remove_departed"]:
        for uid in before:
            if uid not in wanted and uid in current:
                ops[f"del{uid}"] = crm.RemoveChatMember(chat_id, uid)
    if ops:
        done = ctx.crm.apply(ops)
        for key, err in done.errors.items():
            ctx.log.warning("deal %s chat %s: %s failed: %s", deal_id, chat_id, key, err)
    ws.save(deal_id, members=wanted)
    return {"added": list(missing)}


# published service and the deal tab --------------------------------------------------------
def deal_folder(ctx: JobContext, deal_id: int) -> int:
    """The deal's Disk folder id (0 when the app made none): for other capabilities."""
    return int(workspace(ctx).record(deal_id).get("folder_id") or 0)


def ensure_deal_folder(ctx: JobContext, deal_id: int) -> int:
    """The deal's folder, made now when the app has none (the way the robot makes it): for
    other capabilities that file things in it. SetupError when the folder settings forbid."""
    if folder_id := deal_folder(ctx, deal_id):
        return folder_id
    return int(set_up(ctx, deal_id, folder=True, chat=False).folder_id or 0)


def card_facts(ctx: JobContext, deal_id: int) -> dict[str, Any]:
    record = workspace(ctx).record(deal_id)
    return {"folder_url": record.get("folder_url", ""), "chat_id": record.get("chat_id", 0)}


# "create it now" from the deal tab ---------------------------------------------------------
SET_UP_TASK = "set_up"


def run_set_up(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    out = set_up(ctx, int(arg["deal_id"]), bool(arg.get("folder")), bool(arg.get("chat")))
    return {"created": out.created, "reused": out.reused, "skipped": out.skipped}


def _now(what: str) -> Any:
    def run(ctx: JobContext, deal_id: int) -> str:
        return ctx.enqueue_job(SET_UP_TASK, {"deal_id": deal_id, what: True}, what, deal_id)
    return run


CARD_ACTIONS = (
    CardAction("folder", N_("Create the folder now"), _now("folder"),
               lambda facts: not facts["folder_url"]),
    CardAction("chat", N_("Create the chat now"), _now("chat"), lambda facts: not facts["chat_id"]),
)


CAPABILITY = Capability(
    name=NAME,
    legacy_keyspace="deals",
    title=N_("Deal folders and chats"),
    settings=config.SCHEMAS,
    triggers=(FOLDER_SPEC, CHAT_SPEC),
    subscriptions=(
        # after distribution (when it takes the deal): the chat starts with the right people
        Subscription("deal.created", "set_up", on_deal_add, wants_new, reads_new,
                     after=("distribution.assign_deal",)),
        Subscription("deal.updated", "chat_members", on_deal_update, wants_members,
                     reads_members),
    ),
    tasks=(Task(SET_UP_TASK, run_set_up, title=N_("Create the deal's folder and chat")),),
    card_sections=(CardSection("workspace", N_("Folder and chat"), card_facts,
                               "sections/deal_workspace.html", CARD_ACTIONS),),
    panels=PANELS,
    scopes=frozenset({"crm", "disk", "im", "user"}),
    provides={"deal_folder": deal_folder, "ensure_deal_folder": ensure_deal_folder},
)

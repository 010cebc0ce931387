"""Notifications (``im.notify.*``), group chats (``im.chat.*``) and ``im.message.add``.

Everything is recorded on the portal so tests can read what users were told.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import RestError
from ..registry import CallContext, method, up

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal


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


# ------------------------------------------------------------------ chats
COLORS = ("RED", "GREEN", "MINT", "LIGHT_BLUE", "DARK_BLUE", "PURPLE", "AQUA", "PINK", "LIME",
          "BROWN", "AZURE", "KHAKI", "SAND", "MARENGO", "GRAY", "GRAPHITE")
ATTACH_MAX = 30 * 1024


def _ids(value: Any) -> list[int]:
    """USERS as an array (or a map, or one id); junk entries are dropped like PHP's intval."""
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        value = [] if value in (None, "") else [value]
    out: list[int] = []
    for v in value:
        try:
            n = int(str(v).strip())
        except ValueError:
            continue
        if n > 0 and n not in out:
            out.append(n)
    return out


def _existing(portal: Portal, ids: list[int]) -> list[int]:
    return [u for u in ids if u in portal.users and portal.users[u].get("ACTIVE")]


def post_message(
    emu: Emulator, portal: Portal, chat: dict[str, Any] | None, author: int, text: str,
    *, attach: Any = None, system: bool = False, url_preview: bool = True,
    to_user: int | None = None,
) -> int:
    """Store a message in a chat (or a private dialog when ``chat`` is None)."""
    msg_id = len(portal.messages) + 1
    portal.messages.append({
        "ID": msg_id, "CHAT_ID": chat["ID"] if chat else None,
        "DIALOG_ID": f"chat{chat['ID']}" if chat else str(to_user),
        "AUTHOR_ID": author, "TO_USER_ID": to_user, "MESSAGE": text, "ATTACH": attach,
        "SYSTEM": "Y" if system else "N", "URL_PREVIEW": "Y" if url_preview else "N",
        "DATE": emu.iso(),
    })
    if chat is not None:
        chat["MESSAGE_IDS"].append(msg_id)
    return msg_id


def chat_create(
    emu: Emulator, portal: Portal, owner: int, p: dict[str, Any], system: bool = False
) -> int:
    """A group chat: the creator becomes its owner and first member."""
    users = [owner] + [u for u in _existing(portal, _ids(p.get("USERS"))) if u != owner]
    chat_id = max(portal.chats, default=0) + 1
    title = str(p.get("TITLE") or "").strip()
    if not title:
        names = [f"{portal.users[u]['NAME']} {portal.users[u]['LAST_NAME']}".strip()
                 for u in users if u in portal.users]
        title = "Chat with " + ", ".join(names)
    color = str(p.get("COLOR") or "").upper()
    chat = {
        "ID": chat_id, "TYPE": "OPEN" if str(p.get("TYPE") or "").upper() == "OPEN" else "CHAT",
        "TITLE": title, "DESCRIPTION": str(p.get("DESCRIPTION") or ""),
        "COLOR": color if color in COLORS else COLORS[chat_id % len(COLORS)],
        "AVATAR": str(p.get("AVATAR") or ""), "OWNER": owner,
        "ENTITY_TYPE": str(p.get("ENTITY_TYPE") or "") or None,
        "ENTITY_ID": str(p.get("ENTITY_ID") or "") or None,
        "SYSTEM": system, "USERS": users, "HIDDEN_HISTORY": {}, "MESSAGE_IDS": [],
        "DATE_CREATE": emu.iso(), "CREATED_BY": owner,
    }
    portal.chats[chat_id] = chat
    first = str(p.get("MESSAGE") or "").strip()
    if first:
        post_message(emu, portal, chat, owner, first)
    return chat_id


def chat_view(portal: Portal, chat: dict[str, Any]) -> dict[str, Any]:
    """A chat (UPPER_CASE fields, USERS = members) with its ``messages`` (control API)."""
    out = {k: v for k, v in chat.items() if k != "MESSAGE_IDS"}
    out["USERS"] = list(chat["USERS"])
    out["messages"] = [dict(portal.messages[i - 1]) for i in chat["MESSAGE_IDS"]]
    return out


def _chat_id(p: dict[str, Any]) -> int:
    raw = p.get("CHAT_ID")
    dialog = str(p.get("DIALOG_ID") or "")
    if dialog:
        if not dialog.lower().startswith("chat"):
            raise RestError("DIALOG_ID_EMPTY", "Dialog ID can't be empty", 400)
        raw = dialog[4:]
    try:
        chat_id = int(str(raw or 0).strip() or 0)
    except ValueError:
        chat_id = 0
    if chat_id <= 0:
        raise RestError("CHAT_ID_EMPTY", "Chat ID can't be empty", 400)
    return chat_id


def _chat(ctx: CallContext, chat_id: int, denied: str) -> dict[str, Any]:
    """The chat if the caller may act in it, else ACCESS_ERROR (also for unknown chats)."""
    chat = ctx.portal.chats.get(chat_id)
    if chat is None or ctx.user_id not in chat["USERS"]:
        raise RestError("ACCESS_ERROR", denied, 403)
    return chat


@method("im.chat.add", scope="im")
def chat_add(ctx: CallContext, params: dict[str, Any]) -> int:
    p = up(params)
    users = p.get("USERS")
    if users is not None and not isinstance(users, list | dict | str | int):
        raise RestError("INVALID_FORMAT", "Parameter USERS has wrong type", 400)
    return chat_create(ctx.emu, ctx.portal, ctx.user_id, p)


@method("im.chat.get", scope="im")
def chat_get(ctx: CallContext, params: dict[str, Any]) -> Any:
    """By ENTITY_TYPE + ENTITY_ID → {ID} or null; for CRM only the system discussion chat."""
    p = up(params)
    if p.get("DIALOG_ID"):
        chat = _chat(ctx, _chat_id(p), "You do not have access to the specified dialog")
        return {"id": chat["ID"], "name": chat["TITLE"], "description": chat["DESCRIPTION"],
                "owner": chat["OWNER"], "color": chat["COLOR"], "avatar": chat["AVATAR"],
                "type": "open" if chat["TYPE"] == "OPEN" else "chat",
                "entity_type": chat["ENTITY_TYPE"] or "", "entity_id": chat["ENTITY_ID"] or "",
                "date_create": chat["DATE_CREATE"], "dialog_id": f"chat{chat['ID']}"}
    etype, eid = str(p.get("ENTITY_TYPE") or ""), str(p.get("ENTITY_ID") or "")
    if not etype or not eid:
        return None
    for chat in ctx.portal.chats.values():
        if chat["ENTITY_TYPE"] == etype and chat["ENTITY_ID"] == eid:
            if etype == "CRM" and not chat["SYSTEM"]:
                continue
            return {"ID": chat["ID"]}
    return None


@method("im.chat.user.add", scope="im")
def chat_user_add(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    chat_id = _chat_id(p)
    chat = ctx.portal.chats.get(chat_id)
    if chat is None:
        raise RestError("ACCESS_ERROR", "It is forbidden to add users to this chat", 403)
    new = [u for u in _existing(ctx.portal, _ids(p.get("USERS"))) if u not in chat["USERS"]]
    if ctx.user_id not in chat["USERS"] or not new:
        raise RestError("WRONG_REQUEST", "You don't have access or user already member in chat",
                        400)
    hide = str(p.get("HIDE_HISTORY", "Y")).upper() != "N"
    for u in new:
        chat["USERS"].append(u)
        if hide:
            chat["HIDDEN_HISTORY"][str(u)] = len(ctx.portal.messages)
    return True


def _remove_user(ctx: CallContext, chat_id: int, target: int) -> bool:
    chat = ctx.portal.chats.get(chat_id)
    if chat is None:
        raise RestError("ACCESS_ERROR", "It is forbidden to delete users of this chat", 403)
    if target == chat["OWNER"] and target in chat["USERS"]:
        raise RestError("ACCESS_ERROR", "The chat owner can't leave the chat", 403)
    allowed = ctx.user_id in chat["USERS"] and (target == ctx.user_id
                                                or ctx.user_id == chat["OWNER"])
    if not allowed or target not in chat["USERS"]:
        raise RestError("WRONG_REQUEST", "You don't have access or user isn't member in chat",
                        400)
    chat["USERS"].remove(target)
    return True


@method("im.chat.user.delete", scope="im")
def chat_user_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    chat_id = _chat_id(p)
    try:
        target = int(str(p.get("USER_ID") or 0))
    except ValueError:
        target = 0
    if target <= 0:
        raise RestError("USER_ID_EMPTY", "User ID can't be empty", 400)
    return _remove_user(ctx, chat_id, target)


@method("im.chat.leave", scope="im")
def chat_leave(ctx: CallContext, params: dict[str, Any]) -> bool:
    return _remove_user(ctx, _chat_id(up(params)), ctx.user_id)


@method("im.chat.user.list", scope="im")
def chat_user_list(ctx: CallContext, params: dict[str, Any]) -> list[int]:
    """Member ids, for a member of the chat only.

    api-reference/chats/chat-users/im-chat-user-list.md: "who may call it: a member of the
    chat"; otherwise (or for a chat that does not exist) ACCESS_ERROR "Action unavailable".
    """
    chat = ctx.portal.chats.get(_chat_id(up(params)))
    if chat is None or (ctx.user_id not in chat["USERS"] and chat["TYPE"] != "OPEN"):
        raise RestError("ACCESS_ERROR", "Action unavailable", 403)
    return list(chat["USERS"])


@method("im.chat.setOwner", scope="im")
def chat_set_owner(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    chat_id = _chat_id(p)
    try:
        uid = int(str(p.get("USER_ID") or 0))
    except ValueError:
        uid = 0
    if uid <= 0:
        raise RestError("USER_ID_EMPTY", "User ID can't be empty", 400)
    chat = ctx.portal.chats.get(chat_id)
    if chat is None or chat["OWNER"] != ctx.user_id or uid not in chat["USERS"]:
        raise RestError("WRONG_REQUEST",
                        "Change owner can only owner and user must be member in chat", 400)
    chat["OWNER"] = uid
    return True


@method("im.chat.updateTitle", scope="im")
def chat_update_title(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    chat_id = _chat_id(p)
    title = str(p.get("TITLE") or "").strip()
    if not title:
        raise RestError("TITLE_EMPTY", "Title can't be empty", 400)
    chat = _chat(ctx, chat_id, "This chat cannot be renamed")
    chat["TITLE"] = title
    return True


@method("im.chat.updateColor", scope="im")
def chat_update_color(ctx: CallContext, params: dict[str, Any]) -> bool:
    p = up(params)
    chat_id = _chat_id(p)
    color = str(p.get("COLOR") or "").upper()
    if color not in COLORS:
        raise RestError("WRONG_COLOR", "This color currently unavailable", 400)
    chat = _chat(ctx, chat_id, "Action unavailable")
    if chat["COLOR"] == color:
        raise RestError("WRONG_REQUEST", "This color currently set or chat isn't exists", 400)
    chat["COLOR"] = color
    return True


@method("im.message.add", scope="im")
def message_add(ctx: CallContext, params: dict[str, Any]) -> int:
    """DIALOG_ID ``chat<ID>`` (the author must be a member) or a user id (private)."""
    p = up(params)
    text = p.get("MESSAGE")
    attach = p.get("ATTACH")
    if text is not None and not isinstance(text, str | int | float):
        raise RestError("MESSAGE_EMPTY", "Wrong message type", 400)
    text = "" if text is None else str(text).strip()
    if not text and not attach:
        raise RestError("MESSAGE_EMPTY", "Message can't be empty", 400)
    if attach not in (None, "") and not isinstance(attach, dict | list):
        raise RestError("ATTACH_ERROR", "Incorrect attach params", 400)
    if attach and len(json.dumps(attach, ensure_ascii=False)) > ATTACH_MAX:
        raise RestError("ATTACH_OVERSIZE",
                        "You have exceeded the maximum allowable size of attach", 400)
    dialog = str(p.get("DIALOG_ID") or "").strip()
    system = str(p.get("SYSTEM") or "N").upper() == "Y"
    preview = str(p.get("URL_PREVIEW") or "Y").upper() != "N"
    emu, portal = ctx.emu, ctx.portal
    if dialog.lower().startswith("chat") or p.get("CHAT_ID"):
        chat = _chat(ctx, _chat_id(p), "It is forbidden to send messages to this chat")
        return post_message(emu, portal, chat, ctx.user_id, text, attach=attach or None,
                            system=system, url_preview=preview)
    raw = dialog or str(p.get("USER_ID") or "")
    if not raw:
        raise RestError("PARAMS_ERROR", "Incorrect params", 400)
    try:
        uid = int(raw)
    except ValueError:
        uid = 0
    if uid <= 0:
        raise RestError("USER_ID_EMPTY", "User ID can't be empty", 400)
    if uid not in portal.users:
        raise RestError("USER_NOT_FOUND", "User not found", 400)
    return post_message(emu, portal, None, ctx.user_id, text, attach=attach or None,
                        system=system, url_preview=preview, to_user=uid)

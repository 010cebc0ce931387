"""What the demo pages show, read from a portal's state: names instead of ids, Russian words
for statuses, the portal's own date format. Pure: a Portal in, plain dicts out (the caller
holds the emulator's lock)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..methods.crm import stage_of
from ..methods.im import chat_view

if TYPE_CHECKING:
    from ..state import Portal

DAY_STATUS = {"OPENED": "Рабочий день идёт", "PAUSED": "Перерыв",
              "CLOSED": "Рабочий день завершён", "EXPIRED": "День не завершён вовремя"}
DAY_ACTIONS = (("OPENED", "Начать день"), ("PAUSED", "Перерыв"), ("CLOSED", "Завершить день"))
# what the work-day widget offers in each state: a closed day can only be started, a paused
# one resumed or ended (timeman.open / timeman.pause / timeman.close)
DAY_NEXT = {"CLOSED": ("OPENED",), "OPENED": ("PAUSED", "CLOSED"),
            "PAUSED": ("OPENED", "CLOSED"), "EXPIRED": ("CLOSED",)}


def day_actions(state: str) -> list[tuple[str, str]]:
    """The buttons of one person's work day: (status to set, its label)."""
    labels = dict(DAY_ACTIONS)
    if state == "PAUSED":
        labels["OPENED"] = "Продолжить день"
    return [(s, labels[s]) for s in DAY_NEXT.get(state, tuple(labels))]


def when(stamp: Any) -> str:
    """An ISO time as the portal prints it: 24.08.2023 13:19 (already in the portal's zone)."""
    try:
        return datetime.fromisoformat(str(stamp)).strftime("%d.%m.%Y %H:%M")
    except ValueError:
        return ""


def user_name(portal: Portal, user_id: Any) -> str:
    try:
        user = portal.users.get(int(str(user_id)))
    except ValueError:
        user = None
    if user is None:
        return f"#{user_id}"
    return f"{user['NAME']} {user['LAST_NAME']}".strip()


def people(portal: Portal) -> list[dict[str, Any]]:
    """Every active user with department and work-day state, the admin first."""
    out = []
    for uid, user in sorted(portal.users.items(), key=lambda kv: (not kv[1]["ADMIN"], kv[0])):
        if not user["ACTIVE"]:
            continue
        day = (portal.timeman.get(uid) or {}).get("STATUS", "CLOSED")
        depts = [portal.departments.get(int(d), {}).get("NAME", "") for d in user["UF_DEPARTMENT"]]
        out.append({"id": uid, "name": user_name(portal, uid), "admin": bool(user["ADMIN"]),
                    "position": user["WORK_POSITION"], "department": ", ".join(filter(None, depts)),
                    "day": day, "day_text": DAY_STATUS.get(day, day)})
    return out


def stage_name(portal: Portal, entity: str, row: dict[str, Any]) -> str:
    code, found = stage_of(portal, entity, row)
    return str(found["NAME"]) if found else code


def item_rows(portal: Portal, entity: str, viewer: int) -> list[dict[str, Any]]:
    """Leads or deals the viewer may read, newest first."""
    table = portal.table(entity)
    out = []
    for row_id in reversed(table.ids):
        if not portal.may_read(viewer, entity, row_id):
            continue
        row = table.rows[row_id]
        out.append({"id": row_id, "title": row.get("TITLE") or "",
                    "stage": stage_name(portal, entity, row),
                    "responsible": user_name(portal, row.get("ASSIGNED_BY_ID")),
                    "created": when(row.get("DATE_CREATE"))})
    return out


def deal_facts(portal: Portal, deal: dict[str, Any]) -> list[tuple[str, str]]:
    """The card's fields, labelled as the portal labels them."""
    category = portal.deal_categories.get(int(deal.get("CATEGORY_ID") or 0), {})
    amount = f"{float(deal.get('OPPORTUNITY') or 0):,.2f}".replace(",", " ").replace(".", ",")
    return [("Воронка", category.get("NAME", "")),
            ("Стадия", stage_name(portal, "deal", deal)),
            ("Сумма", f"{amount} {deal.get('CURRENCY_ID') or ''}".strip()),
            ("Ответственный", user_name(portal, deal.get("ASSIGNED_BY_ID"))),
            ("Создана", when(deal.get("DATE_CREATE")))]


def timeline(portal: Portal, entity: str, row_id: int) -> list[dict[str, str]]:
    """The item's timeline comments, newest first."""
    return [{"author": user_name(portal, c["AUTHOR_ID"]), "when": when(c["CREATED"]),
             "text": c["COMMENT"]}
            for c in reversed(portal.timeline)
            if c["ENTITY_TYPE"] == entity and c["ENTITY_ID"] == str(row_id)]


def chats(portal: Portal) -> list[dict[str, Any]]:
    """Group chats with their members' names and messages, newest chat first."""
    out = []
    for chat in reversed(list(portal.chats.values())):
        view = chat_view(portal, chat)
        view["members"] = [user_name(portal, u) for u in view["USERS"]]
        view["entity"] = _chat_entity(view)
        for msg in view["messages"]:
            msg["author"] = user_name(portal, msg["AUTHOR_ID"]) if msg["AUTHOR_ID"] else ""
            msg["when"] = when(msg["DATE"])
        out.append(view)
    return out


def _chat_entity(chat: dict[str, Any]) -> int | None:
    """The deal a CRM chat belongs to (ENTITY_ID "DEAL|12"), if any."""
    kind, _, row = str(chat.get("ENTITY_ID") or "").partition("|")
    return int(row) if kind == "DEAL" and row.isdigit() else None


def deal_chats(portal: Portal, deal_id: int) -> list[dict[str, Any]]:
    return [c for c in chats(portal) if c["entity"] == deal_id]


def robots(portal: Portal, lang: str) -> list[dict[str, Any]]:
    """The app's registered robots with their input properties, named in `lang`."""
    out = []
    for code, robot in portal.app.robots.items():
        props = []
        for key, prop in (robot.get("PROPERTIES") or {}).items():
            props.append({"key": key, "name": localized(prop.get("Name"), lang) or key,
                          "type": str(prop.get("Type") or "string"),
                          "required": str(prop.get("Required") or "N").upper() == "Y",
                          "default": prop.get("Default") or "",
                          "options": prop.get("Options") or {},
                          "description": localized(prop.get("Description"), lang)})
        out.append({"code": code, "name": localized(robot.get("NAME"), lang) or code,
                    "description": localized(robot.get("DESCRIPTION"), lang),
                    "properties": props})
    return out


def localized(value: Any, lang: str) -> str:
    """A robot's text: one string, or {lang: text} as bizproc.robot.add takes it."""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("en") or next(iter(value.values()), ""))
    return str(value or "")

"""The facts a notice's placeholders are filled with, and why a notice failed, in words.

Pure: the item and the names the delivery read come in, `template.Value`s and msgids go out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector import send_words
from connector.crm.port import Item
from connector.i18n import N_, Msg, money, t
from robots.notices.config import DEAL_CREATED, DEAL_LOST, DEAL_STAGE, DEAL_WON, LEAD_CREATED
from robots.notices.template import Value

EVENT_WORDS: Mapping[str, Msg] = {
    DEAL_WON: N_("Deal won"), DEAL_LOST: N_("Deal lost"), DEAL_CREATED: N_("New deal"),
    DEAL_STAGE: N_("Deal moved on"), LEAD_CREATED: N_("New lead")}


def lead_client(item: Item) -> str:
    """A lead's client as its form has it: the company's name, else the person's."""
    f = item.fields
    person = " ".join(str(f.get(k) or "") for k in ("NAME", "LAST_NAME")).strip()
    return str(f.get("COMPANY_TITLE") or "").strip() or person


def values_for(item: Item, event: str, lang: str, link: str,
               names: Mapping[str, str]) -> dict[str, Value]:
    """Every placeholder's value; `names` has "responsible", "client", "stage", "pipeline"
    as the CRM names them ("" when it could not say)."""
    nothing = "—"
    title = item.title or f"#{item.ref.id}"
    amount = money(item.amount, item.currency, lang) if item.currency else str(item.amount)
    client = names.get("client") or (lead_client(item) if item.ref.kind == "lead" else "")
    return {
        "EVENT": Value(t(lang, EVENT_WORDS.get(event, event))),
        "DEAL": Value(title, link), "TITLE": Value(title), "ID": Value(str(item.ref.id)),
        "LINK": Value(link), "AMOUNT": Value(amount),
        "CLIENT": Value(client or nothing),
        "RESPONSIBLE": Value(names.get("responsible") or nothing),
        "STAGE": Value(names.get("stage") or item.stage or nothing),
        "PIPELINE": Value(names.get("pipeline") or nothing),
    }


# why a notice was not sent, for the log and the parked job --------------------------------
NO_DESTINATION: Msg = N_("The rule has nowhere to send: choose a chat, people or a Telegram "
                         "chat in it.")
NOT_CONNECTED: Msg = N_("No Telegram bot is connected: enter the bot's token on this page.")
REVOKED: Msg = N_("Telegram refused the bot's token: enter a new token on this page.")


def why(exc: BaseException) -> tuple[Msg, str]:
    """(msgid, detail) of a failed notice (connector.send_words, with the rule's own kind)."""
    return send_words.why(exc, {"NoDestination": NO_DESTINATION}, NOT_CONNECTED, REVOKED)


def destination_words(rule: Mapping[str, Any]) -> dict[str, Any]:
    """Where a rule sends, for the log: {"kind", "target"}."""
    kind = rule.get("destination")
    target = {"chat": rule.get("chat_id") or "", "people": ", ".join(
        str(u) for u in rule.get("user_ids") or []), "telegram": rule.get("telegram_chat")}
    return {"kind": kind, "target": target.get(str(kind), "")}

"""A CRM item's history in words: what happened to it and what the app did, for its readers.

Capabilities call `JobContext.remember(ref, msgid, **params)` where they finish work
("Folder created", "Files copied to Drive: 3"); the event delivery remembers the event
itself ("Deal created"). Entries keep the English msgid and its placeholders, so each
reader sees them in their own language at render time; a placeholder that is itself a
msgid (`N_()`) is translated too, and a pair (`NP_()`) with its count `n` takes the
reader's plural form. A list per item, capped, expiring with the item's other records.

An entry may carry an `identity`: the same identity for the same item is remembered once,
however many times it is delivered (the offline backup re-delivers events the portal
already sent online; a retried job finishes twice).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connector import capped
from connector.crm.port import ItemRef
from connector.i18n import N_, Msg, Plural, nt, t

HISTORY_LEN = 50
HISTORY_TTL_S = 400 * 24 * 3600
_MSG = "_msg"  # how a placeholder that is a msgid is kept in JSON

# what a delivered event means, per neutral event name. Changes are left out: the portal's
# own timeline says what changed, and most changes a tab would list are the app's own writes
# (the folder's link landing in the deal), which tell a manager nothing
EVENT_WORDS: dict[str, Msg] = {
    "lead.created": N_("Lead created"),
    "deal.created": N_("Deal created"),
    "item.created": N_("Item created"),
}


def history_key(prefix: str, tenant_key: str, kind: str, item_id: int) -> str:
    return f"{prefix}:history:{tenant_key}:{kind}:{item_id}"


def event_identity(event: str, ts: Any) -> str:
    """Who an event delivery is, whichever way it came: an item is created once; a change
    is the event at its own second (online `ts` is unix seconds, an offline record's
    TIMESTAMP_X is ISO 8601: both name the same moment). "" when it cannot be told."""
    if event.endswith(".created"):
        return event
    raw = str(ts or "").strip()
    if not raw:
        return ""
    try:
        second = int(float(raw))
    except ValueError:
        try:
            second = int(datetime.fromisoformat(raw).timestamp())
        except ValueError:
            return ""
    return f"{event}@{second}"


def _keep(value: Any) -> Any:
    return {_MSG: str(value)} if isinstance(value, Msg) else value


def remember(redis: Any, key: str, msgid: str | Plural,
             params: Mapping[str, Any] | None = None, *, identity: str = "",
             now: float | None = None) -> bool:
    """Add an entry to the item's history; False when this identity was remembered already.
    A Plural msgid takes its count from params["n"]."""
    if identity and not redis.sadd(f"{key}:ids", identity):
        return False
    params = {k: _keep(v) for k, v in (params or {}).items()}
    entry: dict[str, Any] = {"ts": time.time() if now is None else now, "params": params}
    if isinstance(msgid, Plural):
        entry |= {"msgid": msgid[0], "plural": msgid[1], "n": int(params.pop("n", 0))}
    else:
        entry["msgid"] = str(msgid)
    with redis.pipeline() as pipe:
        capped.push(pipe, key, entry, HISTORY_LEN, HISTORY_TTL_S)
        pipe.expire(f"{key}:ids", HISTORY_TTL_S)
        pipe.execute()
    return True


def entries(redis: Any, key: str, limit: int = HISTORY_LEN) -> list[dict[str, Any]]:
    """The newest first."""
    return capped.latest(redis, key, limit)


def render(entry: Mapping[str, Any], lang: str) -> str:
    """One entry in `lang`: its msgid translated, msgid placeholders too, counts pluralised."""
    params = {k: t(lang, v[_MSG]) if isinstance(v, dict) and _MSG in v else v
              for k, v in (entry.get("params") or {}).items()}
    try:
        if entry.get("plural"):
            return nt(lang, entry["msgid"], entry["plural"], int(entry.get("n") or 0), **params)
        return t(lang, entry["msgid"], **params)
    except (KeyError, IndexError, ValueError):  # a catalog that lost a placeholder
        return str(entry["msgid"])


def item_label(lang: str, ref: ItemRef) -> str:
    """How people name an item: "lead #12" / "лид №12", "deal #7", "item #3 of type 128"."""
    if ref.kind == "lead":
        return t(lang, N_("lead #{id}"), id=ref.id)
    if ref.kind == "deal":
        return t(lang, N_("deal #{id}"), id=ref.id)
    return t(lang, N_("item #{id} of type {type}"), id=ref.id, type=ref.kind.split(":")[-1])


def kind_label(lang: str, kind: str) -> str:
    """A kind of item as a heading: "Leads", "Deals", "Smart-process items (type 128)"."""
    if kind == "lead":
        return t(lang, N_("Leads"))
    if kind == "deal":
        return t(lang, N_("Deals"))
    return t(lang, N_("Smart-process items (type {type})"), type=kind.split(":")[-1])

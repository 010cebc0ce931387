"""amoCRM account webhooks: the form body (API v2 layout) → neutral records. Pure.

amoCRM POSTs `application/x-www-form-urlencoded` bodies shaped
`{entity: {action: {0: {fields}}}}` (`leads[status][0][id]=…`), several items and actions
per body, the account as `account[id]`, `account[subdomain]`, `account[_links][self]`, and
companies under the `contacts` key with `type=company` (research notes §2.2). Deletions may
come as `{entity: {action: "id"}}`; both shapes are read.

Nothing in a body is trusted beyond the ids: account webhooks carry no signature (§2.4),
so the tenant is named by our destination URL, `account[id]` must agree with it, and the
workers re-read every entity through the API. `extra` keeps only routing hints (status and
pipeline ids, responsible), never field values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

# top-level body key → neutral entity name
ENTITIES = {
    "leads": "lead", "contacts": "contact", "companies": "company", "customers": "customer",
    "task": "task", "tasks": "task", "unsorted": "unsorted", "message": "message",
    "talk": "talk",
}
ACTIONS = frozenset({"add", "update", "delete", "status", "responsible", "restore", "note",
                     "accept", "decline"})
# the only item fields copied into a record's extra: ids that route the job, not data
HINTS = ("status_id", "old_status_id", "pipeline_id", "old_pipeline_id",
         "responsible_user_id", "old_responsible_user_id", "element_id", "element_type",
         "note_type", "chat_id", "talk_id", "contact_id", "entity_id", "entity_type", "type")
_KEY = re.compile(r"^([^\[\]]*)((?:\[[^\[\]]*\])*)$")
MAX_ITEMS = 1000


class WebhookRefused(ValueError):
    """The body is not an amoCRM account webhook for this tenant."""


@dataclass(frozen=True)
class HookRecord:
    """One thing that happened: ("lead", "status", 123, {"status_id": "142", ...})."""

    entity: str
    action: str
    id: int
    extra: dict[str, str] = field(default_factory=dict)

    def key(self) -> tuple[str, str, int]:
        return (self.entity, self.action, self.id)


@dataclass(frozen=True)
class Delivery:
    account_id: int
    subdomain: str
    records: list[HookRecord]


def split_key(key: str) -> list[str]:
    """`leads[status][0][id]` → ["leads", "status", "0", "id"]; a bad key → [key]."""
    m = _KEY.match(key)
    if not m or not m.group(1):
        return [key]
    return [m.group(1), *re.findall(r"\[([^\[\]]*)\]", m.group(2))]


def parse_form(body: bytes | str) -> dict[str, Any]:
    """A PHP-style nested form body as nested dicts (list indices stay string keys)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        parts = split_key(key)
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # `a[]=x` appends
                part = str(len(node))
            if last:
                node[part] = value
                break
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
    return root


def _items(value: Any) -> Iterator[dict[str, Any] | str]:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
        if keys and all(k.isdigit() for k in keys):
            for k in keys:
                yield value[k]
        else:  # a single item not wrapped in [0]
            yield value
    elif isinstance(value, str):
        yield value


def _int(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def _record(entity: str, action: str, item: dict[str, Any] | str) -> HookRecord | None:
    if isinstance(item, str):  # {entity: {delete: "id"}}
        num = _int(item)
        return HookRecord(entity, action, num) if num is not None else None
    src = item
    if action == "note" and isinstance(item.get("note"), dict):
        src = {**item["note"]}
    num = _int(src.get("id"))
    if num is None:
        return None
    if entity == "contact" and str(src.get("type", "")).lower() == "company":
        entity = "company"
    extra = {k: str(src[k]) for k in HINTS if k in src and isinstance(src[k], str)}
    extra.pop("type", None)
    return HookRecord(entity, action, num, extra)


def records(tree: dict[str, Any]) -> list[HookRecord]:
    """Every (entity, action, id) in a parsed body, in body order, duplicates removed."""
    out: list[HookRecord] = []
    seen: set[tuple[str, str, int]] = set()
    for top, actions in tree.items():
        entity = ENTITIES.get(top)
        if entity is None or not isinstance(actions, dict):
            continue
        for action, items in actions.items():
            if action not in ACTIONS:
                continue
            for item in _items(items):
                rec = _record(entity, action, item)
                if rec is None or rec.key() in seen:
                    continue
                seen.add(rec.key())
                out.append(rec)
                if len(out) > MAX_ITEMS:
                    raise WebhookRefused(f"more than {MAX_ITEMS} items in one body")
    return out


def parse_webhook(body: bytes | str, expect_account_id: int | str | None = None) -> Delivery:
    """Parse a delivery and check `account[id]` against the tenant the URL named."""
    tree = parse_form(body)
    account = tree.get("account")
    if not isinstance(account, dict) or _int(account.get("id")) is None:
        raise WebhookRefused("no account[id] in the body")
    account_id = _int(account.get("id"))
    assert account_id is not None
    if expect_account_id is not None and account_id != int(expect_account_id):
        raise WebhookRefused(f"account[id] {account_id} is not this tenant's")
    return Delivery(account_id, str(account.get("subdomain", "")), records(tree))

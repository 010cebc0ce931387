"""Account webhooks: the v2 form bodies amoCRM POSTs and their delivery with retries.

Sources: amocrm.md §2.2–2.3, i.e. https://www.amocrm.ru/developers/content/crm_platform/webhooks-format
("В каком формате отправляются данные", "Обработка ответа от хука", "Ожидаемый ответ") and
amocrm-api-php issues #195 (v2 layout) and #226 (retries on non-2xx).
Deliveries run in a background thread on the emulator's clock: a retry is due when the
clock reaches it, so a test advances the clock and calls `settle()`.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlencode

import requests

from amoemu.state import SINGULAR, Account, State

ANSWER_TIMEOUT = 2.0  # amocrm.md §2.3: "waits at most 2 seconds for the answer"
# amocrm.md §2.3 ("Ожидаемый ответ"): the wait before attempt n+1 after attempt n, and the
# previous statuses that trigger it: 2nd after 5 min and 3rd after 15 min when the previous
# status was 0–99 or ≥300; 4th after 15 min and 5th after 1 h only after 499 or 500–599
RETRIES = {1: 300, 2: 900, 3: 900, 4: 3600}
DISABLE_AFTER = 100  # amocrm.md §2.3: > 100 invalid answers in 2 h and the last invalid
DISABLE_WINDOW = 7200

# amocrm.md §2.2: code → (top key, action); companies share the `contacts` key (the docs
# show it for add/delete; for update/responsible/note it is UNCONFIRMED, amocrm.md §10.7)
ROUTES = {
    "add_lead": ("leads", "add"), "update_lead": ("leads", "update"),
    "status_lead": ("leads", "status"), "responsible_lead": ("leads", "responsible"),
    "delete_lead": ("leads", "delete"), "restore_lead": ("leads", "restore"),
    "note_lead": ("leads", "note"),
    "add_contact": ("contacts", "add"), "update_contact": ("contacts", "update"),
    "delete_contact": ("contacts", "delete"), "responsible_contact": ("contacts", "responsible"),
    "restore_contact": ("contacts", "restore"), "note_contact": ("contacts", "note"),
    "add_company": ("contacts", "add"), "update_company": ("contacts", "update"),
    "delete_company": ("contacts", "delete"), "responsible_company": ("contacts", "responsible"),
    "restore_company": ("contacts", "restore"), "note_company": ("contacts", "note"),
    "add_task": ("task", "add"), "update_task": ("task", "update"),
    "delete_task": ("task", "delete"), "responsible_task": ("task", "responsible"),
}
# v2 element types (amocrm.md §2.2 task hooks carry element_type): 1 contact, 2 lead,
# 3 company; v2 note types (4 common, 25 service message) — UNCONFIRMED for note hooks
ELEMENT_TYPE = {"contacts": 1, "leads": 2, "companies": 3}
NOTE_TYPE_V2 = {"common": 4, "call_in": 10, "call_out": 11, "service_message": 25,
                "sms_in": 102, "sms_out": 103, "attachment": 4}


def _custom_fields(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """v2 `custom_fields[i][id|name|code|values]`: values are plain strings, or
    {value, enum} objects for enum-like fields (amocrm.md §2.2)."""
    out = []
    for cf in obj.get("custom_fields_values") or []:
        values = []
        for v in cf["values"]:
            if v.get("enum_id") is not None:
                values.append({"value": str(v["value"]), "enum": str(v["enum_id"])})
            else:
                val = v["value"]
                values.append({"value": "1" if val is True else "0" if val is False else
                               "" if val is None else str(val) if not isinstance(val, dict)
                               else val})
        item = {"id": str(cf["field_id"]), "name": cf["field_name"], "values": values}
        if cf.get("field_code"):
            item["code"] = cf["field_code"]
        out.append(item)
    return out


def v2_item(acc: Account, code: str, entity: str, obj: dict[str, Any],
            extra: dict[str, Any]) -> dict[str, Any]:
    """One entity in the v2 layout the format page shows (amocrm.md §2.2): `last_modified`,
    `date_create`, `created_user_id`, `modified_user_id`, `custom_fields`; real deliveries
    also carry `created_at`, `updated_at`, `pipeline_id`, `old_pipeline_id`."""
    if code.startswith("note_"):
        note = obj
        return {"note": {"id": str(note["id"]), "note_type": str(
                    NOTE_TYPE_V2.get(note["note_type"], note["note_type"])),
                         "text": str(note["params"].get("text", "")),
                         "element_id": str(note["entity_id"]),
                         "element_type": str(ELEMENT_TYPE[note["entity_type"]]),
                         "date_create": str(note["created_at"]),
                         "created_by": str(note["created_by"]),
                         "main_user_id": str(note["responsible_user_id"]),
                         "account_id": str(acc.id)},
                "account_id": str(acc.id), "type": SINGULAR[note["entity_type"]]}
    if entity == "tasks":
        task = obj
        return {"id": str(task["id"]), "element_id": str(task["entity_id"] or 0),
                "element_type": str(ELEMENT_TYPE.get(task["entity_type"] or "", 0)),
                "task_type": str(task["task_type_id"]), "date_create": str(task["created_at"]),
                "text": task["text"], "status": "1" if task["is_completed"] else "0",
                "action_close": "1" if task["is_completed"] else "0",
                "result": {"text": (task["result"] or {}).get("text", "")}
                if task["result"] else {},
                "responsible_user_id": str(task["responsible_user_id"]),
                "created_user_id": str(task["created_by"]),
                "last_modified": str(task["updated_at"]), "complete_till": str(
                    task["complete_till"]), "account_id": str(acc.id)}
    item: dict[str, Any] = {"id": str(obj["id"]), "name": obj["name"]}
    if code.startswith("delete_"):
        # amocrm.md §2.2: the delete layout is UNCONFIRMED; id (+ the lead's status)
        item = {"id": str(obj["id"])}
        if entity == "leads":
            item.update({"status_id": str(obj["status_id"]),
                         "pipeline_id": str(obj["pipeline_id"])})
        if entity != "leads":
            item["type"] = SINGULAR[entity]
        return item
    if entity == "leads":
        item.update({"status_id": str(obj["status_id"]), "price": str(obj["price"] or 0),
                     "responsible_user_id": str(obj["responsible_user_id"]),
                     "last_modified": str(obj["updated_at"]),
                     "modified_user_id": str(obj["updated_by"]),
                     "created_user_id": str(obj["created_by"]),
                     "date_create": str(obj["created_at"]),
                     "pipeline_id": str(obj["pipeline_id"]), "account_id": str(acc.id),
                     "created_at": str(obj["created_at"]),
                     "updated_at": str(obj["updated_at"])})
        if obj.get("closed_at"):
            item["date_close"] = str(obj["closed_at"])
        if "old_status_id" in extra:
            item["old_status_id"] = str(extra["old_status_id"])
            item["old_pipeline_id"] = str(extra["old_pipeline_id"])
        if obj["contacts"]:
            main = next((c for c, m in obj["contacts"] if m), obj["contacts"][0][0])
            item["main_contact_id"] = str(main)
        if obj["companies"]:
            item["linked_company_id"] = str(obj["companies"][0])
    else:
        # amocrm.md §2.2 "Пример создания контакта/компании": type contact|company,
        # linked_leads_id, linked_company_id, company_name
        item.update({"responsible_user_id": str(obj["responsible_user_id"]),
                     "date_create": str(obj["created_at"]),
                     "last_modified": str(obj["updated_at"]),
                     "created_user_id": str(obj["created_by"]),
                     "modified_user_id": str(obj["updated_by"]),
                     "account_id": str(acc.id), "type": SINGULAR[entity],
                     "created_at": str(obj["created_at"]),
                     "updated_at": str(obj["updated_at"])})
        from amoemu.crm import linked_leads

        leads = linked_leads(acc, entity, obj["id"])
        if leads:
            item["linked_leads_id"] = {str(i): str(i) for i in leads}
        if entity == "contacts" and obj["companies"]:
            company = acc.companies.get(obj["companies"][0])
            item["linked_company_id"] = str(obj["companies"][0])
            item["company_name"] = company["name"] if company else ""
    if "old_responsible_user_id" in extra:
        item["old_responsible_user_id"] = str(extra["old_responsible_user_id"])
    fields = _custom_fields(obj)
    if fields:
        item["custom_fields"] = fields
    tags = [t for t in acc.tags.get(entity, {}).values() if t["id"] in obj.get("tags", [])]
    if tags:
        item["tags"] = [{"id": str(t["id"]), "name": t["name"]} for t in tags]
    return item


def flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    """{entity: {action: {0: {fields…}}}} → `leads[status][0][id]=…` (amocrm.md §2.2)."""
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}[{k}]" if prefix else str(k), v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            flatten(f"{prefix}[{i}]", v, out)
    else:
        out.append((prefix, "" if value is None else str(value)))


def body(acc: Account, items: list[tuple[str, str, dict[str, Any], dict[str, Any]]],
         base_url: str) -> list[tuple[str, str]]:
    """The form pairs of one delivery: every item under its key and action, indexed from 0,
    then `account[subdomain]`, `account[id]`, `account[_links][self]` (amocrm.md §2.2)."""
    grouped: dict[str, dict[str, list[Any]]] = {}
    for code, entity, obj, extra in items:
        key, action = ROUTES[code]
        grouped.setdefault(key, {}).setdefault(action, []).append(
            v2_item(acc, code, entity, obj, extra))
    payload: dict[str, Any] = dict(grouped)
    payload["account"] = {"subdomain": acc.subdomain, "id": str(acc.id),
                          "_links": {"self": f"https://{acc.domain}"}}
    pairs: list[tuple[str, str]] = []
    flatten("", payload, pairs)
    return pairs


class Deliveries:
    """A queue of webhook deliveries, run by a background thread when due on the clock."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.records: list[dict[str, Any]] = []  # one per attempt made
        self.queue: list[dict[str, Any]] = []  # due attempts not yet made
        self.in_flight = 0
        self.cond = threading.Condition(state.lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.http = requests.Session()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="amoemu:hooks",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def enqueue(self, acc: Account, hooks: list[tuple[str, str, dict[str, Any],
                                                      dict[str, Any]]]) -> None:
        """One delivery per subscribed webhook, carrying every item of the change it asked
        for (amocrm.md §2.2: one request can carry several entities/actions)."""
        if not hooks:
            return
        with self.state.lock:
            now = self.state.clock()
            for hook in sorted(acc.webhooks.values(), key=lambda h: (h["sort"], h["id"])):
                if hook["disabled"]:
                    continue
                mine = [h for h in hooks if h[0] in hook["settings"] and h[0] in ROUTES]
                if not mine:
                    continue
                self._seq += 1
                pairs = body(acc, mine, "")
                self.queue.append({"id": self._seq, "account_id": acc.id,
                                   "webhook_id": hook["id"], "url": hook["destination"],
                                   "pairs": pairs, "events": sorted({h[0] for h in mine}),
                                   "attempt": 1, "due_at": now, "created_at": now})
            self.cond.notify_all()

    def _due(self) -> dict[str, Any] | None:
        now = self.state.clock()
        due = [d for d in self.queue if d["due_at"] <= now]
        if not due:
            return None
        job = min(due, key=lambda d: (d["due_at"], d["id"]))
        self.queue.remove(job)
        self.in_flight += 1
        return job

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.state.lock:
                job = self._due()
                if job is None:
                    self.cond.wait(0.02)
                    continue
            try:
                self._attempt(job)
            finally:
                with self.state.lock:
                    self.in_flight -= 1
                    self.cond.notify_all()

    def _attempt(self, job: dict[str, Any]) -> None:
        started_at = self.state.clock()
        t0 = time.monotonic()
        status, error = 0, ""
        try:
            # amocrm.md §2.2: application/x-www-form-urlencoded
            resp = self.http.post(job["url"], data=job["pairs"], timeout=ANSWER_TIMEOUT,
                                  headers={"User-Agent": "amoCRM-Webhooks/3.0"})
            status = resp.status_code
        except requests.Timeout:
            error = "timeout"  # amocrm.md §2.3: no answer in 2 s is an invalid answer
        except requests.RequestException as exc:
            error = type(exc).__name__
        valid = 100 <= status <= 299 and not error  # amocrm.md §2.3
        with self.state.lock:
            acc = self.state.accounts.get(job["account_id"])
            record = {"id": job["id"], "account_id": job["account_id"],
                      "webhook_id": job["webhook_id"], "url": job["url"],
                      "form": list(job["pairs"]),
                      "body": urlencode(job["pairs"]),
                      "events": job["events"], "attempt": job["attempt"], "status": status,
                      "error": error, "valid": valid, "created_at": job["created_at"],
                      "due_at": job["due_at"], "sent_at": started_at,
                      "seconds": round(time.monotonic() - t0, 3)}
            self.records.append(record)
            hook = acc.webhooks.get(job["webhook_id"]) if acc else None
            if hook is None or valid:
                return
            now = self.state.clock()
            hook.setdefault("invalid_at", []).append(now)
            hook["invalid_at"] = [t for t in hook["invalid_at"] if t > now - DISABLE_WINDOW]
            if len(hook["invalid_at"]) > DISABLE_AFTER:
                hook["disabled"] = True  # amocrm.md §2.3: auto-disable
                return
            n = job["attempt"]
            again = (n in (1, 2) and (status < 100 or status >= 300)) or \
                (n in (3, 4) and (status == 499 or 500 <= status <= 599))
            if again:
                self.queue.append({**job, "attempt": n + 1, "due_at": now + RETRIES[n]})
                self.cond.notify_all()

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until no delivery is due on the clock and none is running."""
        end = time.monotonic() + timeout
        with self.state.lock:
            while True:
                now = self.state.clock()
                busy = self.in_flight or any(d["due_at"] <= now for d in self.queue)
                if not busy:
                    return True
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.notify_all()
                self.cond.wait(min(left, 0.05))

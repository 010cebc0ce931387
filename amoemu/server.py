"""`AmoEmulator`: amoCRM / Kommo served over real HTTP on loopback, plus a Python API for
tests (accounts, consent, tokens, the disable hook, widget tokens, DP and Salesbot calls,
user actions that fire webhooks, deliveries, limits, faults)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from amoemu import crm
from amoemu.app import Api
from amoemu.hooks import Deliveries
from amoemu.state import ENTITIES, SINGULAR, WIDGET_TTL, Account, ApiError, Fault, State, uuid4


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def app_env(url: str) -> dict[str, str]:
    """The environment that points crm-connector's amoCRM client at an emulator on url."""
    return {"AMOCRM_URL_TEMPLATE": url.rstrip("/") + "/{domain}"}


class AmoEmulator:
    """A local amoCRM for tests and `./dev up`; one integration (client_id), many accounts."""

    def __init__(self, client_id: str = "amoemu-client-id",
                 client_secret: str = "amoemu-client-secret-" + "0" * 42,
                 redirect_uri: str = "http://127.0.0.1:8000/amocrm/oauth",
                 disable_hook_url: str = "", host: str = "127.0.0.1", port: int = 0,
                 demo: bool = False, clock: Callable[[], float] | None = None) -> None:
        self.host, self.port = host, port
        self.state = State(client_id, client_secret, redirect_uri, disable_hook_url,
                           clock or time.time)
        self.hooks = Deliveries(self.state)
        self.app = Api(self)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.http = requests.Session()
        if demo:
            from amoemu.demo import seed

            seed(self)

    # lifecycle ------------------------------------------------------------------------
    def _make(self) -> None:
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=_QuietHandler)
        self.port = self._server.server_port

    def start(self) -> AmoEmulator:
        self._make()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"amoemu:{self.port}", daemon=True)
        self._thread.start()
        self.hooks.start()
        return self

    def stop(self) -> None:
        self.hooks.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        self._make()
        assert self._server is not None
        self.hooks.start()
        try:
            self._server.serve_forever()
        finally:
            self.hooks.stop()
            self._server.server_close()

    def __enter__(self) -> AmoEmulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url_of(self, req: Any, host: str) -> str:
        base = req.host_url.rstrip("/") if req is not None else self.url
        return f"{base}/{host}"

    @property
    def clock(self) -> Callable[[], float]:
        return self.state.clock

    @clock.setter
    def clock(self, fn: Callable[[], float]) -> None:
        self.state.clock = fn

    # set-up ---------------------------------------------------------------------------
    def add_account(self, subdomain: str, zone: str = "amocrm.ru", name: str = "",
                    users: list[tuple[str, str, bool]] | None = None) -> Account:
        return self.state.add_account(subdomain, zone, name, users)

    def account(self, account_id: int) -> Account:
        return self.state.account(account_id)

    def add_user(self, account_id: int, name: str, email: str = "", is_admin: bool = False,
                 is_free: bool = False, is_active: bool = True, group_id: int = 0) -> Any:
        return self.state.add_user(self.account(account_id), name, email, is_admin, is_free,
                                   is_active, group_id)

    def add_pipeline(self, account_id: int, name: str, stages: list[str],
                     is_main: bool = False) -> dict[str, Any]:
        return self.state.add_pipeline(self.account(account_id), name, stages, is_main)

    def add_field(self, account_id: int, entity: str, name: str, type_: str,
                  code: str | None = None, enums: list[str] | None = None) -> dict[str, Any]:
        return self.state.add_field(self.account(account_id), entity, name, type_, code, enums)

    def set_paid(self, account_id: int, paid: bool) -> None:
        """amocrm.md §5: an ended subscription → 402 on add/change (and on events)."""
        with self.state.lock:
            self.account(account_id).paid = paid

    def limits(self, **values: Any) -> None:
        """Change the limiter (rate, block_after, block_window, enabled); see state.Limits."""
        with self.state.lock:
            for name, value in values.items():
                setattr(self.state.limits, name, value)

    # OAuth (amocrm.md §1) -----------------------------------------------------------
    def authorize(self, account_id: int, state: str | None = None, deliver: bool = False,
                  user_id: int | None = None) -> dict[str, Any]:
        """The admin pressed "Разрешить": {"code","referer","platform","state"} (§1.2);
        deliver=True GETs redirect_uri?code=…&referer=…&platform=…&state=…"""
        acc = self.account(account_id)
        code = self.state.issue_code(acc, user_id)
        grant: dict[str, Any] = {"code": code, "referer": acc.domain,
                                 "platform": str(acc.platform)}
        if state is not None:
            grant["state"] = state
        if deliver:
            sep = "&" if "?" in self.state.redirect_uri else "?"
            resp = self.http.get(self.state.redirect_uri + sep + urlencode(grant),
                                 timeout=10, allow_redirects=False)
            grant = {**grant, "delivered_status": resp.status_code}
        return grant

    def long_lived_token(self, account_id: int, days: int = 365,
                         user_id: int | None = None) -> str:
        """amocrm.md §1.4: 1 day to 5 years, no refresh token, the creating admin's rights."""
        if not 1 <= days <= 5 * 366:
            raise ValueError("a long-lived token lasts from 1 day to 5 years (amocrm.md §1.4)")
        acc = self.account(account_id)
        with self.state.lock:
            acc.integration_enabled = True
            out = self.state.issue_tokens(acc, user_id or acc.admin_id, "long_lived",
                                          days * 86400)
        return str(out["access_token"])

    def widget_token(self, account_id: int, user_id: int | None = None,
                     ttl: int = WIDGET_TTL) -> str:
        """The X-Auth-Token of $authorizedAjax (amocrm.md §1.6): HS256 with the client
        secret; iss, aud (scheme+host of redirect_uri), jti, iat, nbf, exp, account_id,
        user_id, client_uuid, subdomain (+ is_admin, read by the SDK)."""
        acc = self.account(account_id)
        uid = user_id or acc.admin_id
        user = acc.user(uid)
        now = self.state.now()
        parts = urlsplit(self.state.redirect_uri)
        claims = {"iss": f"https://{acc.domain}", "aud": f"{parts.scheme}://{parts.netloc}",
                  "jti": uuid4(), "iat": now, "nbf": now, "exp": now + ttl,
                  "account_id": acc.id, "user_id": uid, "client_uuid": self.state.client_id,
                  "subdomain": acc.subdomain, "is_admin": bool(user and user.is_admin)}
        return jwt.encode(claims, self.state.client_secret, algorithm="HS256")

    def disable(self, account_id: int) -> int | None:
        """The admin switched the integration off (amocrm.md §1.5): tokens revoked, then
        GET disable_hook_url?account_id=…&client_uuid=…&signature=… where signature is
        HMAC-SHA256 hex of "client_uuid|account_id" keyed with the client secret.
        Returns the hook's HTTP status (None without a hook URL or on no answer)."""
        acc = self.account(account_id)
        self.state.revoke_all(acc)
        url = self.state.disable_hook_url
        if not url:
            return None
        cid = self.state.client_id
        sig = hmac.new(self.state.client_secret.encode(), f"{cid}|{acc.id}".encode(),
                       hashlib.sha256).hexdigest()
        params = {"account_id": str(acc.id), "client_uuid": cid, "signature": sig}
        full = url + ("&" if "?" in url else "?") + urlencode(params)
        status: int | None = None
        try:
            status = self.http.get(full, timeout=10).status_code
        except requests.RequestException:
            status = None
        with self.state.lock:
            self.state.disable_calls.append({"account_id": acc.id, "url": full,
                                             "params": params, "status": status})
        return status

    # digital pipeline and Salesbot (amocrm.md §3) --------------------------------------
    def dp_body(self, account_id: int, lead_id: int, settings: dict[str, Any],
                event_type: int = 15, direction: str = "went_to_trigger",
                element_type: int = 2) -> dict[str, Any]:
        """amocrm.md §3.1 (https://amocrm.ru/developers/content/digital_pipeline/integrations):
        {"event": {"type", "type_code", "data": {...}, "time"}, "action": {"settings":
        {"widget": {"settings": …}}}, "subdomain", "account_id"}"""
        codes = {1: "lead_added", 14: "lead_status_changed", 15: "lead_appeared_in_status",
                 16: "mail_in", 17: "call_in", 18: "site_visit", 19: "chat",
                 20: "customer_added", 21: "customer_period_changed",
                 22: "customer_appeared_in_period"}
        acc = self.account(account_id)
        with self.state.lock:
            lead = acc.leads.get(lead_id)
            if lead is None:
                raise KeyError(f"no lead {lead_id}")
            data: dict[str, Any] = {"id": lead_id, "element_type": element_type,
                                    "status_id": lead["status_id"],
                                    "pipeline_id": lead["pipeline_id"]}
            if element_type == 2:  # direction_of_movement only for leads
                data["direction_of_movement"] = direction
            return {"event": {"type": event_type, "type_code": codes.get(event_type, ""),
                              "data": data, "time": self.state.now()},
                    "action": {"settings": {"widget": {"settings": copy.deepcopy(settings)}}},
                    "subdomain": acc.subdomain, "account_id": acc.id}

    def run_dp_action(self, account_id: int, lead_id: int, settings: dict[str, Any],
                      webhook_url: str, **kw: Any) -> tuple[int, str]:
        """POST the DP widget body (JSON; the content type is UNCONFIRMED, amocrm.md §10.10)
        to the widget's webhook_url; returns (status, body)."""
        body = self.dp_body(account_id, lead_id, settings, **kw)
        try:
            resp = self.http.post(webhook_url, json=body, timeout=10)
            out = (resp.status_code, resp.text)
        except requests.RequestException as exc:
            out = (0, type(exc).__name__)
        with self.state.lock:
            self.state.dp_calls.append({"account_id": account_id, "url": webhook_url,
                                        "body": body, "status": out[0], "answer": out[1]})
        return out

    def salesbot_request(self, account_id: int, entity_id: int, url: str,
                         data: dict[str, Any] | None = None, entity_type: int = 2,
                         bot_id: int | None = None) -> tuple[int, str, str]:
        """Salesbot's widget_request (amocrm.md §3.2): POST {"token", "data", "return_url"};
        the JWT is signed with the client secret, HS512 as the SDK verifies it (the doc
        names no algorithm); returns (status, body, return_url). The bot then waits for
        POST /api/v4/salesbot/{bot}/continue/{id}."""
        acc = self.account(account_id)
        with self.state.lock:
            bot = bot_id or self.state.next_id("bot")
            cid = self.state.next_id("continue")
            acc.salesbot_waiting[(bot, cid)] = {"entity_id": entity_id,
                                                "entity_type": entity_type}
            now = self.state.now()
        parts = urlsplit(self.state.redirect_uri)
        token = jwt.encode({"iss": f"https://{acc.domain}",
                            "aud": f"{parts.scheme}://{parts.netloc}", "jti": uuid4(),
                            "iat": now, "nbf": now, "exp": now + WIDGET_TTL,
                            "account_id": acc.id, "subdomain": acc.subdomain,
                            "entity_id": entity_id, "entity_type": entity_type,
                            "client_uuid": self.state.client_id, "bot_type": "salesbot"},
                           self.state.client_secret, algorithm="HS512")
        return_url = f"{self.url}/{acc.domain}/api/v4/salesbot/{bot}/continue/{cid}"
        try:
            resp = self.http.post(url, json={"token": token, "data": data or {},
                                             "return_url": return_url}, timeout=2)
            return resp.status_code, resp.text, return_url
        except requests.RequestException as exc:
            return 0, type(exc).__name__, return_url

    def salesbot_continued(self, account_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return copy.deepcopy(self.account(account_id).salesbot_continued)

    # user actions (fire the account's webhooks) ---------------------------------------
    def _as_user(self, acc: Account, user_id: int | None) -> int:
        return user_id or acc.admin_id

    def _apply(self, account_id: int, entity: str, fields: dict[str, Any],
               obj_id: int | None, user_id: int | None) -> dict[str, Any]:
        acc = self.account(account_id)
        with self.state.lock:
            existing = acc.store(entity).get(obj_id) if obj_id is not None else None
            if obj_id is not None and existing is None:
                raise KeyError(f"no {SINGULAR[entity]} {obj_id}")
            obj, errors, hooks = crm.apply(self.state, acc, entity, fields,
                                           self._as_user(acc, user_id), existing)
            if errors:
                raise ApiError(400, "Bad Request", str(errors))
            self.hooks.enqueue(acc, hooks)
            return copy.deepcopy(obj) if obj else {}

    def create_lead(self, account_id: int, user_id: int | None = None,
                    **fields: Any) -> dict[str, Any]:
        """A lead added in the UI: API v4 fields (name, price, status_id, pipeline_id,
        responsible_user_id, custom_fields_values, _embedded); fires add_lead."""
        return self._apply(account_id, "leads", fields, None, user_id)

    def update_lead(self, account_id: int, lead_id: int, user_id: int | None = None,
                    **fields: Any) -> dict[str, Any]:
        return self._apply(account_id, "leads", fields, lead_id, user_id)

    def move_lead(self, account_id: int, lead_id: int, status_id: int,
                  pipeline_id: int | None = None, user_id: int | None = None) -> dict[str, Any]:
        """A manager drags the lead to a stage: status_lead + update_lead, an event."""
        fields: dict[str, Any] = {"status_id": status_id}
        if pipeline_id is not None:
            fields["pipeline_id"] = pipeline_id
        return self._apply(account_id, "leads", fields, lead_id, user_id)

    def create_contact(self, account_id: int, user_id: int | None = None,
                       phone: str | None = None, email: str | None = None,
                       **fields: Any) -> dict[str, Any]:
        cfv = list(fields.pop("custom_fields_values", []) or [])
        if phone:
            cfv.append({"field_code": "PHONE", "values": [{"value": phone, "enum_code": "WORK"}]})
        if email:
            cfv.append({"field_code": "EMAIL", "values": [{"value": email, "enum_code": "WORK"}]})
        if cfv:
            fields["custom_fields_values"] = cfv
        return self._apply(account_id, "contacts", fields, None, user_id)

    def update_contact(self, account_id: int, contact_id: int, user_id: int | None = None,
                       **fields: Any) -> dict[str, Any]:
        return self._apply(account_id, "contacts", fields, contact_id, user_id)

    def create_company(self, account_id: int, user_id: int | None = None,
                       **fields: Any) -> dict[str, Any]:
        return self._apply(account_id, "companies", fields, None, user_id)

    def delete(self, account_id: int, entity: str, obj_id: int,
               user_id: int | None = None) -> None:
        acc = self.account(account_id)
        with self.state.lock:
            self.hooks.enqueue(acc, crm.delete(self.state, acc, entity, obj_id,
                                               self._as_user(acc, user_id)))

    def add_note(self, account_id: int, entity: str, entity_id: int, text: str = "",
                 note_type: str = "common", params: dict[str, Any] | None = None,
                 user_id: int | None = None) -> dict[str, Any]:
        acc = self.account(account_id)
        with self.state.lock:
            item = {"note_type": note_type, "params": params or {"text": text}}
            note, errors = crm.add_note(self.state, acc, entity, item,
                                        self._as_user(acc, user_id), entity_id)
            if errors or note is None:
                raise ApiError(400, "Bad Request", str(errors))
            self.hooks.enqueue(acc, [(f"note_{SINGULAR[entity]}", entity, dict(note), {})])
            return copy.deepcopy(note)

    def add_task(self, account_id: int, user_id: int | None = None,
                 **fields: Any) -> dict[str, Any]:
        acc = self.account(account_id)
        with self.state.lock:
            task, errors = crm.apply_task(self.state, acc, fields,
                                          self._as_user(acc, user_id), None)
            if errors or task is None:
                raise ApiError(400, "Bad Request", str(errors))
            self.hooks.enqueue(acc, [("add_task", "tasks", dict(task), {})])
            return copy.deepcopy(task)

    def upload_file(self, account_id: int, name: str, content: bytes,
                    content_type: str = "application/octet-stream",
                    user_id: int | None = None, file_uuid: str | None = None
                    ) -> dict[str, Any]:
        """A file put in the account's Files section (e.g. from a chat); with `file_uuid`
        a new version of that file, which becomes its active one (amocrm.md §4.10: an
        upload session with `file_uuid`)."""
        from amoemu.drive import file_model, store_file

        acc = self.account(account_id)
        f = store_file(self, acc.id, self._as_user(acc, user_id), name, content, content_type,
                       file_uuid)
        return file_model(self, f"{self.url}/{acc.drive_domain}", f)

    def link_file(self, account_id: int, entity: str, entity_id: int, file_uuid: str) -> None:
        acc = self.account(account_id)
        with self.state.lock:
            linked = acc.entity_files.setdefault((entity, entity_id), [])
            if not any(r["file_uuid"] == file_uuid for r in linked):
                linked.append({"file_uuid": file_uuid, "id": self.state.next_id("file")})

    # reads for assertions -----------------------------------------------------------
    def _get(self, account_id: int, entity: str, obj_id: int) -> dict[str, Any] | None:
        with self.state.lock:
            obj = self.account(account_id).store(entity).get(obj_id)
            return copy.deepcopy(obj) if obj else None

    def lead(self, account_id: int, lead_id: int) -> dict[str, Any] | None:
        return self._get(account_id, "leads", lead_id)

    def contact(self, account_id: int, contact_id: int) -> dict[str, Any] | None:
        return self._get(account_id, "contacts", contact_id)

    def company(self, account_id: int, company_id: int) -> dict[str, Any] | None:
        return self._get(account_id, "companies", company_id)

    def leads(self, account_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return copy.deepcopy(list(self.account(account_id).leads.values()))

    def notes(self, account_id: int, entity: str | None = None,
              entity_id: int | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            return [copy.deepcopy(n) for n in self.account(account_id).notes.values()
                    if (entity is None or n["entity_type"] == entity) and
                    (entity_id is None or n["entity_id"] == entity_id)]

    def tasks(self, account_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return copy.deepcopy(list(self.account(account_id).tasks.values()))

    def events(self, account_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return copy.deepcopy(self.account(account_id).events)

    def webhooks(self, account_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return copy.deepcopy(list(self.account(account_id).webhooks.values()))

    def file(self, file_uuid: str) -> dict[str, Any] | None:
        with self.state.lock:
            f = self.state.files.get(file_uuid)
            return copy.deepcopy(f) if f else None

    def entity_files(self, account_id: int, entity: str, entity_id: int) -> list[str]:
        with self.state.lock:
            return [r["file_uuid"] for r in
                    self.account(account_id).entity_files.get((entity, entity_id), [])]

    # deliveries, limits, faults ------------------------------------------------------
    def deliveries(self, account_id: int | None = None) -> list[dict[str, Any]]:
        """Webhook attempts made so far: url, form (pairs), body (encoded), status,
        attempt, created_at / due_at / sent_at on the emulator's clock."""
        with self.state.lock:
            return [copy.deepcopy(r) for r in self.hooks.records
                    if account_id is None or r["account_id"] == account_id]

    def pending(self, account_id: int | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            return [copy.deepcopy(d) for d in self.hooks.queue
                    if account_id is None or d["account_id"] == account_id]

    def settle(self, timeout: float = 10) -> bool:
        """Wait until every delivery due on the clock is done."""
        return self.hooks.settle(timeout)

    def stats(self, account_id: int) -> dict[str, Any]:
        with self.state.lock:
            acc = self.account(account_id)
            return {"requests": acc.requests, "by_path": dict(acc.by_path),
                    "limited_429": acc.limited_429, "blocked": acc.blocked,
                    "max_in_one_second": acc.max_in_one_second}

    def fault(self, account_id: int, method: str = "", path: str = ".*", status: int = 500,
              count: int = 1, body: Any = None) -> None:
        """The next `count` calls matching method and the path regex (relative to the
        account's host, e.g. r"^/api/v4/leads") answer `status` (problem+json by default;
        429/403 the gateway's HTML page)."""
        with self.state.lock:
            self.state.faults.setdefault(self.account(account_id).id, []).append(
                Fault(count, method.upper(), path, status, body))

    def block(self, account_id: int) -> None:
        """amocrm.md §5: the account's API blocked — every call 403 (nginx HTML)."""
        with self.state.lock:
            self.account(account_id).blocked = True

    def unblock(self, account_id: int) -> None:
        with self.state.lock:
            acc = self.account(account_id)
            acc.blocked = False
            acc.limited_at.clear()
            acc.hits.clear()


__all__ = ["ENTITIES", "AmoEmulator", "app_env"]

"""The emulator's brain: portals, the OAuth token chains, events and the app lifecycle."""

from __future__ import annotations

import collections
import logging
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

from .delivery import Deliverer
from .errors import RestError
from .state import (
    EmulatorConfig,
    OfflineEvent,
    Portal,
    RobotRun,
    TokenRecord,
    new_hex,
)

log = logging.getLogger("emulator")

INSTALL_FINISH_RE = re.compile(r"installFinish\s*\(")
PORTAL_TZ = timezone(timedelta(hours=3))


def event_scope(event: str) -> str:
    """The scope an event belongs to (what its ``auth[scope]`` says)."""
    for prefix, scope in (("ONCRM", "crm"), ("ONTASK", "task"), ("ONIM", "im"),
                          ("ONUSER", "user"), ("ONCALENDAR", "calendar")):
        if event.startswith(prefix):
            return scope
    return ""


class Emulator:
    """All state of the emulated platform (OAuth server + any number of portals)."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        seed: bool = True,
        clock: Any = time.time,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.clock = clock
        self.lock = threading.RLock()
        self.portals: dict[str, Portal] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.refresh_index: dict[str, TokenRecord] = {}
        self._event_tokens: dict[tuple[str, int], TokenRecord] = {}
        self.robot_runs: dict[str, RobotRun] = {}
        self.orphan_event_sends: list[dict[str, Any]] = []
        self.deliverer = Deliverer(self.config.delivery_timeout)
        self.request_log: collections.deque[dict[str, Any]] = collections.deque(maxlen=50000)
        self._log_n = 0
        self.faults: list[dict[str, Any]] = []
        self.latency: list[dict[str, Any]] = []
        # download faults (control API): status / abort_after_bytes / throttle_bytes_per_s
        self.download_faults: list[dict[str, Any]] = []
        self.base_url: str | None = None
        self.reset_stats()
        from .seed import seed_demo, seed_structure

        portal = self.create_portal("demo.bitrix24.test")
        if seed:
            seed_demo(self, portal)
        else:
            seed_structure(self, portal)
        self.default_member_id = portal.member_id

    # ----------------------------------------------------------------- basics
    def now(self) -> float:
        return float(self.clock())

    def iso(self, ts: float | None = None) -> str:
        """Bitrix-style datetime: ISO 8601 with the portal's UTC offset."""
        value = self.now() if ts is None else ts
        return datetime.fromtimestamp(value, PORTAL_TZ).replace(microsecond=0).isoformat()

    @property
    def url(self) -> str:
        return (self.config.public_url or self.base_url or "http://127.0.0.1").rstrip("/")

    @property
    def client_endpoint(self) -> str:
        return self.url + "/rest/"

    def endpoint_for(self, portal: Portal) -> str:
        """The portal's REST address: the emulator's own, or where a rename moved it."""
        return (portal.rest_base or self.url).rstrip("/") + "/rest/"

    def rename(self, member_id: str | None, domain: str, host: str | None = None
               ) -> dict[str, Any]:
        """The admin changes the portal's address (settings/how-to-call-rest-api/change-domen.md).

        REST calls at the old address then answer 302 to the new one. `host` is where the
        new address is served (it must reach this emulator); by default the other spelling of
        loopback (127.0.0.1 <-> localhost) on the same port.
        """
        portal = self.portal(member_id)
        with self.lock:
            old = urlsplit(self.endpoint_for(portal))
            if not host:
                name, _, port = old.netloc.partition(":")
                swapped = "localhost" if name == "127.0.0.1" else "127.0.0.1"
                host = f"{swapped}:{port}" if port else swapped
            portal.old_rest_hosts.add(old.netloc)
            portal.old_rest_hosts.discard(host)
            portal.rest_base = f"{old.scheme}://{host}"
            portal.domain = domain or host
            return {"member_id": portal.member_id, "domain": portal.domain,
                    "client_endpoint": self.endpoint_for(portal),
                    "old_hosts": sorted(portal.old_rest_hosts)}

    def moved_to(self, token: str | None, host: str) -> str | None:
        """The new REST base if `host` is an old address of the token's portal, else None.

        A real portal redirects whatever the token; the emulator serves every portal on one
        host, so it tells them apart by the token.
        """
        with self.lock:
            rec = self.tokens.get(token or "")
            portal = self.portals.get(rec.member_id) if rec else None
            if portal is None or host not in portal.old_rest_hosts:
                return None
            return portal.rest_base

    def serves(self, token: str | None, host: str) -> bool:
        """Whether the portal at `host` knows `token`: a token is a credential of its own
        portal only (another portal answers NO_AUTH_FOUND, _includes/system-errors.md).

        Portals that keep the emulator's own address share it and cannot be told apart by
        host; a portal with its own address (created with one, or renamed) can.
        """
        with self.lock:
            rec = self.tokens.get(token or "")
            portal = self.portals.get(rec.member_id) if rec else None
            if portal is None:
                return True  # unknown token: check_access refuses it anyway
            if portal.rest_base:
                return urlsplit(portal.rest_base).netloc == host
            return not any(urlsplit(p.rest_base).netloc == host
                           for p in self.portals.values() if p.rest_base)

    @property
    def oauth_server(self) -> str:
        return self.url + "/oauth-server"

    @property
    def server_endpoint(self) -> str:
        return self.oauth_server + "/rest/"

    @property
    def oauth_domain(self) -> str:
        return urlsplit(self.url).netloc or "oauth.bitrix.info"

    def reset_stats(self) -> None:
        self.stats: dict[str, Any] = {
            "requests": 0,
            "requests_accepted": 0,
            "by_method": collections.Counter(),
            "http_by_method": collections.Counter(),
            "token_calls": 0,
            "query_limit_exceeded": 0,
            "operation_time_limit": 0,
        }
        self._deliveries_base = len(self.deliverer.records) if hasattr(self, "deliverer") else 0

    def stats_snapshot(self) -> dict[str, Any]:
        with self.lock:
            out = dict(self.stats)
            out["by_method"] = dict(self.stats["by_method"])
            out["http_by_method"] = dict(self.stats["http_by_method"])
            out["deliveries"] = len(self.deliverer.records) - self._deliveries_base
            return out

    def add_log(self, **entry: Any) -> None:
        with self.lock:
            self._log_n += 1
            entry["n"] = self._log_n
            entry.setdefault("ts", self.now())
            self.request_log.append(entry)

    def portal(self, member_id: str | None = None) -> Portal:
        with self.lock:
            mid = member_id or self.default_member_id
            if mid not in self.portals:
                raise RestError("PORTAL_NOT_FOUND", f"No portal {mid}", 404)
            return self.portals[mid]

    def create_portal(self, domain: str | None = None, seed: bool = False,
                      host: str | None = None) -> Portal:
        """A new portal; with `host` (e.g. "localhost:<port>", which must reach this emulator)
        it has an address of its own, so tokens of other portals are refused there."""
        from .seed import seed_demo, seed_structure

        with self.lock:
            member_id = new_hex(16)
            domain = domain or f"portal{len(self.portals) + 1}.bitrix24.test"
            portal = Portal(member_id=member_id, domain=domain)
            if host:
                portal.rest_base = f"{urlsplit(self.url).scheme}://{host}"
            portal.app.version = self.config.app_version
            self.portals[member_id] = portal
            if hasattr(self, "default_member_id"):
                (seed_demo if seed else seed_structure)(self, portal)
            return portal

    def close(self) -> None:
        self.deliverer.close()
        store = getattr(self, "_blob_store", None)
        if store is not None:
            store.close()

    # ----------------------------------------------------------------- tokens
    def scope_string(self, sep: str = ",") -> str:
        return sep.join(self.config.scope_list())

    def issue_tokens(self, portal: Portal, user_id: int | None = None) -> TokenRecord:
        """Start a new token chain for a user of the portal."""
        with self.lock:
            rec = TokenRecord(
                access_token=new_hex(32),
                refresh_token=new_hex(32),
                member_id=portal.member_id,
                user_id=int(user_id or portal.admin_user_id),
                expires_at=self.now() + self.config.token_ttl,
                scope=self.scope_string(),
            )
            self.tokens[rec.access_token] = rec
            self.refresh_index[rec.refresh_token] = rec
            return rec

    def token_response(self, rec: TokenRecord) -> dict[str, Any]:
        portal = self.portals.get(rec.member_id)
        return {
            "access_token": rec.access_token,
            "expires": int(rec.expires_at),
            "expires_in": int(self.config.token_ttl),
            "scope": rec.scope,
            "domain": self.oauth_domain,
            "server_endpoint": self.server_endpoint,
            "status": "L",
            "client_endpoint": self.endpoint_for(portal) if portal else self.client_endpoint,
            "member_id": rec.member_id,
            "user_id": rec.user_id,
            "refresh_token": rec.refresh_token,
        }

    def refresh(self, params: dict[str, Any]) -> TokenRecord:
        """``grant_type=refresh_token``: single use; the old pair dies with it."""
        grant = str(params.get("grant_type") or "")
        with self.lock:
            self.stats["token_calls"] += 1
            if grant not in ("refresh_token", "authorization_code"):
                raise RestError("invalid_request", "Unsupported grant_type", 400)
            if (
                params.get("client_id") != self.config.client_id
                or params.get("client_secret") != self.config.client_secret
            ):
                raise RestError("invalid_client", "Invalid client credentials", 401)
            if grant == "authorization_code":
                raise RestError("invalid_grant", "Invalid authorization code", 400)
            old = self.refresh_index.get(str(params.get("refresh_token") or ""))
            if old is None or old.refresh_used or old.revoked:
                raise RestError("invalid_grant", "Invalid refresh token", 400)
            portal = self.portals.get(old.member_id)
            if portal is None or not portal.app.registered:
                raise RestError("invalid_client", "Application not installed", 401)
            old.refresh_used = True
            old.active = False
            return self.issue_tokens(portal, old.user_id)

    def check_access(self, token: str | None) -> TokenRecord:
        """Resolve an access token the way the REST gateway does."""
        if not token:
            raise RestError("NO_AUTH_FOUND")
        with self.lock:
            rec = self.tokens.get(token)
            if rec is None or rec.revoked:
                raise RestError("NO_AUTH_FOUND")
            if not rec.active or rec.expires_at <= self.now():
                raise RestError("expired_token")
            return rec

    def expire_tokens(self, member_id: str | None = None) -> int:
        with self.lock:
            n = 0
            past = self.now() - 1
            for rec in self.tokens.values():
                if member_id and rec.member_id != member_id:
                    continue
                if rec.expires_at > past:
                    rec.expires_at = past
                    n += 1
            return n

    def revoke_tokens(self, member_id: str) -> None:
        with self.lock:
            for rec in self.tokens.values():
                if rec.member_id == member_id:
                    rec.revoked = True
            for key in [k for k in self._event_tokens if k[0] == member_id]:
                del self._event_tokens[key]

    def _event_token(self, portal: Portal, user_id: int) -> TokenRecord:
        """Tokens attached to event deliveries: reused per user while fresh enough."""
        key = (portal.member_id, user_id)
        rec = self._event_tokens.get(key)
        if (
            rec is None
            or not rec.active
            or rec.revoked
            or rec.expires_at - self.now() < self.config.token_ttl / 2
        ):
            rec = self.issue_tokens(portal, user_id)
            self._event_tokens[key] = rec
        return rec

    def auth_block(
        self,
        portal: Portal,
        rec: TokenRecord | None,
        *,
        refresh: bool = False,
        scope_sep: str = ",",
        scope: str | None = None,
    ) -> dict[str, Any]:
        """The ``auth[...]`` part of everything the portal posts to the app.

        api-reference/events/index.md: an event's ``auth[scope]`` is the event's own scope
        (``crm`` for ONCRMDEALADD), given as `scope`; app lifecycle events carry the app's.
        api-reference/common/events/on-app-uninstall.md: without a token (ONAPPUNINSTALL)
        there is no ``status`` either.
        """
        auth: dict[str, Any] = {}
        if rec is not None:
            auth["access_token"] = rec.access_token
            auth["expires"] = int(rec.expires_at)
            auth["expires_in"] = int(self.config.token_ttl)
            auth["scope"] = scope or self.scope_string(scope_sep)
        auth.update({"domain": portal.domain, "server_endpoint": self.server_endpoint})
        if rec is not None:
            auth["status"] = "L"
        auth.update({"client_endpoint": self.endpoint_for(portal),
                     "member_id": portal.member_id})
        if rec is not None:
            auth["user_id"] = rec.user_id
            if refresh:
                auth["refresh_token"] = rec.refresh_token
        auth["application_token"] = portal.app.application_token
        return auth

    # ----------------------------------------------------------------- events
    def fire_event(
        self, portal: Portal, event: str, data: dict[str, Any], user_id: int | None = None
    ) -> int:
        """Deliver a data-change event to online handlers and queue it for offline ones."""
        event = event.upper()
        posts: list[tuple[str, dict[str, Any]]] = []
        with self.lock:
            app = portal.app
            if not app.registered:
                return 0
            for b in app.bindings:
                if b.event != event:
                    continue
                if b.offline:
                    self._offline_upsert(portal, event, data, user_id)
                    continue
                if not app.installed:
                    continue
                uid = b.auth_type or user_id or portal.admin_user_id
                rec = self._event_token(portal, int(uid)) if user_id is not None else None
                body = {
                    "event": event,
                    "event_handler_id": str(b.id),
                    "data": data,
                    "ts": str(int(self.now())),
                    "auth": self.auth_block(portal, rec, scope=event_scope(event)),
                }
                posts.append((b.handler, body))
        for url, body in posts:
            self.deliverer.post_async(url, body, "event", event, portal.member_id)
        return len(posts)

    def _offline_upsert(
        self, portal: Portal, event: str, data: dict[str, Any], user_id: int | None
    ) -> None:
        """The offline queue keeps the latest state per object, not the history."""
        app = portal.app
        fields = data.get("FIELDS") or {}
        obj = fields.get("ID", "")
        if fields.get("ENTITY_TYPE_ID") is not None:
            obj = f"{fields['ENTITY_TYPE_ID']}:{obj}"
        key = f"{event}:{obj}"
        now = self.now()
        for rec in app.offline:
            if rec.key == key and rec.process_id is None and not rec.error:
                rec.data = data
                rec.ts = now
                rec.timestamp = self.iso(now)
                return
        app.next_offline_id += 1
        app.offline.append(
            OfflineEvent(
                id=app.next_offline_id,
                timestamp=self.iso(now),
                ts=now,
                event_name=event,
                data=data,
                additional={"user_id": str(user_id or 0)},
                message_id=new_hex(16),
                key=key,
            )
        )

    # -------------------------------------------------------------- lifecycle
    def _app_event_targets(self, portal: Portal, event: str) -> list[str]:
        urls = [self.config.events_url]
        for b in portal.app.bindings:
            if b.event == event and not b.offline and b.handler not in urls:
                urls.append(b.handler)
        return urls

    def install(self, member_id: str | None = None, event: str = "after") -> dict[str, Any]:
        """Install as an admin would: installer page POST plus ONAPPINSTALL."""
        portal = self.portal(member_id)
        with self.lock:
            app = portal.app
            app.registered = True
            app.installed = False
            app.application_token = new_hex(16)
            page_rec = self.issue_tokens(portal, portal.admin_user_id)
            query = urlencode(
                # api-reference/widgets/_includes/widget_data.md: PROTOCOL 1 = https, which
                # is what a cloud portal always is
                {"DOMAIN": portal.domain, "PROTOCOL": "1", "LANG": self.config.language_id,
                 "APP_SID": new_hex(16)}
            )
            form = {
                "AUTH_ID": page_rec.access_token,
                "AUTH_EXPIRES": str(int(self.config.token_ttl)),
                "REFRESH_ID": page_rec.refresh_token,
                "SERVER_ENDPOINT": self.server_endpoint,
                "APPLICATION_TOKEN": app.application_token,
                "APPLICATION_SCOPE": self.scope_string(","),
                "member_id": portal.member_id,
                "status": "L",
                "PLACEMENT": "DEFAULT",
                "PLACEMENT_OPTIONS": "{}",
            }
        event_records: list[dict[str, Any]] = []
        if event == "before":
            event_records.append(self._send_install_event(portal))
        page = self.deliverer.post(
            f"{self.config.install_url}?{query}", form, "installer", None, portal.member_id
        )
        ok = page["status_code"] == 200 and bool(INSTALL_FINISH_RE.search(page["response"]))
        with self.lock:
            app.installed = ok
        if event == "after":
            event_records.append(self._send_install_event(portal))
        return {
            "member_id": portal.member_id,
            "status_code": page["status_code"],
            "installed": ok,
            "body": page["response"][:500],
            "error": page["error"],
            "application_token": app.application_token,
            "events": [
                {"status_code": r["status_code"], "error": r["error"]} for r in event_records
            ],
        }

    def install_direct(self, member_id: str | None = None) -> dict[str, Any]:
        """Mark the app installed without any HTTP (tests that only need REST and events)."""
        portal = self.portal(member_id)
        with self.lock:
            portal.app.registered = True
            portal.app.installed = True
            portal.app.application_token = portal.app.application_token or new_hex(16)
            rec = self.issue_tokens(portal, portal.admin_user_id)
            return {"member_id": portal.member_id, "installed": True,
                    "application_token": portal.app.application_token,
                    "tokens": self.token_response(rec)}

    def _send_install_event(self, portal: Portal) -> dict[str, Any]:
        with self.lock:
            rec = self.issue_tokens(portal, portal.admin_user_id)
            body = {
                "event": "ONAPPINSTALL",
                "data": {
                    "VERSION": str(portal.app.version),
                    "ACTIVE": "Y",
                    "INSTALLED": "Y",
                    "LANGUAGE_ID": self.config.language_id,
                },
                "ts": str(int(self.now())),
                "auth": self.auth_block(portal, rec, refresh=True, scope_sep=" "),
            }
        return self.deliverer.post(
            self.config.events_url, body, "event", "ONAPPINSTALL", portal.member_id
        )

    def update(self, member_id: str | None = None, version: int | None = None) -> dict[str, Any]:
        """New app version: robots are wiped, a new application_token, ONAPPUPDATE."""
        portal = self.portal(member_id)
        with self.lock:
            app = portal.app
            if not app.registered:
                raise RestError("APP_NOT_INSTALLED", "The app is not installed", 400)
            previous = app.version
            app.version = int(version) if version else previous + 1
            app.robots.clear()
            app.application_token = new_hex(16)
            rec = self.issue_tokens(portal, portal.admin_user_id)
            body = {
                "event": "ONAPPUPDATE",
                "data": {
                    "VERSION": str(app.version),
                    "PREVIOUS_VERSION": str(previous),
                    "LANGUAGE_ID": self.config.language_id,
                },
                "ts": str(int(self.now())),
                "auth": self.auth_block(portal, rec, refresh=True, scope_sep=" "),
            }
            urls = self._app_event_targets(portal, "ONAPPUPDATE")
        results = [
            self.deliverer.post(u, body, "event", "ONAPPUPDATE", portal.member_id) for u in urls
        ]
        return {
            "version": app.version,
            "previous_version": previous,
            "application_token": app.application_token,
            "status_code": results[0]["status_code"] if results else None,
        }

    def uninstall(self, member_id: str | None = None, clean: bool = False) -> dict[str, Any]:
        """Revoke access first (as Bitrix does), then tell the app without any tokens."""
        portal = self.portal(member_id)
        with self.lock:
            app = portal.app
            body = {
                "event": "ONAPPUNINSTALL",
                "data": {"LANGUAGE_ID": self.config.language_id, "CLEAN": "1" if clean else "0"},
                "ts": str(int(self.now())),
                "auth": self.auth_block(portal, None),
            }
            urls = self._app_event_targets(portal, "ONAPPUNINSTALL")
            self.revoke_tokens(portal.member_id)
            app.bindings.clear()
            app.placements.clear()
            app.robots.clear()
            app.offline.clear()
            app.registered = False
            app.installed = False
            if clean:
                app.options.clear()
        results = [
            self.deliverer.post(u, body, "event", "ONAPPUNINSTALL", portal.member_id)
            for u in urls
        ]
        return {"status_code": results[0]["status_code"] if results else None, "clean": clean}

    def run_robot(
        self,
        code: str,
        document_id: list[str],
        document_type: list[str] | None = None,
        properties: dict[str, Any] | None = None,
        member_id: str | None = None,
        user_id: int | None = None,
    ) -> dict[str, Any]:
        """Execute an app robot in an automation rule: POST to its HANDLER."""
        portal = self.portal(member_id)
        with self.lock:
            robot = portal.app.robots.get(code)
            if robot is None:
                raise RestError("ERROR_NOT_FOUND", f"Robot {code} is not registered", 404)
            if not document_type:
                doc = document_id[2] if len(document_id) > 2 else "DEAL_1"
                document_type = [document_id[0], document_id[1], doc.rsplit("_", 1)[0]]
            uid = int(user_id or robot.get("AUTH_USER_ID") or portal.admin_user_id)
            rec = self.issue_tokens(portal, uid)
            # api-reference/bizproc/bizproc-robot/bizproc-event-send.md's sample token has
            # three parts: "<workflow id>|<activity name>|<signature>"
            workflow_id = f"{new_hex(7)}.{secrets.randbelow(10**8):08d}"
            activity = "A" + "_".join(f"{secrets.randbelow(10**5):05d}" for _ in range(4))
            event_token = f"{workflow_id}|{activity}|{new_hex(16)}.{new_hex(32)}"
            use_sub = str(robot.get("USE_SUBSCRIPTION") or "").upper() != "N"
            props = {k: "" if v is None else v for k, v in (properties or {}).items()}
            body = {
                "workflow_id": workflow_id,
                "code": code,
                "document_id": list(document_id),
                "document_type": list(document_type),
                "event_token": event_token,
                "properties": props,
                "use_subscription": "Y" if use_sub else "N",
                "timeout_duration": "0",
                "ts": str(int(self.now())),
                "auth": self.auth_block(portal, rec, refresh=True),
            }
            run = RobotRun(
                event_token=event_token,
                member_id=portal.member_id,
                code=code,
                workflow_id=workflow_id,
                document_id=list(document_id),
                use_subscription=use_sub,
                completed=not use_sub,
            )
            self.robot_runs[event_token] = run
            handler = str(robot["HANDLER"])
        result = self.deliverer.post(handler, body, "robot", code, portal.member_id)
        run.status_code = result["status_code"]
        return {
            "event_token": event_token,
            "workflow_id": workflow_id,
            "status_code": result["status_code"],
            "error": result["error"],
        }

    def robot_results(self, event_token: str) -> dict[str, Any]:
        with self.lock:
            run = self.robot_runs.get(event_token)
            if run is None:
                calls = [dict(c) for c in self.orphan_event_sends
                         if c["event_token"] == event_token]
                return {"calls": calls, "completed": False, "logs": [], "known": False}
            return {
                "calls": [dict(c) for c in run.calls],
                "completed": run.completed,
                "logs": list(run.logs),
                "known": True,
                "code": run.code,
            }

    # ------------------------------------------------------------ faults etc
    def charge(self, portal: Any) -> None:
        """One request against the portal's leaky bucket (limits.md of the docs);
        QUERY_LIMIT_EXCEEDED when it is full. REST calls and file uploads both pay it."""
        if not self.config.rate_limit_enabled:
            return
        drain, threshold = self.config.bucket_params()
        with self.lock:
            ok = portal.bucket.try_acquire(self.now(), drain, threshold)
            if not ok:
                self.stats["query_limit_exceeded"] += 1
        if not ok:
            raise RestError("QUERY_LIMIT_EXCEEDED")

    def take_fault(self, method: str) -> RestError | None:
        with self.lock:
            for f in self.faults:
                if f["count"] > 0 and f["method"] in (method, "*"):
                    f["count"] -= 1
                    return RestError(f["error"], f.get("description"), f.get("status"))
            return None

    def latency_for(self, method: str) -> float:
        with self.lock:
            return sum(
                entry["ms"] for entry in self.latency if entry["method"] in (None, "*", method)
            ) / 1000.0

    def utcnow_iso(self) -> str:
        return datetime.fromtimestamp(self.now(), UTC).isoformat()

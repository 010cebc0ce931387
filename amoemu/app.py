"""HTTP layer of the emulator (werkzeug): one loopback port serves every host, the real host
being the first path segment — `/{domain}/api/v4/…`, `/{domain}/oauth2/access_token`,
`/{drive_domain}/v1.0/…`, `/www.amocrm.ru/oauth`, `/{api_domain}/oauth2/account/current/
subdomain` — plus the control API under `/_emulator/…` (JSON, ours).

Links the API returns (`_links`, `drive_url`, `upload_url`, download hrefs) are the
emulator's address of the real ones (`{url}/{host}/…`) so a client can follow them.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from amoemu import catalogs as cat
from amoemu import crm
from amoemu.state import (
    CUSTOM_FIELDS_PAGE,
    ENTITIES,
    MAX_EVENTS_LIMIT,
    MAX_WEBHOOKS,
    WEBHOOK_EVENTS,
    Account,
    ApiError,
    User,
    ValidationFailed,
    as_list,
    no_account,
    unauthorized,
)

if TYPE_CHECKING:
    from amoemu.server import AmoEmulator

HAL = "application/hal+json"  # amocrm.md §0: v4 success
E = "<entity>"


def nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`filter[statuses][0][pipeline_id]=1&filter[id][]=2` → nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        segs = [head] + re.findall(r"\[([^\]]*)\]", key[len(head):])
        node: Any = root
        for i, seg in enumerate(segs):
            last = i == len(segs) - 1
            if last:
                if isinstance(node, list):
                    node.append(value)
                elif seg in node and not isinstance(node[seg], dict):
                    node[seg] = as_list(node[seg]) + [value] if not isinstance(
                        node[seg], list) else node[seg] + [value]
                else:
                    node[seg] = value
                break
            nxt_empty = segs[i + 1] == "" and i + 1 == len(segs) - 1
            if nxt_empty:
                cur = node.get(seg) if isinstance(node, dict) else None
                if not isinstance(cur, list):
                    cur = [] if cur is None else [cur]
                    node[seg] = cur
                cur.append(value)
                break
            if isinstance(node, list):
                break
            child = node.get(seg)
            if not isinstance(child, dict):
                child = node[seg] = {}
            node = child
    return root


def hal(data: Any, status: int = 200, content_type: str = HAL) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status, content_type=content_type)


def empty(status: int = 204) -> Response:
    return Response(b"", status)  # amocrm.md §0: 204 No Content, no body


def error(err: ApiError) -> Response:
    if err.html is not None:
        return Response(err.html, err.status, content_type=err.content_type)
    return Response(json.dumps(err.body(), ensure_ascii=False), err.status,
                    content_type=err.content_type)


class Api:
    """The WSGI application."""

    def __init__(self, emu: AmoEmulator) -> None:
        self.emu = emu
        self.state = emu.state
        r = Rule
        self.api = Map([
            r("/api/v4/account", endpoint="account"),
            r("/api/v4/users", endpoint="users"),
            r("/api/v4/users/<int:id>", endpoint="user"),
            r("/api/v4/leads/pipelines", endpoint="pipelines"),
            r("/api/v4/leads/pipelines/<int:id>", endpoint="pipeline"),
            r("/api/v4/leads/pipelines/<int:id>/statuses", endpoint="statuses"),
            r("/api/v4/leads/pipelines/<int:id>/statuses/<int:sid>", endpoint="status"),
            r("/api/v4/events", endpoint="events"),
            r("/api/v4/tasks", endpoint="tasks"),
            r("/api/v4/tasks/<int:id>", endpoint="task"),
            r("/api/v4/webhooks", endpoint="webhooks"),
            r("/api/v4/catalogs", endpoint="catalogs"),
            r("/api/v4/catalogs/<int:cid>", endpoint="catalog"),
            r("/api/v4/catalogs/<int:cid>/elements", endpoint="elements"),
            r("/api/v4/catalogs/<int:cid>/elements/<int:id>", endpoint="element"),
            r("/api/v4/catalogs/<int:cid>/custom_fields", endpoint="catalog_fields"),
            r("/api/v4/catalogs/<int:cid>/custom_fields/<int:fid>",
              endpoint="catalog_field"),
            r("/api/v4/<any(salesbot,marketingbot):kind>/<int:bot>/continue/<int:cid>",
              endpoint="bot_continue"),
            r(f"/api/v4/{E}/custom_fields", endpoint="fields"),
            r(f"/api/v4/{E}/notes", endpoint="notes"),
            r(f"/api/v4/{E}/notes/<int:nid>", endpoint="note"),
            r(f"/api/v4/{E}/<int:id>/notes", endpoint="entity_notes"),
            r(f"/api/v4/{E}/<int:id>/notes/<int:nid>", endpoint="entity_note"),
            r(f"/api/v4/{E}/<int:id>/files", endpoint="entity_files"),
            r(f"/api/v4/{E}/<int:id>/links", endpoint="links"),
            r(f"/api/v4/{E}/<int:id>/<any(link,unlink):op>", endpoint="link"),
            r(f"/api/v4/{E}", endpoint="list"),
            r(f"/api/v4/{E}/<int:id>", endpoint="one"),
        ], strict_slashes=False)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        try:
            resp = self.dispatch(req)
        except ApiError as err:
            resp = error(err)
        except HTTPException as exc:
            resp = error(ApiError(exc.code or 500, exc.name, exc.description or ""))
        return resp(environ, start_response)

    def dispatch(self, req: Request) -> Response:
        first, _, rest = req.path.lstrip("/").partition("/")
        host, rest = first.lower(), "/" + rest
        if host == "_emulator":
            from amoemu.control import control

            return control(self.emu, req, rest)
        if host in ("www.amocrm.ru", "www.kommo.com"):
            return self.www(req, host, rest)
        if re.fullmatch(r"api-[a-z]\.(amocrm\.ru|kommo\.com|amocrm\.com)", host):
            if rest.rstrip("/") == "/oauth2/account/current/subdomain":
                return self.current_subdomain(req)
            raise no_account()
        if re.fullmatch(r"drive(-[a-z])?\.(amocrm\.ru|kommo\.com|amocrm\.com)", host):
            from amoemu.drive import drive

            return drive(self.emu, req, host, rest)
        acc = self.state.by_domain(host)
        if acc is None:
            raise no_account()  # amocrm.md §5: 101 + 401 = the account does not exist
        return self.account_call(req, acc, rest)

    def base(self, req: Request, host: str) -> str:
        return req.host_url.rstrip("/") + "/" + host

    # OAuth (amocrm.md §1) --------------------------------------------------------------
    def www(self, req: Request, host: str, rest: str) -> Response:
        from amoemu.consent import consent_page, decide

        if rest.rstrip("/") == "/oauth":
            return consent_page(self.emu, req, host)
        if rest.rstrip("/") == "/oauth/decide" and req.method == "POST":
            return decide(self.emu, req)
        if rest.rstrip("/") == "/oauth2/account/subdomain":
            # amocrm.md §0: the deprecated method, Bearer access token
            acc, _user = self.state.check_token(req.headers.get("Authorization"))
            return hal(self._subdomain(acc), content_type="application/json")
        raise ApiError(404, "Not Found", "")

    def _subdomain(self, acc: Account) -> dict[str, Any]:
        # amocrm.md §0: {"id", "subdomain", "domain", "top_level_domain"}
        return {"id": acc.id, "subdomain": acc.subdomain, "domain": acc.domain,
                "top_level_domain": acc.zone.rsplit(".", 1)[-1]}

    def current_subdomain(self, req: Request) -> Response:
        """amocrm.md §0 ({DOCS}/oauth/account-subdomain-info): X-Refresh-Token; 401 when
        the refresh token is not active; application/json."""
        token = req.headers.get("X-Refresh-Token", "")
        with self.state.lock:
            rec = self.state.refresh.get(token)
            if rec is None or rec["used"] or rec["exp"] <= self.state.now():
                raise unauthorized("Refresh token is not active")
            acc = self.state.account(rec["account_id"])
            acc.requests += 1
            return hal(self._subdomain(acc), content_type="application/json")

    def token(self, req: Request, acc: Account) -> Response:
        # amocrm.md §1.3: JSON (the docs) or form (league's default provider) bodies
        params: dict[str, Any] = {}
        if req.is_json:
            body = req.get_json(silent=True)
            params = body if isinstance(body, dict) else {}
        else:
            params = req.form.to_dict()
        out = self.state.exchange(acc, params)
        return hal(out, content_type="application/json")

    # API v4 -------------------------------------------------------------------------
    def account_call(self, req: Request, acc: Account, rest: str) -> Response:
        method = req.method
        path = rest.rstrip("/") or "/"
        if path == "/oauth2/access_token":
            self.state.count(acc, method, path, limited=False)
            fault = self.state.take_fault(acc, method, path)
            if fault:
                return self._fault(fault)
            if method != "POST":
                raise ApiError(405, "Method Not Allowed", "")
            return self.token(req, acc)
        if path == "/oauth2/account/current/subdomain":
            return self.current_subdomain(req)
        self.state.count(acc, method, path)  # 403 when blocked, 429 over the limit (§5)
        fault = self.state.take_fault(acc, method, path)
        if fault:
            return self._fault(fault)
        tacc, user = self.state.check_token(req.headers.get("Authorization"))
        if tacc.id != acc.id:
            raise unauthorized("Token of another account")
        # amocrm.md §0: X-Context-User-ID works when the token was issued by an admin
        ctx = req.headers.get("X-Context-User-ID")
        if ctx and user.is_admin and str(ctx).isdigit() and acc.user(int(ctx)):
            user = acc.user(int(ctx)) or user
        if not path.startswith("/api/v4/"):
            raise ApiError(404, "Not Found", "")
        if not acc.paid and method in ("POST", "PATCH", "PUT", "DELETE"):
            # amocrm.md §5: an ended subscription → add/change requests answer 402
            raise ApiError(402, "Payment Required", "Account is not paid")
        try:
            endpoint, args = self.api.bind("x").match(path, method="GET")
        except HTTPException as exc:
            raise ApiError(404, "Not Found", "") from exc
        if "entity" in args and args["entity"] not in ENTITIES:
            raise ApiError(404, "Not Found", "")
        handler = getattr(self, f"ep_{endpoint}")
        ctx_ = Ctx(req, acc, user, self.base(req, acc.domain), method)
        with self.state.lock:
            return handler(ctx_, **args)

    def _fault(self, fault: Any) -> Response:
        if fault.body is None:
            if fault.status == 429:
                from amoemu.state import HTML_429

                return Response(HTML_429, 429, content_type="text/html")
            if fault.status == 403:
                from amoemu.state import HTML_403

                return Response(HTML_403, 403, content_type="text/html")
            return error(ApiError(fault.status))
        if isinstance(fault.body, dict | list):
            return hal(fault.body, fault.status, "application/problem+json")
        return Response(str(fault.body), fault.status, content_type="text/html")

    # helpers ------------------------------------------------------------------------
    def paginate(self, c: Ctx, rows: list[Any], key: str, path: str, cap: int = 250,
                 total: bool = False) -> Response:
        """`page`/`limit`, `_page`, `_links.self/next/prev/first`, empty → 204
        (amocrm.md §4.1; {DOCS}/crm_platform/leads-api)."""
        page, limit = crm.page_args(c.args, cap)
        chunk = rows[(page - 1) * limit: page * limit]
        if not chunk:
            return empty()
        keep = [(k, v) for k, v in c.req.args.items(multi=True) if k not in ("page", "limit")]

        def href(p: int) -> dict[str, str]:
            return {"href": f"{c.base}{path}?" + urlencode(keep + [("page", str(p)),
                                                                  ("limit", str(limit))])}

        links = {"self": href(page)}
        if page > 1:
            links["first"] = href(1)
            links["prev"] = href(page - 1)
        if len(rows) > page * limit:
            links["next"] = href(page + 1)
        out: dict[str, Any] = {"_page": page, "_links": links, "_embedded": {key: chunk}}
        if total:
            out = {"_total_items": len(rows), **out}
        return hal(out)

    def body(self, c: Ctx) -> Any:
        data = c.req.get_json(silent=True, force=True)
        if data is None and c.req.get_data():
            raise ApiError(400, "Bad Request", "Invalid JSON")
        return data

    def fire(self, acc: Account, hooks: list[Any]) -> None:
        self.emu.hooks.enqueue(acc, hooks)

    def require_admin(self, c: Ctx) -> None:
        if not c.user.is_admin:
            # amocrm.md §4.4 / §2.1: admin only → 403
            raise ApiError(403, "Forbidden", "Access denied: the user is not an admin",
                           {"code": 244})

    # account (amocrm.md §4.12) --------------------------------------------------------
    def ep_account(self, c: Ctx) -> Response:
        acc = c.acc
        with_ = c.with_
        out: dict[str, Any] = {
            "id": acc.id, "name": acc.name, "subdomain": acc.subdomain,
            "created_at": acc.created_at, "created_by": acc.admin_id,
            "updated_at": acc.created_at, "updated_by": acc.admin_id,
            "current_user_id": c.user.id, "country": "RU" if acc.platform == 1 else "US",
            "currency": "RUB" if acc.platform == 1 else "USD",
            "currency_symbol": "₽" if acc.platform == 1 else "$",
            "customers_mode": "disabled", "is_unsorted_on": True,
            "is_loss_reason_enabled": True, "is_helpbot_enabled": False,
            "is_technical_account": False, "contact_name_display_order": 1,
            "mobile_feature_version": 0, "_links": crm.links(c.base, "/api/v4/account")}
        if "amojo_id" in with_:
            out["amojo_id"] = f"{acc.id:08x}-0000-4000-8000-000000000000"
        if "uuid" in with_:
            out["uuid"] = f"{acc.id:08x}-1111-4000-8000-000000000000"
        if "version" in with_:
            out["version"] = 11
        if "drive_url" in with_:
            out["drive_url"] = self.emu.url_of(c.req, acc.drive_domain)  # amocrm.md §4.10
        if "is_api_filter_enabled" in with_:
            out["is_api_filter_enabled"] = acc.api_filter_enabled
        if "entity_names" in with_:
            out["entity_names"] = {"leads": {"ru": {"gender": "f", "plural_form": {
                "dative": "сделкам", "default": "сделки", "genitive": "сделок",
                "accusative": "сделки", "instrumental": "сделками",
                "prepositional": "сделках"}, "singular_form": {"default": "сделка"}}}}
        if "invoices_settings" in with_:
            out["invoices_settings"] = {"lang": "ru", "invoices_catalog_id": None}
        emb: dict[str, Any] = {}
        if "amojo_rights" in with_:
            emb["amojo_rights"] = {"can_direct": True, "can_create_groups": True}
        if "users_groups" in with_:
            groups = sorted({u.group_id for u in acc.users})
            emb["users_groups"] = [{"id": g, "name": "Отдел продаж" if g == 0 else f"Отдел {g}",
                                    "uuid": None} for g in groups]
        if "task_types" in with_:
            # amocrm.md §4.8: 1 "Связаться" (FOLLOW_UP), 2 "Встреча" (MEETING)
            emb["task_types"] = [
                {"id": 1, "name": "Связаться", "color": None, "icon_id": None,
                 "code": "FOLLOW_UP"},
                {"id": 2, "name": "Встреча", "color": None, "icon_id": None,
                 "code": "MEETING"}]
        if "datetime_settings" in with_:
            emb["datetime_settings"] = {
                "date_pattern": "d.m.Y H:i", "short_date_pattern": "d.m.Y",
                "short_time_pattern": "H:i", "date_format": "d.m.Y", "time_format": "H:i:s",
                "timezone": "Europe/Moscow", "timezone_offset": "+03:00"}
        if emb:
            out["_embedded"] = emb
        return hal(out)

    # users (amocrm.md §4.4) ------------------------------------------------------------
    def _user(self, c: Ctx, u: User) -> dict[str, Any]:
        full = {"view": "A", "edit": "A", "add": "A", "delete": "A", "export": "A"}
        out: dict[str, Any] = {
            "id": u.id, "name": u.name, "email": u.email, "lang": u.lang,
            "rights": {"leads": dict(full), "contacts": dict(full), "companies": dict(full),
                       "tasks": {"edit": "A", "delete": "A"}, "mail_access": True,
                       "catalog_access": True, "files_access": True, "status_rights": [],
                       "is_admin": u.is_admin, "is_free": u.is_free,
                       "is_active": u.is_active, "group_id": u.group_id or None,
                       "role_id": u.role_id},
            "_links": crm.links(c.base, f"/api/v4/users/{u.id}")}
        emb: dict[str, Any] = {}
        if "role" in c.with_:
            emb["roles"] = []
        if "group" in c.with_:
            emb["groups"] = [{"id": u.group_id, "name": "Отдел продаж"}]
        if "uuid" in c.with_:
            out["uuid"] = f"{u.id:08x}-2222-4000-8000-000000000000"
        if "amojo_id" in c.with_:
            out["amojo_id"] = f"{u.id:08x}-3333-4000-8000-000000000000"
        if emb:
            out["_embedded"] = emb
        return out

    def ep_users(self, c: Ctx) -> Response:
        self.require_admin(c)
        if c.method != "GET":
            raise ApiError(405, "Method Not Allowed", "")
        rows = [self._user(c, u) for u in c.acc.users]
        return self.paginate(c, rows, "users", "/api/v4/users", total=True)

    def ep_user(self, c: Ctx, id: int) -> Response:
        self.require_admin(c)
        u = c.acc.user(id)
        return hal(self._user(c, u)) if u else empty()

    # pipelines (amocrm.md §4.5) ----------------------------------------------------------
    def _pipeline(self, c: Ctx, p: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in p.items() if k != "statuses"}
        out["_links"] = crm.links(c.base, f"/api/v4/leads/pipelines/{p['id']}")
        out["_embedded"] = {"statuses": [self._st(c, s) for s in
                                         sorted(p["statuses"], key=lambda s: s["sort"])]}
        return out

    def _st(self, c: Ctx, s: dict[str, Any]) -> dict[str, Any]:
        return {**s, "_links": crm.links(
            c.base, f"/api/v4/leads/pipelines/{s['pipeline_id']}/statuses/{s['id']}")}

    def ep_pipelines(self, c: Ctx) -> Response:
        rows = [self._pipeline(c, p) for p in sorted(c.acc.pipelines.values(),
                                                     key=lambda p: p["sort"])]
        return hal({"_total_items": len(rows),
                    "_links": crm.links(c.base, "/api/v4/leads/pipelines"),
                    "_embedded": {"pipelines": rows}})

    def ep_pipeline(self, c: Ctx, id: int) -> Response:
        p = c.acc.pipelines.get(id)
        return hal(self._pipeline(c, p)) if p else empty()

    def ep_statuses(self, c: Ctx, id: int) -> Response:
        p = c.acc.pipelines.get(id)
        if p is None:
            return empty()
        rows = [self._st(c, s) for s in sorted(p["statuses"], key=lambda s: s["sort"])]
        return hal({"_total_items": len(rows), "_embedded": {"statuses": rows}})

    def ep_status(self, c: Ctx, id: int, sid: int) -> Response:
        p = c.acc.pipelines.get(id)
        s = next((s for s in p["statuses"] if s["id"] == sid), None) if p else None
        return hal(self._st(c, s)) if s else empty()

    # leads, contacts, companies (amocrm.md §4.2–4.3) ---------------------------------------
    def ep_list(self, c: Ctx, entity: str) -> Response:
        if c.method == "GET":
            flt = c.args.get("filter") if isinstance(c.args.get("filter"), dict) else {}
            rows = [o for o in c.acc.store(entity).values()
                    if crm.matches(c.acc, entity, o, flt, str(c.args.get("query") or ""))]
            rows = crm.order(rows, c.args.get("order"))
            return self.paginate(c, [crm.to_api(c.acc, entity, o, c.base, c.with_)
                                     for o in rows], entity, f"/api/v4/{entity}")
        if c.method in ("POST", "PATCH"):
            items = crm.validate_batch(self.body(c))
            out, hooks = crm.batch(self.state, c.acc, entity, items, c.user.id,
                                   c.method == "PATCH", c.base)
            self.fire(c.acc, hooks)
            return hal({"_links": crm.links(c.base, f"/api/v4/{entity}"),
                        "_embedded": {entity: out}})
        raise ApiError(405, "Method Not Allowed", "")

    def ep_one(self, c: Ctx, entity: str, id: int) -> Response:
        obj = c.acc.store(entity).get(id)
        if c.method == "GET":
            # amocrm.md §0: a missing id → 204
            return hal(crm.to_api(c.acc, entity, obj, c.base, c.with_)) if obj else empty()
        if c.method == "PATCH":
            item = self.body(c)
            if not isinstance(item, dict):
                raise ApiError(400, "Bad Request", "Request body must be a JSON object")
            if obj is None:
                raise ApiError(404, "Not Found", "Entity not found")
            new, errors, hooks = crm.apply(self.state, c.acc, entity, item, c.user.id, obj)
            if errors:
                raise ValidationFailed([{"request_id": crm.request_id(item, 0),
                                         "errors": errors}])
            assert new is not None
            self.fire(c.acc, hooks)
            return hal({"id": new["id"], "updated_at": new["updated_at"],
                        "_links": crm.links(c.base, f"/api/v4/{entity}/{id}")})
        raise ApiError(405, "Method Not Allowed", "")

    # links (amocrm.md §4.2 "Links") -----------------------------------------------------
    def ep_links(self, c: Ctx, entity: str, id: int) -> Response:
        obj = c.acc.store(entity).get(id)
        if obj is None:
            return empty()
        rows: list[dict[str, Any]] = []
        if entity == "leads":
            rows += [{"to_entity_id": cid, "to_entity_type": "contacts",
                      "metadata": {"main_contact": main}} for cid, main in obj["contacts"]]
            rows += [{"to_entity_id": x, "to_entity_type": "companies", "metadata": None}
                     for x in obj["companies"]]
        else:
            rows += [{"to_entity_id": lid, "to_entity_type": "leads", "metadata": None}
                     for lid in crm.linked_leads(c.acc, entity, id)]
            if entity == "contacts":
                rows += [{"to_entity_id": x, "to_entity_type": "companies", "metadata": None}
                         for x in obj["companies"]]
        flt = c.args.get("filter") if isinstance(c.args.get("filter"), dict) else {}
        if flt:
            rows = [r for r in rows if "to_catalog_id" not in flt and (
                "to_entity_type" not in flt or r["to_entity_type"] == flt["to_entity_type"])]
        rows += cat.link_rows(obj, flt)  # catalog elements (entity-links-api)
        for r in rows:
            r["entity_id"], r["entity_type"] = id, entity
        if not rows:
            return empty()
        return hal({"_total_items": len(rows), "_links": crm.links(
            c.base, f"/api/v4/{entity}/{id}/links"), "_embedded": {"links": rows}})

    def ep_link(self, c: Ctx, entity: str, id: int, op: str) -> Response:
        obj = c.acc.store(entity).get(id)
        items = crm.validate_batch(self.body(c))
        if obj is None:
            raise ApiError(404, "Not Found", "Entity not found")
        out = []
        for item in items:
            to_type, to_id = item.get("to_entity_type"), item.get("to_entity_id")
            if to_type == "catalog_elements" and isinstance(item, dict):
                # entity-links-api: leads, contacts and companies link catalog elements
                meta = cat.link_element(c.acc, entity, obj, item, op == "link")
                if meta is None:
                    raise ValidationFailed([{"request_id": "0", "errors": [crm._err(
                        "NotSupportedChoice", "to_entity_id", crm.CHOICE)]}])
                out.append({"entity_id": id, "entity_type": entity, "to_entity_id": to_id,
                            "to_entity_type": to_type, "metadata": meta})
                continue
            lead = obj if entity == "leads" else c.acc.leads.get(to_id) \
                if to_type == "leads" else None
            other_type, other_id = (to_type, to_id) if entity == "leads" else (entity, id)
            if lead is None or other_type not in ("contacts", "companies") or \
                    other_id not in c.acc.store(other_type):
                raise ValidationFailed([{"request_id": "0", "errors": [crm._err(
                    "NotSupportedChoice", "to_entity_id", crm.CHOICE)]}])
            if other_type == "contacts":
                lead["contacts"] = [x for x in lead["contacts"] if x[0] != other_id]
                if op == "link":
                    main = bool((item.get("metadata") or {}).get("is_main")) or \
                        not lead["contacts"]
                    lead["contacts"].append([other_id, main])
            else:
                lead["companies"] = [other_id] if op == "link" else []
            out.append({"entity_id": id, "entity_type": entity, "to_entity_id": to_id,
                        "to_entity_type": to_type, "metadata": item.get("metadata")})
        if op == "unlink":
            return empty()
        return hal({"_links": crm.links(c.base, f"/api/v4/{entity}/{id}/link"),
                    "_embedded": {"links": out}})

    # custom fields (amocrm.md §4.6) ----------------------------------------------------
    def ep_fields(self, c: Ctx, entity: str) -> Response:
        fields = c.acc.custom_fields.get(entity, [])
        if c.method == "GET":
            flt = c.args.get("filter") if isinstance(c.args.get("filter"), dict) else {}
            rows = [f for f in fields if "type" not in flt or
                    f["type"] in [str(x) for x in as_list(flt["type"])]]
            if "id" in flt:
                rows = [f for f in rows if f["id"] in crm.ints(flt["id"])]
            rows = sorted(rows, key=lambda f: (f["sort"], f["id"]))
            out = [{**{k: v for k, v in f.items() if k != "entity_type"},
                    "entity_type": entity, "_links": crm.links(
                        c.base, f"/api/v4/{entity}/custom_fields/{f['id']}")} for f in rows]
            # amocrm.md §4.6 / §10.14: at most 50 per request; follow _links.next
            return self.paginate(c, out, "custom_fields", f"/api/v4/{entity}/custom_fields",
                                 cap=CUSTOM_FIELDS_PAGE, total=True)
        if c.method == "POST":
            self.require_admin(c)
            items = crm.validate_batch(self.body(c))
            problems = []
            types = {"text", "numeric", "checkbox", "select", "multiselect", "multitext",
                     "date", "url", "textarea", "radiobutton", "streetaddress",
                     "smart_address", "birthday", "legal_entity", "date_time", "price",
                     "category", "items", "tracking_data", "linked_entity",
                     "org_legal_name", "monetary", "chained_list", "file"}
            for i, item in enumerate(items):
                errs = []
                if not isinstance(item, dict) or not item.get("name"):
                    errs.append(crm._err("NotBlank", "name", "This value should not be blank."))
                elif item.get("type") not in types:  # amocrm.md §4.6 types
                    errs.append(crm._err("NotSupportedChoice", "type", crm.CHOICE))
                if errs:
                    problems.append({"request_id": crm.request_id(item, i), "errors": errs})
            if problems:
                raise ValidationFailed(problems)
            out = []
            for i, item in enumerate(items):
                enums = [e.get("value") for e in sorted(
                    item.get("enums") or [], key=lambda e: e.get("sort", 0))]
                f = self.state.add_field(c.acc, entity, item["name"], item["type"],
                                         item.get("code"), enums or None,
                                         item.get("sort", 500),
                                         bool(item.get("is_api_only")))
                out.append({**f, "request_id": crm.request_id(item, i), "_links": crm.links(
                    c.base, f"/api/v4/{entity}/custom_fields/{f['id']}")})
            return hal({"_total_items": len(out), "_embedded": {"custom_fields": out}})
        raise ApiError(405, "Method Not Allowed", "")

    # catalogs (amoemu.catalogs; {DOCS}/crm/platform/catalogs-api) --------------------------
    def ep_catalogs(self, c: Ctx) -> Response:
        path = "/api/v4/catalogs"
        if c.method == "GET":
            rows = [cat.catalog_api(x, c.base) for x in sorted(
                c.acc.catalogs.values(), key=lambda x: (x["sort"], x["id"]))]
            return self.paginate(c, rows, "catalogs", path)
        if c.method in ("POST", "PATCH"):
            items = crm.validate_batch(self.body(c))
            made = (cat.add_catalogs if c.method == "POST" else cat.edit_catalogs)(
                self.state, c.acc, items, c.user.id)
            return hal({"_links": crm.links(c.base, path), "_embedded": {
                "catalogs": [cat.catalog_api(x, c.base) for x in made]}})
        raise ApiError(405, "Method Not Allowed", "")

    def ep_catalog(self, c: Ctx, cid: int) -> Response:
        found = c.acc.catalogs.get(cid)
        if c.method == "GET":  # a missing catalog → 204, as a missing lead (amocrm.md §0)
            return hal(cat.catalog_api(found, c.base)) if found else empty()
        if c.method == "PATCH":
            item = self.body(c)
            if not isinstance(item, dict):
                raise ApiError(400, "Bad Request", "Request body must be a JSON object")
            cat.catalog_of(c.acc, cid)
            made = cat.edit_catalogs(self.state, c.acc, [{**item, "id": cid}], c.user.id)
            return hal(cat.catalog_api(made[0], c.base))
        raise ApiError(405, "Method Not Allowed", "")

    def ep_elements(self, c: Ctx, cid: int) -> Response:
        cat.catalog_of(c.acc, cid)
        path = f"/api/v4/catalogs/{cid}/elements"
        if c.method == "GET":
            flt = c.args.get("filter") if isinstance(c.args.get("filter"), dict) else {}
            query = str(c.args.get("query") or "")
            rows = [cat.element_api(e, c.base) for e in sorted(
                c.acc.catalog_elements[cid].values(), key=lambda e: e["id"])
                if cat.element_matches(e, flt, query)]
            return self.paginate(c, rows, "elements", path)
        if c.method in ("POST", "PATCH"):
            items = crm.validate_batch(self.body(c))
            made = cat.write_elements(self.state, c.acc, cid, items, c.user.id,
                                      c.method == "PATCH")
            return hal({"_links": crm.links(c.base, path), "_embedded": {"elements": [
                {**cat.element_api(e, c.base), "request_id": rid} for e, rid in made]}})
        raise ApiError(405, "Method Not Allowed", "")

    def ep_element(self, c: Ctx, cid: int, id: int) -> Response:
        cat.catalog_of(c.acc, cid)
        found = c.acc.catalog_elements[cid].get(id)
        if c.method == "GET":
            return hal(cat.element_api(found, c.base)) if found and not \
                found["is_deleted"] else empty()
        if c.method == "PATCH":
            item = self.body(c)
            if not isinstance(item, dict):
                raise ApiError(400, "Bad Request", "Request body must be a JSON object")
            made = cat.write_elements(self.state, c.acc, cid, [{**item, "id": id}],
                                      c.user.id, True)
            return hal(cat.element_api(made[0][0], c.base))
        raise ApiError(405, "Method Not Allowed", "")

    def ep_catalog_fields(self, c: Ctx, cid: int) -> Response:
        cat.catalog_of(c.acc, cid)
        path = f"/api/v4/catalogs/{cid}/custom_fields"
        if c.method == "GET":
            rows = [cat.field_api(f, cid, c.base) for f in cat.list_fields(c.acc, cid)]
            # custom-fields: at most 50 per request; follow _links.next
            return self.paginate(c, rows, "custom_fields", path, cap=CUSTOM_FIELDS_PAGE,
                                 total=True)
        if c.method in ("POST", "PATCH"):
            if c.method == "POST":
                self.require_admin(c)  # custom-fields: adding fields is for admins only
            items = crm.validate_batch(self.body(c))
            made = (cat.add_fields if c.method == "POST" else cat.edit_fields)(
                self.state, c.acc, cid, items)
            return hal({"_total_items": len(made), "_embedded": {"custom_fields": [
                {**cat.field_api(f, cid, c.base), "request_id": rid} for f, rid in made]}})
        raise ApiError(405, "Method Not Allowed", "")

    def ep_catalog_field(self, c: Ctx, cid: int, fid: int) -> Response:
        cat.catalog_of(c.acc, cid)
        found = next((f for f in cat.list_fields(c.acc, cid) if f["id"] == fid), None)
        if c.method == "GET":
            return hal(cat.field_api(found, cid, c.base)) if found else empty()
        raise ApiError(405, "Method Not Allowed", "")

    # notes (amocrm.md §4.7) -----------------------------------------------------------
    def _notes(self, c: Ctx, entity: str, entity_id: int | None) -> Response:
        if c.method == "GET":
            flt = c.args.get("filter") if isinstance(c.args.get("filter"), dict) else {}
            rows = [n for n in c.acc.notes.values() if n["entity_type"] == entity and
                    (entity_id is None or n["entity_id"] == entity_id)]
            if "entity_id" in flt:
                rows = [n for n in rows if n["entity_id"] in crm.ints(flt["entity_id"])]
            if "note_type" in flt:
                rows = [n for n in rows if n["note_type"] in as_list(flt["note_type"])]
            if "id" in flt:
                rows = [n for n in rows if n["id"] in crm.ints(flt["id"])]
            rows = crm.order(rows, c.args.get("order"))
            path = f"/api/v4/{entity}/{entity_id}/notes" if entity_id else \
                f"/api/v4/{entity}/notes"
            return self.paginate(c, [crm.note_api(n, c.base) for n in rows], "notes", path)
        if c.method == "POST":
            items = crm.validate_batch(self.body(c))
            made, problems = [], []
            for i, item in enumerate(items):
                note, errs = crm.add_note(self.state, c.acc, entity, item, c.user.id,
                                          entity_id)
                if errs:
                    problems.append({"request_id": crm.request_id(item, i), "errors": errs})
                else:
                    made.append((note, crm.request_id(item, i)))
            if problems:
                for note, _ in made:
                    c.acc.notes.pop(note["id"], None)
                raise ValidationFailed(problems)
            one = crm.SINGULAR[entity]
            self.fire(c.acc, [(f"note_{one}", entity, dict(n), {}) for n, _ in made])
            return hal({"_links": crm.links(c.base, f"/api/v4/{entity}/notes"),
                        "_embedded": {"notes": [
                            {"id": n["id"], "entity_id": n["entity_id"], "request_id": rid,
                             "_links": crm.note_api(n, c.base)["_links"]}
                            for n, rid in made]}})
        raise ApiError(405, "Method Not Allowed", "")

    def ep_notes(self, c: Ctx, entity: str) -> Response:
        return self._notes(c, entity, None)

    def ep_entity_notes(self, c: Ctx, entity: str, id: int) -> Response:
        if id not in c.acc.store(entity) and c.method == "POST":
            raise ApiError(404, "Not Found", "Entity not found")
        return self._notes(c, entity, id)

    def ep_note(self, c: Ctx, entity: str, nid: int) -> Response:
        n = c.acc.notes.get(nid)
        ok = n is not None and n["entity_type"] == entity
        return hal(crm.note_api(n, c.base)) if ok and n else empty()

    def ep_entity_note(self, c: Ctx, entity: str, id: int, nid: int) -> Response:
        n = c.acc.notes.get(nid)
        ok = n is not None and n["entity_type"] == entity and n["entity_id"] == id
        return hal(crm.note_api(n, c.base)) if ok and n else empty()

    # tasks (amocrm.md §4.8) ------------------------------------------------------------
    def _task(self, c: Ctx, t: dict[str, Any]) -> dict[str, Any]:
        return {**t, "_links": crm.links(c.base, f"/api/v4/tasks/{t['id']}")}

    def ep_tasks(self, c: Ctx) -> Response:
        if c.method == "GET":
            flt = c.args.get("filter") if isinstance(c.args.get("filter"), dict) else {}
            rows = [t for t in c.acc.tasks.values() if crm.task_matches(t, flt)]
            rows = crm.order(rows, c.args.get("order"))
            return self.paginate(c, [self._task(c, t) for t in rows], "tasks", "/api/v4/tasks")
        if c.method in ("POST", "PATCH"):
            items = crm.validate_batch(self.body(c))
            out, problems, hooks = [], [], []
            for i, item in enumerate(items):
                existing = None
                if c.method == "PATCH":
                    existing = c.acc.tasks.get(item.get("id")) if isinstance(item, dict) \
                        else None
                    if existing is None:
                        problems.append({"request_id": crm.request_id(item, i), "errors": [
                            crm._err("NotFound", "id", "Entity not found")]})
                        continue
                task, errs = crm.apply_task(self.state, c.acc, item, c.user.id, existing)
                if errs or task is None:
                    problems.append({"request_id": crm.request_id(item, i), "errors": errs})
                    continue
                out.append({"id": task["id"], "request_id": crm.request_id(item, i),
                            "updated_at": task["updated_at"],
                            "_links": crm.links(c.base, f"/api/v4/tasks/{task['id']}")})
                hooks.append(("update_task" if existing else "add_task", "tasks",
                              dict(task), {}))
            if problems:
                raise ValidationFailed(problems)
            self.fire(c.acc, hooks)
            return hal({"_links": crm.links(c.base, "/api/v4/tasks"),
                        "_embedded": {"tasks": out}})
        raise ApiError(405, "Method Not Allowed", "")

    def ep_task(self, c: Ctx, id: int) -> Response:
        t = c.acc.tasks.get(id)
        if c.method == "GET":
            return hal(self._task(c, t)) if t else empty()
        if c.method == "PATCH":
            if t is None:
                raise ApiError(404, "Not Found", "Entity not found")
            item = self.body(c)
            task, errs = crm.apply_task(self.state, c.acc, item, c.user.id, t)
            if errs or task is None:
                raise ValidationFailed([{"request_id": "0", "errors": errs}])
            self.fire(c.acc, [("update_task", "tasks", dict(task), {})])
            return hal({"id": id, "updated_at": task["updated_at"],
                        "_links": crm.links(c.base, f"/api/v4/tasks/{id}")})
        raise ApiError(405, "Method Not Allowed", "")

    # events (amocrm.md §4.9) ----------------------------------------------------------
    def ep_events(self, c: Ctx) -> Response:
        if not c.acc.paid:
            raise ApiError(402, "Payment Required", "Account is not paid")  # §4.9
        flt = c.args.get("filter") if isinstance(c.args.get("filter"), dict) else {}
        if "entity_id" in flt:
            ents = as_list(flt.get("entity"))
            if len(ents) != 1 or len(crm.ints(flt["entity_id"])) > 10:
                # amocrm.md §4.9: entity_id takes ≤10 ids and exactly one filter[entity]
                raise ValidationFailed([{"request_id": "0", "errors": [crm._err(
                    "InvalidFilter", "filter.entity_id",
                    "filter[entity_id] needs exactly one filter[entity] and at most 10 ids")]}])
        rows = [e for e in reversed(c.acc.events) if crm.event_matches(e, flt)]
        return self.paginate(c, [crm.event_api(e, c.base) for e in rows], "events",
                             "/api/v4/events", cap=MAX_EVENTS_LIMIT)

    # webhooks (amocrm.md §2.1) --------------------------------------------------------
    def _hook(self, h: dict[str, Any]) -> dict[str, Any]:
        return {k: h[k] for k in ("id", "destination", "created_at", "updated_at",
                                  "account_id", "created_by", "sort", "disabled", "settings")}

    def ep_webhooks(self, c: Ctx) -> Response:
        self.require_admin(c)
        hooks = c.acc.webhooks
        if c.method == "GET":
            flt = c.args.get("filter") if isinstance(c.args.get("filter"), dict) else {}
            rows = [self._hook(h) for h in sorted(hooks.values(), key=lambda h: h["id"])
                    if "destination" not in flt or h["destination"] == flt["destination"]]
            return hal({"_total_items": len(rows), "_embedded": {"webhooks": rows}})
        body = self.body(c)
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request", "Request body must be a JSON object")
        dest = body.get("destination")
        if c.method == "DELETE":
            found = next((h for h in hooks.values() if h["destination"] == dest), None)
            if found is None:
                raise ApiError(404, "Not Found", "Webhook not found")
            del hooks[found["id"]]
            return empty()
        if c.method == "POST":
            errs = []
            if not isinstance(dest, str) or not re.match(r"^https?://[^\s/]+", dest):
                errs.append(crm._err("NotBlank", "destination", "This value is not a valid URL."))
            settings = body.get("settings")
            if not isinstance(settings, list) or not settings:
                errs.append(crm._err("NotBlank", "settings", "This value should not be blank."))
            else:
                for i, s in enumerate(settings):
                    if s not in WEBHOOK_EVENTS:
                        errs.append(crm._err("NotSupportedChoice", f"settings.{i}", crm.CHOICE))
            if errs:
                raise ValidationFailed([{"request_id": "0", "errors": errs}])
            now = self.state.now()
            found = next((h for h in hooks.values() if h["destination"] == dest), None)
            if found is None:
                if len(hooks) >= MAX_WEBHOOKS:
                    raise ApiError(400, "Bad Request", "At most 100 webhooks per account")
                found = {"id": self.state.next_id("webhook"), "destination": dest,
                         "created_at": now, "account_id": c.acc.id, "created_by": c.user.id,
                         "disabled": False}
                hooks[found["id"]] = found
            # amocrm.md §2.1: a webhook with that destination is updated (upsert by URL)
            found.update({"settings": list(dict.fromkeys(settings)), "updated_at": now,
                          "sort": int(body.get("sort", found.get("sort", 1)) or 1),
                          "disabled": False})
            return hal(self._hook(found), 201)
        raise ApiError(405, "Method Not Allowed", "")

    # entity files (amocrm.md §4.10) ---------------------------------------------------
    def ep_entity_files(self, c: Ctx, entity: str, id: int) -> Response:
        if id not in c.acc.store(entity):
            if c.method == "GET":
                return empty()
            raise ApiError(404, "Not Found", "Entity not found")
        linked = c.acc.entity_files.setdefault((entity, id), [])
        if c.method == "GET":
            rows = list(linked)
            try:
                limit = min(250, int(c.args.get("limit") or 50))
            except ValueError:
                limit = 50
            before = crm.ints(c.args.get("before_id"))
            if before:
                rows = [r for r in rows if r["id"] < before[0]]
            rows = sorted(rows, key=lambda r: -r["id"])[:limit]
            if not rows:
                return empty()
            return hal({"_links": crm.links(c.base, f"/api/v4/{entity}/{id}/files"),
                        "_embedded": {"files": rows}})
        items = crm.validate_batch(self.body(c))
        uuids = []
        for i, item in enumerate(items):
            u = item.get("file_uuid") if isinstance(item, dict) else None
            if u not in self.state.files:
                raise ValidationFailed([{"request_id": crm.request_id(item, i), "errors": [
                    crm._err("NotSupportedChoice", "file_uuid", crm.CHOICE)]}])
            uuids.append(u)
        if c.method == "PUT":
            for u in uuids:
                if not any(r["file_uuid"] == u for r in linked):
                    linked.append({"file_uuid": u, "id": self.state.next_id("file")})
            return empty(202)  # amocrm.md §4.10: 202, no body
        if c.method == "DELETE":
            linked[:] = [r for r in linked if r["file_uuid"] not in uuids]
            return empty()
        raise ApiError(405, "Method Not Allowed", "")

    # Salesbot (amocrm.md §3.2) --------------------------------------------------------
    def ep_bot_continue(self, c: Ctx, kind: str, bot: int, cid: int) -> Response:
        """{DOCS}/crm_platform/widgets-api "widget-continue": admin only, ≤10 handlers,
        `show` ≤80 chars, ≤25 buttons; 202; 404 when no widget waits."""
        if c.method != "POST":
            raise ApiError(405, "Method Not Allowed", "")
        self.require_admin(c)
        waiting = c.acc.salesbot_waiting.get((bot, cid))
        if waiting is None:
            raise ApiError(404, "Not Found", "No widget is waiting for this continue id")
        body = self.body(c) or {}
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request", "Request body must be a JSON object")
        handlers = body.get("execute_handlers") or []
        bad = not isinstance(handlers, list) or len(handlers) > 10
        for h in handlers if isinstance(handlers, list) else []:
            if not isinstance(h, dict) or h.get("handler") not in ("show", "goto"):
                bad = True
            elif h["handler"] == "show":
                params = h.get("params") or {}
                if len(str(params.get("value", ""))) > 80 or len(params.get("buttons") or []) > 25:
                    bad = True
        if bad:
            raise ApiError(400, "Bad Request", "Invalid execute_handlers")
        del c.acc.salesbot_waiting[(bot, cid)]
        c.acc.salesbot_continued.append({"kind": kind, "bot_id": bot, "continue_id": cid,
                                         "data": body.get("data"), "execute_handlers": handlers,
                                         "at": self.state.now()})
        return empty(202)


class Ctx:
    """One API call: its request, account, acting user and parsed query."""

    def __init__(self, req: Request, acc: Account, user: User, base: str, method: str) -> None:
        self.req, self.acc, self.user, self.base, self.method = req, acc, user, base, method
        self.args = nested(list(req.args.items(multi=True)))
        self.with_ = {w.strip() for w in str(req.args.get("with", "")).split(",") if w.strip()}


def random_token() -> str:
    return secrets.token_urlsafe(24)


def page(title: str, body: str, status: int = 200) -> Response:
    return Response(f"<!doctype html><html lang=ru><meta charset=utf-8><title>{html.escape(title)}"
                    f"</title><body style='font-family:sans-serif;max-width:40em;margin:3em auto'>"
                    f"{body}</body></html>", status, content_type="text/html; charset=utf-8")

"""AmoClient: an amoCRM account's API v4 and Files host, as the stored token sees it.

Every HTTP request first takes a slot in the account's sliding window (connector.ratelimit:
never more than 6 in any 1.1 s, shared by every process, under amoCRM's 7 per second).
Then:

* 2xx: the `hal+json` / JSON body, or None for a 204 (nothing found, research notes §0);
* 401: one forced refresh (under the tenant's lock) and one retry; a second 401 is
  AmoAuthLost and the tenant needs a reconnect;
* 403: amoCRM blocks integrations that hammer it, every later request only deepens the
  ban, so the tenant is marked `blocked` with a reason an admin reads and no request for it
  is sent again until an admin re-enables it (`oauth.unblock`);
* 429: bounded backoff (the request was refused before anything happened, so any method
  is re-sent), then AmoRateLimited (Retryable) — never a loop;
* 5xx / network: bounded retries for reads and idempotent writes; a POST is not re-sent
  in-process (it may have created something), the job's retry decides;
* anything else: the typed error of connector.amocrm.errors.

Absolute URLs amoCRM hands out (`_links.next.href`, `upload_url`, `next_url`, download
links) are followed verbatim, through AMOCRM_URL_TEMPLATE and only on amoCRM hosts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from connector.amocrm.domains import Hosts, account_domain, account_id_of, service_host
from connector.amocrm.errors import (
    AmoAuthLost,
    AmoBlocked,
    AmoError,
    AmoPermanentError,
    AmoRateLimited,
    AmoRetryableError,
    AmoValidationError,
    FieldError,
    Problem,
    error_for,
    network_error,
)
from connector.amocrm.oauth import BLOCKED, AmoTokens, block, jwt_claims
from connector.bitrix.store import NEEDS_REINSTALL, Tokens
from connector.ratelimit import AMOCRM, SlidingWindow, Window
from connector.retry import RetryPolicy

log = logging.getLogger(__name__)

TIMEOUT = (5.0, 20.0)  # the SDK's connect and request timeouts (research notes §0)
PAGE_LIMIT = 250
BATCH_SIZE = 50
MAX_PAGES = 10_000
ACCEPT = "application/hal+json, application/json, application/problem+json;q=0.9, */*;q=0.1"
RESENDABLE = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})


@dataclass
class BatchResult:
    """Per-item outcome of a batch, by the item's index in the list given."""

    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    errors: dict[int, list[FieldError]] = field(default_factory=dict)
    # items of a chunk that amoCRM refused as a whole for another item's error: not stored
    not_sent: list[int] = field(default_factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and not self.not_sent

    def ids(self) -> dict[int, int]:
        return {i: int(r["id"]) for i, r in self.results.items() if "id" in r}


class AmoClient:
    """One tenant's amoCRM API."""

    def __init__(self, member_id: str, tokens: AmoTokens, window: SlidingWindow,
                 session: requests.Session, hosts: Hosts, plan: Window = AMOCRM,
                 retry: RetryPolicy | None = None,
                 timeout: tuple[float, float] = TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep):
        self.member_id = member_id
        self.tokens = tokens
        self.store = tokens.store
        self.window = window
        self.session = session
        self.hosts = hosts
        self.plan = plan
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self.http_requests = 0
        self._drive: str | None = None

    # addresses --------------------------------------------------------------------------
    def domain(self) -> str:
        portal = self.store.get(self.member_id)
        if portal is None or not portal.domain:
            raise AmoAuthLost(Problem(401, title=f"{self.member_id} is not connected"))
        return account_domain(portal.domain)

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return self.hosts.reach(path_or_url)
        return self.hosts.base(self.domain()) + "/" + path_or_url.lstrip("/")

    # the one request path ---------------------------------------------------------------
    def _check_open(self) -> None:
        raw = self.store.redis.hget(self.store.key(self.member_id), "status")
        status = raw.decode() if raw else ""
        if status == BLOCKED:
            portal = self.store.get(self.member_id)
            reason = portal.status_reason if portal else ""
            raise AmoBlocked(Problem(403, title="tenant blocked, nothing sent",
                                     detail=reason))

    def request(self, method: str, path_or_url: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, data: bytes | None = None,
                headers: Mapping[str, str] | None = None, raw: bool = False) -> Any:
        """Send one API call with the limits, refresh and retry rules; the parsed body
        (None for 204), or the raw `requests.Response` with `raw=True`."""
        method = method.upper()
        url = self.url(path_or_url)
        self._check_open()
        tokens = self.tokens.valid(self.member_id)
        refreshed = moved = False
        attempt = 0
        while True:
            resp = self._send(method, url, tokens, params, json, data, headers, attempt)
            status = resp.status_code
            if 200 <= status < 300:
                return resp if raw else _body(resp)
            err = error_for(status, resp.content, resp.headers.get("Content-Type", ""),
                            method, _short(url))
            if status == 401 and _code(err) == ACCOUNT_NOT_FOUND and not moved:
                # the account was renamed: ask amoCRM where it lives now, once (§0)
                moved = True
                old = self.domain()
                if self.rediscover(tokens) != old:
                    url = self.url(path_or_url.replace(old, self.domain(), 1))
                    continue
            if status == 401:
                if not refreshed and tokens.refresh_token:
                    tokens = self.tokens.refresh(self.member_id, tokens)
                    refreshed = True
                    continue
                why = ("the long-lived token is refused" if not tokens.refresh_token
                       else "amoCRM refuses freshly refreshed tokens")
                self.store.set_status(self.member_id, NEEDS_REINSTALL,
                                      f"{why} (401): reconnect the integration")
                raise AmoAuthLost(err.problem, method, _short(url)) from err
            if status == 403:
                reason = (f"amoCRM refused {method} {_short(url)} with 403 (account's API "
                          f"access blocked or forbidden; {err.problem.title}). No request is "
                          f"sent until an admin re-enables the tenant")
                block(self.store, self.member_id, reason)
                log.error("amoCRM tenant %s blocked: %s", self.member_id, reason)
                raise err
            retry = status == 429 or (status >= 500 and method in RESENDABLE)
            if retry and attempt < self.retry.max_retries:
                pause = self.retry.pause(attempt)
                log.info("amoCRM %s on %s %s for %s, retry %d in %.2fs", status, method,
                         _short(url), self.member_id, attempt + 1, pause)
                self.sleep(pause)
                attempt += 1
                continue
            if isinstance(err, AmoRateLimited):
                err.retry_after_s = self.retry.max_backoff_s
            raise err

    def rediscover(self, tokens: Tokens) -> str:
        """The account's current address after a rename (amocrm.md §0,
        oauth/account-subdomain-info): `GET {api_domain}/oauth2/account/current/subdomain`
        with the refresh token, or, for a long-lived token (none), the deprecated
        `GET www.{zone}/oauth2/account/subdomain` with the access token. Stored only when
        the answer names this very account; the address in use otherwise."""
        old = self.domain()
        zone = "kommo.com" if old.endswith("kommo.com") else "amocrm.ru"
        api = str(jwt_claims(tokens.access_token).get("api_domain") or "")
        try:
            if tokens.refresh_token and api:
                url = self.hosts.base(service_host(api)) + "/oauth2/account/current/subdomain"
                hdrs = {"X-Refresh-Token": tokens.refresh_token}
            else:
                url = self.hosts.base(f"www.{zone}") + "/oauth2/account/subdomain"
                hdrs = {"Authorization": f"Bearer {tokens.access_token}"}
            self.window.acquire(window_key(old), self.plan)
            self.http_requests += 1
            resp = self.session.get(url, headers={**hdrs, "Accept": "application/json"},
                                    timeout=self.timeout, allow_redirects=False)
            body = resp.json() if resp.status_code == 200 else {}
            new = account_domain(str(body.get("domain") or ""))
        except (requests.RequestException, ValueError, AttributeError) as exc:
            log.warning("amoCRM tenant %s: no new address found (%s)", self.member_id, exc)
            return old
        if str(body.get("id")) != str(account_id_of(self.member_id)) or new == old:
            return old
        portal = self.store.get(self.member_id)
        if portal is not None:
            portal.domain = new
            self.store.save(portal)
            log.info("amoCRM tenant %s moved from %s to %s", self.member_id, old, new)
        return new

    def _send(self, method: str, url: str, tokens: Tokens, params: Any, json: Any,
              data: bytes | None, headers: Mapping[str, str] | None,
              attempt: int) -> requests.Response:
        while True:
            self._check_open()
            self.window.acquire(window_key(self.domain()), self.plan)
            self.http_requests += 1
            hdrs = {"Authorization": f"Bearer {tokens.access_token}", "Accept": ACCEPT,
                    **(headers or {})}
            try:
                return self.session.request(method, url, params=params, json=json, data=data,
                                            headers=hdrs, timeout=self.timeout,
                                            allow_redirects=False)
            except requests.ConnectionError as exc:
                # refused before anything was sent is safe to re-send; else the job decides
                safe = method in RESENDABLE or isinstance(exc, requests.ConnectTimeout)
                if not safe or attempt >= self.retry.max_retries:
                    raise network_error(exc, method, _short(url)) from exc
            except requests.RequestException as exc:
                if method not in RESENDABLE or attempt >= self.retry.max_retries:
                    raise network_error(exc, method, _short(url)) from exc
            self.sleep(self.retry.pause(attempt))
            attempt += 1

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any) -> Any:
        return self.request("POST", path, json=json)

    def patch(self, path: str, json: Any) -> Any:
        return self.request("PATCH", path, json=json)

    def put(self, path: str, json: Any) -> Any:
        return self.request("PUT", path, json=json)

    def delete(self, path: str, json: Any = None) -> Any:
        return self.request("DELETE", path, json=json)

    # lists ------------------------------------------------------------------------------
    def paginate(self, path: str, key: str, params: Mapping[str, Any] | None = None,
                 limit: int = PAGE_LIMIT) -> Iterator[dict[str, Any]]:
        """Every item of a list: `limit=250`, then `_links.next.href` verbatim, until a 204
        or a page with no next link."""
        body = self.get(path, {**(params or {}), "limit": limit})
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            if not isinstance(body, dict):
                return
            yield from embedded(body, key)
            href = ((body.get("_links") or {}).get("next") or {}).get("href")
            if not href or href in seen:
                return
            seen.add(href)
            body = self.get(href)
        raise AmoPermanentError(Problem(0, title=f"more than {MAX_PAGES} pages"), "GET", path)

    # batches ----------------------------------------------------------------------------
    def batch(self, method: str, path: str, key: str, items: Sequence[Mapping[str, Any]],
              size: int = BATCH_SIZE) -> BatchResult:
        """Create (POST) or update (PATCH) many items, `size` per request, each with
        `request_id` = its index here; results and validation errors mapped back to it.

        A chunk amoCRM refuses with a 400 stores none of its items: the ones named in
        `validation-errors` get their errors, the others are listed in `not_sent` (the
        caller may send them again without the bad ones).
        """
        out = BatchResult()
        for start in range(0, len(items), size):
            chunk = [{**dict(item), "request_id": str(start + n)}
                     for n, item in enumerate(items[start:start + size])]
            out.requests += 1
            try:
                body = self.request(method, path, json=chunk)
            except AmoValidationError as exc:
                named = set()
                for rid, errs in exc.by_request_id.items():
                    idx = _index(rid, start, len(chunk))
                    if idx is not None:
                        out.errors[idx] = errs
                        named.add(idx)
                out.not_sent += [start + n for n in range(len(chunk)) if start + n not in named]
                continue
            rows = embedded(body, key) if isinstance(body, dict) else (
                body if isinstance(body, list) else [])
            for pos, row in enumerate(rows):
                if not isinstance(row, dict):
                    continue
                idx = _index(row.get("request_id"), start, len(chunk))
                if idx is None and method.upper() == "PATCH" and "id" in row:
                    idx = next((start + n for n, c in enumerate(chunk)
                                if str(c.get("id")) == str(row["id"])), None)
                if idx is None and pos < len(chunk):
                    idx = start + pos
                if idx is not None:
                    out.results[idx] = row
        return out

    # account and files ------------------------------------------------------------------
    def fetch_account(self, with_: str = "drive_url") -> dict[str, Any]:
        body = self.get("/api/v4/account", {"with": with_} if with_ else None)
        if not isinstance(body, dict):
            raise AmoPermanentError(Problem(0, title="no account answer"), "GET",
                                    "/api/v4/account")
        return body

    def drive_url(self) -> str:
        """The account's Files host (`GET /api/v4/account?with=drive_url`), validated."""
        if self._drive:
            return self._drive
        portal = self.store.get(self.member_id)
        url = (portal.extra.get("drive_url") if portal else "") or ""
        if not url:
            url = str(self.fetch_account("drive_url").get("drive_url") or "")
            if portal is not None and url:
                portal.extra["drive_url"] = url
                self.store.save(portal)
        if not url:
            raise AmoPermanentError(Problem(0, title="the account names no drive_url"))
        self.hosts.reach(url)  # refuse a drive host that is not amoCRM's
        self._drive = url.rstrip("/")
        return self._drive

    def file(self, uuid: str) -> dict[str, Any]:
        body = self.get(f"{self.drive_url()}/v1.0/files/{uuid}")
        if not isinstance(body, dict):
            raise AmoPermanentError(Problem(404, title=f"file {uuid} not found"))
        return body

    def download(self, uuid_or_url: str) -> bytes:
        """A file's bytes, by its uuid on the Files host or a download link amoCRM gave."""
        if uuid_or_url.startswith(("http://", "https://")):
            href = uuid_or_url
        else:
            meta = self.file(uuid_or_url)
            links = meta.get("_links") or {}
            href = ((links.get("download") or {}).get("href")
                    or (links.get("download_version") or {}).get("href") or "")
            if not href:
                raise AmoPermanentError(Problem(0, title="the file has no download link"))
        resp = self.request("GET", href, raw=True)
        return resp.content

    def upload(self, name: str, content: bytes, content_type: str = "application/octet-stream",
               file_uuid: str | None = None) -> dict[str, Any]:
        """Upload one file to the Files host in a session (research notes §4.10): open it
        at `{drive}/v1.0/sessions`, then POST parts of at most `max_part_size` to
        `upload_url`, each next one to the `next_url` answered; the file model at the end."""
        spec: dict[str, Any] = {"file_name": name, "file_size": len(content),
                                "content_type": content_type}
        if file_uuid:
            spec["file_uuid"] = file_uuid
        session = self.post(f"{self.drive_url()}/v1.0/sessions", spec)
        if not isinstance(session, dict) or not session.get("upload_url"):
            raise AmoPermanentError(Problem(0, title="no upload session"))
        max_file = int(session.get("max_file_size") or 0)
        if max_file and len(content) > max_file:
            raise AmoPermanentError(Problem(413, title=f"file larger than {max_file} bytes"))
        part = max(1, int(session.get("max_part_size") or 524288))
        url = str(session["upload_url"])
        offset = 0
        while True:
            chunk = content[offset:offset + part]
            answer = self.request("POST", url, data=chunk,
                                  headers={"Content-Type": "application/octet-stream"})
            offset += len(chunk)
            if isinstance(answer, dict) and answer.get("uuid"):
                return answer
            nxt = answer.get("next_url") if isinstance(answer, dict) else None
            if not nxt or offset >= len(content):
                raise AmoPermanentError(Problem(0, title="upload ended without a file"))
            url = str(nxt)


def window_key(host: str) -> str:
    """The rate window a request counts in: the account's host.

    The host is known before the tenant's id is (the first `GET /api/v4/account` of a
    connect tells the id), so keying by it puts those first calls in the same window as
    every later one. Calls to the account's Files host count in the account's window too:
    §5 leaves the limit's scope open, so the strict reading is taken.
    """
    return f"amo:{service_host(host)}"


def embedded(body: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    rows = (body.get("_embedded") or {}).get(key) if isinstance(body, Mapping) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _index(request_id: Any, start: int, n: int) -> int | None:
    text = str(request_id if request_id is not None else "")
    if not text.isdigit():
        return None
    idx = int(text)
    return idx if start <= idx < start + n else None


def _body(resp: requests.Response) -> Any:
    if resp.status_code == 204 or not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return resp.content


ACCOUNT_NOT_FOUND = "101"  # amocrm.md §5, crm_platform/error-codes: no account at this address


def _code(err: AmoError) -> str:
    raw = err.problem.raw
    return str(raw.get("code", "")) if isinstance(raw, dict) else ""


def _short(url: str) -> str:
    """The path of a URL for messages (never the query: it may carry ids only, but keep
    errors small)."""
    from urllib.parse import urlsplit

    return urlsplit(url).path


def account_at(session: requests.Session, hosts: Hosts, domain: str, access_token: str,
               window: SlidingWindow, plan: Window = AMOCRM) -> dict[str, Any]:
    """`GET /api/v4/account?with=drive_url` with a token not stored yet (connecting).

    It takes its slot in the same window as the tenant's later calls (window_key).
    """
    host = service_host(domain)
    window.acquire(window_key(host), plan)
    try:
        resp = session.get(hosts.base(host) + "/api/v4/account", params={"with": "drive_url"},
                           headers={"Authorization": f"Bearer {access_token}",
                                    "Accept": ACCEPT},
                           timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise network_error(exc, "GET", "/api/v4/account") from exc
    if resp.status_code != 200:
        raise error_for(resp.status_code, resp.content, resp.headers.get("Content-Type", ""),
                        "GET", "/api/v4/account")
    body = _body(resp)
    if not isinstance(body, dict) or not str(body.get("id", "")).isdigit():
        raise AmoRetryableError(Problem(0, title="account answer without id"))
    return body


__all__ = ["AmoClient", "AmoError", "BatchResult", "account_at", "embedded"]

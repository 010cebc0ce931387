"""The REST transport: call, batch (auto-chunked, with references), list paging, ID cursor.

Every HTTP request first takes a slot in the portal's shared leaky bucket. Retryable answers
(503, 429, 5xx, network) are retried a bounded number of times with growing pauses, then
raised as BitrixRetryableError so the job is retried later. An expired token is refreshed
once (under the portal's lock) and the call retried once. Other errors are raised typed.

A renamed portal answers at its old address with a 302 to the new one
(settings/how-to-call-rest-api/change-domen.md). The transport re-sends the same POST there
once, and stores the new address; any other redirect stays an error.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from connector.bitrix.errors import (
    BitrixError,
    BitrixRetryableError,
    TokenExpired,
    error_for,
)
from connector.bitrix.forms import encode
from connector.bitrix.oauth import TokenManager
from connector.bitrix.ratelimit import STANDARD, LeakyBucket, Plan
from connector.retry import RetryPolicy

log = logging.getLogger(__name__)

BATCH_MAX = 50
PAGE_SIZE = 50
# answers that say the portal refused the request before doing anything (system-errors.md)
REFUSED_CODES = frozenset({"QUERY_LIMIT_EXCEEDED", "OVERLOAD_LIMIT"})
_REF = re.compile(r"\$result\[([^\]]+)\]")

Command = tuple[str, Mapping[str, Any]]


@dataclass
class Response:
    """One REST answer: the result plus paging facts."""

    result: Any
    total: int | None = None
    next: int | None = None
    time: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchResult:
    """Per-key results and errors of one or more batch calls."""

    result: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, BitrixError] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    next: dict[str, int] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        """The result for key, raising its typed error if that command failed."""
        if key in self.errors:
            raise self.errors[key]
        return self.result.get(key)


class BitrixClient:
    """A portal's REST API as the app's stored token sees it."""

    def __init__(
        self,
        member_id: str,
        client_endpoint: str,
        tokens: TokenManager,
        bucket: LeakyBucket,
        session: requests.Session,
        plan: Plan = STANDARD,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.member_id = member_id
        self.endpoint = client_endpoint.rstrip("/") + "/"
        self.tokens = tokens
        self.bucket = bucket
        self.session = session
        self.plan = plan
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self.http_requests = 0

    # single calls -----------------------------------------------------------------------
    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.call_full(method, params).result

    def call_full(self, method: str, params: Mapping[str, Any] | None = None) -> Response:
        body = self._request(method, dict(params or {}))
        return Response(body.get("result"), body.get("total"), body.get("next"),
                        body.get("time") or {})

    def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        refreshed = False
        attempt = 0
        tokens = self.tokens.current(self.member_id)
        while True:
            try:
                return self._send(method, params, tokens.access_token)
            except TokenExpired:
                if refreshed:
                    raise
                tokens = self.tokens.refresh(self.member_id, tokens)
                refreshed = True
            except BitrixRetryableError as exc:
                if attempt >= self.retry.max_retries:
                    raise
                pause = self.retry.pause(attempt)
                log.info("%s on %s for %s, retry %d in %.2fs", exc.code, method,
                         self.member_id, attempt + 1, pause)
                self.sleep(pause)
                attempt += 1

    def _post(self, url: str, method: str, params: dict[str, Any], access_token: str
              ) -> requests.Response:
        self.bucket.acquire(self.member_id, self.plan)
        self.http_requests += 1
        try:
            return self.session.post(url, json={**params, "auth": access_token},
                                     timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise BitrixRetryableError("NETWORK", type(exc).__name__, 0, method) from exc

    def _send(self, method: str, params: dict[str, Any], access_token: str) -> dict[str, Any]:
        url = f"{self.endpoint}{method}.json"
        resp = self._post(url, method, params, access_token)
        moved = moved_endpoint(url, self.endpoint, resp)
        if moved is not None:
            log.info("portal %s moved to %s", self.member_id, urlsplit(moved).netloc)
            self.endpoint = moved
            self.tokens.store.move_endpoint(self.member_id, moved)
            resp = self._post(f"{self.endpoint}{method}.json", method, params, access_token)
        return _answer(resp, method)

    # files ------------------------------------------------------------------------------
    def post_file(self, url: str, part: str, name: str, content: bytes,
                  method: str = "disk.upload") -> Any:
        """POST one file as multipart/form-data to an upload address the portal handed out
        (the `uploadUrl` of disk.folder.uploadfile, its file in the part named by `field`:
        api-reference/disk/folder/disk-folder-upload-file.md); the answer's `result`.

        The raw bytes, not base64 in a JSON body (a third larger: api-reference/files/
        how-to-upload-files.md). One HTTP request, taken from the portal's bucket and counted
        like any call. The address carries the token it was made for, so an expired token is
        not refreshed here: TokenExpired tells the caller to ask for a new address. Only the
        portal's rate refusal is retried in place (nothing was stored then); any other
        failure may have stored the file, so it is raised for the caller to decide.
        """
        if not same_portal(url, self.endpoint):
            raise error_for("UPLOAD_URL_ELSEWHERE", f"the upload address points away from "
                            f"the portal: {urlsplit(url).netloc}", 0, method)
        attempt = 0
        while True:
            self.bucket.acquire(self.member_id, self.plan)
            self.http_requests += 1
            try:
                resp = self.session.post(url, files={part: (name, content)},
                                         timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                raise BitrixRetryableError("NETWORK", type(exc).__name__, 0, method) from exc
            try:
                return _answer(resp, method).get("result")
            except BitrixRetryableError as exc:
                if exc.code not in REFUSED_CODES or attempt >= self.retry.max_retries:
                    raise
                self.sleep(self.retry.pause(attempt))
                attempt += 1

    # batch ------------------------------------------------------------------------------
    def batch(self, commands: Mapping[str, Command], halt: bool = False) -> BatchResult:
        """Run any number of commands, 50 per HTTP request, keeping their keys.

        A `$result[key]` reference must point at a key in the same chunk of 50 (Bitrix24
        resolves references only inside one batch call); we check that instead of failing
        quietly on the portal.
        """
        keys = list(commands)
        out = BatchResult()
        for start in range(0, len(keys), BATCH_MAX):
            chunk = keys[start : start + BATCH_MAX]
            cmd: dict[str, str] = {}
            for key in chunk:
                method, params = commands[key]
                query = encode(params) if params else ""
                for ref in _REF.findall(query):
                    if ref not in chunk:
                        raise ValueError(f"batch reference $result[{ref}] crosses a chunk")
                cmd[key] = f"{method}?{query}" if query else method
            body = self._request("batch", {"halt": 1 if halt else 0, "cmd": cmd})
            res = body.get("result") or {}
            out.result.update(_as_map(res.get("result")))
            out.total.update({k: int(v) for k, v in _as_map(res.get("result_total")).items()})
            out.next.update({k: int(v) for k, v in _as_map(res.get("result_next")).items()})
            for key, err in _as_map(res.get("result_error")).items():
                err = err if isinstance(err, dict) else {"error": str(err)}
                # an answer may name a key we did not send (batch.md's own sample does)
                method = commands[key][0] if key in commands else "batch"
                out.errors[key] = error_for(str(err.get("error", "ERROR")),
                                            str(err.get("error_description", "")), 0, method)
            if halt and out.errors:
                break
        return out

    # lists ------------------------------------------------------------------------------
    def list_all(self, method: str, params: Mapping[str, Any] | None = None,
                 result_key: str | None = None) -> Iterator[Any]:
        """Page a list by `start`: first page for the total, then 50 pages per batch."""
        params = dict(params or {})
        first = self.call_full(method, {**params, "start": 0})
        yield from _rows(first.result, result_key)
        if first.next is None or first.total is None:
            return
        starts = list(range(first.next, first.total, PAGE_SIZE))
        for i in range(0, len(starts), BATCH_MAX):
            chunk = {f"p{s}": (method, {**params, "start": s}) for s in starts[i : i + BATCH_MAX]}
            res = self.batch(chunk)
            for key in chunk:
                yield from _rows(res.get(key), result_key)

    def iter_by_id(self, method: str, params: Mapping[str, Any] | None = None,
                   id_field: str = "ID", result_key: str | None = None,
                   pages_per_batch: int = BATCH_MAX) -> Iterator[Any]:
        """Read a large table by ID cursor (`start=-1`, `>ID`), chaining pages in one batch.

        Each page's filter names the last ID of the page before it through a `$result`
        reference, so one HTTP request reads up to 50 x 50 rows and nothing is counted.
        """
        params = dict(params or {})
        base_filter = dict(params.pop("filter", {}) or {})
        last_id = int(base_filter.pop(f">{id_field}", 0) or 0)
        params["order"] = {id_field: "ASC"}
        if "select" in params and id_field not in params["select"] and "*" not in params[
                "select"]:
            params["select"] = [*params["select"], id_field]
        path = f"[{result_key}]" if result_key else ""
        while True:
            commands: dict[str, Command] = {}
            for n in range(pages_per_batch):
                cursor: Any = last_id if n == 0 else f"$result[c{n - 1}]{path}[49][{id_field}]"
                commands[f"c{n}"] = (method, {**params, "start": -1,
                                              "filter": {**base_filter, f">{id_field}": cursor}})
            res = self.batch(commands)
            for n in range(pages_per_batch):
                rows = _rows(res.get(f"c{n}"), result_key)
                yield from rows
                if len(rows) < PAGE_SIZE:
                    return
                last_id = int(rows[-1][id_field])


def moved_endpoint(url: str, endpoint: str, resp: requests.Response) -> str | None:
    """The portal's new REST endpoint if `resp` is a rename redirect, else None.

    Only a 301/302/307/308 to the same path on another host counts, over https or the
    scheme we used; anything else (a login page, another path) is not followed.
    """
    if resp.status_code not in (301, 302, 307, 308) or not resp.headers.get("Location"):
        return None
    old, new = urlsplit(url), urlsplit(urljoin(url, resp.headers["Location"]))
    if new.path != old.path or not new.netloc or new.netloc == old.netloc:
        return None
    if new.scheme not in ("https", old.scheme):
        return None
    return f"{new.scheme}://{new.netloc}{urlsplit(endpoint).path}"


def _answer(resp: requests.Response, method: str) -> dict[str, Any]:
    """The JSON body of a 200 answer, or the typed error the portal (or the status) gave."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body and "result" not in body:
        raise error_for(str(body["error"]), str(body.get("error_description", "")),
                        resp.status_code, method)
    if resp.status_code != 200 or not isinstance(body, dict):
        code = "PORTAL_REDIRECT" if 300 <= resp.status_code < 400 else "UNEXPECTED_ANSWER"
        raise error_for(code, f"HTTP {resp.status_code}", resp.status_code, method)
    return body


def same_portal(url: str, endpoint: str) -> bool:
    """Whether `url` is on the portal's own host, over https or the endpoint's scheme."""
    parts, home = urlsplit(url), urlsplit(endpoint)
    return bool(parts.netloc) and parts.netloc == home.netloc and parts.scheme in (
        "https", home.scheme)


def _as_map(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):  # PHP serialises an empty or list-keyed map as a list
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _rows(result: Any, result_key: str | None) -> list[Any]:
    if result_key and isinstance(result, dict):
        result = result.get(result_key)
    return list(result or [])

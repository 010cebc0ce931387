"""Generated HTTP requests for every public route, sent raw over loopback (Hypothesis).

Used by tests/http/test_bad_input.py (a few hundred) and bench/fuzz_routes.py (10,000): any
method, headers, query, form keys with brackets and unicode digits, JSON nested up to
thousands of levels, chunked bodies (valid, broken, over the limit). A request is
"verified" when it carries the portal's real member_id and application token; only those
may queue a job. Requests are written to the socket byte by byte as generated, so a broken
chunked encoding reaches the server as it is.
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

# one concrete path per rule of the app's url_map; tests check that the two agree
ROUTES: dict[str, list[str]] = {
    "/events": ["/events"],
    "/robots/<code>": ["/robots/timeline_note", "/robots/create_deal_folder", "/robots/{x}"],
    "/healthz": ["/healthz"],
    "/install": ["/install"],
    "/app/<name>": ["/app/overview", "/app/general", "/app/operations", "/app/{x}"],
    "/placements/<name>": ["/placements/deal_tab", "/placements/{x}"],
    "/placements/deal_tab/act": ["/placements/deal_tab/act"],
    "/placements/deal_tab/view": ["/placements/deal_tab/view"],
    "/placements/deal_tab/progress": ["/placements/deal_tab/progress"],
    "/google/connect": ["/google/connect"],
    "/google/callback": ["/google/callback"],
    "/static/<path:filename>": ["/static/app.css", "/static/{x}"],
    "/amocrm/oauth": ["/amocrm/oauth"],
    "/amocrm/disabled": ["/amocrm/disabled"],
    "/amocrm/hooks/<int:account_id>/<secret>": ["/amocrm/hooks/30441694/{x}",
                                                "/amocrm/hooks/{x}/{x}"],
    "/amocrm/dp": ["/amocrm/dp"],
    "/amocrm/salesbot": ["/amocrm/salesbot"],
    "/amocrm/widget/open": ["/amocrm/widget/open"],
    "/amocrm/widget/away": ["/amocrm/widget/away"],
}
GETS = {"/healthz", "/app/<name>", "/placements/deal_tab/view",
        "/placements/deal_tab/progress", "/google/connect", "/google/callback",
        "/static/<path:filename>", "/amocrm/oauth", "/amocrm/disabled",
        "/amocrm/widget/away"}
EVENTS = ["ONAPPINSTALL", "ONAPPUPDATE", "ONAPPUNINSTALL", "ONCRMDEALADD", "ONCRMDEALUPDATE",
          "ONCRMLEADADD", "ONCRMXYZ"]
FIELDS = ["auth[member_id]", "auth[application_token]", "auth[expires_in]", "auth[domain]",
          "auth[access_token]", "auth[refresh_token]", "event", "data", "data[CLEAN]",
          "data[FIELDS][ID]", "data[VERSION]", "ts", "event_token", "code", "member_id",
          "APPLICATION_TOKEN", "AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "PLACEMENT",
          "PLACEMENT_OPTIONS", "t", "csrf", "deal", "action", "_action", "_section", "LANG",
          "state", "error", "code", "referer", "account_id", "account[id]",
          "leads[add][0][id]", "leads[status][0][status_id]", "event[data][id]", "token",
          "return_url", "client_uuid", "signature", "away", "page", "lead_id"]
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/json",
                 "application/json; charset=utf-8", "multipart/form-data; boundary=xx",
                 "multipart/form-data", "text/plain", "application/x-www-form-urlencoded; x=",
                 "", "\u0444/\u0444"]
DIGITS = "0123456789\u0660\u0661\u06f1\u0966\uff11\U0001d7ce"
_WEIRD = ["", "0", "-1", "1e309", "nan", "inf", "3600", "\u0663\u0666\u0660\u0660",
          "9" * 5000, "%zz", "\u00e9\u00e8", "[", "]", "{", "\x00", "\ud7ff"]


@dataclass(frozen=True)
class RawRequest:
    """One request as bytes on the wire, and whether it proves itself with the real token."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    framing: str  # "length" | "none" | "chunked" | "broken-chunked"
    verified: bool

    def wire(self, host: str) -> bytes:
        lines = [f"{self.method} {self.target} HTTP/1.1", f"Host: {host}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        payload = self.body
        if self.framing == "length":
            lines.append(f"Content-Length: {len(self.body)}")
        elif self.framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
            payload = _chunked(self.body)
        elif self.framing == "broken-chunked":
            lines.append("Transfer-Encoding: chunked")
            payload = b"zz\r\n" + self.body[:10] + b"\r\n"  # not a hex size, no last chunk
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass") + payload


def _chunked(body: bytes, size: int = 1000) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def send(host: str, port: int, req: RawRequest, timeout: float = 30) -> int:
    """The HTTP status the server answered, or 0 when it closed without one."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # refused before reading it all: answer waits
            sock.sendall(req.wire(f"{host}:{port}"))
        head = b""
        try:
            while b"\r\n" not in head:
                part = sock.recv(4096)
                if not part:
                    break
                head += part
        except OSError:
            pass
    fields = head.split(b" ", 2)
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0


def jobs_waiting(queues: Any) -> int:
    """Every job queued, deferred or scheduled in the app's queues (connector.queue.Queues),
    and every delivery in the inbox (a job once a worker's pump moves it)."""
    return queues.inbox.waiting() + sum(
        q.count + q.deferred_job_registry.count + q.scheduled_job_registry.count
        for q in queues.queues.values())


# strategies -----------------------------------------------------------------------------

texts = st.one_of(st.sampled_from(_WEIRD), st.text(max_size=30),
                  st.text(alphabet=DIGITS, min_size=1, max_size=6))


@st.composite
def form_keys(draw: Any) -> str:
    """A PHP-style key: a known field, or a name with up to 12 bracket parts of any kind."""
    if draw(st.booleans()):
        return draw(st.sampled_from(FIELDS))
    name = draw(st.sampled_from(["a", "auth", "data", "cmd", ""]) | st.text(max_size=5))
    parts = draw(st.lists(st.one_of(st.just(""), st.text(alphabet=DIGITS, max_size=5),
                                    st.sampled_from(["0", "01", "1", "FIELDS", "ID"]),
                                    st.text(max_size=4)), max_size=12))
    return name + "".join(f"[{p}]" for p in parts)


def nested_json(depth: int, leaf: str = "1") -> str:
    """A JSON text `depth` levels deep, objects and lists alternating."""
    opening = "".join('{"a":' if i % 2 else "[" for i in range(depth))
    closing = "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    return opening + leaf + closing


json_texts = st.one_of(
    st.integers(0, 2000).map(nested_json),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                 lambda kids: st.lists(kids, max_size=3)
                 | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                 max_leaves=10).map(json.dumps),
    st.text(max_size=40))


def _plausible(portal: dict[str, Any], token: str) -> list[tuple[str, str]]:
    """The fields the portal's own requests carry (events, robots, frames, the installer)."""
    member_id = portal["member_id"]
    return [("auth[member_id]", member_id), ("auth[application_token]", token),
            ("auth[access_token]", "a1"), ("auth[refresh_token]", "r1"),
            ("auth[expires_in]", "3600"), ("auth[domain]", portal["domain"]),
            ("data[FIELDS][ID]", "1"), ("data[CLEAN]", "0"), ("data[VERSION]", "2"),
            ("ts", "1700000000"), ("event_token", "e1"), ("code", "timeline_note"),
            ("member_id", member_id), ("APPLICATION_TOKEN", token), ("AUTH_ID", "a1"),
            ("AUTH_EXPIRES", "3600"), ("REFRESH_ID", "r1"), ("PLACEMENT_OPTIONS", '{"ID":"1"}'),
            ("deal", "1"), ("t", "x.y"), ("csrf", "c"), ("action", "a.b.c")]


@st.composite
def form_bodies(draw: Any, portal: dict[str, Any], verified: bool) -> bytes:
    """A portal-like form, each field kept, dropped, given a bad value or turned into a
    list or a deeper key, plus random keys; only a verified one has the real token."""
    token = portal["application_token"] if verified else draw(texts)
    pairs = [("event", draw(st.sampled_from(EVENTS) | texts))]
    for key, value in _plausible(portal, token):
        how = draw(st.sampled_from(["keep"] * 5 + ["drop", "value", "value", "list", "deeper"]))
        if how == "keep" or (verified and key in ("auth[member_id]", "member_id",
                                                    "auth[application_token]",
                                                    "APPLICATION_TOKEN")):
            pairs.append((key, value))
        elif how == "value":
            pairs.append((key, draw(json_texts if key == "PLACEMENT_OPTIONS" else texts)))
        elif how == "list":
            pairs += [(f"{key}[]", value), (f"{key}[]", draw(texts))]
        elif how == "deeper":
            pairs.append((f"{key}[{draw(st.text(alphabet=DIGITS, max_size=2))}]", value))
    for _ in range(draw(st.integers(0, 4))):
        pairs.append((draw(form_keys()), draw(texts)))
    if verified and any(p == ("event", "ONAPPUNINSTALL") for p in pairs):
        pairs = [p for p in pairs if not p[0].startswith("data")]  # a bad `data` only
        pairs.append(("data", draw(texts)))
    pairs = draw(st.permutations(pairs))
    safe = draw(st.sampled_from(["", "[]", "[]%"]))
    return "&".join(f"{quote(k, safe=safe)}={quote(v, safe=safe)}" for k, v in pairs).encode(
        "utf-8", "surrogatepass")


@st.composite
def raw_requests(draw: Any, portal: dict[str, Any], limit: int) -> RawRequest:
    """Any request to any public route; `limit` is the app's CONNECTOR_MAX_BODY_BYTES."""
    rule = draw(st.sampled_from(sorted(ROUTES)))
    path = draw(st.sampled_from(ROUTES[rule])).replace(
        "{x}", quote(draw(st.text(min_size=1, max_size=12)), safe=""))
    query = draw(st.lists(st.tuples(st.sampled_from(["t", "deal", "state", "code", "error",
                                                     "section", "job", "LANG", "DOMAIN"])
                                    | st.text(max_size=4), texts), max_size=4))
    target = path + ("?" + "&".join(f"{quote(k)}={quote(v, safe='')}"
                                    for k, v in query) if query else "")
    natural = "GET" if rule in GETS else "POST"
    method = draw(st.sampled_from([natural] * 6 + ["POST", "GET", "PUT", "DELETE", "PATCH",
                                                   "HEAD", "OPTIONS"]))
    verified = draw(st.booleans())
    ctype = draw(st.sampled_from([CONTENT_TYPES[0]] * 6 + CONTENT_TYPES))
    kind = draw(st.sampled_from(["form", "form", "json", "json-event", "bytes", "huge"]))
    if kind == "form" or (kind == "json" and "json" not in ctype):
        body = draw(form_bodies(portal, verified))
    elif kind == "json":
        body = draw(json_texts).encode("utf-8", "surrogatepass")
    elif kind == "json-event":
        auth = json.dumps({"member_id": portal["member_id"],
                           "application_token": portal["application_token"]}
                          ) if verified else draw(json_texts)
        body = f'{{"event":"ONCRMDEALADD","auth":{auth},"data":{draw(json_texts)}}}'.encode(
            "utf-8", "surrogatepass")
        ctype = "application/json"
    elif kind == "bytes":
        body = draw(st.binary(max_size=200))
    else:  # over the limit, verified, so only the size can refuse it
        body = draw(form_bodies(portal, True)) + b"&pad=" + b"x" * (limit + 1)
        verified = True
    headers = [("Content-Type", ctype)] if ctype or draw(st.booleans()) else []
    headers += draw(st.lists(st.tuples(st.sampled_from(["X-Forwarded-For", "Accept-Language",
                                                        "Origin", "Referer", "Cookie"]),
                                       st.text(alphabet=st.characters(
                                           min_codepoint=32, max_codepoint=126), max_size=20)),
                             max_size=2))
    framing = draw(st.sampled_from(["length"] * 5 + ["chunked", "chunked", "broken-chunked",
                                                     "none"]))
    return RawRequest(method, target, tuple(headers), body, framing, verified)

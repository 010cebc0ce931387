"""What the portal POSTs into an iframe when it opens an app's page or widget.

Two documented shapes, both "a POST: some parameters in the handler's query string, the
rest in the body":
- a widget such as the deal tab: api-reference/widgets/crm/detail-tab.md (its printed
  request) and api-reference/widgets/_includes/widget_data.md (which part goes where);
- the app itself from the portal's menu (PLACEMENT=DEFAULT, no PLACEMENT_OPTIONS):
  settings/oauth/simple-way.md.
AUTH_ID and REFRESH_ID are a fresh token pair of the user looking at the page, so the app
sees that user's rights. Pure apart from issuing the tokens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from ..state import new_hex

if TYPE_CHECKING:
    from ..core import Emulator
    from ..state import Portal

# widget_data.md, "Параметры в query-строке адреса обработчика"
QUERY_FIELDS = ("DOMAIN", "PROTOCOL", "LANG", "APP_SID")
# detail-tab.md's printed request, in its order, less the query-string part
BODY_FIELDS = ("AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "SERVER_ENDPOINT", "APPLICATION_TOKEN",
               "APPLICATION_SCOPE", "member_id", "status", "PLACEMENT", "PLACEMENT_OPTIONS")
APP_PAGE = "DEFAULT"  # simple-way.md: the app's main page


@dataclass(frozen=True)
class FrameRequest:
    """A form to POST into an iframe: `action` carries the query part, `fields` the body."""

    action: str
    fields: dict[str, str]


def frame_request(emu: Emulator, portal: Portal, user_id: int, handler: str, placement: str,
                  options: dict[str, Any] | None = None) -> FrameRequest:
    """The POST that opens `handler` as `user_id` sees it, for `placement`.

    PROTOCOL is the portal's own scheme (widget_data.md: 0 = HTTP, 1 = HTTPS); the demo
    portal is served over http.
    """
    rec = emu.issue_tokens(portal, user_id)
    scheme = urlsplit(emu.endpoint_for(portal)).scheme
    query = {"DOMAIN": portal.domain, "PROTOCOL": "1" if scheme == "https" else "0",
             "LANG": emu.config.language_id, "APP_SID": new_hex(16)}
    body = {
        "AUTH_ID": rec.access_token,
        "AUTH_EXPIRES": str(int(emu.config.token_ttl)),
        "REFRESH_ID": rec.refresh_token,
        "SERVER_ENDPOINT": emu.server_endpoint,
        "APPLICATION_TOKEN": portal.app.application_token,
        "APPLICATION_SCOPE": emu.scope_string(","),
        "member_id": portal.member_id,
        "status": "L",
        "PLACEMENT": placement,
    }
    if placement != APP_PAGE:
        body["PLACEMENT_OPTIONS"] = json.dumps(options or {}, separators=(",", ":"))
    sep = "&" if "?" in handler else "?"
    return FrameRequest(f"{handler}{sep}{urlencode(query)}", body)


def deal_tab_options(deal_id: int) -> dict[str, str]:
    """detail-tab.md's PLACEMENT_OPTIONS: the deal's ID and the card's URI (widget_data.md:
    "the page the widget is opened from")."""
    return {"ID": str(deal_id),
            "URI": f"/crm/deal/details/{deal_id}/?IFRAME=Y&IFRAME_TYPE=SIDE_SLIDER"}

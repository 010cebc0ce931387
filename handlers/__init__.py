"""The event registry: every event the app binds and how a job handles it, declared once.

App lifecycle events (ONAPPINSTALL/UPDATE/UNINSTALL) are listed in LIFECYCLE: ingress treats
them specially because their tokens prove themselves against the OAuth server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.crm import CRM_EVENTS, Subscriber, make_handler
from robots.deal_workspace import robot as deal_workspace
from robots.distribution import robot as distribution
from robots.drive_mirror import robot as drive_mirror

Handler = Callable[[Any, dict[str, Any]], None]

SUBSCRIBERS: dict[str, list[Subscriber]] = {
    "ONCRMLEADADD": [distribution.on_lead_add],
    "ONCRMDEALADD": [distribution.on_deal_add, deal_workspace.on_deal_add,
                     drive_mirror.on_deal_change],
    "ONCRMDEALUPDATE": [distribution.on_deal_update, deal_workspace.on_deal_update,
                        drive_mirror.on_deal_change],
    "ONCRMACTIVITYADD": [drive_mirror.on_activity_add],
    "ONCRMDYNAMICITEMADD": [distribution.on_dynamic_item_add],
}
EVENTS: dict[str, Handler] = {name: make_handler(name, SUBSCRIBERS.get(name, []))
                              for name in CRM_EVENTS}
OFFLINE_EVENTS: tuple[str, ...] = CRM_EVENTS
LIFECYCLE = ("ONAPPINSTALL", "ONAPPUPDATE", "ONAPPUNINSTALL")
BOUND_LIFECYCLE = ("ONAPPUPDATE", "ONAPPUNINSTALL")

"""The event registry: every event the app binds and how a job handles it, declared once.

App lifecycle events (ONAPPINSTALL/UPDATE/UNINSTALL) are listed in LIFECYCLE: ingress treats
them specially because their tokens prove themselves against the OAuth server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.crm import CRM_EVENTS, make_handler

Handler = Callable[[Any, dict[str, Any]], None]

EVENTS: dict[str, Handler] = {name: make_handler(name) for name in CRM_EVENTS}
OFFLINE_EVENTS: tuple[str, ...] = CRM_EVENTS
LIFECYCLE = ("ONAPPINSTALL", "ONAPPUPDATE", "ONAPPUNINSTALL")
BOUND_LIFECYCLE = ("ONAPPUPDATE", "ONAPPUNINSTALL")

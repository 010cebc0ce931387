"""The deployment's capability registry, for tests that look at what it declares."""

from __future__ import annotations

from connector.bitrix.events import BOUND_LIFECYCLE, bitrix_events
from connector.capability import Registry
from robots import CAPABILITIES

REGISTRY = Registry(CAPABILITIES)
ROBOTS = list(REGISTRY.triggers.values())
EVENTS = bitrix_events(REGISTRY.events())  # the Bitrix24 CRM events the app binds
__all__ = ["BOUND_LIFECYCLE", "EVENTS", "REGISTRY", "ROBOTS"]

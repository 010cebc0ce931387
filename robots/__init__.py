"""The robot registry: declared once, used by the router, the installer and the worker."""

from __future__ import annotations

from robots import timeline_note
from robots.spec import RobotSpec

ROBOTS: list[RobotSpec] = [timeline_note.SPEC]
ROBOTS_BY_CODE: dict[str, RobotSpec] = {spec.code: spec for spec in ROBOTS}

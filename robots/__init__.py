"""The robot registry: declared once, used by the router, the installer and the worker."""

from __future__ import annotations

from robots import timeline_note
from robots.deal_workspace import robot as deal_workspace
from robots.distribution import robot as distribution
from robots.drive_mirror import config as _drive_mirror_settings  # noqa: F401 - its section
from robots.spec import RobotSpec

ROBOTS: list[RobotSpec] = [
    timeline_note.SPEC,
    distribution.SPEC,
    deal_workspace.FOLDER_SPEC,
    deal_workspace.CHAT_SPEC,
]
ROBOTS_BY_CODE: dict[str, RobotSpec] = {spec.code: spec for spec in ROBOTS}

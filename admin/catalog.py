"""The portal's names (users, departments, pipelines, stages, sources, fields, smart
processes), read with the admin's own token when the app is opened. [being built]"""

from __future__ import annotations

from typing import Any


def remember(services: Any, portal: Any, viewer: Any, auth_id: str) -> None:
    return None


def recall(services: Any, member_id: str, user_id: str) -> Any:
    return None

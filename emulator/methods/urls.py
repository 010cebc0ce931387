"""Handler URL checks shared by event.bind, placement.bind and bizproc.robot.add."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import RestError

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def check_handler(url: str, allow_local: bool, empty_code: str = "ERROR_WRONG_HANDLER_URL") -> str:
    """http/https and a dotted host; local hosts only when the emulator allows them."""
    if not url:
        raise RestError(empty_code, "Handler URL is empty", 400)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RestError("ERROR_UNSUPPORTED_PROTOCOL", "Unsupported event handler protocol", 400)
    host = (parts.hostname or "").lower()
    if host in LOCAL_HOSTS or host.startswith("127."):
        if not allow_local:
            raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL", 400)
        return url
    if "." not in host:
        raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL", 400)
    return url

"""Error kinds that decide what happens to a job: retry later, give up, or ask for reinstall."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error the app raises on purpose."""


class Retryable(ConnectorError):
    """A blip or an outage: the job is retried with growing intervals."""


class Permanent(ConnectorError):
    """Retrying cannot help (bad input, missing rights): straight to the failed registry."""


class AuthLost(Permanent):
    """The portal's refresh token was refused: an admin must open the app (reinstall)."""

"""One way to rotate a tenant's single-use refresh token, whatever the CRM.

Bitrix24 and amoCRM both issue refresh tokens that work once: two workers refreshing the
same pair would invalidate each other, and the loser's tenant would need a reinstall. So a
refresh takes the tenant's Redis lock, re-reads the stored pair inside it, calls the OAuth
server only if nobody rotated the pair meanwhile (the version counter says so), and saves
the new pair before the lock is released. One token-endpoint call per expiry.

A CRM adapter subclasses `RotatingTokens` with how its OAuth server is asked (`grant`)
and which of its errors mean "busy, try later" and "refused, reinstall".
"""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis

from connector.bitrix.store import NEEDS_REINSTALL, PortalStore, Tokens
from connector.errors import AuthLost, ConnectorError

log = logging.getLogger(__name__)


class RotatingTokens:
    """Hands out a tenant's access token and rotates the pair at most once per expiry."""

    def __init__(self, store: PortalStore, redis: Redis, lock_timeout: float = 30.0):
        self.store = store
        self.redis = redis
        self.lock_timeout = lock_timeout

    # the adapter's part ----------------------------------------------------------------
    def grant(self, member_id: str, tokens: Tokens) -> tuple[Tokens, dict[str, Any]]:
        """Ask the OAuth server for a new pair; return it and the raw answer."""
        raise NotImplementedError

    def missing(self, member_id: str, why: str, reinstall: bool = False) -> ConnectorError:
        """The error for a tenant with no usable tokens (an AuthLost); `reinstall`: the
        tenant is marked as needing one."""
        return AuthLost(f"{member_id}: {why}")

    def busy(self, member_id: str) -> ConnectorError:
        """The error for a refresh lock held past lock_timeout (a Retryable)."""
        from connector.errors import Retryable

        return Retryable(f"{member_id}: token refresh lock busy")

    def refused(self, exc: Exception) -> bool:
        """Whether `exc` from grant() means the refresh token is dead (reinstall)."""
        return isinstance(exc, AuthLost)

    def refusal_reason(self, exc: Exception) -> str:
        """The status reason an admin reads when the refresh token was refused."""
        return f"refresh refused ({exc})"

    def saved(self, member_id: str, tokens: Tokens, answer: dict[str, Any]) -> None:
        """Hook after the new pair is stored (still under the lock)."""

    # the shared part -------------------------------------------------------------------
    def current(self, member_id: str) -> Tokens:
        tokens = self.store.get_tokens(member_id)
        portal = self.store.get(member_id)
        if portal is None or tokens is None:
            raise self.missing(member_id, "no stored tokens")
        if portal.status == NEEDS_REINSTALL:
            raise self.missing(member_id, portal.status_reason or "reinstall needed",
                               reinstall=True)
        return tokens

    def refresh(self, member_id: str, stale: Tokens) -> Tokens:
        """Rotate the pair unless another process already did since `stale` was read."""
        lock = self.redis.lock(self.store.lock_key(member_id, "refresh"),
                               timeout=self.lock_timeout, blocking_timeout=self.lock_timeout)
        if not lock.acquire():
            raise self.busy(member_id)
        try:
            fresh = self.store.get_tokens(member_id)
            if fresh is not None and fresh.version != stale.version:
                return fresh
            if fresh is None:
                raise self.missing(member_id, "no stored tokens")
            try:
                tokens, answer = self.grant(member_id, fresh)
            except Exception as exc:
                if self.refused(exc):
                    self.store.set_status(member_id, NEEDS_REINSTALL,
                                          self.refusal_reason(exc))
                    log.warning("tenant %s refresh refused: needs reinstall", member_id)
                raise
            saved = self.store.save_tokens(member_id, tokens)
            self.saved(member_id, saved, answer)
            return saved
        finally:
            try:
                lock.release()
            except Exception:  # noqa: BLE001 - an expired lock is not our problem any more
                log.warning("refresh lock for %s expired before release", member_id)

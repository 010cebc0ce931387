"""Installation store: one record per portal keyed by member_id, tokens encrypted at rest.

The application_token is kept only as an HMAC digest: ingress compares digests, so a copy of
Redis is not enough to forge events. The token pair is a Fernet blob with a version counter,
which the refresh code uses to tell whether another worker already rotated it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from redis import Redis
from redis.client import Pipeline

ACTIVE = "active"
NEEDS_REINSTALL = "needs_reinstall"
UNINSTALLED = "uninstalled"


@dataclass
class Tokens:
    """An OAuth pair; never logged, never put in job arguments."""

    access_token: str
    refresh_token: str
    expires_at: float
    version: int = 0

    def expired(self, now: float | None = None, margin: float = 0.0) -> bool:
        return (now if now is not None else time.time()) >= self.expires_at - margin

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return f"Tokens(version={self.version}, expires_at={self.expires_at:.0f})"


@dataclass
class Portal:
    """What we know about one installation; secrets live in Tokens, not here."""

    member_id: str
    domain: str = ""
    client_endpoint: str = ""
    server_endpoint: str = ""
    scope: str = ""
    user_id: str = ""
    status: str = ACTIVE
    status_reason: str = ""
    version: str = ""
    license_family: str = ""
    installed_at: float = 0.0
    updated_at: float = 0.0
    language: str = ""  # the portal's LANGUAGE_ID as install/update last told us
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def needs_reinstall(self) -> bool:
        return self.status == NEEDS_REINSTALL


PORTAL_FIELDS = [f for f in Portal.__dataclass_fields__ if f not in ("member_id", "extra")]


class PortalStore:
    """Redis-backed installation store shared by web and worker processes."""

    def __init__(self, redis: Redis, encryption_key: str, signing_key: str, prefix: str = "cc",
                 digest_cache_s: float = 0.0):
        self.redis = redis
        self.fernet = Fernet(encryption_key.encode())
        self.signing_key = signing_key.encode()
        self.prefix = prefix
        self.digest_cache_s = digest_cache_s
        self._digests: dict[str, tuple[float, bytes | None]] = {}
        self._changes = 0  # bumped after this process changes a digest in Redis

    # keys -------------------------------------------------------------------------------
    def key(self, member_id: str) -> str:
        return f"{self.prefix}:portal:{member_id}"

    @property
    def index_key(self) -> str:
        return f"{self.prefix}:portals"

    @property
    def reinstall_index_key(self) -> str:
        """The member ids whose status is needs_reinstall, so /healthz never walks portals."""
        return f"{self.prefix}:portals:needs_reinstall"

    def _index_status(self, pipe: Pipeline, member_id: str, status: str) -> None:
        if status == NEEDS_REINSTALL:
            pipe.sadd(self.reinstall_index_key, member_id)
        else:
            pipe.srem(self.reinstall_index_key, member_id)

    def lock_key(self, member_id: str, what: str) -> str:
        return f"{self.prefix}:lock:{what}:{member_id}"

    # application token ------------------------------------------------------------------
    def token_digest(self, application_token: str) -> str:
        return hmac.new(self.signing_key, application_token.encode(), hashlib.sha256).hexdigest()

    def application_token_matches(self, member_id: str, application_token: str) -> bool:
        """Constant-time check of an event's application_token against the stored digest."""
        stored = self._stored_digest(member_id)
        given = self.token_digest(application_token or "")
        if not stored:
            hmac.compare_digest(given, given)  # same work whether or not the portal exists
            return False
        return hmac.compare_digest(stored.decode(), given)

    def _stored_digest(self, member_id: str) -> bytes | None:
        """The stored digest; web processes may keep it a few seconds to save a round trip.

        A digest read while this process changed one (an uninstall on another thread) is
        not kept: the change takes effect here at once, elsewhere within digest_cache_s.
        """
        if self.digest_cache_s <= 0:
            return self.redis.hget(self.key(member_id), "app_token_digest")
        now = time.monotonic()
        hit = self._digests.get(member_id)
        if hit is not None and now - hit[0] < self.digest_cache_s:
            return hit[1]
        changes = self._changes
        stored = self.redis.hget(self.key(member_id), "app_token_digest")
        if changes == self._changes:
            if len(self._digests) > 10_000:
                self._digests.clear()
            self._digests[member_id] = (now, stored)
        return stored

    def _forget_digest(self, member_id: str) -> None:
        """After the Redis write: later reads in this process see the change."""
        self._changes += 1
        self._digests.pop(member_id, None)

    def set_application_token(self, member_id: str, application_token: str) -> None:
        self.redis.hset(
            self.key(member_id), "app_token_digest", self.token_digest(application_token)
        )
        self._forget_digest(member_id)

    def has_application_token(self, member_id: str) -> bool:
        return bool(self.redis.hexists(self.key(member_id), "app_token_digest"))

    # portal record ----------------------------------------------------------------------
    def exists(self, member_id: str) -> bool:
        return bool(self.redis.exists(self.key(member_id)))

    def get(self, member_id: str) -> Portal | None:
        raw = self.redis.hgetall(self.key(member_id))
        if not raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        portal = Portal(member_id=member_id)
        for name in PORTAL_FIELDS:
            if name in data:
                kind = Portal.__dataclass_fields__[name].type
                value = data[name]
                setattr(portal, name, float(value or 0) if kind == "float" else value)
        portal.extra = json.loads(data.get("extra", "{}"))
        return portal

    def save(self, portal: Portal) -> None:
        portal.updated_at = time.time()
        mapping = {name: str(getattr(portal, name)) for name in PORTAL_FIELDS}
        mapping["extra"] = json.dumps(portal.extra)
        pipe = self.redis.pipeline()
        pipe.hset(self.key(portal.member_id), mapping=mapping)
        pipe.sadd(self.index_key, portal.member_id)
        self._index_status(pipe, portal.member_id, portal.status)
        pipe.execute()

    def set_status(self, member_id: str, status: str, reason: str = "") -> None:
        pipe = self.redis.pipeline()
        pipe.hset(
            self.key(member_id),
            mapping={"status": status, "status_reason": reason, "updated_at": str(time.time())},
        )
        self._index_status(pipe, member_id, status)
        pipe.execute()

    def count(self) -> int:
        return int(self.redis.scard(self.index_key))

    def needing_reinstall(self, limit: int) -> tuple[int, list[str]]:
        """How many portals need a reinstall, and up to `limit` of their member ids."""
        pipe = self.redis.pipeline()
        pipe.scard(self.reinstall_index_key)
        pipe.srandmember(self.reinstall_index_key, limit)
        total, some = pipe.execute()
        return int(total), sorted(m.decode() for m in some)

    def move_endpoint(self, member_id: str, client_endpoint: str) -> bool:
        """Record the portal's current REST address and domain (a renamed portal).

        settings/how-to-call-rest-api/change-domen.md: after a rename the old address
        redirects to the new one; the refresh answer's client_endpoint names it too.
        Only a changed endpoint changes anything; the domain becomes its host, as on a real
        portal. Returns whether anything changed. A portal we do not know is left alone.
        """
        endpoint = client_endpoint.rstrip("/") + "/"
        current = self.redis.hget(self.key(member_id), "client_endpoint")
        if current is None or current.decode().rstrip("/") + "/" == endpoint:
            return False
        self.redis.hset(self.key(member_id), mapping={
            "client_endpoint": endpoint, "domain": urlsplit(endpoint).netloc,
            "updated_at": str(time.time())})
        return True

    def member_ids(self) -> list[str]:
        return sorted(m.decode() for m in self.redis.smembers(self.index_key))

    def all(self) -> Iterator[Portal]:
        for member_id in self.member_ids():
            portal = self.get(member_id)
            if portal:
                yield portal

    def delete(self, member_id: str) -> None:
        pipe = self.redis.pipeline()
        pipe.delete(self.key(member_id))
        pipe.srem(self.index_key, member_id)
        pipe.srem(self.reinstall_index_key, member_id)
        pipe.execute()

    # tokens -----------------------------------------------------------------------------
    def get_tokens(self, member_id: str) -> Tokens | None:
        blob = self.redis.hget(self.key(member_id), "tokens")
        if not blob:
            return None
        try:
            data = json.loads(self.fernet.decrypt(blob))
        except InvalidToken:
            return None
        return Tokens(**data)

    def save_tokens(self, member_id: str, tokens: Tokens) -> Tokens:
        """Store a new pair with a bumped version; the caller holds the refresh lock."""
        current = self.get_tokens(member_id)
        tokens.version = (current.version if current else 0) + 1
        blob = self.fernet.encrypt(json.dumps(asdict(tokens)).encode())
        self.redis.hset(self.key(member_id), "tokens", blob)
        return tokens

    def drop_tokens(self, member_id: str) -> None:
        """Revoke the portal's tokens: its application token stops matching at once."""
        self.redis.hdel(self.key(member_id), "tokens", "app_token_digest")
        self._forget_digest(member_id)

"""What the app made, kept in Redis per item: each document's versions with their numbers,
files, registry items and statuses (the deal tab reads it, never the CRM), and the upload a
failed attempt left behind (its retry reuses the file instead of making a second one).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from connector.crm.port import ItemRef

PENDING_TTL_S = 24 * 3600


@dataclass
class Made:
    """One version of a document of an item."""

    code: str
    version: int
    number: str
    title: str
    day: str  # the document's date, YYYY-MM-DD
    folder_id: int = 0
    file_id: int = 0
    file_url: str = ""
    pdf_id: int = 0
    pdf_url: str = ""
    pdf_error: str = ""
    registry_id: int = 0
    status: str = "draft"
    check_task: int = 0
    made_at: float = 0.0
    amount: str = ""
    currency: str = ""
    sequence: list[str] = field(default_factory=list)  # numbers.Sequence parts, when numbered
    n: int = 0

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Made:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


def _ref_key(ref: ItemRef) -> str:
    return f"{ref.kind}:{ref.id}"


class Records:
    """The documents of one portal (keys under the documents capability's prefix)."""

    def __init__(self, redis: Any, key: Any):
        self.redis = redis
        self._key = key  # JobContext.key: parts -> Redis key

    def _item(self, ref: ItemRef) -> str:
        return str(self._key("made", _ref_key(ref)))

    def versions(self, ref: ItemRef, code: str) -> list[Made]:
        raw = self.redis.hget(self._item(ref), code)
        return [Made.of(v) for v in json.loads(raw)] if raw else []

    def version(self, ref: ItemRef, code: str, version: int) -> Made | None:
        return next((m for m in self.versions(ref, code) if m.version == int(version)), None)

    def latest(self, ref: ItemRef, code: str) -> Made | None:
        found = self.versions(ref, code)
        return found[-1] if found else None

    def all(self, ref: ItemRef) -> dict[str, list[Made]]:
        """Every document of the item, by code, oldest version first."""
        return {k.decode() if isinstance(k, bytes) else k: [Made.of(v) for v in json.loads(raw)]
                for k, raw in self.redis.hgetall(self._item(ref)).items()}

    def save(self, ref: ItemRef, made: Made) -> None:
        """Add or replace the version (by its number) of the document."""
        versions = [m for m in self.versions(ref, made.code) if m.version != made.version]
        versions.append(made)
        versions.sort(key=lambda m: m.version)
        with self.redis.pipeline() as pipe:
            pipe.hset(self._item(ref), made.code, json.dumps([asdict(m) for m in versions],
                                                             ensure_ascii=False))
            if made.registry_id:
                pipe.set(self._key("registry", made.registry_id),
                         json.dumps([ref.kind, ref.id, made.code, made.version]))
            pipe.execute()

    def by_registry(self, registry_id: int) -> tuple[ItemRef, str, int] | None:
        """The item, code and version a registry item was made for."""
        raw = self.redis.get(self._key("registry", registry_id))
        if not raw:
            return None
        kind, item_id, code, version = json.loads(raw)
        return ItemRef(kind, int(item_id)), code, int(version)

    def update(self, ref: ItemRef, code: str, version: int, **changes: Any) -> Made | None:
        """Change fields of one version; None when the app has no such version."""
        found = self.version(ref, code, version)
        if found is None:
            return None
        for name, value in changes.items():
            setattr(found, name, value)
        self.save(ref, found)
        return found

    # an upload an attempt made before it could finish --------------------------------------
    def _pending(self, sequence_key: str, n: int) -> str:
        return f"{sequence_key}:pending:{n}"

    def pending(self, sequence_key: str, n: int) -> dict[str, Any]:
        raw = self.redis.get(self._pending(sequence_key, n))
        return json.loads(raw) if raw else {}

    def keep_pending(self, sequence_key: str, n: int, **facts: Any) -> None:
        self.redis.set(self._pending(sequence_key, n), json.dumps(facts), ex=PENDING_TTL_S)

    def drop_pending(self, sequence_key: str, n: int) -> None:
        self.redis.delete(self._pending(sequence_key, n))

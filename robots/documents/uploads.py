"""Templates an admin uploaded on the admin page, kept by the app (the admin has no shell on
our server): checked on upload (size, archive, syntax, what the sandbox refuses) so a broken
one is refused at once, stored by the sha256 of its bytes, and listed with the fields it uses.

A document in the settings names its template by that sha256; the bytes stay while any
document names them (deleting one that is in use is refused).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from robots.documents import render

MAX_KEPT = 100  # templates per portal


@dataclass(frozen=True)
class Upload:
    sha: str
    name: str
    size: int
    uploaded_at: float
    uploaded_by: int
    fields: tuple[str, ...]


class Uploads:
    """The uploaded templates of one portal (keys under the documents capability's prefix)."""

    def __init__(self, redis: Any, key: Any):
        self.redis = redis
        self._key = key

    def _index(self) -> str:
        return str(self._key("uploads"))

    def _blob(self, sha: str) -> str:
        return str(self._key("upload", sha))

    def add(self, name: str, content: bytes, user_id: int = 0) -> Upload:
        """Check and keep a template; TemplateProblem says what is wrong with it."""
        render.prepare(content)  # size, archive, syntax and the sandbox's refusals
        sha = hashlib.sha256(content).hexdigest()
        up = Upload(sha, name.strip()[:200] or "template.docx", len(content), time.time(),
                    int(user_id), tuple(sorted(render.fields(content))))
        if not self.redis.hexists(self._index(), sha) and self.redis.hlen(
                self._index()) >= MAX_KEPT:
            raise ValueError(f"at most {MAX_KEPT} templates are kept")
        with self.redis.pipeline() as pipe:
            pipe.set(self._blob(sha), content)
            pipe.hset(self._index(), sha, json.dumps(asdict(up), ensure_ascii=False))
            pipe.execute()
        return up

    def content(self, sha: str) -> bytes | None:
        raw = self.redis.get(self._blob(sha))
        return bytes(raw) if raw is not None else None

    def get(self, sha: str) -> Upload | None:
        raw = self.redis.hget(self._index(), sha)
        if not raw:
            return None
        data = json.loads(raw)
        return Upload(**{**data, "fields": tuple(data.get("fields") or ())})

    def all(self) -> list[Upload]:
        """Newest first."""
        out = []
        for raw in self.redis.hvals(self._index()):
            data = json.loads(raw)
            out.append(Upload(**{**data, "fields": tuple(data.get("fields") or ())}))
        return sorted(out, key=lambda u: -u.uploaded_at)

    def remove(self, sha: str) -> bool:
        with self.redis.pipeline() as pipe:
            pipe.delete(self._blob(sha))
            pipe.hdel(self._index(), sha)
            return bool(pipe.execute()[1])

"""Outgoing HTTP from the portal to the app: events, the installer page and robot calls.

Bitrix24 posts form-encoded nested keys and never retries; deliveries are recorded so
tests can see exactly what the app was sent and how it answered.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import requests

from .forms import encode

log = logging.getLogger("emulator.delivery")


class Deliverer:
    """Posts to the app and keeps a log of every attempt."""

    def __init__(self, timeout: float = 10.0, workers: int = 8) -> None:
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emu-delivery")
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self.records: list[dict[str, Any]] = []
        self._n = 0

    def post(
        self,
        url: str,
        data: dict[str, Any],
        kind: str,
        event: str | None = None,
        member_id: str | None = None,
    ) -> dict[str, Any]:
        """POST synchronously and return the recorded delivery."""
        record: dict[str, Any] = {
            "url": url,
            "kind": kind,
            "event": event,
            "member_id": member_id,
            "ts": time.time(),
            "status_code": None,
            "response": "",
            "error": None,
            "body": data,
        }
        started = time.monotonic()
        try:
            resp = requests.post(
                url,
                data=encode(data),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=self.timeout,
                allow_redirects=False,
            )
            record["status_code"] = resp.status_code
            record["response"] = resp.text[:2000]
        except requests.RequestException as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["duration"] = round(time.monotonic() - started, 4)
        with self._lock:
            self._n += 1
            record["n"] = self._n
            self.records.append(record)
        log.info("delivery %s %s -> %s", kind, url, record["status_code"] or record["error"])
        return record

    def post_async(
        self,
        url: str,
        data: dict[str, Any],
        kind: str,
        event: str | None = None,
        member_id: str | None = None,
    ) -> Future[dict[str, Any]]:
        """Queue a POST on the delivery pool (how events leave the portal)."""
        with self._lock:
            self._pending += 1

        def run() -> dict[str, Any]:
            try:
                return self.post(url, data, kind, event, member_id)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._idle.notify_all()

        return self._pool.submit(run)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until queued deliveries finished (tests use it instead of sleeping)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def snapshot(self, since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.records if r["n"] > since]

    def clear(self) -> None:
        with self._lock:
            self.records.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

"""What every benchmark shares: a private stack on loopback, JSON-line output, percentiles.

A benchmark must not touch the developer's Redis or ports, and must leave no process behind
even when it fails or is interrupted, so the stack is a context manager that owns every child.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from types import FrameType
from typing import Any

import requests
from cryptography.fernet import Fernet

from devstack.processes import (
    base_env,
    emulator_args,
    free_port,
    gunicorn_args,
    spawn,
    start_redis,
    stop,
    wait_for,
)

LOOPBACK = "127.0.0.1"
CLIENT_ID = "local.bench"


def emit(bench: str, phase: str, **values: Any) -> dict[str, Any]:
    """One JSON line on stdout, flushed at once so a watcher sees progress as it happens."""
    line = {"bench": bench, "phase": phase, **values}
    print(json.dumps(line, ensure_ascii=False, default=str), flush=True)
    return line


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of already sorted values; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """p50/p90/p99/max in milliseconds, rounded for reading."""
    values = sorted(seconds)
    out: dict[str, float | int] = {"n": len(values)}
    for name, p in (("p50_ms", 50), ("p90_ms", 90), ("p99_ms", 99), ("max_ms", 100)):
        out[name] = round(percentile(values, p) * 1000, 3)
    out["mean_ms"] = round(sum(values) / len(values) * 1000, 3) if values else math.nan
    return out


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so the stack's cleanup runs as it does on Ctrl-C."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


@dataclass
class Stack:
    """A running private stack: Redis, the emulator and (optionally) gunicorn, all loopback."""

    workdir: Path
    env: dict[str, str]
    redis_url: str
    emu_url: str
    app_url: str
    procs: list[Popen[bytes]] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    # emulator control API -------------------------------------------------------------
    def control(self, method: str, path: str, json_body: Any = None, timeout: float = 120
                ) -> Any:
        resp = self.http.request(method, f"{self.emu_url}/_emulator/{path}", json=json_body,
                                 timeout=timeout)
        if resp.status_code >= 400:
            raise RuntimeError(f"emulator {method} {path}: HTTP {resp.status_code} "
                               f"{resp.text[:300]}")
        return resp.json()

    def portal(self) -> dict[str, Any]:
        return dict(self.control("GET", "portal"))

    def stats(self) -> dict[str, Any]:
        return dict(self.control("GET", "stats"))

    def reset_stats(self) -> None:
        self.control("POST", "reset-stats")

    def reset_limits(self) -> None:
        self.control("POST", "reset-limits")

    def install(self) -> dict[str, Any]:
        """Install the app on the demo portal as an admin would, and wait until it is stored.

        The ONAPPINSTALL reconcile job stays queued: no benchmark here runs a worker for it.
        """
        result = dict(self.control("POST", "install", {"event": "after"}))
        if not result.get("installed"):
            raise RuntimeError(f"install failed: {json.dumps(result)[:500]}")
        from connector.config import load_settings
        from wiring import build_services

        services = build_services(load_settings(self.env))
        try:
            wait_for(lambda: services.store.get_tokens(result["member_id"]), 15,
                     what="tokens stored by the app")
        finally:
            services.redis.close()
        return result

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs.get(name)
        if not path or not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stack_env(redis_url: str, app_url: str, emu_url: str, client_secret: str
              ) -> dict[str, str]:
    """The app's environment for this stack only: nothing inherited from B24_/CONNECTOR_."""
    env = {k: v for k, v in base_env().items() if not k.startswith(("B24_", "CONNECTOR_"))}
    env.update(
        REDIS_URL=redis_url,
        PUBLIC_BASE_URL=app_url,
        B24_CLIENT_ID=CLIENT_ID,
        B24_CLIENT_SECRET=client_secret,
        B24_OAUTH_SERVER=f"{emu_url}/oauth-server",
        CONNECTOR_SECRET_KEY=secrets.token_urlsafe(32),
        CONNECTOR_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        LOG_LEVEL="WARNING",
    )
    return env


def wait_up(url: str, proc: Popen[bytes], name: str, timeout: float = 30.0) -> None:
    """Wait for a child's HTTP answer, failing at once (not after the timeout) if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} before answering")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not answer {url} within {timeout:.0f}s")


@contextmanager
def running_stack(web: bool = True, web_workers: int = 2, web_threads: int = 8,
                  emulator_extra: Sequence[str] = (),
                  env_overrides: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """Start redis-server, the emulator and gunicorn on free loopback ports; stop them all.

    `env_overrides` are added to the app's environment (web, and every worker started with
    `stack.env`), e.g. the GOOGLE_* settings pointing at a fake Drive.
    """
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    procs: list[Popen[bytes]] = []
    stack: Stack | None = None
    try:
        redis_port, emu_port, app_port = free_port(), free_port(), free_port()
        redis_url = f"redis://{LOOPBACK}:{redis_port}/0"
        emu_url = f"http://{LOOPBACK}:{emu_port}"
        app_url = f"http://{LOOPBACK}:{app_port}"
        secret = secrets.token_hex(16)  # never starts with "-": it is passed as an argv value
        env = stack_env(redis_url, app_url, emu_url, secret)
        env.update(env_overrides or {})
        logs = {"emulator": workdir / "emulator.log", "web": workdir / "web.log"}
        stack = Stack(workdir, env, redis_url, emu_url, app_url, procs, logs)
        procs.append(start_redis(redis_port, workdir / "redis"))
        procs.append(spawn(emulator_args(emu_port, app_url, CLIENT_ID, secret,
                                         "--host", LOOPBACK, *emulator_extra),
                           env, logs["emulator"]))
        wait_up(f"{emu_url}/_emulator/portal", procs[-1], "emulator")
        if web:
            procs.append(spawn(gunicorn_args(app_port, web_workers, web_threads), env,
                               logs["web"]))
            wait_up(f"{app_url}/healthz", procs[-1], "gunicorn")
        yield stack
    except Exception:
        if stack is not None:
            for name in ("emulator", "web"):
                tail = stack.log_tail(name)
                if tail:
                    print(f"--- {name} log (last lines) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        if stack is not None:
            stack.http.close()
        stop(procs)
        shutil.rmtree(workdir, ignore_errors=True)


def reset_app_bucket(env: dict[str, str], member_id: str) -> None:
    """Empty our own Redis copy of the portal's bucket (after the emulator's reset-limits)."""
    from redis import Redis

    from connector.bitrix.ratelimit import LeakyBucket
    from connector.config import load_settings

    settings = load_settings(env)
    redis = Redis.from_url(settings.redis_url)
    try:
        LeakyBucket(redis, settings.queue_prefix).reset(member_id)
    finally:
        redis.close()


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def load_average() -> float:
    """The 1-minute load average: other work on the box skews every figure, so we show it."""
    return round(os.getloadavg()[0], 2)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

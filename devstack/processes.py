"""Start and stop the real parts — redis-server, the emulator, gunicorn, workers — on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05,
             what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - not up yet
            value = None
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout}s")


def wait_http(url: str, timeout: float = 30.0) -> None:
    wait_for(lambda: requests.get(url, timeout=2).status_code < 500, timeout, 0.1, url)


def start_redis(port: int, workdir: Path, persist: bool = False) -> subprocess.Popen[bytes]:
    """A private redis-server; with persist=True it keeps an append-only file in workdir."""
    binary = shutil.which("redis-server")
    if not binary:
        raise RuntimeError("redis-server is not installed (./dev setup installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--save", "", "--appendonly", "yes" if persist else "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from redis import Redis

    client = Redis(port=port)
    wait_for(client.ping, 10, what=f"redis-server on port {port}")
    client.close()
    return proc


def spawn(args: list[str], env: Mapping[str, str], log: Path | None = None
          ) -> subprocess.Popen[bytes]:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - lives with the child
    return subprocess.Popen(args, env=dict(env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def emulator_args(port: int, app_url: str, client_id: str, client_secret: str,
                  *extra: str) -> list[str]:
    return [PY, "-m", "emulator", "--port", str(port), "--app-url", app_url,
            f"--client-id={client_id}", f"--client-secret={client_secret}", *extra]


def gunicorn_args(port: int, workers: int = 2, threads: int = 4, access_log: bool = False,
                  app: str = "wsgi:app") -> list[str]:
    args = [PY, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", "--workers",
            str(workers), "--threads", str(threads), "--worker-class", "gthread",
            "--log-level", "warning"]
    return [*args, "--access-logfile", "-"] if access_log else args


def worker_args(*extra: str) -> list[str]:
    return [PY, "-m", "wiring", "worker", *extra]


def split_workers() -> list[tuple[str, list[str]]]:
    """The workers `./dev up` runs, laid out as docs/operations.md advises production: one
    for every queue but `documents`, one for `documents` alone, so a PDF conversion (a
    LibreOffice run of seconds) never holds up an event or a timer (decision 32). Each as
    (its log's name, its command)."""
    from connector.queue import DOCUMENTS, QUEUE_NAMES

    rest = ",".join(name for name in QUEUE_NAMES if name != DOCUMENTS)
    return [("worker", worker_args("--queues", rest)),
            ("documents-worker", worker_args("--queues", DOCUMENTS))]


def stop(procs: list[subprocess.Popen[bytes]], timeout: float = 10) -> None:
    procs = list(reversed(procs))  # started first (Redis) stops last
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()


def base_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()}
    env["PYTHONPATH"] = str(ROOT)
    env.update(values)
    return env

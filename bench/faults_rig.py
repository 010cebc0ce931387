"""The fault suite's rig: a private stack with long-lived workers one can kill, and counts of
what the portal and the fake Drive really hold (never the app's own logs or records).

A scenario reads "lost" and "duplicated" from the emulator's state (folders in its Disk,
chats, timeline comments, robot answers, deliveries) and the fake Drive's files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from redis import Redis

from bench.common import Stack, running_stack
from bench.deal_setup import AppView, as_list, new_deal, wait_quiet
from bench.procs import kill_tree
from devstack.processes import ROOT, start_redis, wait_for, worker_args

# retries that outlast a storm of tens of seconds, in seconds, not the production minutes
FAULT_ENV = {"CONNECTOR_JOB_RETRY_INTERVALS": "1,2,4,8,15,30,30",
             "CONNECTOR_REST_BACKOFF": "0.2", "CONNECTOR_SCHEDULER_INTERVAL": "0.5"}
QUIET = {"events": {"offline_backup": False}}  # no offline drains unless a scenario wants them
WORKSPACE = {"deal_folders": {"enabled": True}, "deal_chats": {"enabled": True}}


@dataclass
class Rig:
    """One scenario's stack: the emulator, gunicorn, Redis and workers killable by group."""

    stack: Stack
    app: AppView
    member_id: str
    log: BinaryIO
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_workers(self, n: int = 1) -> None:
        """Long-lived workers, each in its own process group."""
        for _ in range(n):
            self.workers.append(subprocess.Popen(
                worker_args("--sweep-check-every", "3600"), env=self.stack.env, cwd=ROOT,
                stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True))

    def kill_workers(self) -> None:
        """kill -9 of every worker and its work-horses: no cleanup, locks left behind."""
        for w in self.workers:
            if w.poll() is None:
                kill_tree(w.pid)
                w.wait(10)
        self.workers.clear()

    def stop_workers(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                w.terminate()
        for w in self.workers:
            try:
                w.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        self.workers.clear()

    def save_settings(self, doc: dict[str, Any]) -> None:
        """As an admin saves them: stored, audited, periodic tasks re-planned."""
        from connector.settings_audit import save

        save(self.app.services, self.member_id, doc, "fault-suite")

    def quiet(self, timeout: float = 120.0) -> None:
        wait_quiet(self.stack, self.app, timeout=timeout)

    def redis(self) -> Redis:
        return self.app.services.redis

    def healthz(self) -> dict[str, Any]:
        return dict(self.stack.http.get(f"{self.stack.app_url}/healthz", timeout=5).json())

    def restart_redis(self, down_s: float) -> float:
        """Stop redis-server (its AOF written), keep it down `down_s`, start it on the same
        port from the same AOF; returns when it answers again (time.time())."""
        redis = self.redis()
        redis.config_set("appendonly", "yes")  # rewrites the AOF from the data set
        wait_for(lambda: redis.info("persistence")["aof_rewrite_in_progress"] == 0
                 and redis.info("persistence")["aof_enabled"] == 1, 30, 0.1, "AOF written")
        old = self.stack.procs[0]
        old.terminate()  # SIGTERM: redis fsyncs the AOF and exits
        old.wait(15)
        time.sleep(down_s)
        port = int(self.stack.redis_url.rsplit(":", 1)[1].split("/")[0])
        self.stack.procs[0] = start_redis(port, self.stack.workdir / "redis", persist=True)
        return time.time()

    def restart_web(self, down_s: float, while_down: Callable[[], Any]) -> Any:
        """Stop gunicorn, run `while_down()`, keep it down `down_s`, start it on its port."""
        from bench.common import wait_up
        from devstack.processes import gunicorn_args, spawn

        web = self.stack.procs[2]
        web.terminate()
        web.wait(15)
        started = time.monotonic()
        out = while_down()
        time.sleep(max(0.0, down_s - (time.monotonic() - started)))
        port = int(self.stack.app_url.rsplit(":", 1)[1])
        self.stack.procs[2] = spawn(gunicorn_args(port, 2, 8), self.stack.env,
                                    self.stack.logs["web"])
        wait_up(f"{self.stack.app_url}/healthz", self.stack.procs[2], "gunicorn")
        return out


@contextmanager
def rig(settings: dict[str, Any], env: dict[str, str] | None = None,
        prepare: Callable[[Stack, AppView, str], Any] | None = None,
        emulator_extra: tuple[str, ...] = ()) -> Iterator[Rig]:
    """A freshly installed demo portal with `settings`, no worker yet (the install's
    reconcile job waits for the first one the scenario starts)."""
    with running_stack(env_overrides={**FAULT_ENV, **(env or {})},
                       emulator_extra=emulator_extra) as stack:
        member_id = stack.install()["member_id"]
        app = AppView(stack.env)
        log_path = stack.workdir / "worker.log"
        stack.logs["worker"] = log_path
        log = open(log_path, "ab")  # noqa: SIM115 - closed below
        r = Rig(stack, app, member_id, log)
        try:
            if prepare is not None:
                prepare(stack, app, member_id)
            r.save_settings(settings)
            yield r
        except Exception:
            print(stack.log_tail("worker", 60), flush=True)
            raise
        finally:
            r.stop_workers()
            log.close()
            app.close()


# what the portal holds ------------------------------------------------------------------
def _folders(node: dict[str, Any], out: dict[str, list[int]]) -> None:
    if node.get("type") == "folder":
        out.setdefault(str(node.get("name")), []).append(int(node["id"]))
        for child in node.get("children") or ():
            _folders(child, out)


def folders(stack: Stack) -> dict[str, list[int]]:
    """Every folder name on the portal's Disk with the ids of the folders that carry it."""
    out: dict[str, list[int]] = {}
    for storage in stack.control("GET", "disk/tree")["storages"]:
        _folders(storage["tree"], out)
    return out


def folder_names(stack: Stack) -> dict[str, int]:
    """Every folder name on the portal's Disk with how many folders carry it."""
    return {name: len(ids) for name, ids in folders(stack).items()}


def deal_chats(stack: Stack) -> dict[int, int]:
    """Per deal: how many group chats are bound to it."""
    out: dict[int, int] = {}
    for chat in as_list(stack.control("GET", "chats"), "chats"):
        entity = str(chat.get("ENTITY_ID") or "")
        if entity.startswith("DEAL|"):
            deal_id = int(entity.split("|", 1)[1])
            out[deal_id] = out.get(deal_id, 0) + 1
    return out


def new_deals(stack: Stack, n: int, tag: str) -> dict[int, str]:
    """n deals created (ONCRMDEALADD each), at once: {deal id: its folder's name}."""
    from concurrent.futures import ThreadPoolExecutor

    titles = [f"{tag} {i}" for i in range(n)]
    with ThreadPoolExecutor(min(n, 8)) as pool:
        ids = list(pool.map(lambda t: new_deal(stack, t), titles))
    return {d: f"{d} {t}" for d, t in zip(ids, titles, strict=True)}


def workspace_counts(stack: Stack, deals: dict[int, str]) -> dict[str, int]:
    """completed: one folder and one chat; lost: a deal missing either; duplicated: more."""
    folders, chats = folder_names(stack), deal_chats(stack)
    pairs = [(folders.get(name, 0), chats.get(d, 0)) for d, name in deals.items()]
    return {"sent": len(deals),
            "completed": sum(1 for f, c in pairs if f == 1 and c == 1),
            "lost": sum(1 for f, c in pairs if f == 0 or c == 0),
            "duplicated": sum(1 for f, c in pairs if f > 1 or c > 1)}


def run_robots(stack: Stack, deal_id: int, texts: list[str]) -> dict[str, str]:
    """timeline_note runs on a deal: {event_token: its text}."""
    out = {}
    for text in texts:
        res = stack.control("POST", "robots/run", {
            "code": "timeline_note", "document_id": ["crm", "CCrmDocumentDeal",
                                                      f"DEAL_{deal_id}"],
            "properties": {"text": text}})
        out[str(res["event_token"])] = text
    return out


def robot_counts(stack: Stack, runs: dict[str, str]) -> dict[str, int]:
    """completed: answered once and one comment; lost: no answer or no comment; duplicated:
    a second answer or a second comment of the same run."""
    comments: dict[str, int] = {}
    for row in stack.control("GET", "notifications")["timeline"]:
        comments[str(row.get("COMMENT"))] = comments.get(str(row.get("COMMENT")), 0) + 1
    answers = {tok: len(stack.control("GET", f"robots/results?event_token={tok}")["calls"])
               for tok in runs}
    pairs = [(answers[tok], comments.get(text, 0)) for tok, text in runs.items()]
    return {"sent": len(runs),
            "completed": sum(1 for a, c in pairs if a == 1 and c == 1),
            "lost": sum(1 for a, c in pairs if a == 0 or c == 0),
            "duplicated": sum(1 for a, c in pairs if a > 1 or c > 1)}


def add_counts(*parts: dict[str, int]) -> dict[str, int]:
    keys = ("sent", "completed", "lost", "duplicated")
    return {k: sum(p[k] for p in parts) for k in keys}


def app_5xx(stack: Stack) -> int:
    """Answers of 5xx the app gave the portal (events, robots, frames), from the emulator."""
    return sum(1 for d in as_list(stack.control("GET", "deliveries"), "deliveries")
               if (d.get("status_code") or 0) >= 500)


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `done` until true; the time.time() it became true (TimeoutError after)."""
    wait_for(done, timeout, 0.25, what)
    return time.time()


def worker_log_tail(r: Rig, lines: int = 40) -> str:
    path: Path = r.stack.logs["worker"]
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

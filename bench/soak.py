"""Soak: many emulated portals with every capability on and a steady stream of work, for
N minutes; what grows, what is lost, what fails.

Each portal (the demo portal and `--portals` - 1 more, each with the emulator's real limit of
2 requests/s, bursts of 50) has fair distribution of new leads to its Sales department, a
folder and a chat per new deal, the Drive mirror on the fake Drive, and two watchdogs: a
reaction within 2 minutes for new leads and a reminder at a deal's date field. The stream,
`--rate` operations a second over all portals in turn: new leads, new deals (their date a
minute ahead), calls on recent leads, `timeline_note` robot runs on recent deals, and files
put in recent deals' folders.

  rss_growth_mib           per process kind (web: gunicorn's tree, worker: the workers' own
                           processes, not their short-lived work-horses, emulator, fakedrive):
                           resident memory (VmRSS), the median of the last samples minus the
                           median of the samples just after the warm-up
  redis_memory_growth_mib  Redis `used_memory`, the same windows
  lost                     after the stream stops and the work drains, what the portals do
                           not show: a lead still unassigned, a deal without exactly one
                           folder and one chat, a robot run without exactly one answer, a
                           file not on the Drive exactly once, a deal without its reminder
  failed_jobs              dead letters at the end
  throughput               operations sent, jobs done and REST requests per second, the
                           portals' QUERY_LIMIT_EXCEEDED answers, the app's 5xx answers
  keys_without_ttl         Redis keys that never expire, by key pattern (ids as *): what can
                           grow for ever
  memory_by_pattern_mib    where Redis' memory is, by the same patterns

Run: .venv/bin/python -m bench.soak --minutes N [--portals 50] [--rate 2] [--workers 3]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import statistics
import subprocess
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.common import cpu_count, emit, load_average
from bench.deal_setup import as_list
from bench.faults_rig import Rig, rig
from bench.procs import status, tree_pids
from devstack.processes import ROOT, wait_for, worker_args

BENCH = "soak"
MIB = 1024 * 1024
DUE_FIELD = "UF_CRM_BENCH_DUE"
SALES = (2, 3, 4)  # the seed's Sales department (2): its head and two managers
SETTINGS: dict[str, Any] = {
    "distribution": {"groups": [{
        "id": "sales", "name": "Sales", "entity_types": ["lead"], "departments": [2],
        "supervisors": [1], "placeholder_user_ids": [1], "recheck_minutes": 1,
        "auto": [{"entity": "lead"}]}]},
    "deal_folders": {"enabled": True},
    "deal_chats": {"enabled": True},
    "drive_mirror": {"enabled": True},
    "watchdogs": {
        "reaction": [{"id": "leads", "name": "Soak", "entity": "lead", "due_minutes": 2,
                      "working_time": False}],
        "date_reminders": [{"id": "due", "name": "Soak", "field": DUE_FIELD,
                            "before_minutes": 0}]},
    "events": {"offline_backup": False},  # events online, as the demo portal gets them
}
# production timings, not the fault suite's short ones
SOAK_ENV = {"CONNECTOR_JOB_RETRY_INTERVALS": "10,60,300,1800", "CONNECTOR_REST_BACKOFF": "0.5",
            "CONNECTOR_SCHEDULER_INTERVAL": "1"}
OPS = (("lead", 4), ("deal", 3), ("call", 2), ("robot", 2), ("file", 1))
SAMPLE_EVERY_S = 10.0
DEAL_DUE_S = 60.0


@dataclass
class Sent:
    """What the stream asked of the portals, to be found on them at the end."""

    leads: dict[str, list[int]] = field(default_factory=dict)
    deals: dict[str, dict[int, str]] = field(default_factory=dict)  # id -> its folder's name
    robots: dict[str, list[str]] = field(default_factory=dict)  # event tokens
    files: dict[str, list[int]] = field(default_factory=dict)  # Disk file ids
    calls: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    recent_leads: dict[str, deque[int]] = field(default_factory=dict)
    recent_deals: dict[str, deque[tuple[int, float]]] = field(default_factory=dict)

    @property
    def ops(self) -> int:
        return (sum(map(len, self.leads.values())) + sum(map(len, self.deals.values()))
                + sum(map(len, self.robots.values())) + sum(map(len, self.files.values()))
                + self.calls)


# the portals ------------------------------------------------------------------------------
def add_portals(r: Rig, n: int) -> list[str]:
    """The demo portal and n-1 seeded ones, the app installed, every capability on, Google
    connected, the Sales department at work."""
    from connector.settings_audit import save

    members = [r.member_id]
    for i in range(1, n):
        portal = r.stack.control("POST", "portals", {"domain": f"soak{i}.bitrix24.test",
                                                     "seed": True})
        r.stack.control("POST", "install", {"member_id": portal["member_id"],
                                            "event": "after"})
        members.append(portal["member_id"])
    store = r.app.services.store
    wait_for(lambda: all(store.get_tokens(m) for m in members), 60, 0.2, "tokens stored")
    for m in members:
        if m != r.member_id:
            save(r.app.services, m, SETTINGS, "soak")
        for uid in SALES:
            r.stack.control("POST", "timeman", {"member_id": m, "user_id": uid,
                                                "status": "OPENED"})
        connect_google(r, m)
    return members


def connect_google(r: Rig, member: str) -> None:
    """The admin's path: a signed link, the fake's consent, the app's callback."""
    from robots.drive_mirror import connection

    services = r.app.services
    token = connection.connect_token(services, member)
    r.stack.http.get(f"{r.stack.app_url}/google/connect?t={token}", timeout=30)
    if connection.status(services, member)["status"] != "connected":
        raise RuntimeError(f"Google connect failed for {member}")


# the stream -------------------------------------------------------------------------------
def _folder_of(r: Rig, member: str, deal_id: int) -> int:
    from connector.context import JobContext
    from robots.deal_workspace.setup import Workspace

    ctx = JobContext.load(r.app.services, member, "soak", "deal_workspace")
    return int(Workspace(ctx.redis, ctx.key()).record(deal_id).get("folder_id") or 0) \
        if ctx is not None else 0


def one_op(r: Rig, sent: Sent, member: str, kind: str, n: int) -> None:
    control = r.stack.control
    leads = sent.recent_leads.setdefault(member, deque(maxlen=20))
    deals = sent.recent_deals.setdefault(member, deque(maxlen=20))
    if kind == "call" and not leads or kind in ("robot", "file") and not deals:
        kind = "lead"
    if kind == "lead":
        got = control("POST", "crm/lead", {"member_id": member, "fields": {
            "TITLE": f"Soak lead {n}", "SOURCE_ID": "WEB", "ASSIGNED_BY_ID": 1}})
        sent.leads.setdefault(member, []).append(int(got["id"]))
        leads.append(int(got["id"]))
    elif kind == "deal":
        due = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + DEAL_DUE_S))
        title = f"Soak deal {n}"
        got = control("POST", "crm/deal", {"member_id": member, "fields": {
            "TITLE": title, "ASSIGNED_BY_ID": 3, "OPPORTUNITY": 1000, "CURRENCY_ID": "RUB",
            DUE_FIELD: due}})
        deal_id = int(got["id"])
        sent.deals.setdefault(member, {})[deal_id] = f"{deal_id} {title}"
        deals.append((deal_id, time.time()))
    elif kind == "call":
        control("POST", "crm/activity", {"member_id": member, "user_id": 3, "fields": {
            "OWNER_TYPE_ID": 1, "OWNER_ID": random.choice(leads), "TYPE_ID": 2,
            "SUBJECT": f"Call {n}", "RESPONSIBLE_ID": 3, "DIRECTION": 2}})
        sent.calls += 1
    elif kind == "robot":
        deal_id = random.choice(deals)[0]
        got = control("POST", "robots/run", {
            "member_id": member, "code": "timeline_note",
            "document_id": ["crm", "CCrmDocumentDeal", f"DEAL_{deal_id}"],
            "properties": {"text": f"Soak note {n}"}})
        sent.robots.setdefault(member, []).append(str(got["event_token"]))
    elif kind == "file":
        old = [d for d, at in deals if time.time() - at > 20]
        folder = _folder_of(r, member, random.choice(old)) if old else 0
        if not folder:
            return one_op(r, sent, member, "lead", n)
        deal_id = next(d for d, _ in deals if _folder_of(r, member, d) == folder)
        got = control("POST", "disk/files", {"member_id": member, "folder_id": folder,
                                             "name": f"scan-{n}.pdf", "size": 64 * 1024,
                                             "seed": n})
        sent.files.setdefault(member, []).append(int(got["id"]))
        control("POST", f"crm/deal/{deal_id}", {"member_id": member,
                                                "fields": {"COMMENTS": f"file {n}"}})


def stream(r: Rig, sent: Sent, members: list[str], rate: float, until: float,
           stop: threading.Event) -> None:
    """`rate` operations a second, the portals in turn, kinds by their weights."""
    kinds = [k for k, w in OPS for _ in range(w)]
    rng = random.Random(13)
    n = 0
    next_at = time.monotonic()
    while not stop.is_set() and time.time() < until:
        member = members[n % len(members)]
        kind = rng.choice(kinds)
        try:
            one_op(r, sent, member, kind, n)
        except Exception as exc:  # noqa: BLE001 - counted: the stream must go on
            sent.errors[f"{kind}: {type(exc).__name__}"] += 1
        n += 1
        next_at += 1.0 / rate
        time.sleep(max(0.0, next_at - time.monotonic()))


# what grows ---------------------------------------------------------------------------------
def process_kinds(r: Rig, fake: Any) -> dict[str, list[int]]:
    """The long-lived processes of each kind (pids)."""
    web = r.stack.procs[2]
    return {"web": tree_pids(web.pid), "worker": [w.pid for w in r.workers],
            "emulator": [r.stack.procs[1].pid],
            "fakedrive": [fake.proc.pid] if fake.proc is not None else []}


def sample(r: Rig, fake: Any) -> dict[str, float]:
    """Resident memory (VmRSS) of each kind's long-lived processes, MiB. Not PSS: a worker's
    PSS falls and rises as work-horses share its pages, which would read as growth."""
    row = {kind: sum(status(pid).get("VmRSS", 0) for pid in pids) / 1024
           for kind, pids in process_kinds(r, fake).items()}
    row["redis"] = int(r.redis().info("memory")["used_memory"]) / MIB
    row["t"] = time.time()
    return row


def sampler(r: Rig, fake: Any, rows: list[dict[str, float]], stop: threading.Event) -> None:
    while not stop.wait(SAMPLE_EVERY_S):
        with contextlib.suppress(Exception):
            rows.append(sample(r, fake))


def growth(rows: list[dict[str, float]], warm_until: float, window: int = 3
           ) -> dict[str, float]:
    """Median of the last `window` samples minus the median of the first `window` after the
    warm-up, per kind (MiB)."""
    after = [x for x in rows if x["t"] >= warm_until] or rows
    first, last = after[:window], after[-window:]
    kinds = [k for k in rows[0] if k != "t"]
    return {k: round(statistics.median(x[k] for x in last)
                     - statistics.median(x[k] for x in first), 1) for k in kinds}


ID_SEGMENT = re.compile(r"^(?:[0-9a-f]{8,}|\d+|[0-9a-f-]{36})$")


def key_pattern(key: str) -> str:
    """A key with its ids (hex, numbers, uuids) as *: cc:portal:<member_id> -> cc:portal:*."""
    parts = re.split(r"([:\-])", key)
    return "".join("*" if ID_SEGMENT.match(p) else p for p in parts)


def key_census(redis: Any, top: int = 10) -> dict[str, dict[str, float]]:
    """By key pattern: the keys that never expire (count), and where the memory is (MiB, by
    MEMORY USAGE), the largest patterns first."""
    forever: Counter[str] = Counter()
    size: Counter[str] = Counter()
    batch: list[bytes] = []

    def flush() -> None:
        with redis.pipeline(transaction=False) as pipe:
            for k in batch:
                pipe.ttl(k)
                pipe.memory_usage(k, samples=0)
            answers = pipe.execute()
        for k, ttl, used in zip(batch, answers[::2], answers[1::2], strict=True):
            pattern = key_pattern(k.decode(errors="replace"))
            size[pattern] += used or 0
            if ttl == -1:
                forever[pattern] += 1
        batch.clear()

    for key in redis.scan_iter(count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            flush()
    flush()
    return {"keys_without_ttl": dict(forever.most_common(top)),
            "memory_by_pattern_mib": {k: round(v / MIB, 1) for k, v in size.most_common(top)}}


# what the portals show ----------------------------------------------------------------------
def _folder_counts(node: dict[str, Any], out: Counter[str]) -> None:
    if node.get("type") == "folder":
        out[str(node.get("name"))] += 1
    for child in node.get("children") or ():
        _folder_counts(child, out)


def _rest(r: Rig, member: str, method: str, params: dict[str, Any]) -> Any:
    token = r.stack.control("POST", "tokens", {"member_id": member})["access_token"]
    endpoint = r.stack.control("GET", f"portal?member_id={member}")["client_endpoint"]
    return requests.post(f"{endpoint.rstrip('/')}/{method}.json",
                         json={**params, "auth": token}, timeout=60).json()


def unassigned_leads(r: Rig, member: str, ids: list[int]) -> int:
    """Leads of the stream still with nobody of Sales responsible (read over REST)."""
    if not ids:
        return 0
    assigned: dict[int, int] = {}
    start: Any = 0
    while start is not None:
        page = _rest(r, member, "crm.lead.list", {
            "filter": {">=ID": min(ids)}, "select": ["ID", "ASSIGNED_BY_ID"], "start": start})
        assigned.update({int(x["ID"]): int(x["ASSIGNED_BY_ID"] or 0)
                         for x in page.get("result") or []})
        start = page.get("next")
    return sum(1 for i in ids if assigned.get(i) not in SALES)


def lost_on(r: Rig, fake_files: Counter[str], sent: Sent, member: str) -> Counter[str]:
    from bench.drive_mirror import b24_tag

    lost: Counter[str] = Counter()
    control = r.stack.control
    lost["leads"] = unassigned_leads(r, member, sent.leads.get(member, []))
    folders: Counter[str] = Counter()
    for storage in control("GET", f"disk/tree?member_id={member}")["storages"]:
        _folder_counts(storage["tree"], folders)
    chats: Counter[int] = Counter()
    for chat in as_list(control("GET", f"chats?member_id={member}"), "chats"):
        entity = str(chat.get("ENTITY_ID") or "")
        if entity.startswith("DEAL|"):
            chats[int(entity.split("|", 1)[1])] += 1
    deals = sent.deals.get(member, {})
    lost["deals"] = sum(1 for d, name in deals.items() if folders[name] != 1 or chats[d] != 1)
    tasks = r.stack.http.get(f"{r.stack.emu_url}/_emulator/tasks",
                             params={"member_id": member}, timeout=120).json()
    reminded = Counter(int(str(b)[2:]) for t in tasks for b in t.get("ufCrmTask") or ()
                       if str(b).startswith("D_"))
    lost["reminders"] = sum(1 for d in deals if reminded[d] < 1)
    lost["robots"] = sum(1 for tok in sent.robots.get(member, [])
                         if len(control("GET", f"robots/results?event_token={tok}")["calls"])
                         != 1)
    lost["files"] = sum(1 for f in sent.files.get(member, [])
                        if fake_files[b24_tag(member, f)] != 1)
    return lost


def drain(r: Rig, timeout: float, settle_s: float = 5.0) -> float:
    """Wait until no job waits in a queue or runs for `settle_s` (periodic chains, timers
    and retries stay scheduled: with 50 portals something is always due within seconds)."""
    from rq.registry import StartedJobRegistry

    started = time.monotonic()
    quiet_since = None
    while time.monotonic() - started < timeout:
        r.stack.control("GET", "deliveries?wait=5&since=999999999")
        queues = r.app.services.queues.queues.values()
        busy = sum(q.count + StartedJobRegistry(queue=q).count for q in queues)
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle_s:
            break
        time.sleep(0.5)
    return time.monotonic() - started


# the run ------------------------------------------------------------------------------------
def run(minutes: float, portals: int, rate: float, workers: int) -> dict[str, Any]:
    from rq import Worker

    from bench.drive_mirror import FakeDriveProcess

    fake = FakeDriveProcess()
    env = {**SOAK_ENV, **fake.app_env()}
    with rig(SETTINGS, env=env, prepare=lambda stack, app, mid: fake.start(stack.workdir)) as r:
        try:
            for _ in range(workers):  # the production worker: the 10-minute sweep included
                r.workers.append(subprocess.Popen(worker_args(), env=r.stack.env, cwd=ROOT,
                                                  stdout=r.log, stderr=subprocess.STDOUT,
                                                  start_new_session=True))
            set_up = time.monotonic()
            members = add_portals(r, portals)
            drain(r, 600)
            emit(BENCH, "environment", portals=len(members), workers=workers, rate=rate,
                 minutes=minutes, cpus=cpu_count(), load_1m=load_average(),
                 set_up_s=round(time.monotonic() - set_up, 1))
            r.stack.reset_stats()
            sent, rows, stop = Sent(), [sample(r, fake)], threading.Event()
            started = time.time()
            until = started + minutes * 60
            warm_until = started + min(180.0, max(15.0, minutes * 60 * 0.1))
            threads = [threading.Thread(target=stream, args=(r, sent, members, rate, until, stop),
                                        daemon=True),
                       threading.Thread(target=sampler, args=(r, fake, rows, stop), daemon=True)]
            for t in threads:
                t.start()
            threads[0].join()
            streamed_s = time.time() - started
            rows.append(sample(r, fake))
            grew = growth(rows, warm_until)
            stop.set()
            stats = r.stack.stats()
            done = sum(w.successful_job_count + w.failed_job_count
                       for w in Worker.all(connection=r.redis()))
            time.sleep(DEAL_DUE_S + 15)  # the last deals' reminders come due
            drained_s = drain(r, 600)
            fake_files = Counter(str((f.get("appProperties") or {}).get("src"))
                                 for f in fake.state()["files"])
            lost: Counter[str] = Counter()
            for m in members:
                lost.update(lost_on(r, fake_files, sent, m))
            failed = r.app.services.queues.failed()
            deliveries = as_list(r.stack.control("GET", "deliveries"), "deliveries")
            return {
                "minutes": minutes, "portals": len(members), "workers": workers,
                "rss_growth_mib": {k: v for k, v in grew.items() if k != "redis"},
                "redis_memory_growth_mib": grew["redis"],
                "lost": sum(lost.values()), "lost_by": dict(lost),
                "failed_jobs": len(failed),
                "failed_reasons": dict(Counter(
                    (j.exc_info or "").strip().splitlines()[-1][:120] if j.exc_info else "?"
                    for j in failed).most_common(3)),
                "throughput": {
                    "ops_per_s": round(sent.ops / streamed_s, 2),
                    "jobs_per_s": round(done / streamed_s, 2),
                    "rest_requests_per_s": round(int(stats["requests"]) / streamed_s, 2),
                    "query_limit_exceeded": stats.get("query_limit_exceeded"),
                    "http_5xx": sum(1 for d in deliveries
                                    if (d.get("status_code") or 0) >= 500)},
                "sent": {"leads": sum(map(len, sent.leads.values())),
                         "deals": sum(map(len, sent.deals.values())),
                         "calls": sent.calls,
                         "robots": sum(map(len, sent.robots.values())),
                         "files": sum(map(len, sent.files.values()))},
                "stream_errors": dict(sent.errors),
                "memory_mib": {k: round(v, 1) for k, v in rows[-1].items() if k != "t"},
                **key_census(r.redis()),
                "drained_s": round(drained_s, 1), "load_1m": load_average(),
            }
        finally:
            fake.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--portals", type=int, default=50)
    parser.add_argument("--rate", type=float, default=2.0,
                        help="operations a second over all portals")
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args(argv)
    out = run(args.minutes, args.portals, args.rate, args.workers)
    emit(BENCH, "summary", **out)
    return 0 if out["lost"] == 0 and out["failed_jobs"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())


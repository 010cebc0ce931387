"""amoCRM benchmark: what an action costs on amoCRM beside Bitrix24, the shared limit, and
how fast our webhook address answers.

  requests_per_action    HTTP requests the CRM received for one action, from quiet to quiet
                         (the worst of N after a warm-up), on the amoCRM emulator (its
                         per-account count, emu.stats()["requests"]) beside the same action on
                         the Bitrix24 emulator (its /rest/ count, as bench/distribution.py):
                         "distribution" — the widget's pipeline action `fair_distribution` on
                         a new lead (the `fair_distribution` robot on a new lead on Bitrix24),
                         until the lead is assigned; "deal_folder" — the `create_deal_folder`
                         step (pipeline action on amoCRM, robot on Bitrix24) until its job ends
  limit_429              the amoCRM emulator's 429 answers while four worker processes call one
                         account's API at once through AmoClient (the shared sliding window in
                         Redis keeps them under 7/s together): 0 is the target
  webhook_answer_p99_ms  p99 of POST /amocrm/hooks/<account>/<secret> answer times, measured by
                         the client, over N form bodies shaped as the emulator delivers them,
                         posted 16 at a time

An action the amoCRM adapter cannot do yet is printed with {"skipped": why}, never a figure.
Run: .venv/bin/python -m bench.amocrm [--quick]
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any
from urllib.parse import urlencode

import requests

from bench.common import (
    LOOPBACK,
    cpu_count,
    emit,
    exit_on_sigterm,
    latency_summary,
    load_average,
    stack_env,
    wait_up,
)
from bench.deal_setup import AppView, measured_portal, wait_quiet
from devstack.processes import free_port, gunicorn_args, spawn, start_redis, stop, wait_for
from devstack.processes import worker_args as app_worker_args

BENCH = "amocrm"
CLIENT_ID = "local.bench-amo"
GROUP = "bench"
HAMMER_WORKERS = 4


def line(metric: str, **values: Any) -> dict[str, Any]:
    """One result line: {"bench": "amocrm", "metric": …, …}."""
    out = {"bench": BENCH, "metric": metric, **values}
    print(json.dumps(out, ensure_ascii=False, default=str), flush=True)
    return out


class Skipped(Exception):
    """The action could not be measured (the adapter refused it, or it never finished)."""


# the amoCRM stack -----------------------------------------------------------------------
@dataclass
class AmoStack:
    workdir: Path
    env: dict[str, str]
    app_url: str
    emu_url: str
    account: dict[str, Any]
    procs: list[Popen[bytes]] = field(default_factory=list)
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def member(self) -> str:
        return f"amo-{self.account['id']}"

    def control(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.emu_url}/_emulator/accounts/{self.account['id']}{path}"
        resp = self.http.request(method, url, json=body, timeout=60)
        if resp.status_code >= 400:
            raise RuntimeError(f"amoemu {method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json()

    def requests(self) -> int:
        return int(self.control("GET", "/stats")["requests"])

    def stats(self) -> dict[str, Any]:
        return dict(self.control("GET", "/stats"))

    def refresh(self) -> None:
        self.account = self.control("GET", "")

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) \
            if path.exists() else ""


@contextmanager
def amo_stack() -> Iterator[AmoStack]:
    """Redis, the amoCRM emulator with the demo account, gunicorn; the account connected
    through the app's OAuth redirect. Every child stopped on the way out."""
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-amo-"))
    procs: list[Popen[bytes]] = []
    stack: AmoStack | None = None
    try:
        redis_port, emu_port, app_port = free_port(), free_port(), free_port()
        app_url, emu_url = f"http://{LOOPBACK}:{app_port}", f"http://{LOOPBACK}:{emu_port}"
        secret = secrets.token_hex(32)  # amoCRM's secrets are 64 characters
        env = stack_env(f"redis://{LOOPBACK}:{redis_port}/0", app_url, "http://unused",
                        secrets.token_hex(16))
        env = {k: v for k, v in env.items() if not k.startswith("AMOCRM_")}
        env.update(AMOCRM_CLIENT_ID=CLIENT_ID, AMOCRM_CLIENT_SECRET=secret,
                   AMOCRM_REDIRECT_URI=f"{app_url}/amocrm/oauth",
                   AMOCRM_URL_TEMPLATE=f"{emu_url}/{{domain}}")
        procs.append(start_redis(redis_port, workdir / "redis"))
        procs.append(spawn([sys.executable, "-m", "amoemu", "--host", LOOPBACK, "--port",
                            str(emu_port), "--demo", f"--client-id={CLIENT_ID}",
                            f"--client-secret={secret}",
                            f"--redirect-uri={app_url}/amocrm/oauth",
                            f"--disable-hook-url={app_url}/amocrm/disabled"],
                           env, workdir / "amoemu.log"))
        wait_up(f"{emu_url}/_emulator/accounts", procs[-1], "amoemu")
        procs.append(spawn(gunicorn_args(app_port, 2, 8), env, workdir / "web.log"))
        wait_up(f"{app_url}/healthz", procs[-1], "gunicorn")
        account = requests.get(f"{emu_url}/_emulator/accounts", timeout=10).json()[
            "accounts"][0]
        stack = AmoStack(workdir, env, app_url, emu_url, account, procs)
        grant = stack.control("POST", "/authorize", {"state": "bench", "deliver": True})
        if grant.get("delivered_status") != 200:
            raise RuntimeError(f"the OAuth redirect answered {grant.get('delivered_status')}")
        yield stack
    except Exception:
        if stack is not None:
            for name in ("amoemu", "web", "worker"):
                tail = stack.log_tail(name)
                if tail:
                    print(f"--- {name} log (last lines) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        if stack is not None:
            stack.http.close()
        stop(procs)
        shutil.rmtree(workdir, ignore_errors=True)


def by_path_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Which requests one run made ("GET /api/v4/users": 1, …)."""
    return {k: n - before.get(k, 0) for k, n in sorted(after.items()) if n - before.get(k, 0)}


def amo_quiet(stack: AmoStack, app: AppView, settle_s: float = 1.0, timeout: float = 90
              ) -> int:
    """Wait until webhooks are delivered, our queues are empty and the account's request
    count stands still; that count back."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        pending = stack.control("GET", "/deliveries")["pending"]
        count = stack.requests()
        if count != last or app.busy() or pending:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            return count
        time.sleep(0.1)
    raise TimeoutError(f"the amoCRM stack did not go quiet within {timeout:.0f}s")


def job_outcome(app: AppView, jid: str) -> tuple[str, str]:
    """(status, the error's last line or "") of an app job."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from rq.serializers import JSONSerializer

    try:
        job = Job.fetch(jid, connection=app.services.redis, serializer=JSONSerializer)
    except NoSuchJobError:
        return "not yet", ""
    got = job.get_status(refresh=True)
    status = str(getattr(got, "value", got) or "")
    error = ""
    if status == "failed":
        info = job.latest_result().exc_string if job.latest_result() else (job.exc_info or "")
        error = [x for x in str(info).strip().splitlines() if x.strip()][-1:] or [""]
        error = error[0][:300]
    return status, error


def wait_job(app: AppView, jid: str, timeout: float = 60) -> Any:
    """The job's result once it finished; Skipped if it failed or never ended."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, error = job_outcome(app, jid)
        if status == "finished":
            return Job.fetch(jid, connection=app.services.redis,
                             serializer=JSONSerializer).return_value()
        if status == "failed":
            raise Skipped(f"the job failed: {error}")
        time.sleep(0.1)
    raise Skipped(f"the job did not end within {timeout:.0f}s ({job_outcome(app, jid)[0]})")


def dp_action(stack: AmoStack, lead_id: int, settings: dict[str, Any]) -> str:
    """amoCRM runs the widget's pipeline action on the lead's stage (amocrm.md §3.1)."""
    out = stack.control("POST", "/dp_action", {"lead_id": lead_id, "settings": settings,
                                               "webhook_url": f"{stack.app_url}/amocrm/dp"})
    if out["status"] != 200:
        raise Skipped(f"/amocrm/dp answered {out['status']}: {out['body'][:200]}")
    return str(json.loads(out["body"])["job"])


def new_lead(stack: AmoStack, title: str) -> int:
    repair = next(p for p in stack.account["pipelines"] if p["name"] == "Ремонт")
    first = next(s["id"] for s in repair["statuses"] if s["name"] == "Заявка")
    lead = stack.control("POST", "/leads", {"name": title, "price": 15000,
                                             "pipeline_id": repair["id"], "status_id": first,
                                             "responsible_user_id": stack.account["admin_id"]})
    return int(lead["id"])


def masters(account: dict[str, Any]) -> list[int]:
    return [int(u["id"]) for u in account["users"] if not u["is_admin"] and u["is_active"]]


def amo_settings(account: dict[str, Any]) -> dict[str, Any]:
    """Fair distribution among the masters, around the clock (amoCRM has no work-day
    status: the admin's schedules say who works, connector.amocrm.presence), with no
    supervisors (their chat is Bitrix24's: amoCRM has none, so the same on both sides);
    folders only by the pipeline step; no offline-queue drains during the measurement."""
    admin = int(account["admin_id"])
    return {"distribution": {"groups": [{
                "id": GROUP, "name": "Bench", "entity_types": ["deal"],
                "users": masters(account), "supervisors": [],
                "placeholder_user_ids": [admin]}]},
            "deal_folders": {"enabled": False}, "deal_chats": {"enabled": False},
            "events": {"offline_backup": False},
            "amocrm": {"schedules": [{"user_id": u, "weekdays": [1, 2, 3, 4, 5, 6, 7],
                                      "start": "00:00", "end": "24:00"}
                                     for u in masters(account)]}}


def measure(runs: int, one: Callable[[int], int]) -> dict[str, Any]:
    """Run `one(n)` (the requests of run n) after a warm-up; worst and all."""
    warm = one(0)
    counts = [one(n) for n in range(1, runs + 1)]
    return {"requests": max(counts), "per_run": counts, "warm_up": warm}


def amo_actions(stack: AmoStack, app: AppView, runs: int) -> dict[str, dict[str, Any]]:
    """requests_per_action on amoCRM: {action: figures or {"skipped": why}}."""
    out: dict[str, dict[str, Any]] = {}
    admin = int(stack.account["admin_id"])
    paths: dict[str, dict[str, int]] = {}

    def distribute(n: int) -> int:
        lead = new_lead(stack, f"Распределение {n}")
        before = amo_quiet(stack, app)
        paths["before"] = stack.stats()["by_path"]
        jid = dp_action(stack, lead, {"robot": "fair_distribution", "group": GROUP})
        result = wait_job(app, jid)
        after = amo_quiet(stack, app)
        got = int(stack.control("GET", f"/leads/{lead}").get("responsible_user_id") or 0)
        if got == admin or got not in masters(stack.account):
            raise Skipped(f"the job ended but lead {lead} was not assigned to a master "
                          f"(responsible {got}; the job: {json.dumps(result, default=str)[:300]})")
        paths["distribution"] = by_path_delta(paths["before"], stack.stats()["by_path"])
        return after - before

    def folder(n: int) -> int:
        lead = new_lead(stack, f"Папка {n}")
        before = amo_quiet(stack, app)
        paths["before"] = stack.stats()["by_path"]
        result = wait_job(app, dp_action(stack, lead, {"robot": "create_deal_folder"}))
        error = ((result or {}).get("values") or {}).get("error") \
            if isinstance(result, dict) else None
        if error:
            raise Skipped(f"the step answered an error: {str(error)[:300]}")
        after = amo_quiet(stack, app)
        paths["deal_folder"] = by_path_delta(paths["before"], stack.stats()["by_path"])
        return after - before

    for action, one in (("distribution", distribute), ("deal_folder", folder)):
        try:
            out[action] = {**measure(runs, one), "last_run_by_path": paths.get(action)}
        except Skipped as exc:
            out[action] = {"skipped": f"amoCRM: {exc}"}
    return out


# the same actions on Bitrix24 ----------------------------------------------------------
def b24_actions(runs: int, size: int) -> dict[str, dict[str, Any]]:
    """requests_per_action on the Bitrix24 emulator, group of `size` as on amoCRM."""
    out: dict[str, dict[str, Any]] = {}
    settings = {"deal_folders": {"enabled": False}, "deal_chats": {"enabled": False},
                "events": {"offline_backup": False}}
    with measured_portal(BENCH, settings) as (stack, app, member_id):
        users = [int(u["ID"]) for u in stack.portal()["users"]
                 if u.get("ACTIVE") in (True, "Y") and int(u["ID"]) != 1][:size]
        for uid in users:
            stack.control("POST", "timeman", {"user_id": uid, "status": "OPENED"})
        app.put_settings(member_id, {**settings, "distribution": {"groups": [{
            "id": GROUP, "name": "Bench", "entity_types": ["lead", "deal"], "users": users,
            "supervisors": [], "placeholder_user_ids": [1]}]}})

        def robot(code: str, kind: str, props: dict[str, Any]) -> Callable[[int], int]:
            def one(n: int) -> int:
                made = stack.control("POST", f"crm/{kind}", {"fields": {
                    "TITLE": f"Bench {kind} {n}", "ASSIGNED_BY_ID": 1}})
                doc = "CCrmDocumentLead" if kind == "lead" else "CCrmDocumentDeal"
                before = wait_quiet(stack, app)
                run = stack.control("POST", "robots/run", {
                    "code": code, "document_id": ["crm", doc, f"{kind.upper()}_{made['id']}"],
                    "document_type": ["crm", doc, kind.upper()], "properties": props})
                wait_for(lambda: stack.control(
                    "GET", f"robots/results?event_token={run['event_token']}")["calls"], 60,
                    0.1, f"{code} answered")
                return wait_quiet(stack, app) - before
            return one

        out["distribution"] = measure(runs, robot("fair_distribution", "lead",
                                                  {"group": GROUP}))
        out["deal_folder"] = measure(runs, robot("create_deal_folder", "deal", {}))
    return out


# the shared limit ----------------------------------------------------------------------
def hammer(member_id: str, calls: int) -> dict[str, Any]:
    """A job (run by `wiring worker`): `calls` API reads of one account through AmoClient,
    as fast as the shared window lets them through."""
    from connector.services import worker_services

    client = worker_services().amo().client(member_id)
    started = time.monotonic()
    for i in range(calls):
        client.get("/api/v4/leads", {"page": 1 + i % 2, "limit": 10})
    return {"calls": calls, "seconds": round(time.monotonic() - started, 3)}


def limit_429(stack: AmoStack, app: AppView, calls: int) -> dict[str, Any]:
    from connector.queue import INBOUND

    amo_quiet(stack, app)
    before = stack.stats()
    for i in range(HAMMER_WORKERS * 2):
        app.services.queues.enqueue("bench.amocrm.hammer", [stack.member, calls // 2],
                                    f"bench-hammer-{secrets.token_hex(4)}-{i}", INBOUND,
                                    member_id=stack.member, retry=False)
    started = time.monotonic()
    workers = [spawn(app_worker_args("--burst", "--queues", INBOUND), stack.env,
                     stack.workdir / f"hammer-{i}.log") for i in range(HAMMER_WORKERS)]
    try:
        for w in workers:
            w.wait(timeout=600)
    finally:
        stop(workers)
    seconds = time.monotonic() - started
    after = stack.stats()
    made = after["requests"] - before["requests"]
    return {"value": after["limited_429"] - before["limited_429"], "workers": HAMMER_WORKERS,
            "requests": made, "seconds": round(seconds, 1),
            "per_second": round(made / seconds, 2) if seconds else None,
            "max_in_one_second": after["max_in_one_second"], "blocked": after["blocked"],
            "limit_per_second": 7}


# webhook answer time -------------------------------------------------------------------
def hook_bodies(stack: AmoStack, n: int) -> list[str]:
    """N bodies shaped as the emulator's own `add_lead` delivery, each a new lead id."""
    sent = [d for d in stack.control("GET", "/deliveries")["deliveries"]
            if any(k.startswith("leads[add]") for k, _ in d["form"])]
    if not sent:
        raise RuntimeError("the emulator delivered no add_lead webhook to copy")
    form = sent[-1]["form"]
    bodies = []
    for i in range(n):
        pairs = [(k, str(900000000 + i) if k.endswith("[id]") and k.startswith("leads")
                  else v) for k, v in form]
        bodies.append(urlencode(pairs))
    return bodies


def webhook_answers(stack: AmoStack, n: int, concurrency: int = 16) -> dict[str, Any]:
    from install.amocrm_registrations import hook_url

    url = hook_url(stack.app_url, stack.env["CONNECTOR_SECRET_KEY"], stack.member)
    bodies = hook_bodies(stack, n)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    sessions: dict[int, requests.Session] = {}

    def post(body: str) -> tuple[int, float]:
        import threading

        s = sessions.setdefault(threading.get_ident(), requests.Session())
        t0 = time.perf_counter()
        status = s.post(url, data=body, headers=headers, timeout=30).status_code
        return status, time.perf_counter() - t0

    for body in bodies[:20]:  # warm-up: connections, the app's first requests
        post(body)
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(post, bodies[20:]))
    for s in sessions.values():
        s.close()
    summary = latency_summary([t for _, t in results])
    return {"value": summary["p99_ms"], **summary, "concurrency": concurrency,
            "statuses": dict(Counter(str(code) for code, _ in results))}


# main ----------------------------------------------------------------------------------
def run(quick: bool) -> None:
    runs = 3 if quick else 10
    emit(BENCH, "environment", cpus=cpu_count(), load_1m=load_average(), quick=quick)
    with amo_stack() as stack:
        app = AppView(stack.env)
        worker = spawn(app_worker_args("--sweep-check-every", "3600"), stack.env,
                       stack.workdir / "worker.log")
        try:
            app.put_settings(stack.member, amo_settings(stack.account))
            amo_quiet(stack, app, timeout=120)
            amo = amo_actions(stack, app, runs)
        finally:
            stop([worker])
        limit = limit_429(stack, app, 40 if quick else 120)
        hooks = webhook_answers(stack, 300 if quick else 2000)
        app.close()
    b24 = b24_actions(runs, len(masters(stack.account)))
    for action in ("distribution", "deal_folder"):
        a, b = amo[action], b24[action]
        if "skipped" in a:
            line("requests_per_action", action=action, skipped=a["skipped"],
                 bitrix24=b["requests"], bitrix24_per_run=b["per_run"])
            continue
        line("requests_per_action", action=action, amocrm=a["requests"],
             bitrix24=b["requests"], runs=runs, amocrm_per_run=a["per_run"],
             bitrix24_per_run=b["per_run"], group_size=len(masters(stack.account)),
             amocrm_last_run=a["last_run_by_path"])
    line("limit_429", **limit)
    line("webhook_answer_p99_ms", **hooks)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.amocrm")
    parser.add_argument("--quick", action="store_true", help="3 runs per action, fewer "
                                                             "calls and bodies")
    run(parser.parse_args().quick)


if __name__ == "__main__":
    main()

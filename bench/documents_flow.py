"""The documents benchmark's end-to-end phases: the robot generate_document called by the
emulated portal, served by real workers, against the emulator over HTTP.

  requests_per_document  REST requests one invoice costs the portal, beside the upload (its
                         two requests: the upload address, the file) and the robot's answer:
                         the read of the deal, its sides and product rows, and the one write
                         of the registry item, the deal's link field and the timeline note.
                         Measured at the real limits (2 req/s), deals with their folders made
                         when they were created (the deal folders capability on), the
                         registry smart process made by a first document beforehand
  distinct_numbers, gaps 200 requests at once for documents of one kind (200 deals, 4 workers,
  duplicates             the emulator's rate limit off: the point is contention, not the
                         budget): how many different numbers, how many numbers below the
                         highest were never given, how many given twice (200, 0, 0)
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import Stack
from bench.deal_setup import wait_quiet
from bench.faults_rig import QUIET, Rig, rig

ROBOT = "generate_document"
DOCS = {"documents": {"pdf": False}}
FOLDERS = {"deal_folders": {"enabled": True}}
UPLOAD = ("disk.folder.uploadfile", "disk.upload")  # the upload's two requests
ANSWER = ("bizproc.event.send",)


def rest(stack: Stack, method: str, **params: Any) -> Any:
    token = stack.control("POST", "tokens", {})["access_token"]
    for _ in range(60):  # a person's call waits out the portal's limit like anyone's
        body = stack.http.post(f"{stack.emu_url}/rest/{method}.json",
                               json={**params, "auth": token}, timeout=60).json()
        if body.get("error") != "QUERY_LIMIT_EXCEEDED":
            break
        time.sleep(0.5)
    if "error" in body:
        raise RuntimeError(f"{method}: {body}")
    return body["result"]


def invoice_deal(stack: Stack, title: str) -> int:
    """A deal of the seed's client «ООО «Вектор»» (company 7) with one product row."""
    deal_id = int(rest(stack, "crm.deal.add", fields={
        "TITLE": title, "COMPANY_ID": 7, "ASSIGNED_BY_ID": 1, "OPPORTUNITY": 15000,
        "CURRENCY_ID": "RUB"}))
    rest(stack, "crm.item.productrow.set", ownerType="D", ownerId=deal_id, productRows=[
        {"productName": "Перевозка Москва — Казань", "price": 15000, "quantity": 1,
         "taxRate": 20, "taxIncluded": "Y", "measureName": "усл. ед."}])
    return deal_id


def call_robot(stack: Stack, deal_id: int, template: str) -> str:
    res = stack.control("POST", "robots/run", {
        "code": ROBOT, "document_id": ["crm", "CCrmDocumentDeal", f"DEAL_{deal_id}"],
        "document_type": ["crm", "CCrmDocumentDeal", "DEAL"],
        "properties": {"template": template}})
    return str(res["event_token"])


def answers(stack: Stack, tokens: list[str]) -> list[dict[str, Any]]:
    out = []
    for tok in tokens:
        calls = stack.control("GET", f"robots/results?event_token={tok}")["calls"]
        out.append(calls[0]["RETURN_VALUES"] if calls else {})
    return out


def _methods(stack: Stack) -> Counter[str]:
    return Counter(stack.stats().get("http_by_method") or {})


def requests_phase(documents: int = 10) -> dict[str, Any]:
    with rig({**QUIET, **DOCS, **FOLDERS}) as r:
        r.start_workers(2)
        first = invoice_deal(r.stack, "Первый рейс")
        wait_quiet(r.stack, r.app, timeout=300)
        call_robot(r.stack, first, "invoice")  # the registry and the link field made once
        wait_quiet(r.stack, r.app, timeout=300)
        deals = [invoice_deal(r.stack, f"Рейс {i}") for i in range(documents)]
        wait_quiet(r.stack, r.app, timeout=600)  # their folders made on their creation
        per_doc: list[int] = []
        methods: Counter[str] = Counter()
        tokens = []
        for deal_id in deals:
            before, count = _methods(r.stack), wait_quiet(r.stack, r.app, timeout=300)
            tokens.append(call_robot(r.stack, deal_id, "invoice"))
            after_count = wait_quiet(r.stack, r.app, timeout=300)
            spent = _methods(r.stack) - before
            aside = sum(n for m, n in spent.items() if m in UPLOAD + ANSWER)
            per_doc.append(after_count - count - aside)
            methods += spent
        got = answers(r.stack, tokens)
        errors = [g.get("error") for g in got if g.get("error")]
        return {"documents": documents, "requests_per_document": round(
            sum(per_doc) / len(per_doc), 2), "requests_per_document_max": max(per_doc),
            "by_method": dict(methods), "errors": errors[:3]}


def numbers_phase(requests: int = 200, workers: int = 4) -> dict[str, Any]:
    with rig({**QUIET, **DOCS}, emulator_extra=("--no-rate-limit",)) as r:
        r.start_workers(workers)
        with ThreadPoolExecutor(8) as pool:
            deals = list(pool.map(lambda i: invoice_deal(r.stack, f"Рейс {i}"),
                                  range(requests)))
        wait_quiet(r.stack, r.app, timeout=600)
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:  # all at once
            tokens = list(pool.map(lambda d: call_robot(r.stack, d, "services_act"), deals))
        _wait_answered(r, tokens, timeout=900)
        elapsed = time.monotonic() - started
        got = answers(r.stack, tokens)
        numbers = [g.get("number", "") for g in got if not g.get("error")]
        seq = sorted(int(n.rsplit("-", 1)[1]) for n in numbers if n)
        counts = Counter(seq)
        highest = max(seq, default=0)
        return {"requests": requests, "workers": workers, "answered": len(numbers),
                "distinct_numbers": len(counts),
                "gaps": sum(1 for n in range(1, highest + 1) if n not in counts),
                "duplicates": sum(c - 1 for c in counts.values() if c > 1),
                "errors": [g.get("error") for g in got if g.get("error")][:3],
                "seconds": round(elapsed, 1),
                "documents_per_second": round(len(numbers) / elapsed, 2) if elapsed else 0}


def _wait_answered(r: Rig, tokens: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(answers(r.stack, tokens[-5:])) and all(answers(r.stack, tokens)):
            return
        time.sleep(2)
    raise TimeoutError("not every robot was answered")

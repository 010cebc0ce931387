"""Documents benchmark: the shipped templates rendered with full deals, on one core.

  docs_per_second     guarded renders (a forked child under CPU, memory and time limits)
                      of the 16 shipped templates in turn, pinned to one core (target ≥ 20),
                      each template prepared once and kept, as in a long-lived process
  cold_docs_per_second the same with every template prepared anew for each document, as
                      in an RQ work-horse (a fresh fork per job) whose worker did not call
                      render.keep_ready for the shipped templates before forking it
  render_ms           p50/p90/p99 of one guarded render
  unguarded_ms_p50    the same document made in this process from a fresh copy of the
                      template (load + render + save, no child): what the guard is compared to
  child_overhead_ms   p50 of a child that does nothing: fork, limits, pipe, exit, wait
  prepare_ms_p50      a template's first use: checked, opened, parsed, compiled (then kept)
  context_ms_p50      building a template's context (formatting, declension, totals)

Phase `pdf`: the 16 shipped templates, filled, made into PDF by LibreOffice one after
another in this process (robots.documents.pdf.to_pdf: one soffice per document), on the
same one core, `--rounds` times over:

  pdf_cold_seconds    the first conversion, in an empty profile (LibreOffice writes it)
  pdf_seconds_p50/p95 the conversions after it, on that profile kept warm
  pdf_seconds_max     the slowest of them; pdf_kb_p50 the size of a PDF

Phases `requests` (requests_per_document, target ≤ 3 beside the upload) and `numbers`
(distinct_numbers 200 and gaps 0 for 200 requests at once) run the whole app: see
bench.documents_flow. They run first, on every core (the other phases pin this process).

Run: .venv/bin/python -m bench.documents [--seconds 10] [--rounds 3]
[--phases requests,numbers,render,pdf] [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import emit, latency_summary, load_average, percentile
from robots.documents import child, pdf, render
from robots.documents.kinds import KINDS, kind
from tests import documents_sample as sample

BENCH = "documents"


def one_core() -> int:
    """Pin this process (and the children it forks) to one core; which one."""
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def _ms(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return sorted(out)


def forget() -> None:
    """Drop every template the process prepared and compiled: the next use is a first one."""
    render._PREPARED.clear()
    render.ENV.compiled.clear()


def contexts() -> dict[str, dict[str, Any]]:
    def client(code: str) -> Any:
        return sample.PERSON if kind(code).business == "car_dealer" else sample.CLIENT

    return {k.code: sample.context(k.code, client=client(k.code)) for k in KINDS}


def run_render(seconds: float) -> dict[str, Any]:
    templates = {k.code: k.path.read_bytes() for k in KINDS}
    started = time.perf_counter()
    data = contexts()
    context_ms = (time.perf_counter() - started) / len(data) * 1000
    prepare_s = []
    for template in templates.values():
        forget()
        t0 = time.perf_counter()
        render.prepare(template)
        prepare_s.append(time.perf_counter() - t0)
    for template in templates.values():  # keep all of them, as a worker does
        render.prepare(template)
    codes = list(templates)
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        code = codes[i % len(codes)]
        t0 = time.perf_counter()
        render.render(templates[code], data[code])
        times.append(time.perf_counter() - t0)
        i += 1
    elapsed = sum(times)
    cold: list[float] = []
    for code in codes * 2:
        forget()
        t0 = time.perf_counter()
        render.render(templates[code], data[code])
        cold.append(time.perf_counter() - t0)
    invoice = templates["invoice"]
    unguarded = _ms(lambda: render.render_here(invoice, data["invoice"]), 20)
    noop = _ms(lambda: child.run(lambda: b""), 50)
    return {"docs_per_second": round(len(times) / elapsed, 1), "documents": len(times),
            "cold_docs_per_second": round(len(cold) / sum(cold), 1),
            "templates": len(codes), "render_ms": latency_summary(times),
            "unguarded_ms_p50": round(percentile(unguarded, 50) * 1000, 1),
            "child_overhead_ms": round(percentile(noop, 50) * 1000, 2),
            "prepare_ms_p50": round(percentile(sorted(prepare_s), 50) * 1000, 1),
            "context_ms_p50": round(context_ms, 1), "target_docs_per_second": 20}


def run_pdf(rounds: int) -> dict[str, Any]:
    data = contexts()
    documents = [render.render(k.path.read_bytes(), data[k.code]) for k in KINDS]
    with tempfile.TemporaryDirectory(prefix="cc-bench-soffice-") as base:
        profiles = Path(base)
        t0 = time.perf_counter()
        pdf.to_pdf(documents[0], profiles_dir=profiles)
        cold = time.perf_counter() - t0
        times: list[float] = []
        sizes: list[int] = []
        for _ in range(rounds):
            for document in documents:
                t0 = time.perf_counter()
                sizes.append(len(pdf.to_pdf(document, profiles_dir=profiles)))
                times.append(time.perf_counter() - t0)
    times.sort()
    return {"pdf_seconds_p50": round(percentile(times, 50), 3),
            "pdf_seconds_p95": round(percentile(times, 95), 3),
            "pdf_seconds_max": round(times[-1], 3), "pdf_cold_seconds": round(cold, 3),
            "conversions": len(times), "templates": len(documents),
            "pdf_kb_p50": round(percentile(sorted(sizes), 50) / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3,
                        help="conversions of every shipped template in the pdf phase")
    parser.add_argument("--phases", default="requests,numbers,render,pdf",
                        help="any of requests, numbers, render, pdf (comma-separated)")
    parser.add_argument("--quick", action="store_true",
                        help="2 seconds of rendering, one round of conversions")
    args = parser.parse_args(argv)
    phases = args.phases.split(",")
    if "requests" in phases or "numbers" in phases:
        from bench import documents_flow as flow

        if "requests" in phases:
            emit(BENCH, "requests", load_average=load_average(),
                 **flow.requests_phase(3 if args.quick else 10))
        if "numbers" in phases:
            emit(BENCH, "numbers", load_average=load_average(),
                 **flow.numbers_phase(20 if args.quick else 200))
    if "render" not in phases and "pdf" not in phases:
        return 0
    core = one_core()
    if "render" in phases:
        emit(BENCH, "render", core=core, load_average=load_average(),
             **run_render(2.0 if args.quick else args.seconds))
    if "pdf" in phases:
        emit(BENCH, "pdf", core=core, load_average=load_average(),
             **run_pdf(1 if args.quick else args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Generated bad input against every public route of a real gunicorn (issue 13, item 3).

Sends N requests built by tests/bad_requests.py (any method, headers, form keys with
brackets and unicode digits, JSON thousands of levels deep, chunked bodies valid, broken and
over the limit), one at a time over loopback, and counts the 5xx answers and the jobs that
requests without the portal's real token left in the queues. Prints one JSON line:

    {"requests": N, "http_5xx": 0, "jobs_from_unverified": 0, ...}

    .venv/bin/python -m bench.fuzz_routes [--requests 10000]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bench.common import emit, running_stack
from tests.bad_requests import jobs_waiting, raw_requests, send

NAME = "fuzz_routes"
LIMIT = 16384  # CONNECTOR_MAX_BODY_BYTES for the run: over-limit bodies stay small


def run(count: int) -> dict[str, Any]:
    with running_stack(env_overrides={"CONNECTOR_MAX_BODY_BYTES": str(LIMIT)}) as stack:
        stack.install()
        portal = stack.portal()
        from connector.config import load_settings
        from wiring import build_services

        queues = build_services(load_settings(stack.env)).queues
        url = urlsplit(stack.app_url)
        statuses: Counter[int] = Counter()
        unverified_jobs = 0
        examples: list[str] = []

        @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def one(data: st.DataObject) -> None:
            nonlocal unverified_jobs
            req = data.draw(raw_requests(portal, LIMIT))
            before = jobs_waiting(queues)
            status = send(url.hostname or "127.0.0.1", url.port or 80, req)
            statuses[status] += 1
            if not req.verified:
                unverified_jobs += jobs_waiting(queues) - before
            if (status >= 500 or status == 0) and len(examples) < 5:
                examples.append(f"{status} {req.method} {req.target[:60]} {req.framing} "
                                f"{req.body[:120]!r}")

        started = time.monotonic()
        one()
        return emit(NAME, "result", requests=sum(statuses.values()),
                    http_5xx=sum(n for s, n in statuses.items() if s >= 500),
                    no_answer=statuses.get(0, 0), jobs_from_unverified=unverified_jobs,
                    statuses={str(k): v for k, v in sorted(statuses.items())},
                    seconds=round(time.monotonic() - started, 1), examples=examples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    run(parser.parse_args().requests)


if __name__ == "__main__":
    main()

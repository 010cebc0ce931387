"""Carrier search over a generated market (bench.carrier_market: 10,000 carriers, 50,000
offers, 100,000 won deals): the index written to a real redis-server and read into a
process's copy, the query time, the HTTP requests a query makes (counted at the socket
layer of requests/urllib3, whatever the code path), and whether the carrier that actually
took a deal is in the top 5 computed from what was known before the deal's day — against a
baseline that ranks by won trips from the same loading city.

    .venv/bin/python -m bench.carriers [--quick] [--queries 1000] [--replay 2000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.carrier_market import Market, market
from bench.common import cpu_count, emit, latency_summary, load_average, percentile

NAME = "carriers"
WRITE_CHUNK = 5_000


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


class HttpCounter:
    """Counts every HTTP request this process sends through requests or urllib3."""

    def __init__(self) -> None:
        self.n = 0

    def __enter__(self) -> HttpCounter:
        import requests
        import urllib3

        self._send, self._urlopen = requests.Session.send, urllib3.HTTPConnectionPool.urlopen
        counter = self

        def send(session: Any, *a: Any, **kw: Any) -> Any:
            counter.n += 1
            return counter._send(session, *a, **kw)

        def urlopen(pool: Any, *a: Any, **kw: Any) -> Any:
            counter.n += 1
            return counter._urlopen(pool, *a, **kw)

        requests.Session.send = send  # type: ignore[method-assign]
        urllib3.HTTPConnectionPool.urlopen = urlopen  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        import requests
        import urllib3

        requests.Session.send = self._send  # type: ignore[method-assign]
        urllib3.HTTPConnectionPool.urlopen = self._urlopen  # type: ignore[method-assign]


def write_index(redis: Any, m: Market) -> Any:
    from robots.carriers.store import Store

    idx = Store(redis, "bench:carriers:b24:market:index")
    idx.drop_all()
    for start in range(0, len(m.carriers), WRITE_CHUNK):
        idx.write(carriers=m.carriers[start:start + WRITE_CHUNK])
    for start in range(0, len(m.trips), WRITE_CHUNK):
        idx.write(trips=m.trips[start:start + WRITE_CHUNK])
    for start in range(0, len(m.offers), WRITE_CHUNK):
        idx.write(offers=m.offers[start:start + WRITE_CHUNK])
    return idx


def query_of(trip: Any, as_of: bool) -> Any:
    from robots.carriers.rank import Query

    return Query(trip.origin, trip.destination, trip.day, trip.weight_t, trip.volume_m3,
                 trip.body, False, False, trip.day if as_of else "")


class Baseline:
    """The carriers with the most won trips from the same loading city before the day."""

    def __init__(self, m: Market):
        from robots.carriers.index import day_number

        rows: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for t in m.trips:
            rows[t.origin.key].append((day_number(t.day), t.carrier_id))
        self.by_origin = {k: (np.array([d for d, _ in v]), np.array([c for _, c in v]))
                          for k, v in rows.items()}

    def top(self, trip: Any, n: int = 5) -> list[int]:
        from robots.carriers.index import day_number

        days, carriers = self.by_origin.get(trip.origin.key, (np.zeros(0), np.zeros(0)))
        before = carriers[days < day_number(trip.day)].astype(int)
        if not len(before):
            return []
        counts = np.bincount(before)
        best = np.argsort(-counts, kind="stable")[:n]
        return [int(c) for c in best if counts[c]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.carriers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the market")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--replay", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    from redis import Redis

    from bench.common import free_port, start_redis, stop
    from robots.carriers import rank, store

    t0 = time.perf_counter()
    m = market(seed=args.seed, carriers=10_000 // scale, offers=50_000 // scale,
               deals=100_000 // scale)
    emit(NAME, "market", seconds=round(time.perf_counter() - t0, 1), carriers=len(m.carriers),
         offers=len(m.offers), trips=len(m.trips), lane_share=m.lane_share, **m.facts,
         cpus=cpu_count(), load_average=load_average())
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-carriers-"))
    port = free_port()
    proc = start_redis(port, workdir / "redis")
    try:
        redis = Redis(port=port)
        t0 = time.perf_counter()
        idx = write_index(redis, m)
        write_s = time.perf_counter() - t0
        rss0 = _rss_mb()
        t0 = time.perf_counter()
        snap = store.snapshot(idx)
        build_s = time.perf_counter() - t0
        redis_mb = int(redis.info("memory")["used_memory"]) / 2**20
        emit(NAME, "index", write_seconds=round(write_s, 1), build_seconds=round(build_s, 2),
             process_mb=round(_rss_mb() - rss0, 1), redis_mb=round(redis_mb, 1),
             carriers=snap.carrier_count, trips=snap.trip_count, offers=snap.offer_count)

        rng = np.random.default_rng(args.seed + 1)
        plain = [m.trips[int(i)] for i in rng.choice(len(m.trips), size=args.queries)]
        times: list[float] = []
        with HttpCounter() as http:
            for trip in plain:
                t0 = time.perf_counter()
                snap = store.snapshot(idx)  # as a robot does: the revision checked (1 GET)
                rank.search(snap, query_of(trip, False), limit=5)
                times.append(time.perf_counter() - t0)
        lat = {**latency_summary(times), "p95_ms": round(percentile(sorted(times), 95) * 1000, 3)}
        emit(NAME, "queries", **lat, http_requests=http.n)

        late = [t for t in m.trips if t.day >= m.trips[int(len(m.trips) * 0.75)].day]
        sample = [late[int(i)] for i in rng.choice(len(late), size=min(args.replay, len(late)),
                                                   replace=False)]
        base = Baseline(m)
        hits = base_hits = 0
        replay_times: list[float] = []
        for trip in sample:
            t0 = time.perf_counter()
            found = rank.search(snap, query_of(trip, True), limit=5)
            replay_times.append(time.perf_counter() - t0)
            hits += trip.carrier_id in [s.carrier.id for s in found.suggestions]
            base_hits += trip.carrier_id in base.top(trip)
        emit(NAME, "summary", p95_ms=lat["p95_ms"], p50_ms=lat["p50_ms"],
             rest_calls_per_query=http.n / len(times),
             top5_hit_rate=round(hits / len(sample), 3),
             top5_hit_rate_baseline=round(base_hits / len(sample), 3),
             replayed=len(sample),
             replay_p95_ms=round(percentile(sorted(replay_times), 95) * 1000, 3),
             lane_share=m.lane_share, build_seconds=round(build_s, 2),
             process_mb=round(_rss_mb() - rss0, 1), redis_mb=round(redis_mb, 1),
             quick=bool(args.quick))
        redis.close()
    finally:
        stop([proc])
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

import time

from connector.bitrix.ratelimit import ENTERPRISE, STANDARD, LeakyBucket, Plan, plan_for


def test_bucket_allows_capacity_then_asks_to_wait(redis):
    bucket = LeakyBucket(redis, "t")
    plan = Plan(drain=2.0, threshold=10, headroom=2)
    assert all(bucket.try_acquire("m", plan) == 0 for _ in range(plan.capacity))
    wait = bucket.try_acquire("m", plan)
    assert 0 < wait <= 0.51


def test_bucket_drains_at_the_portal_rate(redis):
    bucket = LeakyBucket(redis, "t")
    plan = Plan(drain=20.0, threshold=5, headroom=0)
    for _ in range(5):
        bucket.acquire("m", plan)
    start = time.monotonic()
    for _ in range(4):
        bucket.acquire("m", plan)
    elapsed = time.monotonic() - start
    assert 0.12 <= elapsed < 1.0  # 4 more slots at 20/s take ~0.2 s


def test_buckets_are_per_portal(redis):
    bucket = LeakyBucket(redis, "t")
    plan = Plan(drain=1.0, threshold=2, headroom=0)
    bucket.acquire("a", plan)
    bucket.acquire("a", plan)
    assert bucket.try_acquire("a", plan) > 0
    assert bucket.try_acquire("b", plan) == 0


def test_plan_from_license():
    assert plan_for("ent250") is ENTERPRISE
    assert plan_for("") is STANDARD

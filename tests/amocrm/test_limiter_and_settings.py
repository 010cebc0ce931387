"""The sliding window alone (threads on one Redis), and the amoCRM settings."""

import threading
import time

import pytest
from cryptography.fernet import Fernet

from connector.config import ConfigError, load_settings
from connector.ratelimit import AMOCRM, SlidingWindow, Window

KEY = Fernet.generate_key().decode()


def test_window_admits_limit_then_says_how_long(redis):
    w = SlidingWindow(redis, "t")
    plan = Window(limit=3, window_s=0.5)
    assert [w.try_acquire("a", plan) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = w.try_acquire("a", plan)
    assert 0 < wait <= 0.5
    assert w.try_acquire("b", plan) == 0.0  # per tenant
    time.sleep(wait + 0.01)
    assert w.try_acquire("a", plan) == 0.0


def test_threads_never_exceed_the_limit_in_any_window(redis):
    w = SlidingWindow(redis, "t")
    plan = Window(limit=5, window_s=0.4)
    stamps: list[float] = []
    lock = threading.Lock()

    def run():
        for _ in range(8):
            w.acquire("x", plan)
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    stamps.sort()
    assert len(stamps) == 32
    for i, t0 in enumerate(stamps):  # admissions are stamped a little after Redis admits
        inside = [t for t in stamps[i:] if t < t0 + plan.window_s - 0.05]
        assert len(inside) <= plan.limit


def test_amocrm_plan_is_under_seven_per_second():
    assert AMOCRM.limit < 7 and AMOCRM.window_s >= 1.0


def test_amocrm_settings():
    base = {"CONNECTOR_SECRET_KEY": "k", "CONNECTOR_ENCRYPTION_KEY": KEY}
    off = load_settings(base)
    assert not off.amocrm_enabled and off.amocrm_url_template == "https://{domain}"
    on = load_settings({**base, "AMOCRM_CLIENT_ID": "id", "AMOCRM_CLIENT_SECRET": "s",
                        "AMOCRM_REDIRECT_URI": "https://app.example.com/amocrm/oauth",
                        "AMOCRM_URL_TEMPLATE": "http://127.0.0.1:9/{domain}"})
    assert on.amocrm_enabled and on.amocrm_url_template == "http://127.0.0.1:9/{domain}"
    with pytest.raises(ConfigError, match="AMOCRM_URL_TEMPLATE"):
        load_settings({**base, "AMOCRM_URL_TEMPLATE": "https://example.com"})
    with pytest.raises(ConfigError, match="AMOCRM_CLIENT_ID"):
        load_settings({**base, "AMOCRM_CLIENT_ID": "id"})

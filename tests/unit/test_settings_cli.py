"""`crm-connector settings`: input checked by the schema, refusals and descriptions in ru/en."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from connector.bitrix.store import Portal, PortalStore
from connector.i18n import t
from devstack.processes import ROOT

KEY = Fernet.generate_key().decode()


@pytest.fixture
def env(redis, redis_url):
    PortalStore(redis, KEY, "secret", "cc").save(Portal("m1", domain="a.bitrix24.ru"))
    return {"PATH": "/usr/bin:/bin", "REDIS_URL": redis_url, "CONNECTOR_SECRET_KEY": "secret",
            "CONNECTOR_ENCRYPTION_KEY": KEY}


def cli(env, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "wiring", "settings", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, input=stdin, timeout=60)


def test_describe_lists_every_section_in_the_chosen_language(env):
    for lang in ("en", "ru"):
        out = cli(env, "describe", "--lang", lang)
        assert out.returncode == 0, out.stderr
        desc = json.loads(out.stdout)
        assert {"general", "events", "distribution", "deal_folders", "deal_chats",
                "drive_mirror"} <= set(desc)
        language = next(f for f in desc["general"]["fields"] if f["name"] == "language")
        assert language["label"] == t(lang, "Language")
        assert [o["label"] for o in language["options"]] == [
            t(lang, "The portal's language"), t(lang, "Russian"), t(lang, "English")]


def test_refusals_name_the_field_in_the_chosen_language_and_change_nothing(env, redis):
    ok = cli(env, "set", "m1", "-", stdin=json.dumps({"general": {"language": "en"}}))
    assert (ok.returncode, ok.stdout.strip()) == (0, "saved")
    before = redis.get("cc:settings:m1")
    bad = json.dumps({"events": {"drain_every_s": 5}})
    en = cli(env, "set", "m1", "-", "--lang", "en", stdin=bad)
    assert en.returncode == 2
    assert en.stderr.strip() == ("refused, settings unchanged: events.drain_every_s: "
                                 "must be between 10 and 3600 seconds")
    ru = cli(env, "import", "m1", "-", "--lang", "ru", stdin=bad)
    reason = t("ru", "must be between {low} and {high} seconds", low=10, high=3600)
    assert ru.returncode == 2
    assert ru.stderr.strip() == t("ru", "refused, settings unchanged: {reason}",
                                  reason=f"events.drain_every_s: {reason}")
    assert redis.get("cc:settings:m1") == before
    shown = json.loads(cli(env, "show", "m1").stdout)
    assert shown["general"]["language"] == "en" and shown["events"]["drain_every_s"] == 60


def test_unknown_portal_and_missing_portal_are_refused(env):
    for args in (("show", "nope"), ("show",)):
        out = cli(env, *args, "--lang", "en")
        assert out.returncode == 2 and "unknown portal" in out.stderr


def test_a_cli_save_is_in_the_settings_trail_as_the_operators(env, redis):
    """The CLI saves the way the admin pages do: audited, refusals leave no entry."""
    assert cli(env, "set", "m1", "-", stdin=json.dumps({"events": {"drain_every_s": 5}})
               ).returncode == 2
    assert redis.llen("cc:core:b24:m1:settings-audit") == 0
    ok = cli(env, "set", "m1", "-", stdin=json.dumps({"events": {"drain_every_s": 120}}))
    assert ok.returncode == 0, ok.stderr
    entry = json.loads(redis.lindex("cc:core:b24:m1:settings-audit", 0))
    assert (entry["user_id"], entry["section"], entry["changes"]) == (
        "cli", "events", [["drain_every_s", 60, 120]])

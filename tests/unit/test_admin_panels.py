"""The admin panels' pure parts: the fairness chart, the audit filter, the attention list and
a failed job's reason in words."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from admin.attention import Note, Snapshot, attention, notes_from
from connector.failures import UNAVAILABLE, UNEXPECTED, UNKNOWN, WORDS, reason
from connector.i18n import t
from robots.distribution.fairness_chart import COLUMN_W, ManagerLoad, fairness_svg
from robots.distribution.panels import AuditFilter, filtered

HEADINGS = ("Today", "This month", "In work")


def bars(svg: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect [^>]*width="([0-9.]+)"', svg)]


def test_the_chart_draws_each_measure_on_its_own_scale():
    svg = fairness_svg([ManagerLoad("Ivan Petrov", 2, 40, 1), ManagerLoad("Maria", 1, 10, 4)],
                       "Load in Sales", HEADINGS, "fair-sales")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-labelledby="fair-sales-title"' in svg
    assert '<title id="fair-sales-title">Load in Sales</title>' in svg
    longest = COLUMN_W * 0.78
    # row by row: today, month, in work; the largest of each measure is the longest bar
    want = [longest, longest, longest / 4, longest / 2, longest / 4, longest]
    assert bars(svg) == pytest.approx(want, abs=0.1)
    assert all(f">{n}</text>" in svg for n in (2, 40, 1, 10, 4))


def test_the_chart_escapes_names_and_copes_with_nothing():
    svg = fairness_svg([ManagerLoad('<b>"Bob"</b> & Co with a very long name indeed', 0, 0, 0)],
                       "T & T", HEADINGS, "c")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "T &amp; T" in svg
    assert "…" in svg and bars(svg) == [0.0, 0.0, 0.0]
    assert "<rect" not in fairness_svg([], "Empty", HEADINGS, "e")


ROWS = [
    {"ts": datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("UTC")).timestamp(), "item": "lead/12",
     "group": "sales", "status": "assigned", "user_id": 2},
    {"ts": datetime(2026, 3, 1, 22, 30, tzinfo=ZoneInfo("UTC")).timestamp(),
     "item": "deal/7", "group": "sales", "status": "pending", "user_id": None},
    {"ts": datetime(2026, 2, 20, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp(),
     "item": "lead/3", "group": "logistics", "status": "assigned", "user_id": 3},
]


def items(values: dict[str, str], tz: str = "Europe/Moscow") -> list[str]:
    return [r["item"] for r in filtered(ROWS, AuditFilter.parse(values, tz))]


def test_the_audit_filter_by_group_manager_outcome_and_item():
    assert items({}) == ["lead/12", "deal/7", "lead/3"]
    assert items({"audit_group": "sales"}) == ["lead/12", "deal/7"]
    assert items({"audit_user": "3"}) == ["lead/3"]
    assert items({"audit_status": "pending"}) == ["deal/7"]
    assert items({"audit_status": "nonsense"}) == ["lead/12", "deal/7", "lead/3"]
    assert items({"audit_item": "7"}) == ["deal/7"]
    assert items({"audit_item": "Lead/12"}) == ["lead/12"]
    assert items({"audit_item": "2"}) == []  # "12" is not "2"
    assert items({"audit_group": "sales", "audit_status": "assigned", "audit_user": "2"}) == [
        "lead/12"]


def test_the_audit_dates_are_whole_days_of_the_portals_zone():
    # 22:30 UTC on March 1st is already March 2nd in Moscow
    assert items({"audit_from": "2026-03-02", "audit_to": "2026-03-02"}) == ["lead/12", "deal/7"]
    assert items({"audit_from": "2026-03-02", "audit_to": "2026-03-02"}, "UTC") == ["lead/12"]
    assert items({"audit_to": "2026-02-28"}) == ["lead/3"]
    assert items({"audit_from": "not a date"}) == ["lead/12", "deal/7", "lead/3"]
    assert filtered(ROWS, AuditFilter(), most=1) == ROWS[:1]


def test_attention_comes_most_urgent_first():
    notes = notes_from("distribution", [{"rank": 60, "msgid": "held {count}",
                                         "params": {"count": 2}}]) + notes_from(
        "drive_mirror", [{"rank": 40, "msgid": "parked"}, {"rank": 30, "msgid": "revoked"}])
    got = attention(Snapshot(needs_reinstall=True, failed_jobs=3, missing_scopes=("im", "disk"),
                             notes=notes))
    assert [n.rank for n in got] == [10, 20, 30, 40, 50, 60]
    assert [n.page for n in got] == ["operations", "operations", "drive_mirror",
                                     "drive_mirror", "operations", "distribution"]
    assert t("en", got[1].msgid, **got[1].params).startswith("Failed jobs: 3.")
    assert "im, disk" in t("en", got[4].msgid, **got[4].params)
    assert got[5] == Note(60, "held {count}", "distribution", {"count": 2})


def test_nothing_needs_attention_when_all_is_well():
    assert attention(Snapshot()) == []
    assert [n.rank for n in attention(Snapshot(failed_jobs=1))] == [20]


def test_a_failed_jobs_reason_in_words():
    revoked = reason("connector.gdrive.errors.GoogleAccessRevoked: invalid_grant: Token has "
                     "been expired or revoked.")
    assert revoked.words == WORDS["GoogleAccessRevoked"]
    assert revoked.detail == "invalid_grant: Token has been expired or revoked."
    assert reason("connector.bitrix.errors.InvalidGrant: expired").words == WORDS["InvalidGrant"]
    assert reason("requests.exceptions.ConnectionError: refused").words == UNAVAILABLE
    assert reason("connector.errors.Retryable: 503").words == UNAVAILABLE
    assert reason("connector.errors.Permanent: unknown task 'x'").words == UNEXPECTED
    assert reason("").words == UNKNOWN
    assert reason("Traceback text without a class").words == UNEXPECTED
    ru = t("ru", WORDS["MissingScope"])
    assert ru != WORDS["MissingScope"]  # said in Russian too


def test_a_failed_job_says_what_it_was_doing_in_words():
    from admin.panels_core import job_words
    from connector.queue import JobView
    from tests.capabilities import REGISTRY

    def words(func: str, *args: object, lang: str = "ru") -> str:
        return job_words(REGISTRY, lang, JobView("j", f"connector.jobs.{func}", args, "files",
                                                 0.0))

    copy = words("run_maintenance", "drive_mirror.file", "m1", {"deal_id": 31})
    assert copy == "Копия на Google Диске: Скопировать файл на Google Диск, сделка 31"
    assert words("run_maintenance", "distribution.recheck", "m1", lang="en") == (
        "Fair distribution: Re-check the items waiting for a responsible")
    for cap in REGISTRY.capabilities:  # every task and periodic task says what it does
        for task in (*cap.tasks, *cap.periodic):
            assert task.title, f"{cap.name}.{task.name} has no title"

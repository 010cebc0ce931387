"""A digest's figures (pure): per pipeline, new / won / lost / in work with sums in one
currency, the period before beside them, the chart's days; and the message built on them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connector.crm.port import Item, ItemRef
from robots.digests import figures, message
from robots.digests import schedule as sch

TZ = "Europe/Moscow"
RATES = {"RUB": Decimal(1), "USD": Decimal("68.79"), "EUR": Decimal("90")}
PIPELINES = {"0": "Общая", "1": "Оптовые продажи"}
PERIOD = sch.period_before(date(2026, 3, 9), sch.WEEK, TZ)  # 2 - 8 March
BEFORE = sch.previous(PERIOD, sch.WEEK)  # 23 February - 1 March
DAYS = sch.chart_days(date(2026, 3, 9))


def deal(n: int, amount: str, *, created: str, cat: str = "0", currency: str = "RUB",
         state: str = "P", moved: str = "") -> Item:
    return Item(ItemRef("deal", n), f"Сделка {n}", amount=amount, currency=currency,
                category=cat, won=state == "S", closed=state in ("S", "F"),
                fields={"createdTime": created, "movedTime": moved or created})


def count(deals: list[Item], chosen: tuple[str, ...] = ()) -> figures.Figures:
    return figures.count(deals, period=PERIOD, before=BEFORE, days=DAYS, currency="RUB",
                         rates=RATES, pipelines=PIPELINES, chosen=chosen)


SEED = [
    deal(1, "1000", created="2026-03-02T10:00:00+03:00"),  # new, in work
    deal(2, "100", currency="USD", created="2026-03-03T12:00:00+03:00", state="S",
         moved="2026-03-05T15:00:00+03:00"),  # new and won: 6,879 RUB
    deal(3, "5000", created="2026-02-20T10:00:00+03:00", state="F",
         moved="2026-03-04T09:00:00+03:00"),  # lost in the period, created before both
    deal(4, "2500", created="2026-02-25T10:00:00+03:00", state="S",
         moved="2026-02-27T10:00:00+03:00"),  # new and won in the period before
    deal(5, "70000", cat="1", created="2026-03-08T23:59:00+03:00"),  # wholesale, in work
    deal(6, "300", cat="1", created="2026-03-09T00:00:00+03:00"),  # today: not in period
    deal(7, "10", currency="EUR", cat="1", created="2026-03-06T10:00:00+03:00", state="S",
         moved="2026-03-07T10:00:00+03:00"),  # 900 RUB
]


def test_each_pipeline_counts_its_new_won_lost_and_in_work_deals_in_one_currency():
    fig = count(SEED + [SEED[1]])  # a deal read twice (new and closed) counts once
    common, wholesale = fig.lines
    assert (common.name, wholesale.name) == ("Общая", "Оптовые продажи")
    assert (common.new.count, common.new.total) == (2, Decimal("7879.00"))
    assert (common.won.count, common.won.total) == (1, Decimal("6879.00"))
    assert (common.lost.count, common.lost.total) == (1, Decimal("5000.00"))
    assert (common.in_work.count, common.in_work.total) == (1, Decimal("1000.00"))
    assert (common.new_before.count, common.won_before.count) == (1, 1)
    assert common.won_before.total == Decimal("2500.00")
    assert (wholesale.new.count, wholesale.new.total) == (2, Decimal("70900.00"))
    assert (wholesale.won.count, wholesale.won.total) == (1, Decimal("900.00"))
    assert (wholesale.in_work.count, wholesale.in_work.total) == (2, Decimal("70300.00"))
    total = fig.total
    assert (total.new.count, total.won.count, total.lost.count, total.in_work.count) == (
        4, 2, 1, 3)
    assert total.won.total == Decimal("7779.00")


def test_chosen_pipelines_only_and_a_quiet_pipeline_is_left_out():
    fig = count(SEED, chosen=("1",))
    assert [line.name for line in fig.lines] == ["Оптовые продажи"]
    assert fig.total.new.count == 2
    assert [line.category for line in count(SEED[:2]).lines] == ["0"]


def test_the_chart_days_count_new_and_won_deals_by_the_portal_day():
    fig = count(SEED)
    by_day = {d.day: (d.new, d.won) for d in fig.days}
    assert by_day[date(2026, 3, 2)] == (1, 0)
    assert by_day[date(2026, 3, 5)] == (0, 1)
    assert by_day[date(2026, 3, 8)] == (1, 0)  # 23:59 Moscow is still the 8th
    assert sum(n for n, _w in by_day.values()) == 4


def test_a_currency_without_a_rate_is_counted_without_its_sum_and_said():
    fig = count([deal(9, "90000", currency="KZT", created="2026-03-03T10:00:00+03:00"),
                 *SEED[:1]])
    assert fig.total.new.count == 2 and fig.total.new.total == Decimal("1000.00")
    assert fig.unconverted == {"KZT": 1}
    text = message.render(fig, "ru", message.BBCODE)
    assert "Сделок в KZT без курса в CRM: 1; их суммы не учтены." in text


def test_the_message_in_russian_for_bitrix24_and_for_telegram():
    fig = count(SEED)
    overdue = {"count": 3, "items": [
        {"title": "Ремонт [B]КПП[/B] <Toyota>", "url": "https://b24.example/crm/deal/details/3/",
         "rule": "Реакция на сделку", "missed": 2}]}
    bb = message.render(fig, "ru", message.BBCODE, overdue=overdue,
                        chart_url="https://b24.example/disk/1/")
    lines = bb.splitlines()
    assert lines[0] == "[B]Сводка по сделкам за 02.03–08.03.2026[/B]"
    assert lines[1] == "в сравнении с 23.02–01.03.2026"
    assert "[B]Общая[/B]" in lines
    assert "Новые: 2 на сумму 7\xa0879,00\xa0₽ (в прошлом периоде: 1)" in lines
    assert "Выиграны: 1 на сумму 6\xa0879,00\xa0₽ (в прошлом периоде: 1)" in lines
    assert "В работе сейчас: 1 на сумму 1\xa0000,00\xa0₽" in lines
    assert "[B]Все воронки[/B]" in lines
    assert "[B]Просрочено (контроль сроков): 3[/B]" in lines
    assert ("• [URL=https://b24.example/crm/deal/details/3/]Ремонт [\u200bB]КПП[\u200b/B] "
            "<Toyota>[/URL] — Реакция на сделку (2 напоминания)") in lines
    assert "…и ещё 2" in lines
    assert lines[-1] == "График за неделю: [URL=https://b24.example/disk/1/]открыть[/URL]"
    tg = message.render(fig, "ru", message.TELEGRAM, overdue=overdue)
    assert tg.startswith("<b>Сводка по сделкам за 02.03–08.03.2026</b>\n")
    assert ('<a href="https://b24.example/crm/deal/details/3/">Ремонт [B]КПП[/B] '
            '&lt;Toyota&gt;</a>') in tg
    assert "[URL" not in tg and len(tg) < 4096


def test_english_and_no_deals():
    empty = count([])
    text = message.render(empty, "en", message.BBCODE, overdue={"count": 0, "items": []})
    assert "No deals were created or closed in this period." in text
    assert "Overdue (watchdogs): none" in text

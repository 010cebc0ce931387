"""Lead hygiene end to end: leads arriving on the emulated portal (their events delivered to
the app, real workers), checked against the contacts, companies, leads and deals the portal
holds, and the outcome read back from the portal: links, statuses, timeline comments."""

from __future__ import annotations

from typing import Any

from tests.conftest import Stack
from tests.distribution_support import SALES, day
from tests.jobs.test_documents import call
from tests.jobs.test_watchdogs import comments_on, deal, notices_to, work


def configure(s: Stack, distribution: bool = False, **section: Any) -> None:
    doc: dict[str, Any] = {"general": {"language": "ru"},
                           "lead_hygiene": {"enabled": True, **section}}
    if distribution:
        doc["distribution"] = {"groups": [{**SALES, "auto": [{"entity": "lead"}]}]}
    s.app.extensions["connector"].portal_settings.put(s.portal()["member_id"], doc)


def add(s: Stack, kind: str, **fields: Any) -> int:
    return int(s.control("POST", f"crm/{kind}", json={"fields": fields})["id"])


def phone(*values: str) -> list[dict[str, str]]:
    return [{"VALUE": v, "VALUE_TYPE": "WORK"} for v in values]


def lead_row(s: Stack, lead_id: int) -> dict[str, Any]:
    return call(s, "crm.lead.get", id=lead_id)


def log(s: Stack) -> list[dict[str, Any]]:
    from connector.context import JobContext
    from robots.lead_hygiene import work as hygiene

    ctx = JobContext.load(s.app.extensions["connector"], s.portal()["member_id"], "test",
                          "lead_hygiene")
    assert ctx is not None
    return hygiene.log(ctx)


def test_a_lead_from_a_known_phone_typed_another_way_is_attached_to_the_contact_and_company(
        installed: Stack):
    s = installed
    configure(s)
    firm = add(s, "company", TITLE="ООО Нефтебаза")
    ivan = add(s, "contact", NAME="Иван", LAST_NAME="Петров", COMPANY_ID=firm,
               PHONE=phone("+7 (912) 345-67-89"))
    new = add(s, "lead", TITLE="Заявка с сайта: дизель 20 т", PHONE=phone("8 912 345 67 89"))
    work(s)
    row = lead_row(s, new)
    assert int(row["CONTACT_ID"]) == ivan and int(row["COMPANY_ID"]) == firm
    assert row["STATUS_ID"] == "NEW"  # a known client without work in progress: still a lead
    (note,) = comments_on(s, "lead", new)
    assert f"контакт #{ivan} «Иван Петров»" in note and "совпадает +7 912 345-67-89" in note
    (entry,) = log(s)
    assert (entry["action"], entry["reason"], entry["contact"]) == ("attach", "attach", ivan)


def test_a_repeat_request_folds_into_the_clients_deal_in_work_and_nobody_is_assigned_twice(
        installed: Stack):
    s = installed
    configure(s, distribution=True)
    day(s, u2="OPENED", u3="OPENED")
    anna = add(s, "contact", NAME="Анна", EMAIL=[{"VALUE": "anna@interior.ru",
                                                   "VALUE_TYPE": "WORK"}])
    open_deal = deal(s, "Шторы в гостиную", user=4, CONTACT_IDS=[anna])
    won = deal(s, "Карниз", user=2, CONTACT_IDS=[anna], STAGE_ID="WON")
    work(s)
    new = add(s, "lead", TITLE="Instagram: ещё и тюль", ASSIGNED_BY_ID=1,
              EMAIL=[{"VALUE": " Anna@Interior.RU ", "VALUE_TYPE": "WORK"}],
              COMMENTS="Хочу добавить тюль к шторам, замер в субботу")
    work(s)
    row = lead_row(s, new)
    assert row["STATUS_ID"] == "JUNK" and int(row["CONTACT_ID"]) == anna
    assert row["ASSIGNED_BY_ID"] == "4"  # the deal's manager, not one chosen by distribution
    there = comments_on(s, "deal", open_deal)
    assert any("Хочу добавить тюль" in c and f"#{new}" in c for c in there), there
    assert not comments_on(s, "deal", won)
    assert any(f"#{new}" in n for n in notices_to(s, 4))
    (entry,) = [e for e in log(s) if e["lead"] == new]
    assert (entry["action"], entry["target"]) == ("fold", f"deal/{open_deal}")


def test_leads_of_one_client_arriving_together_fold_into_the_oldest_once(installed: Stack):
    s = installed
    configure(s)
    first = add(s, "lead", TITLE="WhatsApp: Kia Rio 2019", PHONE=phone("+79001112233"))
    second = add(s, "lead", TITLE="Instagram: Kia Rio", PHONE=phone("8 (900) 111-22-33"))
    work(s)
    s.control("POST", "events/trigger", json={"event": "ONCRMLEADADD", "id": second})  # again
    work(s)
    assert lead_row(s, first)["STATUS_ID"] == "NEW"
    assert lead_row(s, second)["STATUS_ID"] == "JUNK"
    assert len([c for c in comments_on(s, "lead", first) if f"#{second}" in c]) == 1
    actions = {e["lead"]: e["action"] for e in log(s)}
    assert actions == {first: "new", second: "fold"}


def test_a_lead_on_the_exclusion_list_is_closed_as_spam_with_its_reason(installed: Stack):
    s = installed
    configure(s, exclusions="+7 495 000-00-00  # автообзвон\n@spam-bot.ru\n")
    known = add(s, "contact", NAME="Бот", EMAIL=[{"VALUE": "x@spam-bot.ru", "VALUE_TYPE": "WORK"}])
    spam = add(s, "lead", TITLE="Выгодное предложение",
               EMAIL=[{"VALUE": "offer@SPAM-BOT.ru", "VALUE_TYPE": "WORK"}])
    call_spam = add(s, "lead", TITLE="Звонок", PHONE=phone("84950000000"))
    work(s)
    for lead_id, value in ((spam, "@spam-bot.ru"), (call_spam, "+7 495 000-00-00")):
        row = lead_row(s, lead_id)
        assert row["STATUS_ID"] == "JUNK" and not row.get("CONTACT_ID"), row
        (note,) = comments_on(s, "lead", lead_id)
        assert "спам" in note and value in note, note
    assert known


def test_a_bad_line_in_the_exclusion_list_is_refused_with_its_number(installed: Stack):
    import pytest

    from connector.settings_schema import SettingsInvalid

    store = installed.app.extensions["connector"].portal_settings
    with pytest.raises(SettingsInvalid) as err:
        store.put(installed.portal()["member_id"], {"lead_hygiene": {
            "enabled": True, "exclusions": "+7 495 000-00-00\nспамер Петя\n"}})
    assert "2" in str(err.value.params) and "спамер Петя" in str(err.value.params)


def test_what_the_app_writes_reads_as_russian(installed: Stack):
    """Every comment and notice of a fold, as a manager reads them."""
    s = installed
    configure(s)
    anna = add(s, "contact", NAME="Анна", PHONE=phone("+7 912 000-11-22"))
    open_deal = deal(s, "Шторы", user=4, CONTACT_IDS=[anna])
    new = add(s, "lead", TITLE="Повтор", PHONE=phone("89120001122"), COMMENTS="Перезвоните")
    work(s)
    texts = [*comments_on(s, "lead", new), *comments_on(s, "deal", open_deal),
             *notices_to(s, 4)]
    assert len(texts) == 3
    for text in texts:
        assert "Клиент обратился повторно" in text or "Повторное обращение" in text, text
        assert not any(w in text for w in ("lead #", "deal #", "the same")), text

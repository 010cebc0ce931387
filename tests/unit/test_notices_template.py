"""A notice's text: placeholders filled, the admin's [B] marks kept, CRM text disarmed."""

from __future__ import annotations

from connector.crm.port import Item, ItemRef
from connector.i18n import t
from faketelegram.state import parse_html
from robots.notices import message
from robots.notices.config import DEAL_WON, WON_TEMPLATE
from robots.notices.template import BBCODE, TELEGRAM, Value, render

LINK = "https://repair.bitrix24.ru/crm/deal/details/42/"


def won_deal(**more: object) -> Item:
    fields = {"title": "Ремонт КПП <Toyota> & [B]жирно", "amount": "150000.00",
              "currency": "RUB", "stage": "WON", "won": True, "closed": True, **more}
    return Item(ItemRef("deal", 42), **fields)  # type: ignore[arg-type]


NAMES = {"responsible": "Мария Соколова", "client": "ООО «Ромашка»", "stage": "Сделка успешна",
         "pipeline": "Ремонт"}


def test_the_finance_preset_reads_as_a_russian_accountant_expects():
    values = message.values_for(won_deal(), DEAL_WON, "ru", LINK, NAMES)
    text = render(t("ru", WON_TEMPLATE), values, BBCODE)
    assert text.splitlines() == [
        f"[B]Сделка выиграна:[/B] [URL={LINK}]Ремонт КПП <Toyota> & [\u200bB]жирно[/URL]",
        "Сумма: 150\xa0000,00\xa0₽", "Клиент: ООО «Ромашка»", "Ответственный: Мария Соколова",
        "Воронка: Ремонт, стадия: Сделка успешна"]


def test_in_telegram_the_marks_become_tags_and_the_crm_text_is_escaped():
    values = message.values_for(won_deal(), DEAL_WON, "ru", LINK, NAMES)
    text = render(t("ru", WON_TEMPLATE), values, TELEGRAM)
    assert text.startswith(f'<b>Сделка выиграна:</b> <a href="{LINK}">Ремонт КПП &lt;Toyota&gt; '
                           "&amp; [B]жирно</a>\n")
    # what a reader of the chat sees, parsed as Telegram parses HTML (the fake's parser)
    assert parse_html(text).splitlines()[0] == "Сделка выиграна: Ремонт КПП <Toyota> & [B]жирно"


def test_an_unpaired_mark_and_the_admins_own_brackets_stay_text_and_still_parse():
    text = render("[B]Итог {AMOUNT} <важно> [I]без пары", {"AMOUNT": Value("5 ₽")}, TELEGRAM)
    assert text == "[B]Итог 5 ₽ &lt;важно&gt; [I]без пары"
    assert parse_html(text)  # Telegram would take it


def test_nested_marks_and_a_link_of_the_admin():
    text = render("[B][I]{TITLE}[/I][/B] [URL=https://example.ru/a?b=1&c=2]отчёт[/URL]",
                  {"TITLE": Value("Сделка")}, TELEGRAM)
    assert text == ('<b><i>Сделка</i></b> <a href="https://example.ru/a?b=1&amp;c=2">отчёт</a>')


def test_a_value_holding_a_placeholder_is_not_filled_again():
    text = render("{TITLE} / {CLIENT}", {"TITLE": Value("{CLIENT}"), "CLIENT": Value("ИП")},
                  BBCODE)
    assert text == "{CLIENT} / ИП"


def test_missing_facts_read_as_a_dash_and_english_money_is_english():
    item = Item(ItemRef("deal", 7), title="", amount="1234.5", currency="USD")
    values = message.values_for(item, DEAL_WON, "en", LINK, {})
    assert values["DEAL"].text == "#7" and values["CLIENT"].text == "—"
    assert values["AMOUNT"].text == "$1,234.50"
    assert values["EVENT"].text == "Deal won"


def test_a_lead_names_its_client_from_its_form():
    lead = Item(ItemRef("lead", 5), title="Заявка с сайта",
                fields={"NAME": "Иван", "LAST_NAME": "Петров", "COMPANY_TITLE": ""})
    assert message.values_for(lead, "lead_created", "ru", LINK, {})["CLIENT"].text == \
        "Иван Петров"

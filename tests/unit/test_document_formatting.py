"""Russian formatting for documents, against the outputs the reference checked
(shared/reference/documents.md §4–6)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from robots.documents import formatting as f
from robots.documents import names

NB = "\u00a0"


@pytest.mark.parametrize(("value", "text"), [
    ("1234567.5", f"1{NB}234{NB}567,50"),
    (Decimal("1234.56"), f"1{NB}234,56"),
    ("0", "0,00"),
    ("0.005", "0,01"),  # half up, not to even
    ("2.675", "2,68"),  # the decimal 2.675, never the binary float below it
    (2.675, "2,68"),
    ("1 234,5", f"1{NB}234,50"),  # as a person types it
])
def test_money_in_figures_rounds_half_up_to_kopecks_with_no_break_spaces(value, text):
    assert f.money(value) == text


def test_kopecks_is_the_one_rounding():
    assert f.kopecks("0.125") == Decimal("0.13")
    assert f.kopecks("-0.125") == Decimal("-0.13")
    assert str(f.kopecks(10)) == "10.00"


@pytest.mark.parametrize("bad", ["abc", None, "NaN", "Infinity", True, "1.2.3"])
def test_what_is_no_number_is_refused(bad):
    with pytest.raises(ValueError):
        f.decimal(bad)


def test_an_empty_crm_figure_is_zero():
    assert f.decimal("") == 0


@pytest.mark.parametrize(("value", "words"), [
    ("1234567.50", "Один миллион двести тридцать четыре тысячи пятьсот шестьдесят семь "
                   "рублей 50 копеек"),
    ("1234.56", "Одна тысяча двести тридцать четыре рубля 56 копеек"),
    ("1234", "Одна тысяча двести тридцать четыре рубля 00 копеек"),
    ("1.01", "Один рубль 01 копейка"),
    ("21.21", "Двадцать один рубль 21 копейка"),
    ("22.22", "Двадцать два рубля 22 копейки"),
    ("2001000.05", "Два миллиона одна тысяча рублей 05 копеек"),
    ("0.005", "Ноль рублей 01 копейка"),
    (1234, "Одна тысяча двести тридцать четыре рубля 00 копеек"),  # an int is rubles here
])
def test_amount_in_words_is_capitalised_with_kopecks_in_figures(value, words):
    assert f.amount_in_words(value) == words


def test_amount_in_words_in_other_currencies():
    assert f.amount_in_words("3", "USD") == "Три доллара 00 центов"
    assert f.amount_in_words("12.5", "CNY") == "Двенадцать 50/100 юаней"  # num2words has none
    with pytest.raises(ValueError):
        f.amount_in_words("-5.5")


def test_counts_in_words_agree_with_a_neuter_noun():
    assert [f.number_in_words(n) for n in (1, 2, 21)] == ["одно", "два", "двадцать одно"]


@pytest.mark.parametrize("value", [date(2026, 11, 22), datetime(2026, 11, 22, 14, 5),
                                   "2026-11-22", "2026-11-22T23:30:00+03:00", "22.11.2026"])
def test_dates_the_russian_way(value):
    assert f.date_long(value) == "22 ноября 2026 г."  # a plain space before «г.»
    assert f.date_quoted(value) == '"22" ноября 2026 г.'
    assert f.date_short(value) == "22.11.2026"


def test_every_month_is_in_the_genitive_and_days_are_padded_where_quoted():
    months = [f.date_long(date(2026, m, 5)).split()[1] for m in range(1, 13)]
    assert months == ["января", "февраля", "марта", "апреля", "мая", "июня", "июля",
                      "августа", "сентября", "октября", "ноября", "декабря"]
    assert f.date_quoted(date(2026, 1, 5)) == '"05" января 2026 г.'
    assert f.date_long("") == ""


def test_quantities_and_percents():
    assert f.quantity("3") == "3"
    assert f.quantity("1.50") == "1,5"
    assert f.quantity("1000") == f"1{NB}000"
    assert f.percent("20") == f"20{NB}%"


# names: the reference's table (§6), genitive | dative -------------------------------------
@pytest.mark.parametrize(("name", "genitive", "dative"), [
    ("Иванов Иван Иванович", "Иванова Ивана Ивановича", "Иванову Ивану Ивановичу"),
    ("Петрова Анна Сергеевна", "Петровой Анны Сергеевны", "Петровой Анне Сергеевне"),
    ("Салтыков-Щедрин Михаил Евграфович", "Салтыкова-Щедрина Михаила Евграфовича",
     "Салтыкову-Щедрину Михаилу Евграфовичу"),
    ("Толстой Лев Николаевич", "Толстого Льва Николаевича", "Толстому Льву Николаевичу"),
    ("Гусь Пётр Ильич", "Гуся Петра Ильича", "Гусю Петру Ильичу"),
    # where the reference found petrovich wrong
    ("Ким Ольга Олеговна", "Ким Ольги Олеговны", "Ким Ольге Олеговне"),
    ("Белых Илья Ильич", "Белых Ильи Ильича", "Белых Илье Ильичу"),
    ("Кузьмина Любовь Петровна", "Кузьминой Любови Петровны", "Кузьминой Любови Петровне"),
    # indeclinable surnames stay
    ("Шевченко Тарас Григорьевич", "Шевченко Тараса Григорьевича",
     "Шевченко Тарасу Григорьевичу"),
    ("Соловей Анна Ивановна", "Соловей Анны Ивановны", "Соловей Анне Ивановне"),
    ("Дюма Александр", "Дюма Александра", "Дюма Александру"),
    # a surname that is a common noun, for a man
    ("Соловей Иван Петрович", "Соловья Ивана Петровича", "Соловью Ивану Петровичу"),
    ("Кравец Мария Ивановна", "Кравец Марии Ивановны", "Кравец Марии Ивановне"),
    ("Кравец Илья Ильич", "Кравца Ильи Ильича", "Кравцу Илье Ильичу"),
    # other orders and forms
    ("Иван Иванович Иванов", "Ивана Ивановича Иванова", "Ивану Ивановичу Иванову"),
    ("Иванов И. И.", "Иванова И. И.", "Иванову И. И."),
    ("Петрова А.С.", "Петровой А. С.", "Петровой А. С."),
    ("Алиева Лейла Рашид кызы", "Алиевой Лейлы Рашид кызы", "Алиевой Лейле Рашид кызы"),
    ("ИВАНОВ ИВАН ИВАНОВИЧ", "ИВАНОВА ИВАНА ИВАНОВИЧА", "ИВАНОВУ ИВАНУ ИВАНОВИЧУ"),
    ("Семенов Артём Семенович", "Семенова Артёма Семеновича", "Семенову Артёму Семеновичу"),
])
def test_names_decline_with_the_gender_they_carry(name, genitive, dative):
    assert names.decline(name, "gent") == genitive
    assert names.decline(name, "datv") == dative


@pytest.mark.parametrize(("name", "gender"), [
    ("Иванов Иван Иванович", "m"), ("Петрова Анна Сергеевна", "f"), ("Ким Ольга", "f"),
    ("Иванов И. И.", "m"), ("Петрова", "f"), ("Ким", ""), ("Алиева Лейла Рашид кызы", "f"),
    ("Мамедов Рашид Алиевич", "m"),
])
def test_the_gender_comes_from_the_patronymic_the_first_name_or_the_surname(name, gender):
    assert names.split(name).gender == gender


def test_a_name_of_unknown_gender_is_left_as_written():
    assert names.decline("Ким", "gent") == "Ким"


@pytest.mark.parametrize(("name", "short"), [
    ("Иванов Иван Иванович", "Иванов И. И."), ("И.И. Иванов", "Иванов И. И."),
    ("Анна Волкова", "Волкова А."),  # a portal user: first name first
    ("Алиева Лейла Рашид кызы", "Алиева Л. Р."), ("Иванов", "Иванов"),
])
def test_short_forms(name, short):
    assert names.short(name) == short


def test_a_short_form_in_the_dative_for_a_letter_heading():
    assert names.short_in_case("Иванов Иван Иванович", "datv") == "Иванову И. И."


@pytest.mark.parametrize(("phrase", "genitive", "dative"), [
    ("Генеральный директор", "Генерального директора", "Генеральному директору"),
    ("генеральный директор", "генерального директора", "генеральному директору"),
    ("Директор по развитию", "Директора по развитию", "Директору по развитию"),
    ("Главный бухгалтер", "Главного бухгалтера", "Главному бухгалтеру"),
    ("Устав", "Устава", "Уставу"),
    ("Устава", "Устава", "Устава"),  # already in the genitive: kept
    ("Доверенность № 12 от 01.02.2026", "Доверенности № 12 от 01.02.2026",
     "Доверенности № 12 от 01.02.2026"),
    ("доверенности № 5", "доверенности № 5", "доверенности № 5"),
    ("Положение о филиале", "Положения о филиале", "Положению о филиале"),
    ("ИП", "ИП", "ИП"),
])
def test_positions_and_documents_decline_up_to_their_head_noun(phrase, genitive, dative):
    assert names.decline_phrase(phrase, "gent") == genitive
    assert names.decline_phrase(phrase, "datv") == dative


def test_an_unknown_case_is_refused():
    with pytest.raises(ValueError):
        names.decline("Иванов Иван", "ablt")

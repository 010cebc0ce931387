"""Lead hygiene's pure parts: phones and e-mails as one value however typed, the exclusion
list, and the verdict for each kind of lead."""

from __future__ import annotations

import pytest

from connector.crm.port import ItemRef
from robots.lead_hygiene.comms import email_key, exclusions, phone_key, spellings
from robots.lead_hygiene.decide import Known, Lead, decide

IVAN = "+79123456789"


@pytest.mark.parametrize("typed", ["8 (912) 345-67-89", "+7 912 345 67 89", "9123456789",
                                   "89123456789", "+7(912)345-67-89 доб. 12", "7-912-345-67-89"])
def test_every_way_a_russian_mobile_is_typed_is_one_number(typed: str):
    assert phone_key(typed) == IVAN


def test_what_is_not_a_phone_is_nothing_and_local_numbers_take_the_country():
    assert phone_key("12345") == phone_key("abc") == phone_key("a@b.ru") == ""
    assert phone_key("8 701 123 45 67", "KZ") == "+77011234567"
    assert phone_key("+375 29 123-45-67") == "+375291234567"


def test_the_portal_is_asked_for_every_spelling_it_may_keep():
    assert spellings(IVAN) == [IVAN, "79123456789", "89123456789", "9123456789"]


def test_e_mails_compare_without_case_and_mailto():
    assert email_key(" Anna@Interior.RU ") == email_key("mailto:anna@interior.ru")
    assert email_key("anna@") == email_key("anna") == ""


def test_the_exclusion_list_takes_phones_addresses_domains_and_notes_and_names_a_bad_line():
    listed = exclusions("+7 495 000-00-00 # robocalls\n\nbot@x.ru\n*@Spam.ru\n@junk.org\n"
                        "Петя спамер\n")
    assert listed.phones == {"+74950000000"} and listed.emails == {"bot@x.ru"}
    assert listed.domains == {"spam.ru", "junk.org"}
    assert listed.bad == ((6, "Петя спамер"),)
    assert listed.hit(["+74950000000"], []) == "+7 495 000-00-00"
    assert listed.hit([], ["who@spam.ru"]) == "@spam.ru"
    assert listed.hit([IVAN], ["anna@interior.ru"]) == ""


def test_spam_is_decided_before_anything_is_compared():
    verdict = decide(Lead(10, (IVAN,)), Known(), "+7 912 345-67-89")
    assert (verdict.action, verdict.value) == ("spam", "+7 912 345-67-89")


def test_a_lead_without_phone_or_e_mail_is_left_as_it_is():
    assert decide(Lead(10), Known(), "").action == "nothing"


def test_a_known_contact_takes_the_lead_with_its_company():
    facts = Known({IVAN: {"contact": [5], "company": [], "lead": []}}, company_of={5: 7})
    verdict = decide(Lead(10, (IVAN,)), facts, "")
    assert (verdict.action, verdict.contact_id, verdict.company_id) == ("attach", 5, 7)


def test_the_contact_sharing_most_values_wins_then_the_oldest():
    mail = "anna@interior.ru"
    facts = Known({IVAN: {"contact": [9, 5]}, mail: {"contact": [9]}})
    assert decide(Lead(10, (IVAN,), (mail,)), facts, "").contact_id == 9
    facts = Known({IVAN: {"contact": [9, 5]}})
    assert decide(Lead(10, (IVAN,)), facts, "").contact_id == 5


def test_a_deal_in_work_takes_the_request_before_an_open_lead():
    facts = Known({IVAN: {"contact": [5], "lead": [3]}}, open_leads=(3,),
                  open_deals={"contact/5": [40, 44]})
    verdict = decide(Lead(10, (IVAN,)), facts, "")
    assert (verdict.action, verdict.target, verdict.contact_id) == (
        "fold", ItemRef("deal", 44), 5)


def test_an_open_lead_takes_only_a_newer_one():
    facts = Known({IVAN: {"lead": [3, 12]}}, open_leads=(3, 12))
    assert decide(Lead(10, (IVAN,)), facts, "").target == ItemRef("lead", 3)
    assert decide(Lead(3, (IVAN,)), Known({IVAN: {"lead": [10]}}, open_leads=(10,)),
                  "").action == "new"


def test_switched_off_folding_and_attaching_leave_a_known_client_as_it_is():
    facts = Known({IVAN: {"contact": [5]}}, open_deals={"contact/5": [40]})
    assert decide(Lead(10, (IVAN,)), facts, "", fold=False).action == "attach"
    assert decide(Lead(10, (IVAN,)), facts, "", fold=False, attach=False).action == "known"
    assert decide(Lead(10, (IVAN,), contact_id=5), Known(), "").action == "known"

"""The Bitrix24 adapter of the CRM port against the emulator: one batch per read, references
that may not resolve never sent, answers already read never asked again."""

from __future__ import annotations

from connector.bitrix.adapter import BitrixCrm
from connector.crm import port as crm
from tests.conftest import Stack


def port(stack: Stack, known: dict | None = None) -> BitrixCrm:
    services = stack.app.extensions["connector"]
    member_id = stack.portal()["member_id"]
    return BitrixCrm(services.client(member_id), stack.portal()["domain"], known)


def requests_made(stack: Stack, since: int) -> list[str]:
    return [e["method"] for e in stack.control("GET", "log") if e["n"] > since]


def last_n(stack: Stack) -> int:
    log = stack.control("GET", "log")
    return max((e["n"] for e in log), default=0)


def test_a_lead_without_a_phone_asks_for_no_duplicates(installed: Stack):
    lead = int(installed.control("POST", "crm/lead", json={"fields": {
        "TITLE": "No phone"}})["id"])
    ref = crm.ItemRef("lead", lead)
    n = last_n(installed)
    reading = port(installed).read({"item": crm.GetItem(ref), "dups": crm.Duplicates(ref)})
    assert reading.get("item").title == "No phone"
    assert reading.get("dups") == {"contact": [], "company": []}
    assert requests_made(installed, n) == ["crm.lead.get"]  # PHONE[0] would not resolve


def test_a_lead_with_a_phone_finds_the_contact_in_a_second_batch(installed: Stack):
    contact = int(installed.control("POST", "crm/contact", json={"fields": {
        "NAME": "Olga", "PHONE": [{"VALUE": "+79001234567", "VALUE_TYPE": "WORK"}]}})["id"])
    lead = int(installed.control("POST", "crm/lead", json={"fields": {
        "TITLE": "Repeat client", "PHONE": [{"VALUE": "+79001234567", "VALUE_TYPE": "WORK"}]}}
    )["id"])
    ref = crm.ItemRef("lead", lead)
    n = last_n(installed)
    reading = port(installed).read({"item": crm.GetItem(ref), "dups": crm.Duplicates(ref)})
    assert contact in reading.get("dups")["contact"]
    # the phone first, then its owner (no e-mail: that lookup is not sent)
    assert requests_made(installed, n) == ["crm.lead.get", "crm.duplicate.findbycomm"]


def test_what_a_delivery_read_is_not_asked_again(installed: Stack):
    deal = int(installed.control("POST", "crm/deal", json={"fields": {
        "TITLE": "Shared read", "ASSIGNED_BY_ID": 3}})["id"])
    ref = crm.ItemRef("deal", deal)
    queries = {"deal": crm.GetItem(ref, observers=True), "who": crm.Responsible(ref),
               "client": crm.ClientName(ref), "stage": crm.StageName(ref)}
    first = port(installed)
    reading = first.read(queries)
    assert reading.get("client") == ""  # no contact, no company: their lookups mean nothing
    assert reading.get("who").id == 3
    n = last_n(installed)
    again = port(installed, known=first.seen).read(queries)
    assert requests_made(installed, n) == []
    assert again.get("who") == reading.get("who") and again.get("stage") == reading.get("stage")


def test_a_missing_item_is_not_found_not_a_failure(installed: Stack):
    reading = port(installed).read({"item": crm.GetItem(crm.ItemRef("deal", 987654)),
                                    "who": crm.Responsible(crm.ItemRef("deal", 987654))})
    assert isinstance(reading.errors["item"], crm.NotFound)
    assert reading.get("who") is None


def test_an_operation_uses_what_an_earlier_one_made(installed: Stack):
    deal = int(installed.control("POST", "crm/deal", json={"fields": {"TITLE": "Ops"}})["id"])
    ref = crm.ItemRef("deal", deal)
    p = port(installed)
    chat = p.apply({"chat": crm.CreateChat("Ops chat", (1, 3), bound_to=ref),
                    "note": crm.UpdateItem(ref, {"COMMENTS": crm.Produced("chat", "value")})})
    assert not chat.errors, chat.errors
    assert str(p.item(ref).comments) == str(chat.values["chat"])

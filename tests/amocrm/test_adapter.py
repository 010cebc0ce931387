"""AmoCrm (connector.amocrm.adapter): the CRM port on the amoCRM emulator over real HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connector.amocrm import mapping
from connector.amocrm.adapter import AmoCrm
from connector.crm import port as p

DAY = 86400


@pytest.fixture
def amo(world) -> AmoCrm:
    member = world.connect()
    return AmoCrm(world.amo.client(member), world.acc.domain, None, world.redis, "t")


def acc_id(world) -> int:
    return world.acc.id


def main_pipeline(world) -> dict:
    return next(x for x in world.emu.account(world.acc.id).pipelines.values() if x["is_main"])


def status(world, name: str, pipeline: dict | None = None) -> int:
    pipe = pipeline or main_pipeline(world)
    return next(s["id"] for s in pipe["statuses"] if s["name"] == name)


def manager(world):
    return next(u for u in world.emu.account(world.acc.id).users if not u.is_admin)


def one(amo: AmoCrm, query: p.Query):
    return amo.read({"q": query}).get("q")


def deal(lead: dict) -> p.ItemRef:
    return p.ItemRef("deal", lead["id"])


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


# items -------------------------------------------------------------------------------------
def test_a_lead_reads_as_a_deal_with_its_contacts_company_fields_and_currency(world, amo):
    a = acc_id(world)
    plate = world.emu.add_field(a, "leads", "Госномер", "text")
    vin = world.emu.add_field(a, "leads", "VIN", "text", code="VIN")
    works = world.emu.add_field(a, "leads", "Работы", "multiselect", enums=["Покраска", "Рихтовка"])
    first = world.emu.create_contact(a, name="Пётр Сидоров", phone="+7 912 000-11-22")
    main = world.emu.create_contact(a, name="Анна Сидорова", email="anna@example.ru")
    company = world.emu.create_company(a, name="ООО Вмятин.нет")
    who = manager(world)
    lead = world.emu.create_lead(
        a, name="Покраска двери", price=15000, responsible_user_id=who.id,
        status_id=status(world, "Переговоры"),
        custom_fields_values=[
            {"field_id": plate["id"], "values": [{"value": "А123ВС77"}]},
            {"field_code": "VIN", "values": [{"value": "XTA21099"}]},
            {"field_id": works["id"], "values": [{"value": "Покраска"}, {"value": "Рихтовка"}]}],
        _embedded={"contacts": [{"id": first["id"]}, {"id": main["id"], "is_main": True}],
                   "companies": [{"id": company["id"]}]})
    item = amo.item(deal(lead))
    assert item.title == "Покраска двери" and item.assigned == who.id
    assert item.created_by == world.acc.admin_id
    assert item.created_at == iso(lead["created_at"]) and item.created_at.endswith("+00:00")
    assert item.contact_ids == [main["id"], first["id"]]  # the main one first
    assert item.company_id == company["id"]
    assert item.category == str(main_pipeline(world)["id"])
    assert item.stage == str(status(world, "Переговоры"))
    assert (item.won, item.closed, item.closed_on) == (False, False, "")
    assert (item.amount, item.currency) == ("15000", "RUB")
    assert item.fields[str(plate["id"])] == "А123ВС77"
    assert item.fields["VIN"] == item.fields[str(vin["id"])] == "XTA21099"
    assert item.fields[str(works["id"])] == ["Покраска", "Рихтовка"]

    world.emu.move_lead(a, lead["id"], 142)
    amo.seen.clear()
    won = amo.item(deal(lead))
    assert (won.won, won.closed, won.stage) == (True, True, "142")
    assert won.closed_on == datetime.now(UTC).date().isoformat()
    world.emu.move_lead(a, lead["id"], 143)
    amo.seen.clear()
    lost = amo.item(deal(lead))
    assert (lost.won, lost.closed) == (False, True)


def test_a_contact_and_a_company_read_with_phones_and_emails(world, amo):
    a = acc_id(world)
    company = world.emu.create_company(a, name="ООО Ромашка", custom_fields_values=[
        {"field_code": "PHONE", "values": [{"value": "+74950000000", "enum_code": "WORK"}]}])
    contact = world.emu.create_contact(a, name="Иван Петров", phone="+79120001122",
                                       email="ivan@example.ru",
                                       _embedded={"companies": [{"id": company["id"]}]})
    got = one(amo, p.GetItem(p.ItemRef("contact", contact["id"])))
    assert (got.title, got.phones, got.emails) == ("Иван Петров", ["+79120001122"],
                                                   ["ivan@example.ru"])
    assert got.company_id == company["id"] and got.closed is None
    assert one(amo, p.GetItem(p.ItemRef("company", company["id"]))).phones == ["+74950000000"]


def test_moved_asks_the_status_events_when_a_lead_entered_its_stage(world, amo):
    a = acc_id(world)
    real = time.time
    world.emu.clock = lambda: real() - 2 * DAY
    lead = world.emu.create_lead(a, name="Полировка")
    world.emu.clock = lambda: real() - DAY
    world.emu.move_lead(a, lead["id"], status(world, "Переговоры"))
    world.emu.clock = real
    world.emu.update_lead(a, lead["id"], name="Полировка капота")  # updated_at moves, not this
    got = one(amo, p.GetItem(deal(lead), moved=True))
    moved = datetime.fromisoformat(got.fields["movedTime"]).timestamp()
    assert abs(moved - (real() - DAY)) < 5
    fresh = world.emu.create_lead(a, name="Новая")
    assert one(amo, p.GetItem(deal(fresh), moved=True)).fields["movedTime"] == iso(
        fresh["created_at"])
    assert "movedTime" not in one(amo, p.GetItem(deal(fresh))).fields


def test_a_missing_lead_is_not_found_and_a_second_read_costs_no_request(world, amo):
    with pytest.raises(p.NotFound):
        amo.item(p.ItemRef("deal", 999999))
    lead = world.emu.create_lead(acc_id(world), name="Ремонт")
    amo.item(deal(lead))
    before = world.requests()
    reading = amo.read({"a": p.GetItem(deal(lead)), "b": p.Responsible(deal(lead)),
                        "c": p.GetItem(p.ItemRef("deal", 999999))})
    assert world.requests() - before == 1  # the users list; the lead and the 204 were seen
    assert isinstance(reading.errors["c"], p.NotFound)
    before = world.requests()
    assert amo.read({"x": p.GetItem(deal(lead)), "y": p.Responsible(deal(lead))}).ok("y")
    assert world.requests() == before
    with pytest.raises(p.CrmPermanent):
        one(amo, p.GetItem(p.ItemRef("lead", 1)))  # amoCRM has no lead entity


def test_the_seen_answers_of_a_delivery_serve_another_port(world, amo):
    import json

    lead = world.emu.create_lead(acc_id(world), name="Ремонт")
    amo.item(deal(lead))
    known = json.loads(json.dumps(amo.seen))  # as connector.jobs keeps it in Redis
    other = AmoCrm(amo.client, world.acc.domain, known, world.redis, "t")
    before = world.requests()
    assert other.item(deal(lead)).title == "Ремонт"
    assert world.requests() == before


def test_a_blocked_account_is_access_denied_and_a_429_storm_stays_retryable(world, amo):
    lead = world.emu.create_lead(acc_id(world), name="Ремонт")
    world.emu.fault(acc_id(world), "GET", r"^/api/v4/leads/", 429, count=50)
    reading = amo.read({"i": p.GetItem(deal(lead))})
    assert isinstance(reading.errors["i"], p.CrmRetryable)
    world.emu.block(acc_id(world))
    reading = amo.read({"i": p.GetItem(p.ItemRef("deal", lead["id"] + 1))})
    assert isinstance(reading.errors["i"], p.AccessDenied)


def test_latest_items_newest_first(world, amo):
    a = acc_id(world)
    real = time.time
    made = []
    for n in range(3):
        world.emu.clock = lambda n=n: real() - 100 + n
        made.append(world.emu.create_lead(a, name=f"Сделка {n}"))
    world.emu.clock = real
    got = one(amo, p.LatestItems("deal", 2))
    assert [i.ref.id for i in got] == [made[2]["id"], made[1]["id"]]


# people ------------------------------------------------------------------------------------
def test_people_with_presence_and_departments_from_user_groups(world, amo):
    a = acc_id(world)
    ivan = world.emu.add_user(a, "Иван Кузовщик", group_id=7)
    oleg = world.emu.add_user(a, "Олег Маляр", group_id=7, is_active=False)
    anna = world.emu.add_user(a, "Анна Мастер", group_id=8)
    asked = []

    def presence(ids):
        asked.append(ids)
        return {ivan.id: "working"}

    amo.presence = presence
    people = one(amo, p.GetPeople((ivan.id, oleg.id, 424242), availability=True))
    assert people[ivan.id] == p.Person(ivan.id, "Иван Кузовщик", True, "working")
    assert (people[oleg.id].active, people[oleg.id].availability) == (False, "unknown")
    assert people[424242] == p.Person(424242, "", False, "unknown")
    assert asked == [(ivan.id, oleg.id, 424242)]
    amo.presence = None
    assert one(amo, p.GetPeople((ivan.id,), availability=True))[ivan.id].availability == \
        "unknown"
    assert one(amo, p.GetPeople((ivan.id,)))[ivan.id].availability == "unknown"
    members = one(amo, p.DepartmentMembers((7, 8)))
    assert sorted(x.id for x in members) == sorted([ivan.id, anna.id])  # Oleg is inactive
    main_group = {x.id for x in one(amo, p.DepartmentMembers((0,)))}
    assert world.acc.admin_id in main_group and ivan.id not in main_group
    assert amo.mention(ivan.id) == "Иван Кузовщик" and amo.mention(424242) == "#424242"


def test_responsible_client_name_and_stage_name(world, amo):
    a = acc_id(world)
    who = manager(world)
    contact = world.emu.create_contact(a, name="Пётр Сидоров")
    company = world.emu.create_company(a, name="ООО Вмятин.нет")
    with_company = world.emu.create_lead(
        a, name="A", responsible_user_id=who.id, status_id=status(world, "Переговоры"),
        _embedded={"contacts": [{"id": contact["id"]}], "companies": [{"id": company["id"]}]})
    with_contact = world.emu.create_lead(a, name="B",
                                         _embedded={"contacts": [{"id": contact["id"]}]})
    alone = world.emu.create_lead(a, name="C")
    reading = amo.read({
        "r": p.Responsible(deal(with_company)), "gone": p.Responsible(p.ItemRef("deal", 999999)),
        "c1": p.ClientName(deal(with_company)), "c2": p.ClientName(deal(with_contact)),
        "c3": p.ClientName(deal(alone)), "c4": p.ClientName(p.ItemRef("contact", contact["id"])),
        "s": p.StageName(deal(with_company)), "s2": p.StageName(deal(alone))})
    assert reading.get("r") == p.Person(who.id, who.name, True)
    assert reading.get("gone") is None
    assert (reading.get("c1"), reading.get("c2"), reading.get("c3"), reading.get("c4")) == (
        "ООО Вмятин.нет", "Пётр Сидоров", "", "Пётр Сидоров")
    assert (reading.get("s"), reading.get("s2")) == ("Переговоры", "Первичный контакт")


# phones and e-mails ------------------------------------------------------------------------
def test_comm_matches_and_duplicates_by_phone_and_email(world, amo):
    a = acc_id(world)
    petr = world.emu.create_contact(a, name="Пётр", phone="+7 912 000-11-22",
                                    email="petr@example.ru")
    twin = world.emu.create_contact(a, name="Пётр (второй)", phone="+79120001122")
    world.emu.create_contact(a, name="Сосед", phone="+79120001199")  # shares a prefix only
    firm = world.emu.create_company(a, name="ООО Пётр", custom_fields_values=[
        {"field_code": "EMAIL", "values": [{"value": "PETR@example.ru"}]}])
    world.emu.create_contact(a, name="79120001122 в имени")  # amoCRM's query finds it too
    found = one(amo, p.CommMatches(phones=("+79120001122", "+7 912 000-11-22"),
                                   emails=("petr@example.ru",)))
    assert found == {"lead": [], "contact": sorted([petr["id"], twin["id"]]),
                     "company": [firm["id"]]}
    dups = one(amo, p.Duplicates(p.ItemRef("contact", petr["id"])))
    assert dups == {"contact": [twin["id"]], "company": [firm["id"]]}
    lead = world.emu.create_lead(a, name="X", _embedded={"contacts": [{"id": petr["id"]}]})
    assert one(amo, p.Duplicates(deal(lead))) == {"contact": [], "company": []}
    assert one(amo, p.CommMatches()) == {"lead": [], "contact": [], "company": []}


def test_open_deals_of_a_contact_and_a_company_newest_first(world, amo):
    a = acc_id(world)
    real = time.time
    contact = world.emu.create_contact(a, name="Пётр")
    company = world.emu.create_company(a, name="ООО Ромашка")
    made = []
    for n, st in enumerate([status(world, "Переговоры"), 142, status(world, "Переговоры"), 143]):
        world.emu.clock = lambda n=n: real() - 100 + n
        made.append(world.emu.create_lead(a, name=f"L{n}", status_id=st, _embedded={
            "contacts": [{"id": contact["id"]}], "companies": [{"id": company["id"]}]}))
    world.emu.clock = real
    world.emu.create_lead(a, name="чужая")
    got = one(amo, p.OpenDeals(p.ItemRef("contact", contact["id"])))
    assert [i.ref.id for i in got] == [made[2]["id"], made[0]["id"]]
    assert got[0].contact_ids == [contact["id"]] and got[0].company_id == company["id"]
    assert [i.ref.id for i in one(amo, p.OpenDeals(p.ItemRef("company", company["id"]), 1))] \
        == [made[2]["id"]]
    assert one(amo, p.OpenDeals(p.ItemRef("contact", 999999))) == []


# counts ------------------------------------------------------------------------------------
def test_count_in_work_pages_through_the_persons_open_leads(world, amo):
    a = acc_id(world)
    who = manager(world)
    talks = status(world, "Переговоры")
    other = world.emu.add_pipeline(a, "Опт", ["Заявка", "Счёт"])
    bill = status(world, "Счёт", other)
    for n in range(255):
        world.emu.create_lead(a, name=f"L{n}", responsible_user_id=who.id, status_id=talks)
    world.emu.create_lead(a, name="won", responsible_user_id=who.id, status_id=142)
    world.emu.create_lead(a, name="opt", responsible_user_id=who.id, status_id=bill,
                          pipeline_id=other["id"])
    world.emu.create_lead(a, name="admin's", status_id=talks)
    before = world.requests()
    assert one(amo, p.CountInWork("deal", who.id)) == 256
    assert world.requests() - before == 3  # the pipelines, two pages
    assert one(amo, p.CountInWork("deal", who.id, (str(bill),))) == 1
    assert one(amo, p.CountInWork("deal", who.id, (f"{other['id']}:{bill}", str(talks)))) == 256
    assert one(amo, p.CountInWork("deal", who.id, ("142",))) == 1
    before = world.requests()
    assert one(amo, p.CountInWork("deal", who.id)) == 256
    assert world.requests() == before  # the count is kept in `seen`
    assert "count:/api/v4/leads?" in "".join(amo.seen)


# notes and tasks ---------------------------------------------------------------------------
def test_reactions_find_comment_and_open_activities(world, amo):
    a = acc_id(world)
    real = time.time
    who = manager(world)
    lead = world.emu.create_lead(a, name="Ремонт")
    world.emu.clock = lambda: real() - DAY
    world.emu.add_note(a, "leads", lead["id"], "старая заметка")
    world.emu.clock = lambda: real() - 60
    call = world.emu.add_note(a, "leads", lead["id"], note_type="call_in", params={
        "uniq": "1", "duration": 60, "source": "tel", "link": "", "phone": "+7912"},
        user_id=who.id)
    world.emu.clock = lambda: real() - 30
    note = world.emu.add_note(a, "leads", lead["id"], "Перезвонил клиенту", user_id=who.id)
    world.emu.add_note(a, "leads", lead["id"], note_type="service_message",
                       params={"service": "Робот", "text": "автоматически"})
    task = world.emu.add_task(a, text="Позвонить", complete_till=int(real()) + 3600,
                              entity_type="leads", entity_id=lead["id"],
                              responsible_user_id=who.id)
    done = world.emu.add_task(a, text="Уже", complete_till=int(real()) + 60,
                              entity_type="leads", entity_id=lead["id"], is_completed=True)
    world.emu.clock = real
    since = iso(real() - 3600)
    got = one(amo, p.Reactions(deal(lead), since))
    assert [r["id"] for r in got] == [f"activity:{call['id']}", f"comment:{note['id']}",
                                      f"task:{task['id']}", f"task:{done['id']}"]
    assert got[0]["kind"] == "call" and got[0]["author"] == who.id
    assert got[1] == {"id": f"comment:{note['id']}", "kind": "comment",
                      "at": iso(note["created_at"]), "author": who.id, "completed": True}
    assert (got[2]["kind"], got[2]["completed"], got[3]["completed"]) == ("task", False, True)
    assert one(amo, p.FindComment(deal(lead), "Перезвонил клиенту", since)) == note["id"]
    assert one(amo, p.FindComment(deal(lead), "старая заметка", since)) == 0
    assert one(amo, p.FindComment(deal(lead), "Перезвонил", since)) == 0
    assert one(amo, p.OpenActivities(deal(lead))) == [{
        "id": task["id"], "kind": "task", "deadline": iso(task["complete_till"]),
        "responsible": who.id, "task_id": task["id"]}]
    with pytest.raises(p.CrmPermanent):
        one(amo, p.Reactions(deal(lead), "вчера"))


def test_a_task_carries_its_tag_in_its_text_and_is_found_and_followed(world, amo):
    a = acc_id(world)
    who = manager(world)
    lead = world.emu.create_lead(a, name="Ремонт")
    deadline = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    assert one(amo, p.FindTask("wd-r1-0")) == 0
    done = amo.apply({"t": p.CreateTask("Перезвонить", "Клиент ждёт", who.id,
                                        deadline.isoformat(), deal(lead), (1, 2), "wd-r1-0")})
    task_id = done.values["t"]
    stored = world.emu.account(a).tasks[task_id]
    assert stored["text"] == "Перезвонить\nКлиент ждёт\n#cc:wd-r1-0"
    assert stored["complete_till"] == int(deadline.timestamp())
    assert (stored["entity_type"], stored["entity_id"], stored["responsible_user_id"]) == (
        "leads", lead["id"], who.id)
    assert one(amo, p.FindTask("wd-r1-0")) == task_id  # the write forgot the empty answer
    assert one(amo, p.FindTask("wd-r1")) == 0
    assert one(amo, p.TaskState(task_id)) == "open"
    amo.client.patch(f"/api/v4/tasks/{task_id}", {"is_completed": True})
    amo.seen.clear()
    assert one(amo, p.TaskState(task_id)) == "done"
    assert one(amo, p.TaskState(999999)) == "gone"
    bad = amo.apply({"t": p.CreateTask("X", "", who.id, "завтра", deal(lead))})
    assert isinstance(bad.errors["t"], p.CrmPermanent)


def test_no_working_calendar_on_amocrm(amo):
    reading = amo.read({"c": p.WorkCalendar()})
    assert isinstance(reading.errors["c"], p.MissingScope)


# account set-up ----------------------------------------------------------------------------
def test_custom_fields_pipelines_and_currency(world, amo):
    a = acc_id(world)
    made = [world.emu.add_field(a, "leads", f"Поле {n}", "text") for n in range(55)]
    world.emu.add_field(a, "leads", "Стоимость", "numeric", code="UF_CRM_COST")
    names = one(amo, p.CustomFields("deal"))
    assert {str(f["id"]) for f in made} <= names and "UF_CRM_COST" in names  # two pages
    assert {"PHONE", "EMAIL", "POSITION"} <= one(amo, p.CustomFields("contact"))
    other = world.emu.add_pipeline(a, "Опт", ["Заявка"])
    assert one(amo, p.PipelineNames()) == {str(main_pipeline(world)["id"]): "Воронка",
                                           str(other["id"]): "Опт"}
    assert one(amo, p.PipelineNames("contact")) == {}
    assert one(amo, p.CurrencyRates()) == {"base": "RUB", "rates": {"RUB": Decimal(1)}}


def test_ensure_item_field_finds_by_code_creates_and_takes_already_exists(world, amo):
    a = acc_id(world)
    amo.ensure_item_field("contact", "UF_CRM_CC_WON_DEALS", "double", "Выиграно сделок")
    fields = [f for f in world.emu.account(a).custom_fields["contacts"]
              if f["code"] == "UF_CRM_CC_WON_DEALS"]
    assert [(f["name"], f["type"]) for f in fields] == [("Выиграно сделок", "numeric")]
    before = world.requests()
    amo.ensure_item_field("contact", "uf_crm_cc_won_deals", "double", "Выиграно сделок")
    assert world.requests() - before == 1  # found: no POST
    # someone made it between our look and our POST: amoCRM refuses, the field is there
    world.emu.fault(a, "GET", r"custom_fields$", 204, count=1)
    world.emu.fault(a, "POST", r"custom_fields$", 400, count=1)
    world.emu.add_field(a, "leads", "Ссылка", "url", code="UF_CRM_DOC")
    amo.ensure_item_field("deal", "UF_CRM_DOC", "url", "Ссылка")
    assert len([f for f in world.emu.account(a).custom_fields["leads"]
                if f["code"] == "UF_CRM_DOC"]) == 1
    world.emu.fault(a, "POST", r"custom_fields$", 400, count=1)
    with pytest.raises(p.CrmPermanent):
        amo.ensure_item_field("deal", "UF_CRM_OTHER", "string", "Другое")
    with pytest.raises(p.CrmPermanent):
        amo.ensure_item_field("lead", "UF_CRM_X", "string", "X")


# documents ---------------------------------------------------------------------------------
def test_document_parties_from_companies_and_contacts(world, amo):
    a = acc_id(world)
    inn = world.emu.add_field(a, "companies", "ИНН", "text")
    world.emu.add_field(a, "companies", "КПП", "text", code="KPP")
    client = world.emu.create_company(a, name="ООО Вмятин.нет", custom_fields_values=[
        {"field_id": inn["id"], "values": [{"value": "7701234567"}]},
        {"field_code": "KPP", "values": [{"value": "770101001"}]},
        {"field_code": "EMAIL", "values": [{"value": "office@vmyatin.net"}]}])
    ours = world.emu.create_company(a, name="ИП Кузовщиков")
    person = world.emu.create_contact(a, name="Пётр Сидоров", phone="+79120001122")
    firm_lead = world.emu.create_lead(a, name="A", _embedded={
        "contacts": [{"id": person["id"]}], "companies": [{"id": client["id"]}]})
    private = world.emu.create_lead(a, name="B", _embedded={"contacts": [{"id": person["id"]}]})
    got = one(amo, p.DocumentParties(deal(firm_lead), my_company=ours["id"]))
    assert got["client"].ref == p.ItemRef("company", client["id"])
    assert (got["client"].title, got["client"].inn, got["client"].kpp, got["client"].email,
            got["client"].is_person) == ("ООО Вмятин.нет", "7701234567", "770101001",
                                         "office@vmyatin.net", False)
    assert got["seller"].ref == p.ItemRef("company", ours["id"])
    assert got["seller"].title == "ИП Кузовщиков"
    got = one(amo, p.DocumentParties(deal(private)))
    assert got["client"].ref == p.ItemRef("contact", person["id"])
    assert (got["client"].is_person, got["client"].phone, got["seller"]) == (
        True, "+79120001122", None)
    assert one(amo, p.DocumentParties(deal(world.emu.create_lead(a, name="C")))) == {
        "client": None, "seller": None}
    reading = amo.read({"x": p.DocumentParties(p.ItemRef("deal", 999999)),
                        "mine": p.MyCompanies(), "rows": p.ProductRows(deal(private))})
    assert isinstance(reading.errors["x"], p.NotFound)
    assert (reading.get("mine"), reading.get("rows")) == ([], [])


# writes ------------------------------------------------------------------------------------
def test_assign_update_and_move_write_the_lead_and_forget_what_they_changed(world, amo):
    a = acc_id(world)
    who = manager(world)
    cost = world.emu.add_field(a, "leads", "Себестоимость", "numeric")
    folder = world.emu.add_field(a, "leads", "Ссылка на папку", "url", code="UF_CRM_FOLDER")
    margin = world.emu.add_field(a, "leads", "Маржа", "numeric", code="UF_CRM_MARGIN")
    world.emu.add_field(a, "leads", "Заметка", "text", code="UF_CRM_NOTE")
    other = world.emu.add_pipeline(a, "Опт", ["Заявка", "Счёт"])
    lead = world.emu.create_lead(a, name="Ремонт", custom_fields_values=[
        {"field_id": cost["id"], "values": [{"value": "10"}]},
        {"field_code": "UF_CRM_NOTE", "values": [{"value": "старое"}]}])
    assert amo.item(deal(lead)).assigned == world.acc.admin_id
    done = amo.apply({
        "a": p.Assign(deal(lead), who.id),
        "u": p.UpdateItem(deal(lead), {"title": "Ремонт бампера", "amount": Decimal("12500.00"),
                                       "uf_crm_folder": "https://drive.example/f/1",
                                       str(cost["id"]): None, "UF_CRM_MARGIN": "2500.50|RUB",
                                       "UF_CRM_NOTE": ""}),
        "m": p.MoveItem(deal(lead), str(other["id"]), str(status(world, "Счёт", other)))})
    assert not done.errors and done.values == {"a": True, "u": True, "m": True}
    item = amo.item(deal(lead))  # read again: the writes forgot the old answer
    assert (item.assigned, item.title, item.amount) == (who.id, "Ремонт бампера", "12500")
    url = "https://drive.example/f/1"
    # the cost and the note cleared; Bitrix24's money text is its amount on amoCRM
    assert item.fields == {str(folder["id"]): url, "UF_CRM_FOLDER": url,
                           str(margin["id"]): "2500.50", "UF_CRM_MARGIN": "2500.50"}
    assert (item.category, item.stage) == (str(other["id"]), str(status(world, "Счёт", other)))
    amo.apply({"m": p.MoveItem(deal(lead), str(main_pipeline(world)["id"]), "")})
    assert amo.item(deal(lead)).stage == str(status(world, "Первичный контакт"))
    amo.apply({"m": p.MoveItem(deal(lead), "", "142")})
    assert amo.item(deal(lead)).won
    failed = amo.apply({"x": p.Assign(p.ItemRef("deal", 999999), who.id),
                        "y": p.UpdateItem(deal(lead), {"NO_SUCH_FIELD": "1"}),
                        "z": p.Assign(deal(lead), world.acc.admin_id)}, halt=True)
    assert isinstance(failed.errors["x"], p.NotFound) and "z" not in failed.values
    failed = amo.apply({"y": p.UpdateItem(deal(lead), {"NO_SUCH_FIELD": "1"})})
    assert "NotSupportedChoice at custom_fields_values.0.field_id" in str(failed.errors["y"])


def test_comments_and_trigger_logs_are_common_notes(world, amo):
    a = acc_id(world)
    lead = world.emu.create_lead(a, name="Ремонт")
    before = one(amo, p.FindComment(deal(lead), "Папка создана", iso(time.time() - 60)))
    assert before == 0
    done = amo.apply({"c": p.AddComment(deal(lead), "Папка создана"),
                      "l": p.LogToTrigger(f"dp:{lead['id']}:ab12", "Ответственный: Иван"),
                      "s": p.LogToTrigger(f"salesbot:5:9:{lead['id']}", "Бот: шаг")})
    notes = {n["id"]: n for n in world.emu.notes(a, "leads", lead["id"])}
    assert notes[done.values["c"]]["params"]["text"] == "Папка создана"
    assert notes[done.values["c"]]["note_type"] == "common"
    assert notes[done.values["l"]]["params"]["text"] == "Ответственный: Иван"
    assert notes[done.values["s"]]["params"]["text"] == "Бот: шаг"
    assert one(amo, p.FindComment(deal(lead), "Папка создана", iso(time.time() - 60))) == \
        done.values["c"]
    bad = amo.apply({"x": p.LogToTrigger("bizproc-token", "?")})
    assert isinstance(bad.errors["x"], p.CrmPermanent)


def test_trigger_answers_continue_a_waiting_salesbot_and_nothing_for_a_pipeline_action(
        world, amo):
    a = acc_id(world)
    lead = world.emu.create_lead(a, name="Ремонт")
    _status, _body, back = world.emu.salesbot_request(a, lead["id"], "http://127.0.0.1:9/",
                                                      bot_id=5)
    bot, cid = back.rstrip("/").split("/")[-3], back.rstrip("/").split("/")[-1]
    token = f"salesbot:{bot}:{cid}:{lead['id']}"
    long = "Назначен ответственный: " + "Иван " * 30
    done = amo.apply({"dp": p.AnswerTrigger(f"dp:{lead['id']}", {"x": 1}, "готово"),
                      "bot": p.AnswerTrigger(token, {"assigned": 7, "sum": Decimal("1.5")},
                                             long)})
    assert not done.errors and done.values == {"dp": None, "bot": None}
    (cont,) = world.emu.salesbot_continued(a)
    assert (cont["bot_id"], cont["continue_id"]) == (5, int(cid))
    assert cont["data"] == {"assigned": 7, "sum": "1.5"}
    assert cont["execute_handlers"] == [{"handler": "show", "params": {
        "type": "text", "value": long[:80]}}]
    with pytest.raises(p.TriggerGone):
        amo.answer_trigger(token, {}, "ещё раз")
    assert amo.answer_trigger(f"dp:{lead['id']}", {}, "") is None
    with pytest.raises(p.CrmPermanent):
        amo.answer_trigger("salesbot:x", {}, "")


def test_notifications_and_chats_are_not_amocrms(amo, caplog):
    with caplog.at_level("INFO", logger="connector.amocrm.adapter"):
        done = amo.apply({"n": p.NotifyUser(1, "Привет", "tag"), "c": p.PostToChat(3, "Всем"),
                          "k": p.CreateChat("Сделка", (1,))})
    assert "notification" in done.values["n"]["skipped"] and "chat" in done.values["c"]["skipped"]
    assert isinstance(done.errors["k"], p.CrmPermanent)
    assert "NotifyUser skipped" in caplog.text
    assert amo.create_chat("Сделка", (1,)) == 0  # no chat to post to (port.create_chat)


# lists -------------------------------------------------------------------------------------
def test_list_items_ascending_after_an_id_by_pipeline_and_won(world, amo):
    a = acc_id(world)
    other = world.emu.add_pipeline(a, "Опт", ["Заявка"])
    made = [world.emu.create_lead(a, name=f"L{n}") for n in range(3)]
    opt = world.emu.create_lead(a, name="opt", pipeline_id=other["id"],
                                status_id=status(world, "Заявка", other))
    won = world.emu.create_lead(a, name="won", pipeline_id=other["id"], status_id=142)
    ids = [x["id"] for x in made] + [opt["id"], won["id"]]
    assert [i.ref.id for i in amo.list_items("deal")] == ids
    assert list(amo.item_ids("deal", after=made[1]["id"])) == ids[2:]
    assert [i.ref.id for i in amo.list_items("deal", category=str(other["id"]))] == ids[3:]
    assert [i.ref.id for i in amo.list_items("deal", won=True)] == [won["id"]]
    contact = world.emu.create_contact(a, name="Пётр", phone="+79120001122")
    assert [(i.ref, i.phones) for i in amo.list_items("contact")] == [
        (p.ItemRef("contact", contact["id"]), ["+79120001122"])]


def test_deals_by_client_state_dates_and_pipelines(world, amo):
    a = acc_id(world)
    real = time.time
    talks = status(world, "Переговоры")
    other = world.emu.add_pipeline(a, "Опт", ["Заявка"])
    contact = world.emu.create_contact(a, name="Пётр")
    company = world.emu.create_company(a, name="ООО Ромашка")
    world.emu.clock = lambda: real() - 3 * DAY
    old_won = world.emu.create_lead(a, name="old won", price=100, _embedded={
        "contacts": [{"id": contact["id"]}]})
    world.emu.move_lead(a, old_won["id"], 142)
    old_open = world.emu.create_lead(a, name="old open", status_id=talks)
    world.emu.clock = lambda: real() - DAY
    moved = world.emu.create_lead(a, name="moved", price=300,
                                  _embedded={"companies": [{"id": company["id"]}]})
    world.emu.clock = lambda: real() - 3600
    world.emu.move_lead(a, moved["id"], 143)
    world.emu.clock = real
    new = world.emu.create_lead(a, name="new", pipeline_id=other["id"], status_id=142,
                                _embedded={"contacts": [{"id": contact["id"]}]})
    world.emu.update_lead(a, old_open["id"], name="old open, edited")  # no move

    def ids(**kw):
        return [i.ref.id for i in amo.deals(**kw)]

    assert ids() == [old_won["id"], old_open["id"], moved["id"], new["id"]]
    assert ids(client=p.ItemRef("contact", contact["id"])) == [old_won["id"], new["id"]]
    assert ids(client=p.ItemRef("company", company["id"])) == [moved["id"]]
    assert ids(client=p.ItemRef("contact", contact["id"]), won=True, after=old_won["id"]) == \
        [new["id"]]
    assert ids(closed=True) == [old_won["id"], moved["id"], new["id"]]
    assert ids(closed=False) == [old_open["id"]]
    assert ids(categories=(str(other["id"]),)) == [new["id"]]
    assert ids(won=True, categories=(str(main_pipeline(world)["id"]),)) == [old_won["id"]]
    assert ids(created_since=iso(real() - 2 * DAY)) == [moved["id"], new["id"]]
    got = list(amo.deals(closed=True, moved_since=iso(real() - 2 * DAY)))
    assert [i.ref.id for i in got] == [moved["id"], new["id"]]
    assert abs(datetime.fromisoformat(got[0].fields["movedTime"]).timestamp()
               - (real() - 3600)) < 5
    assert got[1].fields["movedTime"] == iso(new["created_at"])  # made in its stage
    assert got[0].fields["createdTime"] == got[0].created_at
    assert (got[0].amount, got[0].currency, got[0].company_id, got[0].closed_on) == (
        "300", "RUB", company["id"], datetime.fromtimestamp(real() - 3600, UTC).date().isoformat())
    assert ids(client=p.ItemRef("contact", contact["id"]), moved_since=iso(real() - 2 * DAY)) \
        == [new["id"]]
    with pytest.raises(ValueError):
        list(amo.deals(client=p.ItemRef("deal", 1)))


# pure parts --------------------------------------------------------------------------------
def test_trigger_tokens():
    assert mapping.trigger_of("dp:15") == mapping.Trigger("dp", 15)
    assert mapping.trigger_of("dp:15:9f2c") == mapping.Trigger("dp", 15)
    assert mapping.trigger_of("salesbot:5:9:15") == mapping.Trigger("salesbot", 15, 5, 9)
    for bad in ("", "dp:", "dp:x", "salesbot:5:9", "salesbot:a:9:15", "bizproc"):
        with pytest.raises(p.CrmPermanent):
            mapping.trigger_of(bad)


def test_stage_texts_name_pipeline_and_status():
    by = {1: [{"id": 10}, {"id": 11}, {"id": 142}, {"id": 143}],
          2: [{"id": 20}, {"id": 142}, {"id": 143}]}
    assert mapping.stage_pairs(["11", "2:20", "142"], by) == [(1, 11), (2, 20), (1, 142),
                                                               (2, 142)]
    assert mapping.open_pairs(by, [2]) == [(2, 20)]
    assert mapping.status_filter([(1, 11)]) == {"filter[statuses][0][pipeline_id]": 1,
                                                "filter[statuses][0][status_id]": 11}

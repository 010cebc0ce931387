"""The typed settings schema: each kind's rules, paths, messages, defaults and descriptions."""

from __future__ import annotations

import json

import pytest

from connector.i18n import N_, Msg, t
from connector.settings_schema import (
    CORE_SCHEMAS,
    Bool,
    Chat,
    Choice,
    CrmField,
    Department,
    Departments,
    DiskStorage,
    Duration,
    EntityTypes,
    Field,
    ListOf,
    Number,
    Option,
    PerUser,
    Pipeline,
    Pipelines,
    Schema,
    SettingsInvalid,
    SmartProcess,
    Source,
    Sources,
    Stage,
    Stages,
    StagesByEntity,
    Template,
    Text,
    TimeZone,
    User,
    Users,
    describe,
    schema_map,
    validate_document,
)
from robots.deal_workspace import config as deal_workspace
from robots.distribution import config as distribution
from robots.drive_mirror import config as drive_mirror

ALL = schema_map(CORE_SCHEMAS, distribution.SCHEMAS, deal_workspace.SCHEMAS,
                 drive_mirror.SCHEMAS)
L, H = N_("Label"), N_("Help")

CRM_FIELD_MESSAGE = "must be UF_CRM_ + A-Z, 0-9, _ (on amoCRM also the field's number)"


def refusal(f: Field, value: object) -> str:
    with pytest.raises(SettingsInvalid) as err:
        f.clean("s.f", value)
    assert err.value.path == "s.f"
    return err.value.reason


@pytest.mark.parametrize("f,good,cleaned", [
    (Bool("f", L, H, False), True, True),
    (Number("f", L, H, 1, low=1, high=5), 5, 5),
    (Number("f", L, H, 1.0, whole=False, low=0, high=2, low_open=True), 2, 2.0),
    (Duration("f", L, H, 60, unit="s", low=10, high=3600), 10, 10),
    (Choice("f", L, H, "a", options=(Option("a", L), Option("b", L))), "b", "b"),
    (Text("f", L, H, "", pattern=r"[a-z]+"), "abc", "abc"),
    (TimeZone("f", L, H, "UTC"), "Asia/Yekaterinburg", "Asia/Yekaterinburg"),
    (Template("f", L, H, "{ID}", placeholders=("ID", "TITLE")), "{ID} {TITLE}", "{ID} {TITLE}"),
    (User("f", L, H, 1), 7, 7),
    (User("f", L, H, 0, optional=True), 0, 0),
    (Users("f", L, H, []), [1, 2], [1, 2]),
    (Department("f", L, H, 1), 3, 3),
    (Departments("f", L, H, []), [3], [3]),
    (Pipeline("f", L, H, 0, entity="deal"), 0, 0),
    (Pipelines("f", L, H, [], entity="deal"), [0, 4], [0, 4]),
    (Stage("f", L, H, "NEW", entity="deal"), "C4:WON", "C4:WON"),
    (Stages("f", L, H, []), ["NEW", "IN_PROCESS"], ["NEW", "IN_PROCESS"]),
    (Source("f", L, H, "WEB"), "CALL", "CALL"),
    (Sources("f", L, H, []), ["WEB"], ["WEB"]),
    (SmartProcess("f", L, H, 128), 1032, 1032),
    (Chat("f", L, H, 0, optional=True), 17, 17),
    (EntityTypes("f", L, H, ["lead"]), ["deal", "item:128"], ["deal", "item:128"]),
    (EntityTypes("f", L, H, "lead", many=False), "item:5", "item:5"),
    (CrmField("f", L, H, "UF_CRM_X", also=("COMMENTS",)), "COMMENTS", "COMMENTS"),
    (CrmField("f", L, H, "", blank=True), "", ""),
    (DiskStorage("f", L, H, "common"), "12", "12"),
    (DiskStorage("f", L, H, "common"), 12, 12),
    (PerUser("f", L, H, {}, value=Number("w", L, H, 1, high=9)), {"02": 3}, {"2": 3}),
    (StagesByEntity("f", L, H, {}), {"lead": ["NEW"]}, {"lead": ["NEW"]}),
])
def test_each_kind_accepts_what_the_crm_stores(f: Field, good: object, cleaned: object):
    assert f.clean("s.f", good) == cleaned


@pytest.mark.parametrize("f,bad,reason", [
    (Bool("f", L, H, False), 1, "must be true or false, got number"),
    (Number("f", L, H, 1, low=1, high=5), 6, "must be between 1 and 5"),
    (Number("f", L, H, 1, low=1, high=5), 2.5, "must be a whole number"),
    (Number("f", L, H, 1, low=1, high=5), True, "must be a number, got true/false"),
    (Number("f", L, H, 1.0, whole=False, low=0, high=2, low_open=True), 0,
     "must be above 0 and at most 2"),
    (Duration("f", L, H, 60, unit="s", low=10, high=3600), 5,
     "must be between 10 and 3600 seconds"),
    (Duration("f", L, H, 5, unit="min", low=1, high=60), 0, "must be between 1 and 60 minutes"),
    (Choice("f", L, H, "a", options=(Option("a", L), Option("b", L))), "c",
     "must be one of a, b"),
    (Text("f", L, H, "", pattern=r"[a-z]+"), "A", "is not of the expected form"),
    (Text("f", L, H, "x", blank=False), "  ", "must be a non-empty string"),
    (Text("f", L, H, "", max_length=3), "abcd", "must be at most 3 characters"),
    (Text("f", L, H, ""), 5, "must be text, got number"),
    (TimeZone("f", L, H, "UTC"), "Mars/Olympus", "is not an IANA time zone such as Europe/Moscow"),
    (Template("f", L, H, "{ID}", placeholders=("ID", "TITLE")), "{ID} {NOPE}",
     "unknown placeholder {NOPE} (allowed: ID, TITLE)"),
    (Template("f", L, H, "{ID}", placeholders=("ID",)), " ", "must not be empty"),
    (User("f", L, H, 1), 0, "must be a user id (a positive whole number)"),
    (Users("f", L, H, []), [1, "2"], "must be a list of positive user ids"),
    (Users("f", L, H, []), [True], "must be a list of positive user ids"),
    (Departments("f", L, H, []), [0], "must be a list of positive department ids"),
    (Pipelines("f", L, H, []), [-1], "must be a list of pipeline ids"),
    (Stages("f", L, H, []), [1], "must be a list of status ids"),
    (Sources("f", L, H, []), "WEB", "must be a list of source ids"),
    (SmartProcess("f", L, H, 128), "128",
     "must be a smart process entityTypeId (a positive whole number)"),
    (Chat("f", L, H, 0, optional=True), 10**12 + 1, "must be a chat id (a whole number, 0 = none)"),
    (EntityTypes("f", L, H, ["lead"]), [], "must list 'lead', 'deal' or 'item:<entityTypeId>'"),
    (EntityTypes("f", L, H, ["lead"]), ["contact"],
     "must list 'lead', 'deal' or 'item:<entityTypeId>'"),
    (CrmField("f", L, H, "UF_CRM_X"), "uf_crm_x", CRM_FIELD_MESSAGE),
    (CrmField("f", L, H, "UF_CRM_X"), "", CRM_FIELD_MESSAGE),
    (DiskStorage("f", L, H, "common"), "0",
     "must be 'common' or a storage id (a positive number)"),
    (DiskStorage("f", L, H, "common"), True,
     "must be 'common' or a storage id (a positive number)"),
    (PerUser("f", L, H, {}, value=Number("w", L, H, 1, high=9)), [], "must map user ids to values"),
    (StagesByEntity("f", L, H, {}), ["lead"], "must map an entity type to status ids"),
])
def test_each_kind_refuses_with_its_own_message(f: Field, bad: object, reason: str):
    assert refusal(f, bad) == reason


def test_per_field_messages_replace_the_kind_s_wording():
    f = CrmField("f", L, H, "UF_CRM_X", messages={"invalid": N_("pick a deal field")})
    assert refusal(f, "nope") == "pick a deal field"


def test_nested_values_name_the_element():
    weights = PerUser("w", L, H, {}, value=Number("v", L, H, 1, high=9))
    with pytest.raises(SettingsInvalid) as err:
        weights.clean("g.w", {"3": 10})
    assert err.value.path == "g.w.3"
    with pytest.raises(SettingsInvalid) as err:
        weights.clean("g.w", {"x": 1})
    assert (err.value.path, err.value.reason) == ("g.w.x", "is not a user id")
    with pytest.raises(SettingsInvalid) as err:
        StagesByEntity("s", L, H, {}).clean("g.s", {"contact": []})
    assert err.value.path == "g.s.contact"
    with pytest.raises(SettingsInvalid) as err:
        StagesByEntity("s", L, H, {}).clean("g.s", {"lead": "NEW"})
    assert (err.value.path, err.value.reason) == ("g.s.lead", "must be a list of status ids")


ITEM = Schema("item", N_("Item"), (
    Text("id", L, H, pattern=r"[a-z]+"),
    Text("name", L, H, blank=False, default_from="id"),
    Number("size", L, H, 1, low=1, high=9),
), check=lambda v: ("size", N_("too big for {name}"), {"name": v["name"]})
    if v["size"] > 5 and v["name"] == "small" else None)
BOX = Schema("box", N_("Box"), (
    ListOf("items", L, H, [], item=ITEM, unique="id"),
    Bool("open", L, H, True),
))


def test_a_schema_fills_defaults_and_names_the_dotted_path():
    assert BOX.validate({}) == {"items": [], "open": True}
    assert BOX.validate({"items": [{"id": "a"}]})["items"] == [{"id": "a", "name": "a", "size": 1}]
    cases = [
        ({"items": [{"id": "a"}, {"id": "b", "size": 0}]}, "box.items[1].size"),
        ({"items": [{"id": "a", "colour": "red"}]}, "box.items[0].colour"),
        ({"items": [{"name": "x"}]}, "box.items[0].id"),
        ({"items": [{"id": "a"}, {"id": "a"}]}, "box.items[1].id"),
        ({"items": [{"id": "a", "name": "small", "size": 6}]}, "box.items[0].size"),
        ({"items": ["a"]}, "box.items[0]"),
        ({"items": {}}, "box.items"),
        ({"lid": 1}, "box.lid"),
    ]
    reasons = []
    for doc, path in cases:
        with pytest.raises(SettingsInvalid) as err:
            BOX.validate(doc)
        assert err.value.path == path, doc
        reasons.append(err.value.reason)
    assert reasons[2:5] == ["is required", "duplicate id a", "too big for small"]
    assert reasons[-1] == "unknown field"
    with pytest.raises(SettingsInvalid) as err:
        BOX.validate([])
    assert (err.value.path, err.value.reason) == ("box", "must be an object")


def test_a_wrong_default_or_a_field_declared_twice_fails_when_declared():
    with pytest.raises(SettingsInvalid, match="s.n: must be between 1 and 5"):
        Schema("s", L, (Number("n", L, H, 0, low=1, high=5),))
    with pytest.raises(ValueError, match="twice"):
        Schema("s", L, (Bool("n", L, H, True), Bool("n", L, H, False)))
    with pytest.raises(ValueError, match="twice"):
        schema_map(CORE_SCHEMAS, CORE_SCHEMAS)


def test_the_error_reads_in_english_by_default_and_in_the_reader_s_language():
    exc = SettingsInvalid("general.language", N_("must be one of {allowed}"), allowed="ru, en")
    assert str(exc) == "general.language: must be one of ru, en" == exc.message("en")
    assert exc.reason == "must be one of ru, en"
    assert exc.message("ru") == "general.language: " + t("ru", "must be one of {allowed}",
                                                         allowed="ru, en")


def test_every_text_of_every_section_is_marked_for_translation():
    def texts(schema: Schema):
        yield schema.title
        if schema.help:
            yield schema.help
        for f in schema.fields:
            yield from (f.label, f.help, *f.messages.values(), *f.MESSAGES.values())
            yield from (o.label for o in getattr(f, "options", ()))
            if isinstance(f, ListOf) and f.item:
                yield from texts(f.item)
            if isinstance(f, PerUser) and f.value:
                yield from (f.value.label, f.value.help, *f.value.messages.values())

    found = [text for schema in ALL.values() for text in texts(schema)]
    assert len(found) > 100
    assert all(isinstance(text, Msg) and text.strip() for text in found)


def test_describe_is_json_and_names_what_a_form_needs():
    for lang in ("en", "ru"):
        desc = describe(ALL, lang)
        json.dumps(desc)
        assert list(desc) == ["general", "events", "amocrm", "distribution", "deal_folders",
                              "deal_chats", "drive_mirror"]
        for name, section in desc.items():
            assert section["title"] == t(lang, ALL[name].title)
            for f, spec in zip(section["fields"], ALL[name].fields, strict=True):
                assert f["label"] == t(lang, spec.label) and f["help"] == t(lang, spec.help)
                assert f["kind"] == spec.kind and f["name"] == spec.name
    general = {f["name"]: f for f in describe(ALL, "en")["general"]["fields"]}
    assert general["language"]["default"] == "auto"
    assert [o["value"] for o in general["language"]["options"]] == ["auto", "ru", "en"]
    assert general["language"]["options"][0]["label"] == "The portal's language"
    assert general["admin_user_ids"]["reference"] == {"type": "user", "many": True,
                                                      "optional": False}
    events = {f["name"]: f for f in describe(ALL, "en")["events"]["fields"]}
    assert events["drain_every_s"].items() >= {"kind": "duration", "unit": "s", "min": 10,
                                                "max": 3600, "default": 60}.items()
    folders = {f["name"]: f for f in describe(ALL, "en")["deal_folders"]["fields"]}
    assert folders["name_template"]["placeholders"] == ["ID", "TITLE", "YEAR", "MONTH"]
    assert folders["category_ids"]["reference"]["entity"] == "deal"
    assert folders["link_field"]["reference"]["field_type"] == "url"
    groups = describe(ALL, "en")["distribution"]["fields"][0]
    assert groups["kind"] == "list" and groups["unique"] == "id"
    group = {f["name"]: f for f in groups["item"]["fields"]}
    assert group["id"]["required"] and group["name"]["default_from"] == "id"
    assert group["chat_id"]["reference"]["type"] == "chat"
    assert group["recheck_minutes"]["unit"] == "min"
    auto = {f["name"]: f for f in group["auto"]["item"]["fields"]}
    assert auto["category_ids"]["reference"]["entity_from"] == "entity"


def test_language_auto_follows_the_portal_and_a_choice_overrides_it():
    from connector.i18n import portal_language

    assert portal_language("auto", "ua") == "ru"
    assert portal_language("auto", "en") == "en"
    assert portal_language("en", "ru") == "en"
    assert portal_language("ru", "de") == "ru"


def test_a_document_stored_by_the_previous_version_still_validates_unchanged():
    """Reference kinds keep the ids as they were: old documents are read as they are."""
    old = {
        "general": {"timezone": "Europe/Moscow", "language": "ru", "admin_user_ids": [1]},
        "events": {"offline_backup": True, "drain_every_s": 60},
        "distribution": {"groups": [{
            "id": "sales", "name": "Sales", "entity_types": ["lead", "item:128"],
            "departments": [2], "supervisors": [1], "placeholder_user_ids": [1],
            "recheck_minutes": 1, "weights": {"3": 2}, "in_work": {"lead": ["IN_PROCESS"]},
            "auto": [{"entity": "lead", "source_ids": ["WEB"]}]}],
            "pin_on_won": True, "audit_days": 90, "reconcile_minutes": 15},
        "deal_folders": {"enabled": True, "category_ids": [0, 3], "storage": "17",
                         "parent_path": "Deals/{YEAR}", "name_template": "{ID} {TITLE}",
                         "max_name_length": 120, "link_field": "COMMENTS",
                         "share_with_responsible": False},
        "deal_chats": {"enabled": True, "category_ids": [], "title_template": "Deal {ID}",
                       "message_template": "{TITLE}", "extra_user_ids": [5],
                       "remove_departed": False, "chat_field": ""},
        "drive_mirror": {"enabled": True, "category_ids": [], "root_folder_id": "abc",
                         "shared_drive_id": "", "folder_name_template": "{ID} {TITLE}",
                         "disk_folder": True, "file_fields": True, "activities": True,
                         "max_file_mb": 5120},
    }
    clean = validate_document(old, ALL)
    for name in old:
        if name != "distribution":
            assert clean[name] == old[name], name
    (g,) = distribution.groups(clean)
    assert (g.id, g.name, g.users, g.departments, g.weights, g.chat_id) == (
        "sales", "Sales", (), (2,), {3: 2.0}, 0)
    assert g.auto[0].source_ids == ("WEB",) and g.auto[0].category_ids == ()
    assert g.in_work == {"lead": ("IN_PROCESS",)} and g.rule == "least_loaded"
    assert distribution.groups(validate_document(clean, ALL)) == [g]


@pytest.mark.parametrize("doc,path,reason", [
    ({"deal_folders": {"storage": "x"}}, "deal_folders.storage",
     "must be 'common' or a storage id (a positive number)"),
    ({"deal_folders": {"link_field": "foo"}}, "deal_folders.link_field",
     "must be COMMENTS or UF_CRM_ + A-Z, 0-9, _"),
    ({"deal_folders": {"parent_path": "Deals/{NOPE}"}}, "deal_folders.parent_path",
     "unknown placeholder {NOPE} (allowed: ID, TITLE, YEAR, MONTH)"),
    ({"deal_folders": {"name_template": ""}}, "deal_folders.name_template", "must not be empty"),
    ({"deal_folders": {"max_name_length": 19}}, "deal_folders.max_name_length",
     "must be between 20 and 250"),
    ({"deal_folders": {"category_ids": ["1"]}}, "deal_folders.category_ids",
     "must be a list of pipeline ids"),
    ({"deal_chats": {"chat_field": "CHAT"}}, "deal_chats.chat_field",
     "must be empty or UF_CRM_ + A-Z, 0-9, _"),
    ({"deal_chats": {"title_template": "{AMOUNT} {X}"}}, "deal_chats.title_template",
     "unknown placeholder {X} (allowed: ID, TITLE, AMOUNT, CURRENCY, MONEY, STAGE, CLIENT, "
     "RESPONSIBLE, LINK)"),
    ({"drive_mirror": {"max_file_mb": 0}}, "drive_mirror.max_file_mb",
     "must be between 1 and 5000000"),
    ({"drive_mirror": {"folder_name_template": "{STAGE}"}}, "drive_mirror.folder_name_template",
     "unknown placeholder {STAGE} (allowed: ID, TITLE, YEAR, MONTH)"),
    ({"distribution": {"audit_days": 366}}, "distribution.audit_days",
     "must be between 1 and 365"),
    ({"distribution": {"reconcile_minutes": 0}}, "distribution.reconcile_minutes",
     "must be between 1 and 1440 minutes"),
    ({"distribution": {"groups": [{"id": "a", "users": [1], "weights": {"1": 101}}]}},
     "distribution.groups[0].weights.1", "weight must be a number in (0, 100]"),
    ({"distribution": {"groups": [{"id": "a", "users": [1], "name": " "}]}},
     "distribution.groups[0].name", "must be a non-empty string"),
    ({"distribution": {"groups": [{"id": "a", "users": [1], "max_per_day": -1}]}},
     "distribution.groups[0].max_per_day", "must be between 0 and 100000"),
    ({"distribution": {"groups": [{"id": "a", "users": [1], "chat_id": "5"}]}},
     "distribution.groups[0].chat_id", "must be a chat id (a whole number, 0 = none)"),
    ({"distribution": {"groups": [{"id": "a", "users": [1],
                                   "auto": [{"entity": "lead", "category_ids": [True]}]}]}},
     "distribution.groups[0].auto[0].category_ids", "must be a list of category ids"),
    ({"distribution": {"groups": [{"id": "a", "users": [1]}, {"id": "a", "users": [2]}]}},
     "distribution.groups[1].id", "duplicate group id a"),
])
def test_the_capabilities_sections_keep_their_rules(doc, path, reason):
    with pytest.raises(SettingsInvalid) as err:
        validate_document(doc, ALL)
    assert (err.value.path, err.value.reason) == (path, reason)


def test_defaults_are_today_s():
    clean = validate_document({}, ALL)
    assert clean["deal_folders"]["storage"] == "common"
    assert clean["deal_folders"]["link_field"] == "UF_CRM_CC_FOLDER"
    assert clean["deal_chats"]["title_template"] == "Deal {ID}: {TITLE}"
    assert clean["drive_mirror"]["max_file_mb"] == 5120
    assert clean["distribution"] == {"groups": [], "pin_on_won": True, "audit_days": 90,
                                     "reconcile_minutes": 15}
    assert clean["events"] == {"offline_backup": True, "drain_every_s": 60}

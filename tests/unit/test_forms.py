from urllib.parse import parse_qsl

import pytest

from connector.bitrix.forms import FormError, encode, flatten, parse_nested


def test_nested_keys_become_dicts_and_lists():
    parsed = parse_nested([
        ("auth[member_id]", "m1"), ("data[FIELDS][ID]", "42"),
        ("document_id[0]", "crm"), ("document_id[1]", "CCrmDocumentDeal"),
        ("values[]", "a"), ("values[]", "b"), ("plain", "x"),
    ])
    assert parsed == {
        "auth": {"member_id": "m1"}, "data": {"FIELDS": {"ID": "42"}},
        "document_id": ["crm", "CCrmDocumentDeal"], "values": ["a", "b"], "plain": "x",
    }


def test_sparse_numeric_keys_stay_a_dict():
    assert parse_nested([("x[0]", "a"), ("x[2]", "b")]) == {"x": {"0": "a", "2": "b"}}


def test_too_deep_is_refused():
    with pytest.raises(FormError):
        parse_nested([("a" + "[x]" * 20, "1")])


def test_encode_round_trips_through_php_style_parsing():
    params = {"filter": {">ID": 5, "@STAGE_ID": ["NEW", "WON"]}, "select": ["ID"], "flag": True}
    pairs = parse_qsl(encode(params))
    assert parse_nested(pairs) == {"filter": {">ID": "5", "@STAGE_ID": ["NEW", "WON"]},
                                   "select": ["ID"], "flag": "Y"}


def test_batch_references_are_left_readable():
    assert "$result[c0][49][ID]" in encode({"filter": {">ID": "$result[c0][49][ID]"}})
    assert flatten({"empty": []}) == [("empty", "")]

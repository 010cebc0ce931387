"""Properties of the request-body parsers (Hypothesis): whatever the input, a dict or a
ValueError with a reason — never another exception — and well-formed forms round-trip."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connector import bounded_json
from connector.bitrix.forms import (
    MAX_DEPTH,
    MAX_FIELDS,
    FormError,
    flatten,
    parse_form,
    parse_nested,
)
from connector.ingress import FORM, JSON, parse_body
from install.lifecycle import lifetime_s
from tests.bad_requests import DIGITS, form_keys, nested_json, texts

names = st.text(alphabet=st.characters(blacklist_characters="[]", blacklist_categories=["Cs"]),
                min_size=1, max_size=6).map(lambda s: "k" + s)  # never a list index
leaves = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=10)


def nested(depth: int) -> st.SearchStrategy[Any]:
    """Non-empty dicts and lists of texts, at most `depth` levels under the root key."""
    if depth == 0:
        return leaves
    inner = nested(depth - 1)
    return leaves | st.dictionaries(names, inner, min_size=1, max_size=3) | st.lists(
        inner, min_size=1, max_size=3)


@settings(max_examples=300)
@given(st.dictionaries(names, nested(MAX_DEPTH - 1), max_size=4))
def test_a_well_formed_form_round_trips_through_its_encoding(doc: dict[str, Any]):
    body = urlencode(flatten(doc)).encode()
    assert parse_body(FORM, body) == doc


@settings(max_examples=500)
@given(st.lists(st.tuples(form_keys(), texts), max_size=12))
def test_any_pairs_give_a_dict_or_a_form_error(pairs: list[tuple[str, str]]):
    try:
        out = parse_nested(pairs)
    except ValueError as exc:
        assert "too deep" in str(exc)
        return
    assert isinstance(out, dict)


def plain_nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The parser as first written, slow and obvious: the reference for the fast one."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = re.match(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$", key)
        if not match:
            root[key] = value
            continue
        parts = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        if len(parts) > MAX_DEPTH:
            raise FormError("too deep")
        node = root
        for i, part in enumerate(parts):
            if part == "":
                part = str(max((int(k) for k in node if is_index(k)), default=-1) + 1)
            if i == len(parts) - 1:
                node[part] = value
            else:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]

    def listify(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        out = {k: listify(v) for k, v in node.items()}
        if out and all(is_index(k) for k in out) and all(str(i) in out
                                                         for i in range(len(out))):
            return [out[str(i)] for i in range(len(out))]
        return out

    return {k: listify(v) for k, v in root.items()}


def is_index(key: str) -> bool:
    return re.fullmatch(r"0|[1-9][0-9]{0,8}", key) is not None


def reference(text: str) -> Any:
    """What parse_form must equal: the standard library's split, then the plain parser."""
    try:
        return plain_nested(parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                                      max_num_fields=MAX_FIELDS))
    except ValueError as exc:
        return type(exc)


pieces = st.sampled_from(["&", "=", "+", "%", "%5B", "%5D", "[", "]", "[]", "%2", "%zz", "%C3",
                          "%A9", "a", "0", "1", "01", "auth", "٠", "é", " "])
form_texts = st.lists(pieces, max_size=24).map("".join) | st.lists(
    pieces | texts | form_keys(), max_size=24).map("".join) | st.lists(
    st.tuples(form_keys(), texts).map(lambda p: f"{quote(p[0])}={quote(p[1])}"),
    max_size=12).map("&".join)


@settings(max_examples=500)
@given(st.lists(st.tuples(form_keys(), texts), max_size=12))
def test_the_pairs_parser_equals_the_plain_one(pairs: list[tuple[str, str]]):
    try:
        expected: Any = plain_nested(pairs)
    except FormError:
        expected = FormError
    if expected is FormError:
        with pytest.raises(FormError):
            parse_nested(pairs)
    else:
        assert parse_nested(pairs) == expected


@settings(max_examples=1500)
@given(form_texts)
@example("a+b=c+d%2B&auth%5Bx%5D=1&&=&a[]=1&a[]=2&[x]=y&=z&b")
@example("c[0]=1&c=s&d[x][0]=1&d[x]=t&e[1][0]=a&e[0]=b&f[0][0]=x&f[0][1]=y&f[1][k]=z")
def test_the_fast_form_parser_equals_parse_qsl_then_parse_nested(text: str):
    expected = reference(text)
    if isinstance(expected, type):
        with pytest.raises(expected):
            parse_form(text)
    else:
        assert parse_form(text) == expected
        assert parse_form(text) == expected  # the second time from its cache of keys


def test_the_fast_form_parser_counts_fields_as_parse_qsl_does():
    assert parse_form("&".join(["a=1"] * MAX_FIELDS)) == {"a": "1"}
    with pytest.raises(ValueError):
        parse_form("&" * MAX_FIELDS)


@settings(max_examples=300)
@given(st.sampled_from([FORM, JSON]), st.binary(max_size=300) | texts.map(str.encode))
def test_any_body_gives_a_dict_or_a_value_error(mime: str, raw: bytes):
    try:
        out = parse_body(mime, raw)
    except ValueError:
        return
    assert isinstance(out, dict)


@given(st.text(alphabet=DIGITS.replace("0123456789", ""), min_size=1, max_size=4))
def test_unicode_digits_in_brackets_are_keys_not_indexes(key: str):
    assert parse_nested([(f"a[{key}]", "1"), ("a[0]", "2")]) == {"a": {key: "1", "0": "2"}}


def test_indexes_are_canonical_and_the_root_stays_a_dict():
    assert parse_nested([("a[0]", "x"), ("a[01]", "y")]) == {"a": {"0": "x", "01": "y"}}
    assert parse_nested([("a[]", "x"), ("a[]", "y")]) == {"a": ["x", "y"]}
    assert parse_nested([("0", "a"), ("1", "b")]) == {"0": "a", "1": "b"}
    assert parse_nested([("a[" + "9" * 5000 + "]", "1")]) == {"a": {"9" * 5000: "1"}}


@given(st.integers(0, bounded_json.MAX_DEPTH))
def test_json_within_the_depth_limit_loads(depth: int):
    assert bounded_json.loads(nested_json(depth)) == json.loads(nested_json(depth))


@settings(max_examples=50)
@given(st.integers(bounded_json.MAX_DEPTH + 1, 100_000))
def test_json_deeper_than_the_limit_is_a_value_error(depth: int):
    with pytest.raises(bounded_json.TooDeep):
        bounded_json.loads(nested_json(depth))


@given(st.integers(0, 9_999_999))
def test_a_lifetime_in_ascii_digits_is_its_seconds(seconds: int):
    assert lifetime_s(str(seconds), "f") == lifetime_s(seconds, "f") == float(seconds)


@given(texts | st.lists(texts) | st.floats() | st.booleans() | st.dictionaries(texts, texts))
def test_any_other_lifetime_is_a_value_error_naming_the_field(value: Any):
    if value in ("", None) or (isinstance(value, str) and value.isascii() and value.isdigit()
                               and len(value) <= 7):
        return
    with pytest.raises(ValueError, match="AUTH_EXPIRES"):
        lifetime_s(value, "AUTH_EXPIRES")

"""is_not_found / is_access_denied recognise every documented answer; error_for types them."""

from __future__ import annotations

import pytest

from connector.bitrix.errors import (
    BitrixAccessDenied,
    BitrixError,
    BitrixNotFound,
    BitrixPermanentError,
    BitrixRetryableError,
    error_for,
    is_access_denied,
    is_not_found,
)
from connector.errors import Permanent
from tests.fixtures.docs import load


def _err(sample: dict[str, str], status: int = 400) -> BitrixError:
    return error_for(sample["error"], sample["error_description"], status, "m")


@pytest.mark.parametrize("sample", [
    load("api-reference__crm__leads__crm-lead-get.md__not-found"),
    load("api-reference__crm__companies__crm-company-get.md__not-found"),
    load("api-reference__crm__universal__crm-item-get.md__not-found"),
    {"error": "", "error_description": "Activity is not found"},
    {"error": "ERROR_NOT_FOUND", "error_description": "Could not find entity with id '7'"},
    {"error": "DISK_OBJ_22002", "error_description": "Could not find entity"},
])
def test_documented_not_found_answers(sample):
    err = _err(sample)
    assert is_not_found(err) and not is_access_denied(err)
    assert isinstance(err, BitrixNotFound) and isinstance(err, Permanent)


@pytest.mark.parametrize("sample", [
    {"error": "", "error_description": "Access denied"},
    load("api-reference__crm__timeline__activities__activity-base__crm-activity-get.md"
         "__access-denied"),
    {"error": "ACCESS_DENIED", "error_description": "Access denied"},
    {"error": "ACCESS_ERROR", "error_description": "Action unavailable"},
])
def test_documented_access_denied_answers(sample):
    err = _err(sample)
    assert is_access_denied(err) and not is_not_found(err)
    assert isinstance(err, BitrixAccessDenied)


@pytest.mark.parametrize("sample", [
    {"error": "", "error_description": "ID is not defined or invalid."},
    load("api-reference__disk__file__disk-file-get.md__error-argument"),
    load("api-reference__chats__chat-users__im-chat-user-list.md__chat-id-empty"),
    {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
])
def test_other_refusals_are_neither(sample):
    err = _err(sample)
    assert not is_not_found(err) and not is_access_denied(err)
    assert type(err) is BitrixPermanentError


def test_an_overload_stays_retryable_whatever_it_says():
    err = error_for("", "Not found", 503, "m")
    assert isinstance(err, BitrixRetryableError)

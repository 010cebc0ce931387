"""The pure parts of connector.amocrm: webhook bodies, widget and bot tokens, the disable
hook, domains, problem+json."""

import time
from pathlib import Path

import jwt
import pytest

from connector.amocrm.domains import DomainRefused, Hosts, account_domain, member_id
from connector.amocrm.errors import (
    AmoBlocked,
    AmoNotFound,
    AmoPaymentRequired,
    AmoRateLimited,
    AmoRetryableError,
    AmoUnauthorized,
    AmoValidationError,
    error_for,
)
from connector.amocrm.oauth import disable_signature, verify_disable_hook
from connector.amocrm.webhooks import HookRecord, WebhookRefused, parse_form, parse_webhook
from connector.amocrm.widget_token import TokenRefused, verify_bot_token, verify_widget_token
from connector.crm.port import AMOCRM, BITRIX24, crm_of
from connector.errors import AuthLost, Permanent, Retryable

FIX = Path(__file__).parent / "fixtures"
CLIENT_ID = "9f5b3c1e-0000-4000-8000-00000000a1b2"
SECRET = "s" * 64
DOMAIN = "test.amocrm.ru"


def body(name: str) -> str:
    return (FIX / name).read_text()


# webhooks ---------------------------------------------------------------------------------
def test_form_body_is_nested_by_brackets():
    tree = parse_form("a[b][0][c]=1&a[b][0][d]=&a[b][1][c]=2&x=y&l[]=p&l[]=q")
    assert tree == {"a": {"b": {"0": {"c": "1", "d": ""}, "1": {"c": "2"}}}, "x": "y",
                    "l": {"0": "p", "1": "q"}}


def test_status_hook_gives_every_item_with_its_routing_ids_only():
    d = parse_webhook(body("leads_status.txt"), expect_account_id=7039099)
    assert d.account_id == 7039099 and d.subdomain == "test"
    assert [r.key() for r in d.records] == [("lead", "status", 25399013),
                                            ("lead", "status", 25399014)]
    first = d.records[0]
    assert first.extra == {"status_id": "142", "old_status_id": "7039101",
                           "pipeline_id": "3104455", "old_pipeline_id": "3104455",
                           "responsible_user_id": "123123"}
    assert "name" not in first.extra and "custom_fields" not in first.extra


def test_companies_arrive_under_contacts_and_are_told_apart():
    d = parse_webhook(body("contacts_add.txt"), 7039099)
    assert [r.key() for r in d.records] == [("company", "add", 31434011),
                                            ("contact", "add", 31434012),
                                            ("lead", "add", 25399015)]


def test_deletes_in_both_shapes_and_tasks():
    d = parse_webhook(body("deletes.txt"), "7039099")
    assert HookRecord("lead", "delete", 25399013, {"status_id": "142",
                                                   "pipeline_id": "3104455"}) in d.records
    assert ("contact", "delete", 31434012) in [r.key() for r in d.records]
    task = next(r for r in d.records if r.entity == "task")
    assert task.extra == {"element_id": "25399015", "element_type": "2"}


def test_account_must_be_the_tenants():
    with pytest.raises(WebhookRefused):
        parse_webhook(body("leads_status.txt"), expect_account_id=1)
    with pytest.raises(WebhookRefused):
        parse_webhook("leads[add][0][id]=1")


def test_the_emulators_bodies_parse(tmp_path):
    """A body shaped like the emulator's (and amoCRM's): duplicates in one body count once."""
    d = parse_webhook("leads[update][0][id]=5&leads[update][1][id]=5&account[id]=3"
                      "&leads[update][0][type]=lead&junk[add][0][id]=1&leads[weird][0][id]=2",
                      3)
    assert [r.key() for r in d.records] == [("lead", "update", 5)]


# widget token --------------------------------------------------------------------------------
def widget_claims(**over):
    now = int(time.time())
    claims = {"iss": f"https://{DOMAIN}", "aud": "https://app.example.com", "jti": "j1",
              "iat": now, "nbf": now, "exp": now + 1800, "account_id": 7039099,
              "user_id": 42, "client_uuid": CLIENT_ID, "subdomain": "test", "is_admin": True}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def verify(token, **kw):
    return verify_widget_token(token, client_id=CLIENT_ID, client_secret=SECRET,
                               domain_of={7039099: DOMAIN}.get,
                               redirect_uri="https://app.example.com/amocrm/oauth", **kw)


def test_a_good_widget_token_gives_account_and_user():
    c = verify(jwt.encode(widget_claims(), SECRET, algorithm="HS256"))
    assert (c.account_id, c.user_id, c.domain, c.is_admin) == (7039099, 42, DOMAIN, True)


@pytest.mark.parametrize("token", [
    jwt.encode(widget_claims(), "o" * 64, algorithm="HS256"),
    jwt.encode(widget_claims(exp=int(time.time()) - 120), SECRET, algorithm="HS256"),
    jwt.encode(widget_claims(nbf=int(time.time()) + 600), SECRET, algorithm="HS256"),
    jwt.encode(widget_claims(client_uuid="someone-else"), SECRET, algorithm="HS256"),
    jwt.encode(widget_claims(account_id=1), SECRET, algorithm="HS256"),
    jwt.encode(widget_claims(iss="https://other.amocrm.ru"), SECRET, algorithm="HS256"),
    jwt.encode(widget_claims(iss="https://test.amocrm.ru.evil.com"), SECRET, algorithm="HS256"),
    jwt.encode(widget_claims(aud="https://evil.example.com"), SECRET, algorithm="HS256"),
    jwt.encode(widget_claims(exp=None), SECRET, algorithm="HS256"),
    jwt.encode(widget_claims(), SECRET, algorithm="HS512"),  # not the documented HS256
    "e30.e30.",
    "",
    "not-a-jwt",
], ids=["o" * 64, "expired", "not-yet", "other-client", "unknown-account",
        "other-domain", "lookalike-domain", "other-aud", "no-exp", "hs512", "alg-none", "empty",
        "garbage"])
def test_forged_expired_or_foreign_widget_tokens_are_refused(token):
    with pytest.raises(TokenRefused):
        verify(token)


def test_unsigned_token_is_refused():
    token = jwt.encode(widget_claims(), None, algorithm="none")
    with pytest.raises(TokenRefused):
        verify(token)


def test_a_small_clock_skew_is_tolerated():
    now = int(time.time())
    verify(jwt.encode(widget_claims(nbf=now + 10, iat=now + 10), SECRET, algorithm="HS256"))
    verify(jwt.encode(widget_claims(exp=now - 10), SECRET, algorithm="HS256"))


def test_salesbot_token_hs512():
    now = int(time.time())
    claims = {"iss": f"https://{DOMAIN}", "aud": "https://app.example.com", "iat": now,
              "nbf": now, "exp": now + 600, "account_id": 7039099, "subdomain": "test",
              "entity_type": 2, "entity_id": 77}
    c = verify_bot_token(jwt.encode(claims, SECRET, algorithm="HS512"), client_secret=SECRET,
                         domain_of={7039099: DOMAIN}.get)
    assert (c.account_id, c.entity_type, c.entity_id) == (7039099, "lead", 77)
    with pytest.raises(TokenRefused):
        verify_bot_token(jwt.encode(claims, "x" * 64, algorithm="HS512"), client_secret=SECRET,
                         domain_of={7039099: DOMAIN}.get)
    with pytest.raises(TokenRefused):
        verify_bot_token(jwt.encode({**claims, "subdomain": "other"}, SECRET,
                                    algorithm="HS512"), client_secret=SECRET,
                         domain_of={7039099: DOMAIN}.get)


# the disable hook ------------------------------------------------------------------------
def test_disable_hook_signature():
    sig = disable_signature(CLIENT_ID, "7039099", SECRET)
    args = {"account_id": "7039099", "client_uuid": CLIENT_ID, "signature": sig}
    assert verify_disable_hook(args, CLIENT_ID, SECRET) == 7039099
    assert verify_disable_hook({**args, "signature": sig.upper()}, CLIENT_ID, SECRET)
    flipped = sig[:-1] + ("1" if sig[-1] == "0" else "0")
    for bad in ({**args, "signature": flipped}, {**args, "account_id": "1"},
                {**args, "client_uuid": "other"}, {**args, "signature": ""},
                {"account_id": "7039099"}):
        with pytest.raises(ValueError):
            verify_disable_hook(bad, CLIENT_ID, SECRET)
    with pytest.raises(ValueError):
        verify_disable_hook(args, CLIENT_ID, "o" * 64)


# domains and tenancy ---------------------------------------------------------------------
@pytest.mark.parametrize("given,host", [
    ("autoservis.amocrm.ru", "autoservis.amocrm.ru"),
    ("https://Autoservis.amocrm.ru/leads", "autoservis.amocrm.ru"),
    ("shop.kommo.com", "shop.kommo.com"), ("old.amocrm.com", "old.amocrm.com"),
])
def test_account_domains_accepted(given, host):
    assert account_domain(given) == host


@pytest.mark.parametrize("given", [
    "evil.com", "amocrm.ru", "www.amocrm.ru", "a.b.amocrm.ru", "test.amocrm.ru.evil.com",
    "evilamocrm.ru", "user@test.amocrm.ru", "test.amocrm.ru:8443", "", "test.amocrm.org",
    "drive-b.amocrm.ru", "api-a.amocrm.ru", "-x.amocrm.ru",
])
def test_other_hosts_are_refused(given):
    with pytest.raises(DomainRefused):
        account_domain(given)


def test_hosts_reach_only_amocrm_addresses():
    prod = Hosts()
    assert prod.base("test.amocrm.ru") == "https://test.amocrm.ru"
    assert prod.reach("https://drive-b.amocrm.ru/v1.0/x?y=1") == (
        "https://drive-b.amocrm.ru/v1.0/x?y=1")
    emu = Hosts("http://127.0.0.1:9/{domain}")
    assert emu.base("test.kommo.com") == "http://127.0.0.1:9/test.kommo.com"
    assert emu.reach("http://127.0.0.1:9/drive-b.amocrm.ru/v1.0/s") == (
        "http://127.0.0.1:9/drive-b.amocrm.ru/v1.0/s")
    assert emu.reach("https://test.amocrm.ru/api/v4/leads?page=2") == (
        "http://127.0.0.1:9/test.amocrm.ru/api/v4/leads?page=2")
    for bad in ("https://evil.com/x", "http://test.amocrm.ru/x", "http://127.0.0.1:9/evil.com/x",
                "https://test.amocrm.ru.evil.com/"):
        with pytest.raises(DomainRefused):
            emu.reach(bad)


def test_member_ids_tell_the_crm():
    assert member_id(7039099) == "amo-7039099"
    assert crm_of("amo-7039099") == AMOCRM
    assert crm_of("0123456789abcdef0123456789abcdef") == BITRIX24
    with pytest.raises(ValueError):
        member_id("7; drop")


# problem+json ----------------------------------------------------------------------------
def test_errors_by_status_with_html_bodies():
    html = b"<html><head><title>429 Too Many Requests</title></head><body>nginx</body></html>"
    assert isinstance(error_for(429, html, "text/html"), AmoRateLimited)
    assert isinstance(error_for(429, html, "text/html"), Retryable)
    e403 = error_for(403, b"<html><title>403 Forbidden</title></html>", "text/html")
    assert isinstance(e403, AmoBlocked) and isinstance(e403, Permanent)
    assert e403.problem.title == "403 Forbidden"
    assert isinstance(error_for(401, b'{"title":"Unauthorized","status":401}'), AmoUnauthorized)
    assert not isinstance(error_for(401, b""), AuthLost)
    assert isinstance(error_for(402, b""), AmoPaymentRequired)
    assert isinstance(error_for(404, b"garbage{"), AmoNotFound)
    assert isinstance(error_for(502, b""), AmoRetryableError)


def test_validation_errors_are_kept_per_request_id():
    problem = (b'{"title":"Bad Request","type":"https://httpstatus.es/400","status":400,'
               b'"detail":"Request validation failed","validation-errors":[{"request_id":"3",'
               b'"errors":[{"code":"NotSupportedChoice","path":"custom_fields_values.0.field_id",'
               b'"detail":"The value you selected is not a valid choice."}]}]}')
    err = error_for(400, problem, "application/problem+json")
    assert isinstance(err, AmoValidationError) and isinstance(err, Permanent)
    assert err.by_request_id["3"][0].code == "NotSupportedChoice"
    assert err.by_request_id["3"][0].path == "custom_fields_values.0.field_id"


def test_oauth_hint_is_read():
    err = error_for(401, b'{"hint":"Token has been revoked","title":"x","status":401,'
                    b'"type":"https://developers.amocrm.ru/v3/errors/OAuthProblemJson"}')
    assert err.problem.hint == "Token has been revoked"
    assert "Token has been revoked" in str(err)

"""An account renamed in amoCRM (its subdomain changed): the client asks amoCRM where the
account lives now (amocrm.md §0, oauth/account-subdomain-info), stores it and goes on."""

from __future__ import annotations

from tests.amocrm.conftest import World


def rename(world: World, subdomain: str) -> None:
    with world.emu.state.lock:
        world.acc.subdomain = subdomain


def test_a_renamed_account_is_found_again_with_the_refresh_token(world: World) -> None:
    member = world.connect()
    client = world.amo.client(member)
    assert client.get("/api/v4/account")["subdomain"] == "autoservis"
    rename(world, "vmyatin")
    assert client.get("/api/v4/account")["subdomain"] == "vmyatin"
    assert world.store.get(member).domain == "vmyatin.amocrm.ru"
    assert world.amo.client(member).get("/api/v4/account")["id"] == world.acc.id


def test_a_long_lived_token_finds_it_through_the_older_method(world: World) -> None:
    from connector.amocrm.oauth import connect_long_lived

    token = world.emu.long_lived_token(world.acc.id)
    portal = connect_long_lived(world.store, world.acc.domain, token, world.amo.account_of)
    rename(world, "dent-repair")
    assert world.amo.client(portal.member_id).get("/api/v4/account")["subdomain"] == \
        "dent-repair"
    assert world.store.get(portal.member_id).domain == "dent-repair.amocrm.ru"


def test_an_address_that_is_nobody_any_more_stays_an_error(world: World) -> None:
    import pytest

    from connector.amocrm.errors import AmoError

    member = world.connect()
    portal = world.store.get(member)
    portal.domain = "gone.amocrm.ru"  # stored wrong, and amoCRM names the real one
    world.store.save(portal)
    assert world.amo.client(member).get("/api/v4/account")["subdomain"] == "autoservis"
    with world.emu.state.lock:
        world.emu.state.accounts.pop(world.acc.id)
    with pytest.raises(AmoError):
        world.amo.client(member).get("/api/v4/account")

"""connector.history: an item's history in words, once per identity, in the reader's language."""

from __future__ import annotations

from redis import Redis

from connector import history
from connector.i18n import N_, NP_

KEY = history.history_key("cc", "b24:member", "deal", 7)


def test_an_event_is_the_same_whichever_way_it_came():
    online = history.event_identity("deal.updated", "1764612000")  # unix seconds
    offline = history.event_identity("deal.updated", "2025-12-01T21:00:00+03:00")  # ISO
    assert online == offline == "deal.updated@1764612000"
    assert history.event_identity("deal.updated", "1764612001") != online
    assert history.event_identity("deal.created", "whenever") == "deal.created"
    assert history.event_identity("deal.updated", "") == ""


def test_an_identity_is_remembered_once_and_the_list_is_capped(redis: Redis):
    assert history.remember(redis, KEY, N_("Deal created"), identity="deal.created", now=1)
    assert not history.remember(redis, KEY, N_("Deal created"), identity="deal.created", now=2)
    for i in range(history.HISTORY_LEN + 5):
        history.remember(redis, KEY, N_("Deal changed"), now=10 + i)
    rows = history.entries(redis, KEY, 1000)
    assert len(rows) == history.HISTORY_LEN and rows[0]["ts"] == 10 + history.HISTORY_LEN + 4
    assert redis.ttl(KEY) > 0 and redis.ttl(f"{KEY}:ids") > 0


def test_entries_are_rendered_in_the_readers_language_with_plurals(redis: Redis):
    history.remember(redis, KEY, NP_("File copied to Drive: {n}", "Files copied to Drive: {n}"),
                     {"n": 3})
    history.remember(redis, KEY, N_("Copy to Drive failed: {reason}"),
                     {"reason": N_("Google Drive is not connected")})
    failed, copied = history.entries(redis, KEY)
    assert history.render(copied, "en") == "Files copied to Drive: 3"
    assert history.render(copied, "ru") == "Скопировано на Google Диск 3 файла"
    assert history.render({**copied, "n": 1}, "ru") == "Скопирован на Google Диск 1 файл"
    assert history.render(failed, "en") == "Copy to Drive failed: Google Drive is not connected"
    assert history.render(failed, "ru") == ("Не удалось скопировать на Google Диск: "
                                            "Google Диск не подключён")

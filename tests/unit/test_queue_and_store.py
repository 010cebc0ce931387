import time

import pytest
from cryptography.fernet import Fernet

from connector import queue as q
from connector.bitrix.store import Portal, PortalStore, Tokens
from connector.capability import Capability, Registry, Task
from connector.cli import build_parser


def test_job_ids_are_deterministic_and_distinct():
    assert q.job_id("evt", "m", "ONCRMDEALADD", 1, 100) == q.job_id("evt", "m", "ONCRMDEALADD",
                                                                     1, 100)
    assert q.job_id("evt", "m", "ONCRMDEALADD", 1, 100) != q.job_id("evt", "m", "ONCRMDEALADD",
                                                                     2, 100)


def test_enqueue_is_idempotent_per_id(redis):
    queues = q.Queues(redis, "t", (0,))
    key = q.job_id("evt", "m", 1)  # purge_portal finds a portal's jobs by their id
    first = queues.enqueue("connector.jobs.run_inbound", ["event", "X", "m", {}], key,
                           member_id="m")
    second = queues.enqueue("connector.jobs.run_inbound", ["event", "X", "m", {}], key,
                            member_id="m")
    assert first.created and not second.created
    assert queues[q.INBOUND].count == 1
    assert queues.purge_portal("m") == 1
    assert queues[q.INBOUND].count == 0


def test_tokens_are_encrypted_and_versioned(redis):
    store = PortalStore(redis, Fernet.generate_key().decode(), "sign")
    store.save(Portal(member_id="m1", domain="a.bitrix24.test"))
    store.save_tokens("m1", Tokens("acc-SECRET", "ref-SECRET", time.time() + 60))
    raw = b"".join(v for v in redis.hgetall(store.key("m1")).values())
    assert b"SECRET" not in raw
    first = store.get_tokens("m1")
    second = store.save_tokens("m1", Tokens("acc2", "ref2", time.time() + 60))
    assert second.version == first.version + 1
    assert "SECRET" not in repr(first)


def test_application_token_is_compared_by_digest(redis):
    store = PortalStore(redis, Fernet.generate_key().decode(), "sign")
    store.save(Portal(member_id="m1"))
    store.set_application_token("m1", "app-token")
    assert store.application_token_matches("m1", "app-token")
    assert not store.application_token_matches("m1", "app-token2")
    assert not store.application_token_matches("m2", "app-token")
    assert b"app-token" not in b"".join(redis.hgetall(store.key("m1")).values())


def test_events_merge_duplicates_only_while_waiting(redis):
    queues = q.Queues(redis, "t", (0,))
    first = queues.enqueue("connector.jobs.run_inbound", ["event", "X", "m", {}], "evt-1",
                           member_id="m", until_started=True)
    again = queues.enqueue("connector.jobs.run_inbound", ["event", "X", "m", {}], "evt-1",
                           member_id="m", until_started=True)
    assert first.created and not again.created
    job = queues[q.INBOUND].jobs[0]
    queues.started(job)  # the worker began: it reads the CRM after this point
    later = queues.enqueue("connector.jobs.run_inbound", ["event", "X", "m", {}], "evt-1",
                           member_id="m", until_started=True)
    assert later.created and later.job_id != first.job_id


def test_documents_have_a_queue_of_their_own_after_maintenance_and_before_files(redis):
    assert q.QUEUE_NAMES == (q.INBOUND, q.MAINTENANCE, q.DOCUMENTS, q.FILES)
    queues = q.Queues(redis, "t", (0,))
    queued = queues.enqueue("connector.jobs.run_maintenance", ["documents.pdf", "m", {}],
                            q.job_id("pdf", "m", 1), queue=q.DOCUMENTS, member_id="m")
    assert queued.created
    assert queues[q.DOCUMENTS].name == "t-documents"
    assert queues[q.DOCUMENTS].job_ids == [queued.job_id]
    assert queues.depth() == {"t-inbound": 0, "t-maintenance": 0, "t-documents": 1,
                              "t-files": 0}
    assert queues.waiting_of("m")[0].queue == "t-documents"


def test_an_unknown_queue_is_named_with_the_queues_there_are(redis):
    queues = q.Queues(redis, "t", (0,))
    with pytest.raises(KeyError, match="unknown queue 'pdf': the queues are inbound, "
                                       "maintenance, documents, files"):
        queues.enqueue("connector.jobs.run_maintenance", [], "k", queue="pdf")
    assert not redis.exists(queues.dedup_key("k"))  # refused before its key was taken


def test_a_task_on_a_queue_that_does_not_exist_is_refused_when_declared():
    def run(ctx, arg):
        return arg

    Registry([Capability("ok", "Ok", tasks=(Task("pdf", run, queue=q.DOCUMENTS),))])
    with pytest.raises(ValueError, match="bad.pdf: unknown queue 'pdfs'"):
        Registry([Capability("bad", "Bad", tasks=(Task("pdf", run, queue="pdfs"),))])


def test_a_worker_on_a_queue_that_does_not_exist_refuses_to_start(capsys):
    args = build_parser().parse_args(["worker", "--queues", "inbound,pdf"])
    assert args.func(args) == 2
    assert "unknown queue(s): pdf; the queues are inbound,maintenance,documents,files" in \
        capsys.readouterr().err

"""One processing task takes the mails waiting after its own in one transaction: each mail in its
own savepoint, so one that fails fails alone with its reason; the receipts of the whole batch are
enqueued after its commit as one batch of task rows, each delivered once. (A real worker killed
in the middle of a batch: tests/mail/test_worker_kill.py, where every processing task is one.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.core import clock
from patron.core.consumers import consumers_for
from patron.core.models import EventDelivery
from patron.core.receipts import DeliveryState
from patron.core.tasks import run_delivery
from patron.mail import services, tasks
from patron.mail.models import InboundMail, Mailbox
from patron.mail.tasks import process_inbound, process_pending_mail
from patron.people.models import PeopleEvent, PeopleEventDelivery
from patron.tickets.models import Message, Ticket, TicketEvent
from tests.core.conftest import (  # noqa: F401 (start_worker is a fixture)
    DB_BACKEND,
    WorkerProcess,
    start_worker,
    wait_until,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.get_current_timezone())


def raw(n: int, *, sender: str = "", reply_to: int | None = None) -> bytes:
    sender = sender or f"Customer {n} <c{n}@batch.example>"
    threading = f"In-Reply-To: <b{reply_to}@batch.example>\n" if reply_to is not None else ""
    return (
        f"From: {sender}\nTo: support@desk.example\nSubject: Order {n}\n"
        f"Message-ID: <b{n}@batch.example>\n{threading}"
        f"Content-Type: text/plain; charset=utf-8\n\nMail {n}: where is my order?\n"
    ).encode()


def store(mailbox: Mailbox, raws: list[bytes]) -> list[int]:
    """Stored as the listener stores them, one commit each; their tasks are not run here."""
    return [
        services.receive_raw(
            data, mailbox=mailbox, source="smtp", received_at=NOW + timedelta(seconds=n)
        ).pk
        for n, data in enumerate(raws)
    ]


@pytest.fixture
def mailbox(db: None) -> Mailbox:
    return Mailbox.objects.create(address="support@desk.example")


def states(ids: list[int]) -> list[str]:
    by_id = dict(InboundMail.objects.filter(pk__in=ids).values_list("pk", "state"))
    return [by_id[pk] for pk in ids]


def test_one_task_processes_its_mail_and_those_waiting_after_it(mailbox: Mailbox) -> None:
    ids = store(mailbox, [raw(0), raw(1), raw(2, reply_to=1), raw(3)])

    assert process_inbound.call(ids[1]) == InboundMail.State.PROCESSED

    assert states(ids) == ["received", "processed", "processed", "processed"]
    assert Ticket.objects.count() == 2  # mail 2 threads onto mail 1's ticket, in the batch
    assert process_inbound.call(ids[2]) == "not pending"  # its own task finds it done
    assert process_inbound.call(ids[0]) == InboundMail.State.PROCESSED
    assert Message.objects.count() == 4


def test_alone_it_processes_only_its_own_mail(mailbox: Mailbox) -> None:
    ids = store(mailbox, [raw(0), raw(1)])

    assert process_inbound.call(ids[0], alone=True) == InboundMail.State.PROCESSED

    assert states(ids) == ["processed", "received"]


def test_a_batch_stops_at_its_size(mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "MAIL_BATCH", 2)
    ids = store(mailbox, [raw(0), raw(1), raw(2)])

    process_inbound.call(ids[0])

    assert states(ids) == ["processed", "processed", "received"]


def test_a_mail_that_fails_in_a_batch_fails_alone_with_its_reason(mailbox: Mailbox) -> None:
    # An address the parser reads but no contact may have: creating the contact refuses it.
    ids = store(mailbox, [raw(0), raw(1, sender="Bad <bad..dots@batch.example>"), raw(2)])

    assert process_inbound.call(ids[0]) == InboundMail.State.PROCESSED

    assert states(ids) == ["processed", "failed", "processed"]
    failed = InboundMail.objects.get(pk=ids[1])
    assert "bad..dots@batch.example" in failed.reason
    assert failed.attempts == 1
    assert failed.message_id is None and failed.ticket_id is None
    assert bytes(failed.raw) == raw(1, sender="Bad <bad..dots@batch.example>")
    assert Message.objects.count() == 2
    assert set(Message.objects.values_list("body_text", flat=True)) == {
        "Mail 0: where is my order?",
        "Mail 2: where is my order?",
    }


def test_the_redrive_sends_each_waiting_mail_alone(
    mailbox: Mailbox, settings: SettingsWrapper
) -> None:
    settings.TASKS = {"default": {"BACKEND": DB_BACKEND}}
    settings.PATRON_MAIL_PROCESS_GRACE_SECONDS = 0
    InboundMail.objects.bulk_create(
        InboundMail(mailbox=mailbox, raw=raw(n), sha256=str(n), size=1, source="smtp",
                    received_at=clock.now() - timedelta(minutes=5))
        for n in range(2)
    )  # fmt: skip

    assert process_pending_mail.call() == 2

    queued = DBTaskResult.objects.filter(task_path="patron.mail.tasks.process_inbound")
    assert [row["kwargs"] for row in queued.values_list("args_kwargs", flat=True)] == [
        {"alone": True},
        {"alone": True},
    ]


@pytest.mark.django_db(transaction=True)
def test_a_batch_enqueues_its_receipts_together_and_each_is_delivered_once(
    settings: SettingsWrapper,
) -> None:
    settings.TASKS = {"default": {"BACKEND": DB_BACKEND}}
    mailbox = Mailbox.objects.create(address="support@desk.example")
    ids = store(mailbox, [raw(n) for n in range(5)])
    DBTaskResult.objects.all().delete()  # the processing tasks: this test runs the first itself

    with CaptureQueriesContext(connection) as queries:
        assert process_inbound.call(ids[0]) == InboundMail.State.PROCESSED

    inserts = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "django_tasks')]
    assert len(inserts) == 2  # one INSERT of task rows per outbox (ticket and people events)
    receipts = EventDelivery.objects.count() + PeopleEventDelivery.objects.count()
    # Each event's receipts are for the consumers that want it (the webhooks consumer wants
    # nothing on a desk with no webhooks), exactly as the outbox asks.
    expected = sum(len(consumers_for(e.kind, event=e)) for e in TicketEvent.objects.all())
    expected += sum(
        len(consumers_for(e.kind, model=PeopleEvent, event=e)) for e in PeopleEvent.objects.all()
    )
    assert receipts == expected >= 5 * 2  # every event's, for five mails
    rows = DBTaskResult.objects.filter(task_path="patron.core.tasks.run_delivery")
    calls = [row["args"] for row in rows.values_list("args_kwargs", flat=True)]
    assert len(calls) == receipts and len({tuple(c) for c in calls}) == receipts

    assert {run_delivery.call(*args) for args in calls} == {DeliveryState.DONE}
    assert {run_delivery.call(*args) for args in calls} == {"skipped"}  # delivered once
    assert not EventDelivery.objects.exclude(state=DeliveryState.DONE).exists()
    assert not PeopleEventDelivery.objects.exclude(state=DeliveryState.DONE).exists()

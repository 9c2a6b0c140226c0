"""Two different mails with the same Message-ID in one mailbox (an IMAP refetch and an MTA retry
of the same message, with other bytes) become one message, however many workers process them at
once: the Message-ID is claimed under a unique key (`ClaimedMessageId`) in the processing's own
transaction, which a query for "already processed" cannot see before it commits.

The concurrent test runs real worker processes (`patron.core.runner.run_worker`) on the test's
own database, as tests/mail/test_worker_kill.py does; on SQLite and, with DATABASE_URL, on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from django.db.models import Count, Q
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.mail import services
from patron.mail.models import ClaimedMessageId, InboundMail, Mailbox
from patron.tickets.models import Message, Ticket
from tests.core.conftest import (  # noqa: F401 (start_worker is a fixture)
    DB_BACKEND,
    WorkerProcess,
    start_worker,
    wait_until,
)

PAIRS = 24
TIMEOUT_SECONDS = 240


def copy(n: int, via: str) -> bytes:
    """Mail `n` as it came `via` one road: the same Message-ID, other bytes (a Received line)."""
    return (
        f"Received: from {via}.relay.example by mx.desk.example\n"
        f"From: Customer {n} <c{n}@lock.example>\nTo: support@desk.example\n"
        f"Subject: Invoice {n} charged twice\nMessage-ID: <invoice-{n}@lock.example>\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"Mail {n}: my card was charged twice for invoice {n}.\n"
    ).encode()


@pytest.fixture
def mailbox(transactional_db: None) -> Mailbox:
    return Mailbox.objects.create(address="support@desk.example")


def store(raw: bytes, mailbox: Mailbox, at: datetime) -> InboundMail:
    """Store and (with the suite's immediate task backend) process one mail."""
    stored = services.receive_raw(raw, mailbox=mailbox, source="imap", received_at=at)
    stored.refresh_from_db()
    return stored


@pytest.mark.services
@pytest.mark.real_clock
def test_two_workers_turn_two_copies_of_each_mail_into_one_message(
    settings: SettingsWrapper,
    mailbox: Mailbox,
    start_worker: Callable[..., WorkerProcess],  # noqa: F811 (the fixture imported above)
) -> None:
    settings.TASKS = {"default": {"BACKEND": DB_BACKEND}}
    arrived = timezone.now()
    for n in range(PAIRS):  # the two copies side by side in the queue: taken at the same time
        services.receive_raw(copy(n, "imap"), mailbox=mailbox, source="imap", received_at=arrived)
        services.receive_raw(copy(n, "lmtp"), mailbox=mailbox, source="lmtp", received_at=arrived)
    assert InboundMail.objects.count() == 2 * PAIRS

    workers = [start_worker("db", concurrency=2), start_worker("db", concurrency=2)]
    wait_until(
        lambda: not InboundMail.objects.filter(state=InboundMail.State.RECEIVED).exists(),
        timeout=TIMEOUT_SECONDS,
        what="both workers to process every mail",
        worker=workers[0],
    )

    states = dict(InboundMail.objects.values_list("state").annotate(n=Count("id")))
    assert states == {InboundMail.State.PROCESSED: PAIRS, InboundMail.State.DUPLICATE: PAIRS}, [
        (m.pk, m.state, m.reason) for m in InboundMail.objects.exclude(state="processed")
    ]
    per_id = InboundMail.objects.values("message_id_header").annotate(
        processed=Count("id", filter=Q(state=InboundMail.State.PROCESSED)),
        messages=Count("message"),
    )
    assert {(row["processed"], row["messages"]) for row in per_id} == {(1, 1)}
    assert Message.objects.count() == PAIRS
    assert Ticket.objects.count() == PAIRS
    assert ClaimedMessageId.objects.count() == PAIRS
    assert not ClaimedMessageId.objects.exclude(mail__state=InboundMail.State.PROCESSED).exists()
    duplicate = InboundMail.objects.filter(state=InboundMail.State.DUPLICATE).first()
    assert duplicate is not None and duplicate.ticket_id is not None
    assert duplicate.reason.startswith("Same Message-ID as mail ")


def test_the_claim_catches_a_copy_the_already_processed_query_cannot_see(
    mailbox: Mailbox,
) -> None:
    """What a second worker sees on PostgreSQL while the first has not committed: the first copy
    not yet processed. The claim it holds makes the second copy a duplicate all the same."""
    first = store(copy(1, "imap"), mailbox, timezone.now())
    assert first.state == InboundMail.State.PROCESSED, first.reason
    InboundMail.objects.filter(pk=first.pk).update(state=InboundMail.State.RECEIVED)

    second = store(copy(1, "lmtp"), mailbox, timezone.now())

    assert second.state == InboundMail.State.DUPLICATE, second.reason
    assert second.reason == f"Same Message-ID as mail {first.pk}, already processed."
    assert second.ticket_id == first.ticket_id
    assert Message.objects.count() == 1
    assert list(ClaimedMessageId.objects.values_list("mail_id", flat=True)) == [first.pk]


def test_a_copy_that_did_not_become_a_message_claims_nothing(mailbox: Mailbox) -> None:
    """A held or refused copy leaves the Message-ID free: a later copy is taken in."""
    mailbox.allow_unknown_senders = False
    mailbox.save()
    refused = store(copy(2, "imap"), mailbox, timezone.now())
    assert refused.state == InboundMail.State.FAILED
    assert not ClaimedMessageId.objects.exists()

    mailbox.allow_unknown_senders = True
    mailbox.save()
    taken = store(copy(2, "lmtp"), mailbox, timezone.now())

    assert taken.state == InboundMail.State.PROCESSED, taken.reason
    assert Message.objects.count() == 1
    assert list(ClaimedMessageId.objects.values_list("mail_id", flat=True)) == [taken.pk]

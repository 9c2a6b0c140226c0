"""Inbound mail through the one road: stored first, processed into tickets, threaded."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from patron.mail import services
from patron.mail.models import InboundMail, Mailbox
from patron.mail.tasks import process_inbound
from patron.tickets.models import Ticket


def mail(
    *,
    sender: str = "Noor Haddad <noor@customer.example>",
    subject: str = "Parcel stuck in customs",
    body: str = "Hello,\n\nmy parcel has been in customs for a week.\n",
    message_id: str = "<first@customer.example>",
    extra: str = "",
) -> bytes:
    return (
        f"From: {sender}\nTo: Support <support@desk.example>\nSubject: {subject}\n"
        f"Message-ID: {message_id}\nDate: Mon, 23 Nov 2026 09:00:00 +0000\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}"
    ).encode()


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox.objects.create(address="support@desk.example", display_name="Support")


def receive(raw: bytes, mailbox: Mailbox, at: datetime) -> InboundMail:
    stored = services.receive_raw(raw, mailbox=mailbox, source="pipe", received_at=at)
    process_inbound.call(stored.pk)
    stored.refresh_from_db()
    return stored


@pytest.mark.django_db(transaction=True)
def test_a_first_mail_opens_a_ticket_and_a_reply_threads_by_headers(
    mailbox: Mailbox, now: datetime
) -> None:
    first = receive(mail(), mailbox, now)
    assert first.state == InboundMail.State.PROCESSED, first.reason
    assert first.ticket is not None
    ticket = first.ticket
    assert ticket.channel == "email" and ticket.subject == "Parcel stuck in customs"
    assert ticket.requester.name == "Noor Haddad"

    reply = mail(
        subject="something else entirely",
        body="Any news?\n\nOn Mon, Nov 23, 2026 at 9:00 AM Noor wrote:\n> my parcel\n",
        message_id="<second@customer.example>",
        extra="In-Reply-To: <first@customer.example>\nReferences: <first@customer.example>\n",
    )
    second = receive(reply, mailbox, now + timedelta(hours=1))
    assert second.state == InboundMail.State.PROCESSED, second.reason
    assert second.ticket == ticket
    assert second.message is not None and second.message.body_text == "Any news?"
    assert "Noor wrote:" in second.quoted_text
    assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_bytes_twice_are_one_row_and_one_message(mailbox: Mailbox, now: datetime) -> None:
    first = receive(mail(), mailbox, now)
    again = services.receive_raw(mail(), mailbox=mailbox, source="imap", received_at=now)
    assert again.pk == first.pk
    assert InboundMail.objects.count() == 1
    assert first.ticket is not None and first.ticket.messages.count() == 1


@pytest.mark.django_db(transaction=True)
def test_garbage_is_stored_and_failed_with_a_reason(mailbox: Mailbox, now: datetime) -> None:
    stored = receive(b"\x00\xff not a mail at all", mailbox, now)
    assert stored.state == InboundMail.State.FAILED
    assert stored.reason
    assert bytes(stored.raw) == b"\x00\xff not a mail at all"


@pytest.mark.django_db(transaction=True)
def test_a_mail_with_no_usable_from_is_answered_at_its_reply_to(
    mailbox: Mailbox, now: datetime
) -> None:
    raw = (
        b"From: undisclosed\nReply-To: Ana Lima <ana@customer.example>\n"
        b"To: support@desk.example\nSubject: Order 77\nMessage-ID: <r2@customer.example>\n\n"
        b"Where is order 77?\n"
    )
    stored = receive(raw, mailbox, now)
    assert stored.state == InboundMail.State.PROCESSED, stored.reason
    assert stored.sender == "ana@customer.example"
    assert stored.ticket is not None
    assert stored.ticket.requester.primary_email == "ana@customer.example"


@pytest.mark.django_db(transaction=True)
def test_receive_raw_refuses_to_run_inside_a_transaction(mailbox: Mailbox, now: datetime) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        services.receive_raw(mail(), mailbox=mailbox, source="pipe", received_at=now)
    assert InboundMail.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_processing_writes_the_row_but_never_rewrites_the_raw_bytes(
    mailbox: Mailbox, now: datetime
) -> None:
    with CaptureQueriesContext(connection) as queries:  # the immediate backend processes it
        stored = services.receive_raw(mail(), mailbox=mailbox, source="pipe", received_at=now)
    stored.refresh_from_db()
    assert stored.state == InboundMail.State.PROCESSED
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "mail_inboundmail"')]
    assert len(updates) == 1
    assert '"raw"' not in updates[0]

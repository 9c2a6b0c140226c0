"""Inbound mail through the one road: stored first, processed into tickets, threaded; mailboxes
saved with the settings the channel needs."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from patron.core.errors import InvalidInput, NotAllowed
from patron.mail import mailboxes, services
from patron.mail.models import InboundMail, Mailbox
from patron.mail.tasks import process_inbound
from patron.people.models import Role
from patron.tickets.models import Ticket
from tests import factories


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


# Mailboxes


def admin() -> User:
    return factories.agent(Role.ADMIN, password=None)


IMAP = {
    "address": " Help@Desk.Example ",
    "inbound": Mailbox.Inbound.IMAP,
    "imap_host": "imap.desk.example",
    "imap_username": "help",
    "imap_password": "pw",
}


@pytest.mark.django_db
def test_save_mailbox_stores_the_address_lower_case_and_one_default_at_most(
    mailbox: Mailbox,
) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(is_default=True)

    saved = mailboxes.save_mailbox(None, IMAP | {"is_default": True}, actor=admin())

    assert saved.address == "help@desk.example"
    assert list(Mailbox.objects.filter(is_default=True)) == [saved]


@pytest.mark.django_db
def test_save_mailbox_forgets_the_uids_only_when_the_imap_folder_moves() -> None:
    saved = mailboxes.save_mailbox(None, IMAP, actor=admin())
    Mailbox.objects.filter(pk=saved.pk).update(
        imap_uidvalidity=7, imap_last_uid=300, imap_error="old"
    )
    saved.refresh_from_db()

    mailboxes.save_mailbox(saved, {"display_name": "Help"}, actor=admin())
    saved.refresh_from_db()
    assert (saved.imap_uidvalidity, saved.imap_last_uid, saved.imap_error) == (7, 300, "")

    mailboxes.save_mailbox(saved, {"imap_folder": "Support"}, actor=admin())
    saved.refresh_from_db()
    assert (saved.imap_uidvalidity, saved.imap_last_uid) == (None, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"address": "not an address"}, "is not an email address"),
        ({"address": "SUPPORT@desk.example"}, "There is already a mailbox support@desk.example"),
        ({"imap_password": ""}, "IMAP polling needs the password"),
        ({"smtp_username": "help"}, "A user name without a server"),
        ({"inbound": "carrier-pigeon"}, "Mail arrives by IMAP"),
        ({"imap_last_uid": 5}, "A mailbox has no setting imap_last_uid"),
    ],
)
def test_save_mailbox_refuses_settings_the_channel_cannot_use(
    mailbox: Mailbox, change: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        mailboxes.save_mailbox(None, IMAP | change, actor=admin())

    assert list(Mailbox.objects.all()) == [mailbox]


@pytest.mark.django_db
def test_save_mailbox_lets_only_admins_change_mailboxes(mailbox: Mailbox) -> None:
    with pytest.raises(NotAllowed):
        mailboxes.save_mailbox(
            mailbox,
            {"display_name": "Mine"},
            actor=factories.agent(password=None),
        )

    mailbox.refresh_from_db()
    assert mailbox.display_name == "Support"

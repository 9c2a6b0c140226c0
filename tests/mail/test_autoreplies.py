"""Automatic replies (out of office, auto-responders) open no ticket, reopen nothing, start no SLA
cycle and send nothing: on the ticket they thread to they are a collapsed "automatic reply"
entry, recorded as AUTOMATIC_REPLY_RECEIVED; to no ticket they stay in the mail log."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from patron.core.models import EventDelivery
from patron.mail.models import InboundMail, Mailbox, OutboundMail
from patron.notifications.models import Notification
from patron.people.models import Contact, Role
from patron.tickets import followers
from patron.tickets import services as tickets
from patron.tickets.models import AuthorKind, EventKind, Message, Status, Ticket, TicketEvent
from tests import factories
from tests.mail.test_services import receive

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "Ines Duarte <ines@shop.example>"
OUT_OF_OFFICE = "Auto-Submitted: auto-replied\nX-Auto-Response-Suppress: All\n"


def mail(
    *,
    subject: str = "Broken hinge on the cabinet",
    message_id: str = "<first@shop.example>",
    extra: str = "",
    body: str = "Hello,\n\nthe hinge on my cabinet broke on day two.\n",
    sender: str = CUSTOMER,
) -> bytes:
    return (
        f"From: {sender}\nTo: Support <support@desk.example>\nSubject: {subject}\n"
        f"Message-ID: {message_id}\nDate: Mon, 23 Nov 2026 09:00:00 +0000\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}"
    ).encode()


def out_of_office(
    *, in_reply_to: str | None = "<first@shop.example>", extra: str = OUT_OF_OFFICE
) -> bytes:
    threading = f"In-Reply-To: {in_reply_to}\nReferences: {in_reply_to}\n" if in_reply_to else ""
    return mail(
        subject="Automatic reply: Re: Broken hinge on the cabinet",
        message_id="<ooo-1@shop.example>",
        extra=threading + extra,
        body="I am out of the office until 2 December, with limited access to mail.\n",
    )


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox.objects.create(
        address="support@desk.example", display_name="Support", send_acknowledgement=True
    )


def customer_ticket(mailbox: Mailbox, now: datetime) -> Ticket:
    first = receive(mail(), mailbox, now)
    assert first.state == InboundMail.State.PROCESSED, first.reason
    assert first.ticket is not None
    return first.ticket


@pytest.mark.parametrize(
    "extra, subject_only",
    [
        (OUT_OF_OFFICE, False),
        ("X-Autoreply: yes\n", False),
        ("", True),  # recognised by its subject alone ("Automatic reply: …")
    ],
)
def test_an_automatic_reply_to_no_ticket_opens_none_and_stays_in_the_mail_log(
    extra: str, subject_only: bool, mailbox: Mailbox, now: datetime
) -> None:
    stored = receive(out_of_office(in_reply_to=None, extra=extra), mailbox, now)

    assert stored.state == InboundMail.State.IGNORED
    assert stored.reason.startswith("Automatic reply to no ticket")
    assert stored.reason.endswith("kept in the mail log.")
    assert stored.ticket is None and stored.message is None
    assert not Ticket.objects.exists()
    assert not Contact.objects.exists(), "an automatic reply makes no contact either"
    assert not OutboundMail.objects.exists(), "no acknowledgement"
    assert bytes(stored.raw) == out_of_office(in_reply_to=None, extra=extra)


def test_an_automatic_reply_to_a_solved_ticket_is_kept_collapsed_and_reopens_nothing(
    mailbox: Mailbox, now: datetime
) -> None:
    ticket = customer_ticket(mailbox, now)
    agent = factories.agent(Role.AGENT)
    followers.follow(ticket, agent, actor=agent, now=now)
    tickets.change_status(ticket, Status.SOLVED, actor=agent, now=now)
    ticket.refresh_from_db()
    updated_at, events = ticket.updated_at, ticket.events.count()
    OutboundMail.objects.all().delete()  # the first mail's acknowledgement
    Notification.objects.all().delete()

    stored = receive(out_of_office(), mailbox, now + timedelta(hours=2))

    assert stored.state == InboundMail.State.PROCESSED, stored.reason
    assert stored.ticket_id == ticket.pk
    assert "Automatic reply (Auto-Submitted: auto-replied)" in stored.reason
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED, "an automatic reply reopens nothing"
    assert ticket.updated_at == updated_at
    assert Ticket.objects.count() == 1
    message = stored.message
    assert message is not None
    assert message.automatic and not message.public
    assert message.author_kind == AuthorKind.CONTACT
    assert message.author_contact is not None
    assert message.author_contact.pk == ticket.requester_id
    assert "out of the office until 2 December" in message.body_text
    # One event, of its own kind, and no consumer reads it as the customer writing.
    new = list(ticket.events.order_by("id")[events:])
    assert [e.kind for e in new] == [EventKind.AUTOMATIC_REPLY_RECEIVED]
    assert new[0].data["message_id"] == message.pk
    assert not EventDelivery.objects.filter(event=new[0]).exists()
    assert not TicketEvent.objects.filter(
        ticket=ticket, kind=EventKind.MESSAGE_ADDED, data__message_id=message.pk
    ).exists()
    assert not OutboundMail.objects.exists(), "nothing is sent in answer"
    assert not Notification.objects.exists(), "followers are not told the customer replied"


def test_a_real_reply_after_an_automatic_one_still_reopens_the_ticket(
    mailbox: Mailbox, now: datetime
) -> None:
    """The control: the same thread without the markers is the customer writing."""
    ticket = customer_ticket(mailbox, now)
    agent = factories.agent(Role.AGENT)
    tickets.change_status(ticket, Status.SOLVED, actor=agent, now=now)
    receive(out_of_office(), mailbox, now + timedelta(hours=1))
    human = mail(
        subject="Re: Broken hinge on the cabinet",
        message_id="<second@shop.example>",
        extra="In-Reply-To: <ooo-1@shop.example>\nReferences: <first@shop.example>\n",
        body="Back now: the new hinge broke too.\n",
    )
    stored = receive(human, mailbox, now + timedelta(hours=2))

    assert stored.state == InboundMail.State.PROCESSED, stored.reason
    assert stored.ticket_id == ticket.pk
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert TicketEvent.objects.filter(
        ticket=ticket, kind=EventKind.MESSAGE_ADDED, data__message_id=stored.message_id
    ).exists()


def test_an_automatic_reply_to_a_closed_ticket_opens_no_follow_up(
    mailbox: Mailbox, now: datetime
) -> None:
    ticket = customer_ticket(mailbox, now)
    agent = factories.agent(Role.AGENT)
    tickets.change_status(ticket, Status.SOLVED, actor=agent, now=now)
    tickets.change_status(ticket, Status.CLOSED, actor=agent, now=now)

    stored = receive(out_of_office(), mailbox, now + timedelta(days=1))

    assert stored.state == InboundMail.State.IGNORED
    assert stored.reason.startswith(f"Automatic reply to closed ticket #{ticket.number}")
    assert stored.ticket_id == ticket.pk and stored.message is None
    assert Ticket.objects.count() == 1
    assert not Message.objects.filter(automatic=True).exists()


def test_an_automatic_reply_from_a_stranger_to_a_known_only_mailbox_stays_in_the_log(
    mailbox: Mailbox, now: datetime
) -> None:
    ticket = customer_ticket(mailbox, now)
    mailbox.allow_unknown_senders = False
    mailbox.save()
    raw = out_of_office().replace(b"ines@shop.example", b"deputy@elsewhere.example")

    stored = receive(raw, mailbox, now + timedelta(hours=1))

    assert stored.state == InboundMail.State.IGNORED
    assert "not a known contact" in stored.reason
    assert stored.ticket_id == ticket.pk
    assert not Message.objects.filter(automatic=True).exists()


def test_a_delivery_report_keeps_its_own_handling(mailbox: Mailbox, now: datetime) -> None:
    report = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.shop.example>\n"
        b"To: support@desk.example\nSubject: Undelivered Mail Returned to Sender\n"
        b"Message-ID: <dsn-1@mx.shop.example>\nAuto-Submitted: auto-replied\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
        b'boundary="b"\n\n--b\nContent-Type: text/plain\n\nCould not deliver.\n'
        b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.shop.example\n\n"
        b"Final-Recipient: rfc822; gone@shop.example\nAction: failed\nStatus: 5.1.1\n"
        b"--b\nContent-Type: text/rfc822-headers\n\nMessage-ID: <unknown@desk.example>\n--b--\n"
    )
    stored = receive(report, mailbox, now)

    assert stored.state == InboundMail.State.FAILED
    assert stored.reason.startswith("A delivery report")
    assert not Ticket.objects.exists()


def test_the_ticket_page_shows_the_automatic_reply_collapsed_not_as_a_customer_message(
    mailbox: Mailbox, now: datetime, client: Client
) -> None:
    ticket = customer_ticket(mailbox, now)
    stored = receive(out_of_office(), mailbox, now + timedelta(hours=1))
    agent: User = factories.agent(Role.AGENT, password=None)
    client.force_login(agent)

    response = client.get(reverse("ticket_detail", args=[ticket.number]))

    assert response.status_code == 200
    page = response.content.decode()
    entry = page[page.index(f'id="message-{stored.message_id}"') - 40 :]
    entry = entry[: entry.index("</details>")]
    assert '<details class="message automatic"' in entry
    assert "Automatic reply" in entry and "Customer message" not in entry
    assert "out of the office until 2 December" in entry
    assert page.count("Customer message") == 1  # the first mail only
    assert "sent an automatic reply" in page  # the timeline's sentence

"""Outbound mail against real SMTP servers: the aiosmtpd sink subprocess (stopped and started
again for an outage) and, for refusals, an aiosmtpd server in a thread that answers 4xx/5xx.

Replies go through the one road (`tickets.services.reply`), the event spine runs the
`send_reply_mail` consumer after commit, and the send task runs in-process (immediate backend).
"""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import User
from django.db import connections, transaction
from django.test import Client
from django.urls import reverse

from patron.core import clock
from patron.core.errors import NotAllowed
from patron.mail import outbound, outbound_tasks, services, threads
from patron.mail.models import InboundMail, Mailbox, MailThread, OutboundMail
from patron.mail.tasks import process_inbound
from patron.people.models import Role
from patron.tickets import attachments
from patron.tickets import services as tickets
from patron.tickets.models import EventKind, Message, Ticket, TicketEvent
from tests import factories
from tests.mail.servers import SmtpSink, free_port

FIRST_ID = "first@customer.example"


def inbound_mail(
    *,
    subject: str = "Parcel stuck in customs",
    message_id: str = FIRST_ID,
    sender: str = "Noor Haddad <noor@customer.example>",
    extra: str = "",
) -> bytes:
    return (
        f"From: {sender}\nTo: Support <support@desk.example>\n"
        "Cc: Omar Haddad <omar@customer.example>\n"
        f"Subject: {subject}\nMessage-ID: <{message_id}>\n"
        f"Date: Mon, 23 Nov 2026 09:00:00 +0000\n{extra}"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "Hello,\n\nmy parcel has been in customs for a week.\n"
    ).encode()


def receive(raw: bytes, mailbox: Mailbox, at: datetime) -> InboundMail:
    stored = services.receive_raw(raw, mailbox=mailbox, source="pipe", received_at=at)
    process_inbound.call(stored.pk)
    stored.refresh_from_db()
    assert stored.state in (InboundMail.State.PROCESSED, InboundMail.State.IGNORED), stored.reason
    return stored


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def ids(header: str | None) -> list[str]:
    return [part.strip("<>") for part in (header or "").split()]


@pytest.fixture
def later_clock(now: datetime) -> Iterator[None]:
    """Tests that date replies minutes or hours after NOW: the sending task reads the clock, so
    it must read a time after them, as it would in life."""
    with clock.travel_to(now + timedelta(hours=4)):
        yield


@pytest.fixture
def site_smtp(settings: Any, smtp_sink: SmtpSink) -> SmtpSink:
    """The site's default mailer pointed at the sink (pytest-django swaps in locmem)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    return smtp_sink


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox.objects.create(
        address="support@desk.example",
        display_name="Acme Support",
        signature="Acme Support team\nhttps://desk.example",
    )


@pytest.fixture
def agent() -> User:
    return factories.agent(Role.AGENT, username="sam")


def own_smtp(mailbox: Mailbox, port: int) -> None:
    """Send through the mailbox's own SMTP settings instead of the site's mailer."""
    mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security = "127.0.0.1", port, "none"
    mailbox.save()


class Answering:
    """An aiosmtpd handler that refuses recipients with `answer` while it is set."""

    def __init__(self) -> None:
        self.answer: str | None = None
        self.refuse: dict[str, str] = {}  # one address's answer
        self.received: list[bytes] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.answer is not None:
            return self.answer
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.original_content)
        return "250 2.0.0 OK"


@pytest.fixture
def answering() -> Iterator[tuple[Answering, int]]:
    handler = Answering()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


# Headers, body, attachments


@pytest.mark.django_db(transaction=True)
def test_a_reply_goes_out_threaded_with_our_headers_attachment_and_html(
    site_smtp: SmtpSink,
    mailbox: Mailbox,
    agent: User,
    now: datetime,
    media: None,
    later_clock: None,
) -> None:
    first = receive(inbound_mail(), mailbox, now)
    ticket = first.ticket
    assert ticket is not None
    assert [c.primary_email for c in MailThread.objects.get(ticket=ticket).cc.all()] == [
        "omar@customer.example"
    ]

    reply = tickets.reply(
        ticket,
        author=agent,
        body="Your parcel cleared customs today.",
        body_html="<p>Your parcel <b>cleared</b> customs today.</p>",
        uploads=[attachments.Upload("label.pdf", "application/pdf", b"%PDF-1.4 label")],
        now=now + timedelta(minutes=5),
    )

    [sent] = site_smtp.wait_for(1)
    row = OutboundMail.objects.get(message=reply)
    assert row.state == OutboundMail.State.SENT and row.sent_at is not None
    assert row.attempts == 1 and row.last_error == ""
    assert row.message_id_header.startswith("patron.")
    assert row.message_id_header.endswith("@desk.example")
    assert sent.mail_from == "support@desk.example"
    assert sorted(sent.rcpt_tos) == ["noor@customer.example", "omar@customer.example"]

    mail = parse(sent.raw)
    assert mail["Message-ID"] == f"<{row.message_id_header}>"
    assert ids(mail["In-Reply-To"]) == [FIRST_ID]
    assert ids(mail["References"]) == [FIRST_ID]
    assert mail["Subject"] == f"Re: Parcel stuck in customs [#{ticket.number}]"
    assert str(mail["From"]) == "Acme Support <support@desk.example>"
    assert str(mail["To"]) == "noor@customer.example"
    assert str(mail["Cc"]) == "omar@customer.example"
    assert mail["Auto-Submitted"] is None
    reply_to = mail["Reply-To"].addresses[0].addr_spec
    assert threads.ticket_from_reply_address(mailbox, [reply_to]) == ticket.number

    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    plain = text.get_content().replace("\r\n", "\n")
    assert plain.startswith("Your parcel cleared customs today.")
    assert "\n-- \nAcme Support team\nhttps://desk.example" in plain
    assert "<b>cleared</b>" in html.get_content() and "Acme Support team" in html.get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "label.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 label"

    # The next reply refers to the whole conversation, in order.
    second = tickets.reply(ticket, author=agent, body="Delivered?", now=now + timedelta(hours=1))
    later = parse(site_smtp.wait_for(2)[1].raw)
    assert ids(later["In-Reply-To"]) == [FIRST_ID]
    assert ids(later["References"]) == [FIRST_ID, row.message_id_header]
    assert later["Subject"] == mail["Subject"]  # not "Re: Re: … [#n] [#n]"
    assert OutboundMail.objects.get(message=second).state == OutboundMail.State.SENT


@pytest.mark.django_db(transaction=True)
def test_only_public_replies_by_agents_are_mailed(
    site_smtp: SmtpSink, mailbox: Mailbox, agent: User, now: datetime
) -> None:
    first = receive(inbound_mail(), mailbox, now)
    assert first.ticket is not None
    tickets.add_note(first.ticket, author=agent, body="Internal: call the courier.", now=now)
    receive(
        inbound_mail(message_id="again@customer.example", extra=f"In-Reply-To: <{FIRST_ID}>\n"),
        mailbox,
        now + timedelta(minutes=1),
    )
    assert OutboundMail.objects.count() == 0
    assert site_smtp.messages() == []


@pytest.mark.django_db(transaction=True)
def test_the_consumer_is_idempotent_and_a_second_send_sends_nothing(
    site_smtp: SmtpSink, mailbox: Mailbox, agent: User, now: datetime
) -> None:
    ticket = factories.ticket(now=now)  # a web-form ticket: the default mailbox answers
    reply = tickets.reply(ticket, author=agent, body="On its way.", now=now)
    site_smtp.wait_for(1)
    event = TicketEvent.objects.get(kind="message_added", data__message_id=reply.pk)

    with transaction.atomic():
        outbound.send_reply_mail(event)
    with transaction.atomic():
        outbound.send_reply_mail(event)
    row = OutboundMail.objects.get()
    assert outbound.send(row.pk, now=clock.now()) == "skipped"
    assert outbound_tasks.send_due_mail.call() == 0
    assert len(site_smtp.messages()) == 1
    assert row.mailbox == mailbox and row.subject == f"Re: {ticket.subject} [#{ticket.number}]"


@pytest.mark.django_db(transaction=True)
def test_a_desk_without_mailboxes_sends_nothing_and_says_so(
    site_smtp: SmtpSink, agent: User, now: datetime, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG, logger="patron.mail.outbound")
    ticket = factories.ticket(now=now)
    tickets.reply(ticket, author=agent, body="On its way.", now=now)
    assert OutboundMail.objects.count() == 0
    assert site_smtp.messages() == []
    assert "no active mailbox" in caplog.text  # at DEBUG: it would be a line per reply


def test_the_subject_gets_one_tag_and_one_re() -> None:
    assert outbound.reply_subject("Parcel", 1042) == "Re: Parcel [#1042]"
    assert outbound.reply_subject("RE: Parcel [#1042]", 1042) == "RE: Parcel [#1042]"
    assert outbound.reply_subject("Parcel [#7]", 1042) == "Re: Parcel [#7] [#1042]"


# An outage, refusals, giving up


@pytest.mark.django_db(transaction=True)
def test_an_smtp_outage_delays_mail_and_the_periodic_job_delivers_it_once(
    smtp_sink: SmtpSink, mailbox: Mailbox, agent: User, now: datetime, later_clock: None
) -> None:
    own_smtp(mailbox, smtp_sink.port)
    ticket = factories.ticket(now=now)
    smtp_sink.stop()
    replies = [
        tickets.reply(ticket, author=agent, body=f"Update {n}.", now=now + timedelta(minutes=n))
        for n in range(3)
    ]
    rows = list(OutboundMail.objects.order_by("pk"))
    assert [r.message_id for r in rows] == [r.pk for r in replies]
    for row in rows:
        assert row.state == OutboundMail.State.QUEUED
        assert row.attempts == 1
        assert row.last_error.startswith("Cannot reach the SMTP server")
        assert row.next_attempt_at > clock.now()

    # Still down a while later: one try finds the server unreachable, the rest wait.
    later = clock.now() + timedelta(minutes=5)
    assert outbound.send_due(now=later) == 0
    assert sorted(OutboundMail.objects.values_list("attempts", flat=True)) == [1, 1, 2]
    assert smtp_sink.messages() == []

    smtp_sink.start()
    OutboundMail.objects.update(next_attempt_at=clock.now() - timedelta(seconds=1))
    assert outbound_tasks.send_due_mail.call() == 3
    assert outbound_tasks.send_due_mail.call() == 0
    assert outbound.send_due(now=clock.now() + timedelta(days=1)) == 0

    got = smtp_sink.wait_for(3)
    assert len(got) == 3
    assert sorted(parse(m.raw)["Message-ID"] for m in got) == sorted(
        f"<{r.message_id_header}>" for r in rows
    )
    assert set(OutboundMail.objects.values_list("state", flat=True)) == {"sent"}
    assert set(OutboundMail.objects.values_list("last_error", flat=True)) == {""}


@pytest.mark.django_db(transaction=True)
def test_workers_racing_on_the_periodic_job_send_each_mail_once(
    smtp_sink: SmtpSink, mailbox: Mailbox, agent: User, now: datetime
) -> None:
    own_smtp(mailbox, smtp_sink.port)
    smtp_sink.stop()
    ticket = factories.ticket(now=now)
    for n in range(5):
        tickets.reply(ticket, author=agent, body=f"Update {n}.", now=now)
    smtp_sink.start()
    due = clock.now() + timedelta(minutes=5)
    start = threading.Barrier(4)
    sent: list[int] = []

    def worker() -> None:
        try:
            start.wait()
            sent.append(outbound.send_due(now=due))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)

    assert sum(sent) == 5 and len(sent) == 4
    got = smtp_sink.wait_for(5)
    assert len(got) == 5
    assert len({parse(m.raw)["Message-ID"] for m in got}) == 5
    assert set(OutboundMail.objects.values_list("attempts", flat=True)) == {2}


@pytest.mark.django_db(transaction=True)
def test_a_mail_is_given_up_only_after_three_days_of_retries(
    smtp_sink: SmtpSink, mailbox: Mailbox, agent: User, now: datetime
) -> None:
    own_smtp(mailbox, smtp_sink.port)
    smtp_sink.stop()
    ticket = factories.ticket(now=now)
    tickets.reply(ticket, author=agent, body="Hello?", now=now)
    row = OutboundMail.objects.get()
    clock = row.next_attempt_at
    while row.state == OutboundMail.State.QUEUED:
        clock = row.next_attempt_at
        outbound.send_due(now=clock)
        row.refresh_from_db()
        assert row.attempts < 200
    first_try = row.created_at
    assert clock - first_try >= outbound.MAX_RETRY_SPAN - outbound.BACKOFF_MAX
    assert row.state == OutboundMail.State.FAILED
    assert row.last_error.startswith(f"Gave up after {row.attempts} attempts")
    assert "Cannot reach the SMTP server" in row.last_error
    assert outbound.retry_span(row.attempts) >= outbound.MAX_RETRY_SPAN
    assert outbound.retry_span(row.attempts - 1) < outbound.MAX_RETRY_SPAN


def test_the_backoff_doubles_from_a_minute_up_to_an_hour() -> None:
    assert [outbound.backoff(n).total_seconds() / 60 for n in range(1, 9)] == [
        1, 2, 4, 8, 16, 32, 60, 60
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_4xx_answer_keeps_the_mail_queued_until_the_server_takes_it(
    answering: tuple[Answering, int], mailbox: Mailbox, agent: User, now: datetime
) -> None:
    handler, port = answering
    own_smtp(mailbox, port)
    handler.answer = "450 4.2.0 <noor@customer.example>: Recipient address rejected: Greylisted"
    ticket = factories.ticket(
        now=now, requester=factories.contact(now=now, email="noor@customer.example")
    )
    tickets.reply(ticket, author=agent, body="Hello again.", now=now)
    row = OutboundMail.objects.get()
    assert row.state == OutboundMail.State.QUEUED
    assert "450 4.2.0" in row.last_error and "Greylisted" in row.last_error

    handler.answer = None
    assert outbound.send_due(now=row.next_attempt_at) == 1
    row.refresh_from_db()
    assert row.state == OutboundMail.State.SENT and row.attempts == 2
    assert len(handler.received) == 1


@pytest.mark.django_db(transaction=True)
def test_one_refused_recipient_does_not_hold_up_other_mail_to_the_same_server(
    answering: tuple[Answering, int], mailbox: Mailbox, agent: User, now: datetime
) -> None:
    handler, port = answering
    own_smtp(mailbox, port)
    handler.answer = "451 4.3.0 Try again later"
    for address in ("gone@customer.example", "noor@customer.example"):
        requester = factories.contact(now=now, email=address)
        ticket = factories.ticket(now=now, requester=requester)
        tickets.reply(ticket, author=agent, body="Hello.", now=now)
    assert set(OutboundMail.objects.values_list("state", flat=True)) == {"queued"}

    handler.answer = None
    handler.refuse["gone@customer.example"] = "550 5.1.1 User unknown"
    assert outbound.send_due(now=clock.now() + timedelta(minutes=2)) == 1
    states = {row.to[0]: row.state for row in OutboundMail.objects.all()}
    assert states == {"gone@customer.example": "failed", "noor@customer.example": "sent"}


@pytest.mark.django_db(transaction=True)
def test_a_5xx_refusal_fails_with_the_answer_and_the_retry_button_sends_it(
    answering: tuple[Answering, int],
    mailbox: Mailbox,
    agent: User,
    now: datetime,
    client: Client,
) -> None:
    handler, port = answering
    own_smtp(mailbox, port)
    handler.answer = "550 5.1.1 <noor@customer.example>: Recipient address rejected: User unknown"
    requester = factories.contact(now=now, email="noor@customer.example")
    ticket = factories.ticket(now=now, requester=requester)
    reply = tickets.reply(ticket, author=agent, body="Hello again.", now=now)
    row = OutboundMail.objects.get()
    assert row.state == OutboundMail.State.FAILED
    assert row.last_error == (
        "noor@customer.example: 550 5.1.1 <noor@customer.example>: Recipient address "
        "rejected: User unknown"
    )
    assert outbound.send_due(now=clock.now() + timedelta(days=1)) == 0  # failed stays failed

    client.force_login(agent)
    page = client.get(reverse("ticket_detail", args=[ticket.number])).content.decode()
    assert "Not delivered to noor@customer.example" in page
    assert "550 5.1.1" in page
    retry_url = reverse("ticket_mail_retry", args=[ticket.number, row.pk])
    assert f'action="{retry_url}"' in page

    handler.answer = None  # the customer's mailbox is fixed
    response = client.post(retry_url)
    assert response.status_code == 302
    assert response["Location"].endswith(f"#message-{reply.pk}")
    row.refresh_from_db()
    assert row.state == OutboundMail.State.SENT and row.attempts == 1
    assert len(handler.received) == 1
    page = client.get(reverse("ticket_detail", args=[ticket.number])).content.decode()
    assert "Sent by email to noor@customer.example" in page
    assert f'action="{retry_url}"' not in page
    assert client.post(retry_url).status_code == 302  # nothing to retry: a message, no change
    assert OutboundMail.objects.get().state == OutboundMail.State.SENT


@pytest.mark.django_db(transaction=True)
def test_a_light_agent_sees_no_retry_button_and_cannot_retry(
    answering: tuple[Answering, int], mailbox: Mailbox, agent: User, now: datetime, client: Client
) -> None:
    handler, port = answering
    own_smtp(mailbox, port)
    handler.answer = "554 5.7.1 Relay access denied"
    ticket = factories.ticket(now=now)
    tickets.reply(ticket, author=agent, body="Hello.", now=now)
    row = OutboundMail.objects.get()
    assert row.state == OutboundMail.State.FAILED
    light = factories.agent(Role.LIGHT_AGENT)
    client.force_login(light)
    retry_url = reverse("ticket_mail_retry", args=[ticket.number, row.pk])
    page = client.get(reverse("ticket_detail", args=[ticket.number])).content.decode()
    assert "Relay access denied" in page and f'action="{retry_url}"' not in page
    assert client.post(retry_url).status_code == 403
    assert OutboundMail.objects.get().state == OutboundMail.State.FAILED


@pytest.mark.django_db
def test_two_workers_never_claim_the_same_mail(mailbox: Mailbox, now: datetime) -> None:
    ticket = factories.ticket(now=now)
    row = OutboundMail.objects.create(
        ticket=ticket,
        mailbox=mailbox,
        message_id_header="patron.x@desk.example",
        to=["a@example.org"],
        subject="Re: x",
        next_attempt_at=now,
        created_at=now,
    )
    assert outbound.claim(row.pk, now=now) is True
    assert outbound.claim(row.pk, now=now) is False
    assert outbound.claim(row.pk, now=now + outbound.LEASE - timedelta(seconds=1)) is False
    assert outbound.claim(row.pk, now=now + outbound.LEASE) is True  # the first worker died
    row.refresh_from_db()
    assert row.attempts == 2


# Bounces and acknowledgements


def delivery_report(original_id: str, *, action: str = "failed", status: str = "5.1.1") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\n"
        "To: support@desk.example\nSubject: Undelivered Mail Returned to Sender\n"
        f"Message-ID: <dsn-{action}@mx.customer.example>\nAuto-Submitted: auto-replied\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.customer.example\n\n"
        f"Final-Recipient: rfc822; noor@customer.example\nAction: {action}\n"
        f"Status: {status}\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n"
        "--b\nContent-Type: text/rfc822-headers\n\n"
        f"Message-ID: <{original_id}>\nSubject: Re: Parcel\n--b--\n"
    ).encode()


@pytest.mark.django_db(transaction=True)
def test_a_bounce_marks_the_reply_bounced_on_the_page_and_in_the_timeline(
    site_smtp: SmtpSink,
    mailbox: Mailbox,
    agent: User,
    now: datetime,
    client: Client,
    later_clock: None,
) -> None:
    first = receive(inbound_mail(), mailbox, now)
    ticket = first.ticket
    assert ticket is not None
    tickets.reply(ticket, author=agent, body="Cleared.", now=now + timedelta(minutes=5))
    row = OutboundMail.objects.get()
    assert row.state == OutboundMail.State.SENT

    delayed = receive(
        delivery_report(row.message_id_header, action="delayed", status="4.4.1"),
        mailbox,
        now + timedelta(hours=1),
    )
    row.refresh_from_db()
    assert delayed.state == InboundMail.State.IGNORED
    assert row.state == OutboundMail.State.SENT and row.last_error.startswith("Delayed")

    report = receive(delivery_report(row.message_id_header), mailbox, now + timedelta(hours=2))
    row.refresh_from_db()
    assert report.state == InboundMail.State.IGNORED and report.ticket == ticket
    assert row.state == OutboundMail.State.BOUNCED
    assert row.last_error == "5.1.1 550 5.1.1 User unknown"
    events = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.MAIL_BOUNCED)
    assert [e.data["delayed"] for e in events] == [True, False]

    with transaction.atomic():  # the same report again records nothing new
        from patron.mail import parsing

        bounce = parsing.parse(delivery_report(row.message_id_header)).bounce
        assert bounce is not None
        outbound.mark_bounced(row, bounce, now=now + timedelta(hours=3))
    assert events.count() == 2

    client.force_login(agent)
    page = client.get(reverse("ticket_detail", args=[ticket.number])).content.decode()
    assert "Bounced by noor@customer.example" in page
    assert "The reply to noor@customer.example bounced: 5.1.1 550 5.1.1 User unknown" in page
    assert "is delayed, the receiving server still tries" in page
    assert reverse("ticket_mail_retry", args=[ticket.number, row.pk]) in page


@pytest.mark.django_db(transaction=True)
def test_an_acknowledgement_is_automatic_and_carries_auto_submitted(
    site_smtp: SmtpSink, mailbox: Mailbox, now: datetime
) -> None:
    mailbox.send_acknowledgement = True
    mailbox.save()
    first = receive(inbound_mail(), mailbox, now)
    ticket = first.ticket
    assert ticket is not None
    row = OutboundMail.objects.get()
    assert row.automatic and row.message is None and row.state == OutboundMail.State.SENT
    [sent] = site_smtp.wait_for(1)
    assert sent.rcpt_tos == ("noor@customer.example",)
    mail = parse(sent.raw)
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["Subject"] == f"Re: Parcel stuck in customs [#{ticket.number}]"
    assert ids(mail["In-Reply-To"]) == [FIRST_ID]
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert f"We received your request [#{ticket.number}]" in body.get_content()

    # An auto-reply to the acknowledgement threads by headers and is not acknowledged again.
    auto = inbound_mail(
        subject="Automatic reply: Parcel stuck in customs",
        message_id="ooo@customer.example",
        extra=f"Auto-Submitted: auto-replied\nIn-Reply-To: <{row.message_id_header}>\n",
    )
    assert receive(auto, mailbox, now + timedelta(minutes=1)).ticket == ticket
    assert OutboundMail.objects.count() == 1


@pytest.mark.django_db
def test_acknowledgements_to_one_address_stop_at_the_per_sender_limit(
    mailbox: Mailbox, now: datetime
) -> None:
    mailbox.sender_limit_per_hour = 2
    mailbox.save()
    contact = factories.contact(now=now, email="loop@other-desk.example")
    made = []
    for n in range(4):
        ticket = factories.ticket(now=now, requester=contact, subject=f"Request {n}")
        with transaction.atomic():
            made.append(
                outbound.queue_acknowledgement(
                    ticket, mailbox=mailbox, to=contact, now=now + timedelta(minutes=n)
                )
            )
    assert [m is not None for m in made] == [True, True, False, False]
    # An hour later the address may be answered again.
    ticket = factories.ticket(now=now, requester=contact, subject="Next hour")
    with transaction.atomic():
        again = outbound.queue_acknowledgement(
            ticket, mailbox=mailbox, to=contact, now=now + timedelta(minutes=61)
        )
    assert again is not None
    with transaction.atomic():  # one acknowledgement per ticket
        assert outbound.queue_acknowledgement(ticket, mailbox=mailbox, to=contact, now=now) == again


# The ticket page: inbound mail details


HTML_MAIL = (
    "From: Noor Haddad <noor@customer.example>\nTo: support@desk.example\n"
    "Subject: With pictures\nMessage-ID: <pics@customer.example>\n"
    "Date: Mon, 23 Nov 2026 09:00:00 +0000\nMIME-Version: 1.0\n"
    'Content-Type: multipart/alternative; boundary="alt"\n\n'
    "--alt\nContent-Type: text/plain; charset=utf-8\n\n"
    "Here is the photo.\n\nOn Sun, Nov 22, 2026 at 8:00 AM Support wrote:\n"
    "> What does it look like?\n"
    "--alt\nContent-Type: text/html; charset=utf-8\n\n"
    '<p>Here is the photo.</p><img src="https://images.customer.example/parcel.png" alt="parcel">'
    '<script>alert(1)</script><img src="x" onerror="alert(2)">'
    "<blockquote>What does it look like?</blockquote>\n--alt--\n"
)


@pytest.fixture
def html_ticket(mailbox: Mailbox, now: datetime) -> tuple[Ticket, Message]:
    stored = receive(HTML_MAIL.encode(), mailbox, now)
    assert stored.ticket is not None and stored.message is not None
    assert stored.remote_images
    return stored.ticket, stored.message


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_quoted_text_headers_and_the_raw_download(
    html_ticket: tuple[Ticket, Message], agent: User, client: Client
) -> None:
    ticket, message = html_ticket
    client.force_login(agent)
    page = client.get(reverse("ticket_detail", args=[ticket.number])).content.decode()
    assert "<summary>Show quoted text</summary>" in page
    assert "Support wrote:" in page
    assert "<summary>Show original headers</summary>" in page
    assert "Message-ID: &lt;pics@customer.example&gt;" in page
    raw_url = reverse("ticket_message_raw", args=[ticket.number, message.pk])
    assert raw_url in page

    response = client.get(raw_url)
    assert response.status_code == 200
    assert response.content == HTML_MAIL.encode()
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.django_db(transaction=True)
def test_the_raw_download_is_refused_to_an_agent_who_cannot_see_the_ticket(
    html_ticket: tuple[Ticket, Message], client: Client
) -> None:
    ticket, message = html_ticket
    team = factories.team()
    ticket.team = factories.team()
    ticket.save()
    outsider = factories.agent(Role.AGENT, teams=(team,), restricted=True)
    client.force_login(outsider)
    raw_url = reverse("ticket_message_raw", args=[ticket.number, message.pk])
    assert client.get(raw_url).status_code == 403
    client.logout()
    assert client.get(raw_url).status_code == 302  # to the login page
    not_mail = ticket.messages.count() + 10_000
    client.force_login(factories.agent(Role.ADMIN))
    missing = reverse("ticket_message_raw", args=[ticket.number, not_mail])
    assert client.get(missing).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_remote_images_show_only_when_asked_and_stay_sanitized(
    html_ticket: tuple[Ticket, Message], agent: User, client: Client
) -> None:
    ticket, message = html_ticket
    client.force_login(agent)
    url = reverse("ticket_detail", args=[ticket.number])
    page = client.get(url).content.decode()
    assert "Show remote images" in page
    assert "images.customer.example" not in page

    shown = client.get(url, {"images": message.pk}).content.decode()
    assert 'src="https://images.customer.example/parcel.png"' in shown
    assert "Show remote images" not in shown
    body = shown.split(f'id="message-{message.pk}"', 1)[1].split("</div>", 1)[0]
    assert "parcel.png" in body
    assert "<script" not in body and "onerror" not in body and "alert(" not in body


# Mail about no one ticket (a digest): the same road, its own text


def queue_digest(now: datetime, to: str = "sam@desk.example") -> OutboundMail:
    with transaction.atomic():  # sent once this commits, as for a reply
        return outbound.queue_mail(
            to=[to],
            subject="Patron: 2 unread notifications",
            body="Hello Sam,\n\nYou have 2 unread notifications in Patron.\n",
            kind=OutboundMail.Kind.DIGEST,
            now=now,
        )


def test_mail_about_a_ticket_is_not_queued_without_one(now: datetime) -> None:
    for kind in (OutboundMail.Kind.REPLY, OutboundMail.Kind.ACKNOWLEDGEMENT):
        with pytest.raises(ValueError, match="about a ticket"):
            outbound.queue_mail(to=["a@b.example"], subject="s", body="b", kind=kind, now=now)
    with pytest.raises(TypeError):
        outbound.queue_mail(
            to="a@b.example", subject="s", body="b", kind=OutboundMail.Kind.DIGEST, now=now
        )


@pytest.mark.django_db(transaction=True)
def test_a_mail_about_no_ticket_goes_out_with_its_own_text_and_no_thread(
    site_smtp: SmtpSink, mailbox: Mailbox, agent: User, now: datetime
) -> None:
    ticket = factories.ticket(now=now)
    row = queue_digest(now)
    tickets.reply(ticket, author=agent, body="On its way.", now=now)

    row.refresh_from_db()
    assert row.ticket is None and row.mailbox == mailbox and row.state == OutboundMail.State.SENT
    digest, reply = sorted(
        (parse(m.raw) for m in site_smtp.wait_for(2)), key=lambda m: m["To"] != "sam@desk.example"
    )
    assert digest["From"] == "Acme Support <support@desk.example>"
    assert digest["Auto-Submitted"] == "auto-generated"
    assert digest["X-Auto-Response-Suppress"] == "All"
    assert digest["Reply-To"] is None and digest["References"] is None
    assert "Acme Support team" not in digest.get_content()  # the signature is for customers
    assert ids(reply["References"]) == []  # a ticket's thread never names the digest
    assert "Acme Support team" in reply.get_content()


@pytest.mark.django_db
def test_a_bounced_mail_about_no_ticket_is_marked_without_a_timeline(
    mailbox: Mailbox, now: datetime, caplog: Any
) -> None:
    row = queue_digest(now, to="gone@desk.example")
    OutboundMail.objects.filter(pk=row.pk).update(state=OutboundMail.State.SENT)

    report = receive(delivery_report(row.message_id_header), mailbox, now + timedelta(hours=1))

    row.refresh_from_db()
    assert row.state == OutboundMail.State.BOUNCED and "User unknown" in row.last_error
    assert report.state == InboundMail.State.IGNORED and report.ticket is None
    assert not TicketEvent.objects.filter(kind=EventKind.MAIL_BOUNCED).exists()
    assert f"digest mail {row.pk} to" in caplog.text


@pytest.mark.django_db
def test_only_admins_send_a_failed_mail_about_no_ticket_again(
    mailbox: Mailbox, agent: User, now: datetime, client: Client
) -> None:
    row = queue_digest(now)
    OutboundMail.objects.filter(pk=row.pk).update(
        state=OutboundMail.State.FAILED, last_error="550 5.1.1 User unknown"
    )
    with pytest.raises(NotAllowed):
        outbound.retry(row, actor=agent, now=now)

    admin = factories.agent(Role.ADMIN, username="ada")
    User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = reverse("admin:mail_outboundmail_changelist")
    page = client.get(url).content.decode()
    assert "Notification digest" in page and "sam@desk.example" in page

    client.post(url, {"action": "send_again", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.state == OutboundMail.State.QUEUED and row.attempts == 0 and row.last_error == ""

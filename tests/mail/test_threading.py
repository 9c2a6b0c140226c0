"""Threading: each inbound mail lands in the right ticket, in the documented order of evidence
(headers, subject tag, reply address, same sender and subject), judged by arrival time.

Agent replies go out through `tickets.services.reply`; the outbound consumer
(`mail.outbound.send_reply_mail`) gives each its OutboundMail and Message-ID, which the
customers' replies then name. Everything runs in the test's transaction (see test_ingest.py).
"""

from __future__ import annotations

import base64
import email.policy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from django.contrib.auth.models import User

from patron.core import clock
from patron.mail import services, threads
from patron.mail.models import InboundMail, Mailbox, MailThread, OutboundMail
from patron.mail.tasks import process_pending_mail
from patron.people.models import Contact
from patron.tickets import merging
from patron.tickets import services as tickets
from patron.tickets.models import Message, Status, Ticket
from tests import factories

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]
_ids = itertools.count(1)


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox.objects.create(address="support@desk.example", display_name="Support")


@pytest.fixture
def agent() -> User:
    return factories.agent(password=None)


def build(
    *,
    sender: str,
    subject: str | None,
    body: str = "Hello,\n\nthe printer on floor 3 jams again.\n",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    to: str = "Support <support@desk.example>",
    cc: str | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    """A mail and its Message-ID (without <>)."""
    message_id = message_id or f"m{next(_ids)}.{clock.now().timestamp()}@client.example"
    message = EmailMessage(policy=email.policy.default)
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    if subject is not None:
        message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    message["Date"] = "Mon, 23 Nov 2026 09:00:00 +0000"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        message["References"] = " ".join(f"<{r}>" for r in references)
    for name, value in (extra or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes(), message_id


def receive(
    capture: Capture,
    raw: bytes,
    mailbox: Mailbox,
    at: datetime,
    *,
    envelope_to: tuple[str, ...] = (),
) -> InboundMail:
    with capture(execute=True):
        stored = services.receive_raw(
            raw, mailbox=mailbox, source="imap", received_at=at, envelope_to=envelope_to
        )
    stored.refresh_from_db()
    assert stored.state == InboundMail.State.PROCESSED, stored.reason
    return stored


def agent_reply(
    capture: Capture, ticket: Ticket, agent: User, at: datetime, body: str
) -> OutboundMail:
    """An agent's public reply, and the OutboundMail the outbound consumer queued for it."""
    with capture(execute=True):
        message = tickets.reply(ticket, author=agent, body=body, now=at)
    sent = OutboundMail.objects.filter(message=message).first()
    assert sent is not None, "the outbound consumer queued no mail for the agent's reply"
    assert sent.message_id_header
    return sent


# ---------------------------------------------------------------------------------------------
# A 20-message conversation from three mail clients


def thread_index() -> str:
    """Outlook's Thread-Index: base64 of a 22-byte header (and 5 bytes per reply)."""
    return base64.b64encode(bytes(range(22 + 5 * (next(_ids) % 3)))).decode()


@dataclass
class Conversation:
    """What each client puts in its reply, given the conversation so far (oldest first)."""

    ids: list[str] = field(default_factory=list)  # every Message-ID, ours and theirs

    def gmail(self, subject: str) -> dict[str, Any]:
        # Gmail: "Re:", In-Reply-To the newest, References the whole chain.
        return {
            "subject": f"Re: {subject}",
            "in_reply_to": self.ids[-1],
            "references": list(self.ids),
        }

    def outlook(self, subject: str, german: bool = False) -> dict[str, Any]:
        # Outlook: "RE:" (or "AW:"), Thread-Index/Topic, In-Reply-To only, or References cut to
        # the first message.
        prefix = "AW:" if german else "RE:"
        references = [self.ids[0]] if german else None
        return {
            "subject": f"{prefix} {subject}",
            "in_reply_to": self.ids[-1],
            "references": references,
            "extra": {"Thread-Index": thread_index(), "Thread-Topic": subject},
        }

    def apple(self, subject: str) -> dict[str, Any]:
        # Apple Mail / Thunderbird: References chain (the last few), In-Reply-To the parent.
        return {
            "subject": f"Re: {subject}",
            "in_reply_to": self.ids[-1],
            "references": self.ids[-4:],
        }


@pytest.mark.parametrize("tagged", [True, False], ids=["subject tag kept", "no tag, headers only"])
def test_a_twenty_message_conversation_from_three_clients_is_one_ticket(
    tagged: bool,
    mailbox: Mailbox,
    agent: User,
    now: datetime,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    """Alice (Gmail) writes in, copying Bob (Outlook, sometimes German) and Carol (Apple Mail);
    an agent answers between their mails. Without the tag, and with the same-subject fallback
    switched off, only the headers can thread it."""
    capture = django_capture_on_commit_callbacks
    mailbox.thread_fallback_days = 0 if not tagged else 7
    mailbox.save()
    alice = "Alice Martin <alice@client.example>"
    bob = "Bob Stone <bob@client.example>"
    carol = "Carol Diaz <carol@client.example>"
    raw, first_id = build(
        sender=alice,
        subject="Printer jam on floor 3",
        cc="bob@client.example, carol@client.example",
        extra={"X-Mailer": "Gmail"},
    )
    at = now
    first = receive(capture, raw, mailbox, at)
    assert first.ticket is not None
    ticket = first.ticket
    subject = f"Printer jam on floor 3 [#{ticket.number}]" if tagged else "Printer jam on floor 3"
    chat = Conversation(ids=[first_id])
    # (who, client) in order; "agent" is an agent's reply through the desk.
    script = [
        "agent", (alice, "gmail"), (bob, "outlook"), "agent", (carol, "apple"), "agent",
        (bob, "outlook-de"), (alice, "gmail"), "agent", (carol, "apple"), (alice, "gmail"),
        "agent", (bob, "outlook"), (carol, "apple"), "agent", (bob, "outlook-de"), "agent",
        (carol, "apple"), (alice, "gmail"),
    ]  # fmt: skip
    assert len(script) + 1 == 20
    received = [first]
    for step, turn in enumerate(script, start=1):
        at += timedelta(hours=3)
        if turn == "agent":
            sent = agent_reply(capture, ticket, agent, at, f"Step {step}: we are on it.")
            chat.ids.append(sent.message_id_header)
            continue
        sender, client = turn
        headers = {
            "gmail": lambda: chat.gmail(subject),
            "outlook": lambda: chat.outlook(subject),
            "outlook-de": lambda: chat.outlook(subject, german=True),
            "apple": lambda: chat.apple(subject),
        }[client]()
        raw, message_id = build(sender=sender, body=f"Reply {step} from {client}.\n", **headers)
        mail = receive(capture, raw, mailbox, at)
        received.append(mail)
        chat.ids.append(message_id)

    ticket.refresh_from_db()
    assert Ticket.objects.count() == 1
    assert [m.ticket_id for m in received] == [ticket.pk] * len(received)
    assert ticket.message_count == 20
    assert Message.objects.filter(ticket=ticket).count() == 20
    assert OutboundMail.objects.filter(ticket=ticket).count() == script.count("agent")
    authors = set(
        Message.objects.filter(ticket=ticket, author_contact__isnull=False).values_list(
            "author_contact__emails__address", flat=True
        )
    )
    assert authors == {"alice@client.example", "bob@client.example", "carol@client.example"}


# ---------------------------------------------------------------------------------------------
# Each kind of evidence on its own


def _first(
    capture: Capture, mailbox: Mailbox, at: datetime, sender: str = "Noor <noor@customer.example>"
) -> tuple[Ticket, str]:
    raw, message_id = build(sender=sender, subject="Parcel stuck in customs")
    mail = receive(capture, raw, mailbox, at)
    assert mail.ticket is not None
    return mail.ticket, message_id


@pytest.mark.parametrize("subject", [None, "", "something else entirely"])
def test_a_reply_with_a_stripped_subject_threads_by_headers(
    subject: str | None,
    mailbox: Mailbox,
    agent: User,
    now: datetime,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    capture = django_capture_on_commit_callbacks
    ticket, _ = _first(capture, mailbox, now)
    sent = agent_reply(capture, ticket, agent, now + timedelta(hours=1), "Which parcel number?")
    raw, _ = build(
        sender="noor@customer.example",
        subject=subject,
        body="It is 123.\n",
        in_reply_to=sent.message_id_header,
    )
    reply = receive(capture, raw, mailbox, now + timedelta(hours=2))
    assert reply.ticket == ticket
    assert Ticket.objects.count() == 1


def test_with_headers_stripped_the_tag_threads_for_someone_on_the_ticket_only(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    capture = django_capture_on_commit_callbacks
    mailbox.thread_fallback_days = 0
    mailbox.save()
    ticket, _ = _first(capture, mailbox, now)
    tagged = f"Re: [#{ticket.number}] an unrelated subject"
    raw, _ = build(sender="Noor <NOOR@customer.example>", subject=tagged)
    assert receive(capture, raw, mailbox, now + timedelta(hours=1)).ticket == ticket

    raw, _ = build(sender="stranger@elsewhere.example", subject=tagged)
    stranger = receive(capture, raw, mailbox, now + timedelta(hours=2))
    assert stranger.ticket != ticket
    assert stranger.ticket is not None and stranger.ticket.requester.primary_email == (
        "stranger@elsewhere.example"
    )
    assert ticket.messages.count() == 2


def test_the_reply_address_threads_alone_and_a_forged_one_does_not(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    capture = django_capture_on_commit_callbacks
    mailbox.thread_fallback_days = 0
    mailbox.save()
    ticket, _ = _first(capture, mailbox, now)
    address = threads.reply_address(mailbox, ticket)
    assert address.startswith(f"support+t{ticket.number}.")
    raw, _ = build(sender="noor@customer.example", subject="more", to=address)
    assert receive(capture, raw, mailbox, now + timedelta(hours=1)).ticket == ticket
    # The address only in the envelope (a Bcc, or a client that rewrote To) is enough too.
    raw, _ = build(sender="noor@customer.example", subject="more again")
    assert receive(capture, raw, mailbox, now, envelope_to=(address,)).ticket == ticket

    forged = f"support+t{ticket.number}.{'0' * 10}@desk.example"
    raw, _ = build(sender="noor@customer.example", subject="forged", to=forged)
    assert receive(capture, raw, mailbox, now + timedelta(hours=2)).ticket != ticket
    assert ticket.messages.count() == 3


PREFIXES = ["Re: ", "RE: ", "AW: ", "Antw: ", "Balas: ", "Fwd: ", "[EXTERNAL] ", "RE: AW: ", "SV: "]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_fallback_threads_the_same_sender_and_normalized_subject(
    prefix: str, mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    capture = django_capture_on_commit_callbacks
    ticket, _ = _first(capture, mailbox, now)
    raw, _ = build(sender="noor@customer.example", subject=f"{prefix}parcel  STUCK in customs")
    assert receive(capture, raw, mailbox, now + timedelta(days=6)).ticket == ticket
    # Another sender with the same subject is another conversation.
    raw, _ = build(sender="amir@customer.example", subject=f"{prefix}Parcel stuck in customs")
    assert receive(capture, raw, mailbox, now + timedelta(days=6)).ticket != ticket


def test_the_fallback_keeps_to_the_window_and_can_be_switched_off(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    capture = django_capture_on_commit_callbacks
    ticket, _ = _first(capture, mailbox, now)
    raw, _ = build(sender="noor@customer.example", subject="Re: Parcel stuck in customs")
    late = receive(capture, raw, mailbox, now + timedelta(days=7, minutes=1))
    assert late.ticket != ticket  # outside the 7 days after the last mail of that ticket

    mailbox.thread_fallback_days = 0
    mailbox.save()
    raw, _ = build(sender="noor@customer.example", subject="Re: Parcel stuck in customs")
    off = receive(capture, raw, mailbox, now + timedelta(days=7, minutes=2))
    assert off.ticket not in (ticket, late.ticket)
    assert Ticket.objects.count() == 3


def _backlog(mailbox: Mailbox, start: datetime, capture: Capture) -> list[InboundMail]:
    """Five mails of two conversations, stored (arrival times over 10 days) but not processed."""
    plan = [
        ("noor@customer.example", "Parcel stuck in customs", 0),
        ("amir@customer.example", "Invoice wrong", 1),
        ("noor@customer.example", "Re: Parcel stuck in customs", 3),
        ("amir@customer.example", "Re: Invoice wrong", 9),  # 8 days after: a new ticket
        ("noor@customer.example", "AW: Parcel stuck in customs", 6),
    ]
    stored = []
    for sender, subject, day in plan:
        raw, _ = build(sender=sender, subject=subject)
        with capture(execute=False):  # the worker is down: the enqueued task is lost
            stored.append(
                services.receive_raw(
                    raw, mailbox=mailbox, source="imap", received_at=start + timedelta(days=day)
                )
            )
    return stored


def _grouping(mails: list[InboundMail]) -> list[int]:
    """Which mails share a ticket, as the index of the first mail of each one's ticket."""
    tickets_seen: list[int | None] = []
    for mail in mails:
        mail.refresh_from_db()
        assert mail.state == InboundMail.State.PROCESSED, mail.reason
        tickets_seen.append(mail.ticket_id)
    return [tickets_seen.index(t) for t in tickets_seen]


def test_a_backlog_processed_late_threads_as_if_processed_on_arrival(
    mailbox: Mailbox, django_capture_on_commit_callbacks: Capture
) -> None:
    capture = django_capture_on_commit_callbacks
    start = clock.now() - timedelta(days=40)
    on_time = _backlog(mailbox, start, capture)
    # Processed at once, in arrival order, as a live worker would have.
    for mail in sorted(on_time, key=lambda m: m.received_at):
        with capture(execute=True):
            from patron.mail.tasks import process_inbound

            process_inbound.call(mail.pk)
    expected = _grouping(on_time)
    assert expected == [0, 1, 0, 3, 0]

    other = Mailbox.objects.create(address="help@desk.example")
    late = _backlog(other, start, capture)
    # A month later the periodic re-drive finds them all waiting and processes them.
    with capture(execute=True):
        assert process_pending_mail.call() == len(late)
    assert _grouping(late) == expected


# ---------------------------------------------------------------------------------------------
# Closed, merged, copied, forwarded, clients


def _close(ticket: Ticket, agent: User, at: datetime) -> None:
    tickets.change_status(ticket, Status.SOLVED, actor=agent, now=at)
    tickets.change_status(ticket, Status.CLOSED, actor=agent, now=at)


def test_a_reply_to_a_closed_ticket_opens_one_linked_follow_up(
    mailbox: Mailbox,
    agent: User,
    now: datetime,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    capture = django_capture_on_commit_callbacks
    ticket, first_id = _first(capture, mailbox, now)
    sent = agent_reply(capture, ticket, agent, now + timedelta(hours=1), "Released today.")
    with capture(execute=True):
        _close(ticket, agent, now + timedelta(days=1))
    raw, reply_id = build(
        sender="noor@customer.example",
        subject=f"Re: Parcel stuck in customs [#{ticket.number}]",
        body="It is stuck again.\n",
        in_reply_to=sent.message_id_header,
        references=[first_id, sent.message_id_header],
    )
    reply = receive(capture, raw, mailbox, now + timedelta(days=10))
    follow_up = reply.ticket
    assert follow_up is not None and follow_up != ticket
    assert follow_up.mail_thread.follow_up_of == ticket
    assert str(ticket.number) in reply.reason
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.messages.count() == 2

    # A second reply to the old conversation joins that follow-up; it opens no third ticket.
    raw, _ = build(
        sender="noor@customer.example",
        subject=f"Re: Parcel stuck in customs [#{ticket.number}]",
        in_reply_to=sent.message_id_header,
        references=[first_id, sent.message_id_header],
    )
    assert receive(capture, raw, mailbox, now + timedelta(days=11)).ticket == follow_up
    assert Ticket.objects.count() == 2
    # So does a reply to the mail that opened the follow-up.
    raw, _ = build(sender="noor@customer.example", subject="Re: again", in_reply_to=reply_id)
    assert receive(capture, raw, mailbox, now + timedelta(days=12)).ticket == follow_up


def test_a_reply_to_a_merged_ticket_lands_in_the_survivor(
    mailbox: Mailbox,
    agent: User,
    now: datetime,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    capture = django_capture_on_commit_callbacks
    merged, merged_id = _first(capture, mailbox, now)
    raw, _ = build(sender="noor@customer.example", subject="Customs again (second mail)")
    survivor = receive(capture, raw, mailbox, now + timedelta(minutes=5)).ticket
    assert survivor is not None and survivor != merged
    with capture(execute=True):
        merging.merge_tickets(merged, survivor, actor=agent, now=now + timedelta(hours=1))
    raw, _ = build(sender="noor@customer.example", subject="Re: x", in_reply_to=merged_id)
    assert receive(capture, raw, mailbox, now + timedelta(hours=2)).ticket == survivor
    raw, _ = build(sender="noor@customer.example", subject=f"[#{merged.number}] news")
    assert receive(capture, raw, mailbox, now + timedelta(hours=3)).ticket == survivor
    assert Ticket.objects.count() == 2


def test_copied_addresses_become_contacts_on_the_thread_and_agents_followers(
    mailbox: Mailbox,
    agent: User,
    now: datetime,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    capture = django_capture_on_commit_callbacks
    raw, _ = build(
        sender="noor@customer.example",
        subject="Parcel stuck in customs",
        to="support@desk.example, Sam Lee <sam@customer.example>",
        cc=f"Lena <lena@customer.example>, {agent.email}, support@desk.example, "
        "NOOR@customer.example",
    )
    mail = receive(capture, raw, mailbox, now)
    assert mail.ticket is not None
    thread = MailThread.objects.get(ticket=mail.ticket)
    copied = sorted(c.primary_email for c in thread.cc.all())
    assert copied == ["lena@customer.example"]  # not To, not us, not the sender
    assert list(mail.ticket.followers.all()) == [agent]
    # Lena, now on the ticket, may name it by its tag.
    raw, _ = build(sender="lena@customer.example", subject=f"[#{mail.ticket.number}] me too")
    assert receive(capture, raw, mailbox, now + timedelta(hours=1)).ticket == mail.ticket


def _forward(agent_email: str, inline: bool) -> bytes:
    original = EmailMessage(policy=email.policy.default)
    original["From"] = "Tomás Ruiz <tomas@shop.example>"
    original["To"] = agent_email
    original["Subject"] = "Broken hinge"
    original["Message-ID"] = "<orig@shop.example>"
    original.set_content("The hinge broke after two days.\n")
    forward = EmailMessage(policy=email.policy.default)
    forward["From"] = agent_email
    forward["To"] = "support@desk.example"
    forward["Subject"] = "Fwd: Broken hinge"
    forward["Message-ID"] = f"<fwd.{inline}@desk.example>"
    if inline:
        forward.set_content(
            "Can someone take this?\n\n---------- Forwarded message ---------\n"
            "From: Tomás Ruiz <tomas@shop.example>\nDate: Mon, 23 Nov 2026\n"
            "Subject: Broken hinge\n\nThe hinge broke after two days.\n"
        )
    else:
        forward.set_content("Can someone take this?\n")
        forward.add_attachment(original)
    return forward.as_bytes()


@pytest.mark.parametrize("inline", [True, False], ids=["inline forward", "attached message"])
def test_a_mail_an_agent_forwarded_opens_a_ticket_for_the_original_sender(
    inline: bool,
    mailbox: Mailbox,
    agent: User,
    now: datetime,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    mail = receive(
        django_capture_on_commit_callbacks,
        _forward(agent.email, inline),
        mailbox,
        now,
    )
    ticket = mail.ticket
    assert ticket is not None
    assert ticket.requester.primary_email == "tomas@shop.example"
    assert ticket.requester.name == "Tomás Ruiz"
    first = ticket.messages.get()
    assert first.author_agent == agent
    if inline:
        assert "The hinge broke after two days." in first.body_text
    assert not Contact.objects.filter(emails__address__iexact=agent.email).exists()


def test_a_client_is_recognized_from_the_first_mail(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    organization = factories.organization(
        now=now, relationship="client", domains=("bigclient.example",), name="Big Client"
    )
    raw, _ = build(sender="Ines <Ines@BigClient.example>", subject="Our SSO is down")
    mail = receive(django_capture_on_commit_callbacks, raw, mailbox, now)
    assert mail.ticket is not None
    assert mail.ticket.requester.organization == organization
    assert mail.ticket.requester.is_client
    assert mail.ticket.organization == organization

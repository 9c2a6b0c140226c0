"""The ingest never loses a mail: every fixture and every random (or broken) message is stored and
ends processed or failed with a reason; loops, auto-replies, bounces, oversize files, refused
senders and duplicate Message-IDs each end the way an admin would expect.

These tests run in the test's own transaction: `receive_raw` stores (a durable block, which the
test case's transaction allows) and its after-commit enqueue runs `process_inbound` in-process
(the `immediate` task backend) when `django_capture_on_commit_callbacks` executes it.
"""

from __future__ import annotations

import email.policy
import importlib
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.core import clock
from patron.mail import services
from patron.mail.models import InboundMail, Mailbox, OutboundMail
from patron.people import services as people
from patron.tickets.models import Attachment, Message, Ticket

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "raw-mime"
NOT_MAIL = {"LICENSE", "README.md", ".gitattributes"}
RAW_FILES = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.name not in NOT_MAIL)
TERMINAL = {
    InboundMail.State.PROCESSED,
    InboundMail.State.FAILED,
    InboundMail.State.IGNORED,
    InboundMail.State.DUPLICATE,
}
CRASH = "Processing failed:"  # the reason process_inbound gives when processing raised

Capture = Callable[..., Any]

pytestmark = pytest.mark.django_db


def outbound_module() -> ModuleType:
    """patron.mail.outbound (the outbound engineer's); without it the test is an expected
    failure saying so."""
    try:
        return importlib.import_module("patron.mail.outbound")
    except ImportError:
        pytest.xfail("patron.mail.outbound (mark_bounced, queue_acknowledgement) is not there yet")


def mail(
    *,
    sender: str = "Noor Haddad <noor@customer.example>",
    to: str = "Support <support@desk.example>",
    subject: str = "Parcel stuck in customs",
    body: str = "Hello,\n\nmy parcel has been in customs for a week.\n",
    message_id: str = "<first@customer.example>",
    extra: str = "",
) -> bytes:
    return (
        f"From: {sender}\nTo: {to}\nSubject: {subject}\nMessage-ID: {message_id}\n"
        f"Date: Mon, 23 Nov 2026 09:00:00 +0000\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}"
    ).encode()


def receive(
    capture: Capture,
    raw: bytes,
    mailbox: Mailbox,
    at: datetime,
    *,
    envelope_to: tuple[str, ...] = (),
) -> InboundMail:
    """Store the bytes, then run what the commit enqueued (the processing)."""
    with capture(execute=True):
        stored = services.receive_raw(
            raw, mailbox=mailbox, source="pipe", received_at=at, envelope_to=envelope_to
        )
    stored.refresh_from_db()
    return stored


@pytest.fixture
def mailbox(db: None) -> Mailbox:
    return Mailbox.objects.create(address="support@desk.example", display_name="Support")


def assert_kept(stored: InboundMail, raw: bytes) -> None:
    """Stored byte for byte, and ended as a ticket message or with a reason; never a crash."""
    assert InboundMail.objects.filter(pk=stored.pk).exists()
    assert bytes(stored.raw) == raw
    assert stored.state in TERMINAL, stored.state
    assert not stored.reason.startswith(CRASH), stored.reason
    if stored.state == InboundMail.State.PROCESSED:
        assert stored.ticket is not None and stored.message is not None
        assert stored.message.ticket_id == stored.ticket_id
    else:
        assert stored.reason, f"a {stored.state} mail without a reason"


# ---------------------------------------------------------------------------------------------
# Every fixture


def test_the_fixtures_are_there() -> None:
    assert len(RAW_FILES) >= 100, f"expected the raw-mime fixtures under {FIXTURES}"


@pytest.mark.parametrize("path", RAW_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_is_stored_and_ends_as_a_message_or_a_reason(
    path: Path, mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    raw = path.read_bytes()
    stored = receive(django_capture_on_commit_callbacks, raw, mailbox, now)
    assert_kept(stored, raw)


def test_most_fixtures_become_ticket_messages(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    """Not all failed with some reason: the real mails among them become messages."""
    states = [
        receive(django_capture_on_commit_callbacks, p.read_bytes(), mailbox, now).state
        for p in RAW_FILES
    ]
    # Many fixtures share a Message-ID: the later ones are duplicates of a message taken in.
    taken = states.count(InboundMail.State.PROCESSED) + states.count(InboundMail.State.DUPLICATE)
    assert taken >= len(RAW_FILES) * 0.8, f"{taken} of {len(RAW_FILES)} taken in"


# ---------------------------------------------------------------------------------------------
# Random and broken MIME

_text = st.text(alphabet=st.characters(codec="utf-8", max_codepoint=0x2FFF), max_size=200)
_header_text = st.text(
    alphabet=st.characters(codec="utf-8", max_codepoint=0x2FFF), max_size=60
).map(lambda text: "".join(ch for ch in text if ch.isprintable()))
_charset = st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "koi8-r", "us-ascii"])


@st.composite
def built_mime(draw: st.DrawFn) -> bytes:
    """A message the standard library builds: random headers, bodies, parts, charsets."""
    message = EmailMessage(policy=email.policy.default)
    local = draw(st.from_regex(r"[a-z][a-z0-9.]{0,10}", fullmatch=True))
    message["From"] = f"{draw(_header_text).replace(chr(10), ' ')!r} <{local}@random.example>"
    message["To"] = "support@desk.example"
    message["Subject"] = " ".join(draw(_header_text).split())
    message["Message-ID"] = f"<{draw(st.uuids()).hex}@random.example>"
    if draw(st.booleans()):
        parent = draw(st.uuids()).hex
        message["In-Reply-To"] = f"<{parent}@desk.example>"
        message["References"] = f"<{parent}@desk.example>"
    for header in draw(st.lists(st.sampled_from(["Auto-Submitted", "Precedence", "X-Autoreply"]))):
        message[header] = draw(st.sampled_from(["auto-replied", "bulk", "yes", "no"]))
    charset = draw(_charset)
    text = draw(_text)
    try:
        message.set_content(text, charset=charset)
    except (UnicodeError, LookupError, ValueError):
        message.set_content(text)
    if draw(st.booleans()):
        message.add_alternative(f"<html><body><p>{draw(_text)}</p></body></html>", subtype="html")
    for n in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["application/pdf", "image/png", "message/rfc822", "text/csv"]))
        maintype, subtype = kind.split("/")
        data = draw(st.binary(max_size=300))
        if maintype == "message":
            message.add_attachment(
                EmailMessage(policy=email.policy.default), filename=f"inner-{n}.eml"
            )
        else:
            message.add_attachment(
                data, maintype=maintype, subtype=subtype, filename=draw(_header_text) or None
            )
    return message.as_bytes()


@st.composite
def corrupted(draw: st.DrawFn, source: st.SearchStrategy[bytes]) -> bytes:
    """Random damage: bytes flipped, cut, inserted or lines deleted."""
    data = bytearray(draw(source))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert", "drop-line", "truncate"]))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[position : position + draw(st.integers(1, 40))]
        elif action == "insert":
            data[position:position] = draw(
                st.sampled_from(
                    [b"\r\n", b"\n\n", b"--", b"=?utf-8?b?", b"=\n", b"\x00", b"\xff\xfe", b":"]
                )
            )
        elif action == "drop-line":
            end = data.find(b"\n", position)
            del data[position : end if end >= 0 else len(data)]
        else:
            del data[position:]
    return bytes(data)


random_mail = st.one_of(
    built_mime(), corrupted(built_mime()), st.binary(max_size=400), corrupted(st.just(mail()))
)


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=random_mail)
def test_random_and_corrupted_mime_is_stored_and_never_crashes_the_ingest(
    raw: bytes, mailbox: Mailbox, django_capture_on_commit_callbacks: Capture
) -> None:
    stored = receive(django_capture_on_commit_callbacks, raw, mailbox, clock.now())
    assert_kept(stored, raw)


# ---------------------------------------------------------------------------------------------
# Auto-replies and loops

AUTO_REPLIES = {
    "Auto-Submitted": "Auto-Submitted: auto-replied\n",
    "X-Autoreply": "X-Autoreply: yes\n",
    "Precedence bulk": "Precedence: bulk\n",
    "out-of-office subject": "",
}


@pytest.mark.parametrize("kind", AUTO_REPLIES)
def test_an_automatic_mail_is_never_acknowledged_and_an_auto_reply_opens_no_ticket(
    kind: str, mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    """An auto-reply to no ticket stays in the mail log (tests/mail/test_autoreplies.py has the
    rest); bulk mail may be a person's request sent by a tool, so it opens a ticket, unanswered."""
    mailbox.send_acknowledgement = True
    mailbox.save()
    subject = "Out of Office: back on Monday" if kind == "out-of-office subject" else "Hello"
    stored = receive(
        django_capture_on_commit_callbacks,
        mail(subject=subject, extra=AUTO_REPLIES[kind]),
        mailbox,
        now,
    )
    if kind == "Precedence bulk":
        assert stored.state == InboundMail.State.PROCESSED, stored.reason
        assert stored.ticket is not None
    else:
        assert stored.state == InboundMail.State.IGNORED, stored.reason
        assert stored.ticket is None
        assert "Automatic reply to no ticket" in stored.reason
    assert OutboundMail.objects.count() == 0


def test_a_person_s_first_mail_is_acknowledged_once(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    """The control for the test above: the same mail without the markers is acknowledged."""
    outbound_module()
    mailbox.send_acknowledgement = True
    mailbox.save()
    stored = receive(django_capture_on_commit_callbacks, mail(subject="Hello"), mailbox, now)
    assert stored.state == InboundMail.State.PROCESSED, stored.reason
    assert list(OutboundMail.objects.values_list("ticket_id", "automatic")) == [
        (stored.ticket_id, True)
    ]


def as_sent(outbound: OutboundMail) -> bytes:
    """The acknowledgement's bytes as Patron puts them on the wire."""
    from patron.mail.outbound_email import build_email

    return bytes(build_email(outbound).message().as_bytes())


def _rewrite_from(raw: bytes, sender: str) -> bytes:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    del message["From"]
    message["From"] = sender
    return bytes(message.as_bytes())


def _careless(raw: bytes, sender: str) -> bytes:
    """What a careless forwarder hands on: From rewritten to its own address, its own subject
    (no ticket tag), and no auto-reply marker nor threading header left: the worst case."""
    message = email.message_from_bytes(_rewrite_from(raw, sender), policy=email.policy.default)
    for header in ("Auto-Submitted", "X-Auto-Response-Suppress", "In-Reply-To", "References"):
        del message[header]
    del message["Subject"]
    message["Subject"] = "Notice from the forwarding service"
    del message["Message-ID"]
    message["Message-ID"] = f"<relayed.{abs(hash(raw))}@relay.example>"
    return bytes(message.as_bytes())


# relay -> (how an acknowledgement reaches the other desk, fallback threading days, inbound mails,
# acknowledgements) for a limit of 5 mails per sender and hour.
RELAYS: dict[str, tuple[Callable[[bytes, str], bytes], int, int, int]] = {
    # Both desks on one installation: the other desk's address is ours; nothing is taken in.
    "direct": (lambda raw, relay: raw, 7, 2, 1),
    # Two installations, the bytes intact (From rewritten by a forwarder): the acknowledgement
    # carries Auto-Submitted, so it is taken in and never answered.
    "forwarded": (_rewrite_from, 7, 2, 1),
    # Careless forwarders: a desk's second mail from the same relay with the same subject threads
    # into the ticket the first one opened (fallback), so it is not acknowledged.
    "careless": (_careless, 7, 4, 3),
    # ... and with that fallback switched off, only the rate limit is left, and it holds.
    "careless, no fallback": (_careless, 0, 2 * 5 + 1, 2 * 5),
}


@pytest.mark.parametrize("relay", RELAYS)
def test_two_desks_acknowledging_each_other_stop_with_no_storm(
    relay: str, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    """Two Patron mailboxes, both acknowledging new tickets, each one's acknowledgement fed to
    the other as inbound mail, until nothing new is sent."""
    outbound_module()
    limit = 5
    forward, fallback_days, expected_inbound, expected_acks = RELAYS[relay]
    desks = [
        Mailbox.objects.create(
            address=address,
            send_acknowledgement=True,
            sender_limit_per_hour=limit,
            thread_fallback_days=fallback_days,
        )
        for address in ("support@a.example", "help@b.example")
    ]
    desk_a, desk_b = desks
    relay_of = {desk_a.pk: "desk-a@relay.example", desk_b.pk: "desk-b@relay.example"}
    other = {desk_a.pk: desk_b, desk_b.pk: desk_a}
    # It starts with a person's mail to B (A's relay address: its contact is the one B answers).
    first = mail(sender=relay_of[desk_a.pk], to=desk_b.address, message_id="<start@a.example>")
    receive(django_capture_on_commit_callbacks, first, desk_b, now)
    fed: set[int] = set()
    at = now
    for _ in range(10 * limit):  # far more rounds than a loop that stops needs
        waiting = list(
            OutboundMail.objects.filter(automatic=True).exclude(pk__in=fed).order_by("id")
        )
        if not waiting:
            break
        for ack in waiting:
            fed.add(ack.pk)
            at += timedelta(seconds=30)
            assert ack.mailbox_id is not None  # an acknowledgement is sent from a mailbox
            raw = forward(as_sent(ack), relay_of[ack.mailbox_id])
            receive(django_capture_on_commit_callbacks, raw, other[ack.mailbox_id], at)
    else:
        pytest.fail(f"the acknowledgements never stopped: {OutboundMail.objects.count()} sent")

    assert InboundMail.objects.count() == expected_inbound
    assert OutboundMail.objects.filter(automatic=True).count() == expected_acks
    assert OutboundMail.objects.count() == expected_acks
    states = list(InboundMail.objects.order_by("id").values_list("state", flat=True))
    assert all(state != InboundMail.State.RECEIVED for state in states)
    if relay == "direct":
        assert states[-1] == InboundMail.State.IGNORED
    if relay == "careless, no fallback":
        held = InboundMail.objects.filter(state=InboundMail.State.FAILED)
        assert held.count() == 1 and "mails in an hour" in held.get().reason
        assert Ticket.objects.count() == 2 * limit


def test_mail_from_our_own_address_is_not_taken_in_again(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    for n, sender in enumerate(
        ["support@desk.example", "Support <SUPPORT+t1001.abc@desk.example>"]
    ):
        stored = receive(
            django_capture_on_commit_callbacks,
            mail(sender=sender, message_id=f"<own{n}@desk.example>"),
            mailbox,
            now,
        )
        assert stored.state == InboundMail.State.IGNORED
        assert "our own address" in stored.reason
    assert Ticket.objects.count() == 0


# ---------------------------------------------------------------------------------------------
# Bounces, oversize files, refused senders, duplicates


def dsn(original_message_id: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\n"
        "To: support@desk.example\nSubject: Undelivered Mail Returned to Sender\n"
        "Auto-Submitted: auto-replied\nMessage-ID: <dsn1@mx.customer.example>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.customer.example\n\n"
        "Final-Recipient: rfc822; gone@customer.example\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <gone@customer.example>: user unknown\n\n"
        "--B\nContent-Type: text/rfc822-headers\n\n"
        "From: support@desk.example\nTo: gone@customer.example\n"
        f"Message-ID: <{original_message_id}>\n"
        "Subject: Re: Parcel stuck in customs\n\n--B--\n"
    ).encode()


def test_a_delivery_report_marks_our_mail_bounced(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    outbound_module()
    first = receive(django_capture_on_commit_callbacks, mail(), mailbox, now)
    assert first.ticket is not None
    # Stands in for a reply the outbound consumer sent.
    sent = OutboundMail.objects.create(
        ticket=first.ticket,
        mailbox=mailbox,
        message_id_header="reply.1@desk.example",
        to=["gone@customer.example"],
        subject="Re: Parcel stuck in customs",
        state=OutboundMail.State.SENT,
        next_attempt_at=now,
        created_at=now,
        sent_at=now,
    )
    report = receive(django_capture_on_commit_callbacks, dsn(sent.message_id_header), mailbox, now)
    sent.refresh_from_db()
    assert sent.state == OutboundMail.State.BOUNCED
    assert report.state == InboundMail.State.IGNORED and report.ticket == first.ticket
    assert first.ticket.messages.count() == 1  # the report is no customer message


def test_a_report_on_a_mail_we_never_sent_is_failed_with_the_reason(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    report = receive(django_capture_on_commit_callbacks, dsn("unknown@x.example"), mailbox, now)
    assert report.state == InboundMail.State.FAILED
    assert "did not send" in report.reason


def test_an_oversize_attachment_is_left_out_and_the_message_says_which(
    mailbox: Mailbox,
    now: datetime,
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.PATRON_MAX_ATTACHMENT_BYTES = 2000
    message = EmailMessage()
    message["From"] = "noor@customer.example"
    message["To"] = "support@desk.example"
    message["Subject"] = "Invoice and scan"
    message["Message-ID"] = "<big@customer.example>"
    message.set_content("Both files attached.\n")
    message.add_attachment(b"a" * 500, maintype="text", subtype="plain", filename="invoice.txt")
    message.add_attachment(b"\x89PNG" + b"x" * 9000, maintype="image", subtype="png",
                           filename="scan.png")  # fmt: skip
    stored = receive(django_capture_on_commit_callbacks, message.as_bytes(), mailbox, now)
    assert stored.state == InboundMail.State.PROCESSED, stored.reason
    assert stored.message is not None
    assert list(Attachment.objects.values_list("filename", flat=True)) == ["invoice.txt"]
    assert stored.message.body_text.startswith("Both files attached.")
    assert "scan.png" in stored.message.body_text and "left out" in stored.message.body_text
    assert "invoice.txt" not in stored.message.body_text
    assert "scan.png" in stored.reason
    assert len(bytes(stored.raw)) > 9000  # the file itself stays in the stored mail


def test_an_unknown_sender_is_held_and_a_retry_after_adding_the_contact_works(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    mailbox.allow_unknown_senders = False
    mailbox.save()
    stored = receive(django_capture_on_commit_callbacks, mail(), mailbox, now)
    assert stored.state == InboundMail.State.FAILED
    assert "noor@customer.example is not a known contact" in stored.reason
    assert Ticket.objects.count() == 0

    people.create_contact(email="Noor@Customer.example", name="Noor Haddad", now=now)
    with django_capture_on_commit_callbacks(execute=True):
        services.retry(stored)
    stored.refresh_from_db()
    assert stored.state == InboundMail.State.PROCESSED, stored.reason
    assert stored.attempts == 2
    assert stored.ticket is not None and stored.ticket.requester.name == "Noor Haddad"


def test_the_same_message_id_with_other_bytes_is_a_duplicate(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    first = receive(django_capture_on_commit_callbacks, mail(), mailbox, now)
    again = receive(
        django_capture_on_commit_callbacks,
        mail(body="Hello,\n\nmy parcel (resent by a relay, bytes differ).\n"),
        mailbox,
        now + timedelta(minutes=5),
    )
    assert again.pk != first.pk
    assert again.state == InboundMail.State.DUPLICATE
    assert again.ticket == first.ticket
    assert Message.objects.count() == 1

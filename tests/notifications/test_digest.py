"""The email digest: each agent's choice, when it is due, what it lists, never twice, and its
way out: an OutboundMail row queued with the bookkeeping, delivered like every reply."""

from __future__ import annotations

import email
import email.policy
import threading
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connections

from patron.core import clock
from patron.mail import outbound, outbound_tasks
from patron.mail.models import Mailbox, OutboundMail
from patron.notifications import digest, services
from patron.notifications import queries as notifications
from patron.notifications.digest import is_due, send_digests
from patron.notifications.models import Notification
from patron.people.models import AgentProfile, EmailDigest
from tests import factories
from tests.mail.servers import SmtpSink
from tests.mail.test_outbound import Answering, own_smtp
from tests.notifications.conftest import make_agent, queued_to, sent_to

UTC_ZONE = zoneinfo.ZoneInfo("UTC")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def at(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# When a digest is due (pure: an explicit `now`, no database)


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [
        (None, at(10, 5), True),
        (at(9, 59), at(10, 0), True),
        (at(10, 0), at(10, 59), False),
        (at(10, 5), at(10, 40), False),
        (at(10, 40), at(11, 2), True),
        (at(7, 30), at(10, 5), True),  # missed runs: one digest catches up
    ],
)
def test_an_hourly_digest_is_due_once_per_clock_hour(
    last: datetime | None, now: datetime, due: bool
) -> None:
    assert is_due(EmailDigest.HOURLY, last, now, UTC_ZONE) is due


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [
        (None, at(3), True),
        (at(8, 10, day=22), at(7, 59), False),  # before this morning's hour
        (at(8, 10, day=22), at(8, 0), True),
        (at(8, 0), at(20, 0), False),  # already sent today
        (at(8, 10, day=20), at(15, 0), True),  # missed days: the next run catches up
        (at(10), at(7, day=24), False),
        (at(10), at(9, day=24), True),
    ],
)
def test_a_daily_digest_is_due_once_a_day_after_eight(
    last: datetime | None, now: datetime, due: bool
) -> None:
    assert is_due(EmailDigest.DAILY, last, now, UTC_ZONE) is due


def test_a_daily_digest_follows_the_agents_time_zone() -> None:
    last = at(13, 10, day=22)  # 08:10 in New York on the 22nd (EST, UTC-5)

    assert not is_due(EmailDigest.DAILY, last, at(12, 59), NEW_YORK)  # 07:59 there
    assert is_due(EmailDigest.DAILY, last, at(13, 0), NEW_YORK)  # 08:00 there
    assert is_due(EmailDigest.DAILY, last, at(8, 0), UTC_ZONE)  # 08:00 in UTC is too early there


def test_a_digest_that_is_off_is_never_due() -> None:
    assert not is_due(EmailDigest.OFF, None, at(10), UTC_ZONE)
    assert not is_due(EmailDigest.OFF, at(8, day=1), at(10), UTC_ZONE)


# Sending


@pytest.mark.django_db
def test_each_agent_gets_the_digest_they_chose(notify: Callable[..., Notification]) -> None:
    hourly, daily = make_agent("hourly", EmailDigest.HOURLY), make_agent("daily", EmailDigest.DAILY)
    off = make_agent("off", EmailDigest.OFF)
    for agent in (hourly, daily, off):
        notify(agent, at(9, 30))

    queued = send_digests(now=at(10, 0))

    assert queued == 2
    rows = OutboundMail.objects.order_by("to")
    assert [row.to for row in rows] == [["daily@desk.example"], ["hourly@desk.example"]]
    for row in rows:
        assert row.kind == OutboundMail.Kind.DIGEST and row.automatic
        assert row.ticket is None and row.message is None and row.mailbox is None
        assert row.state == OutboundMail.State.QUEUED and row.next_attempt_at == at(10)
        assert row.subject == "Patron: 1 unread notification"
    body = sent_to("hourly@desk.example")[0]
    assert "You have 1 unread notification in Patron" in body
    assert "Sam added a note on #" in body and "Refund" in body
    assert "/notifications/settings" in body


@pytest.mark.django_db
def test_an_agent_who_opted_out_gets_nothing_and_keeps_no_digest_time(
    notify: Callable[..., Notification],
) -> None:
    off = make_agent("off", EmailDigest.OFF)
    notify(off, at(9, 30))

    assert send_digests(now=at(10)) == 0
    assert send_digests(now=at(10, day=24)) == 0

    assert not OutboundMail.objects.exists()
    assert AgentProfile.objects.get(user=off).last_digest_at is None


@pytest.mark.django_db
def test_inactive_agents_and_agents_without_an_address_get_nothing(
    notify: Callable[..., Notification],
) -> None:
    gone, silent = make_agent("gone"), make_agent("silent")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    User.objects.filter(pk=silent.pk).update(email="")
    notify(gone, at(9))
    notify(silent, at(9))

    assert send_digests(now=at(10)) == 0
    assert not OutboundMail.objects.exists()


@pytest.mark.django_db
def test_running_twice_in_the_same_hour_sends_nothing_the_second_time(
    notify: Callable[..., Notification],
) -> None:
    me = make_agent("me", EmailDigest.HOURLY)
    notify(me, at(9, 30))
    assert send_digests(now=at(10, 5)) == 1
    notify(me, at(10, 20))  # new, but this hour's digest has gone

    assert send_digests(now=at(10, 40)) == 0

    assert OutboundMail.objects.count() == 1
    assert send_digests(now=at(11, 5)) == 1  # next hour: only the new one
    assert "You have 1 unread notification" in sent_to("me@desk.example")[1]


@pytest.mark.django_db
def test_a_digest_never_repeats_a_notification_still_unread(
    notify: Callable[..., Notification],
) -> None:
    me = make_agent("me", EmailDigest.HOURLY)
    first = notify(me, at(9, 30), about=factories.ticket(now=at(9), subject="First"))
    send_digests(now=at(10))
    second = notify(me, at(10, 30), about=factories.ticket(now=at(9), subject="Second"))

    send_digests(now=at(11))
    send_digests(now=at(12))  # nothing new: no email

    first_body, second_body = sent_to("me@desk.example")
    assert notifications.describe(first) in first_body
    assert notifications.describe(first) not in second_body
    assert notifications.describe(second) in second_body
    assert Notification.objects.filter(pk=first.pk, read_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_missed_run_is_caught_up_by_the_next(notify: Callable[..., Notification]) -> None:
    me = make_agent("me", EmailDigest.HOURLY)
    notify(me, at(9, 30))
    send_digests(now=at(10))
    missed = [notify(me, at(10, 30)), notify(me, at(11, 30)), notify(me, at(12, 30))]

    # No run at 11:00 or 12:00 (the server was down); the 13:05 run sends all three, once.
    assert send_digests(now=at(13, 5)) == 1

    body = sent_to("me@desk.example")[-1]
    assert "You have 3 unread notifications" in body
    assert body.count("added a note on") == len(missed)


@pytest.mark.django_db
def test_a_daily_digest_after_days_without_a_run_lists_everything_since_the_last(
    notify: Callable[..., Notification],
) -> None:
    me = make_agent("me", EmailDigest.DAILY)
    send_digests(now=at(8, 5, day=20))  # nothing to say, but the 20th's digest is done
    notify(me, at(9, day=20))
    notify(me, at(18, day=21))

    assert send_digests(now=at(7, day=23)) == 1  # the 22nd's 08:00 digest never ran
    assert "You have 2 unread notifications" in sent_to("me@desk.example")[0]
    assert send_digests(now=at(9, day=23)) == 0  # today's: nothing new since


@pytest.mark.django_db
def test_a_notification_written_late_with_an_older_time_is_in_the_next_digest(
    notify: Callable[..., Notification],
) -> None:
    """A consumer retried after the digest writes the event's (earlier) time: not lost."""
    me = make_agent("me", EmailDigest.HOURLY)
    notify(me, at(9, 30))
    send_digests(now=at(10))
    # Written after the 10:00 digest, dated before it.
    late = notify(me, at(9, 50), about=factories.ticket(now=at(9), subject="Late"))

    assert send_digests(now=at(11)) == 1

    assert notifications.describe(late) in sent_to("me@desk.example")[1]


@pytest.mark.django_db
def test_read_notifications_are_left_out(notify: Callable[..., Notification]) -> None:
    me = make_agent("me", EmailDigest.HOURLY)
    read = notify(me, at(9, 10), about=factories.ticket(now=at(9), subject="Read"))
    unread = notify(me, at(9, 20), about=factories.ticket(now=at(9), subject="Unread"))
    services.mark_read(me, [read.pk], at(9, 30))

    send_digests(now=at(10))

    body = sent_to("me@desk.example")[0]
    assert "You have 1 unread notification" in body
    assert notifications.describe(unread) in body
    assert notifications.describe(read) not in body
    notify(me, at(10, 10))
    services.mark_all_read(me, at(10, 20))
    assert send_digests(now=at(11)) == 0


@pytest.mark.django_db
def test_a_first_digest_looks_back_one_period_only(notify: Callable[..., Notification]) -> None:
    me = make_agent("me", EmailDigest.HOURLY)
    # Before the first digest's period: the bell shows it, the email does not.
    old = notify(me, at(8, 30), about=factories.ticket(now=at(8), subject="Old"))
    recent = notify(me, at(9, 30), about=factories.ticket(now=at(8), subject="Recent"))

    send_digests(now=at(10, 0))

    body = sent_to("me@desk.example")[0]
    assert "You have 1 unread notification" in body
    assert notifications.describe(recent) in body
    assert notifications.describe(old) not in body


@pytest.mark.django_db
def test_a_long_digest_lists_the_newest_and_counts_the_rest(
    notify: Callable[..., Notification], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digest, "MAX_LINES", 2)
    me = make_agent("me", EmailDigest.HOURLY)
    for minute in (10, 20, 30):
        notify(me, at(9, minute))

    send_digests(now=at(10))

    body = sent_to("me@desk.example")[0]
    assert "You have 3 unread notifications" in body
    assert "Note at 09:30" not in body  # the sentence names the ticket, not the note text
    assert body.count("added a note on") == 2 and "- and 1 more" in body


@pytest.mark.django_db(transaction=True)
def test_runs_racing_in_threads_send_each_digest_once(
    notify: Callable[..., Notification],
) -> None:
    agents = [make_agent(f"agent{n}", EmailDigest.HOURLY) for n in range(3)]
    for agent in agents:
        notify(agent, at(9, 30))
    results: list[int] = []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            results.append(send_digests(now=at(10)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    with clock.travel_to(at(10)):  # the send task after each commit reads the clock
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert len(results) == 4 and sum(results) == len(agents)
    assert OutboundMail.objects.count() == len(agents)
    assert sorted(message.to[0] for message in mail.outbox) == [
        f"agent{n}@desk.example" for n in range(3)
    ]


@pytest.mark.django_db
def test_a_crash_before_the_commit_loses_neither_the_digest_nor_its_notifications(
    notify: Callable[..., Notification], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim and the queued row commit together: a failure in between undoes the claim."""
    me = make_agent("me", EmailDigest.HOURLY)
    notify(me, at(9, 30))

    real = outbound.queue_mail

    def queue_then_die(**kwargs: Any) -> OutboundMail:
        real(**kwargs)
        raise RuntimeError("killed between the queued row and the commit")

    with monkeypatch.context() as patched:
        patched.setattr(outbound, "queue_mail", queue_then_die)
        with pytest.raises(RuntimeError):
            send_digests(now=at(10))

    assert not OutboundMail.objects.exists()
    profile = AgentProfile.objects.get(user=me)
    assert profile.last_digest_at is None and profile.last_digest_notification_id is None
    assert send_digests(now=at(10, 5)) == 1
    assert send_digests(now=at(10, 10)) == 0
    assert len(sent_to("me@desk.example")) == 1


# Delivery: the outbound mail road, against real SMTP servers


def parsed(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def soon_after(expected: datetime, actual: datetime) -> bool:
    """`actual` is `expected` as read by a clock that ticked on a little (the send task's)."""
    return expected <= actual < expected + timedelta(seconds=10)


def digest_through(port: int, notify: Callable[..., Notification]) -> OutboundMail:
    """Me's first hourly digest, queued at 10:00 and sent (or tried) at once through a mailbox
    whose own SMTP server listens on `port`."""
    own_smtp(Mailbox.objects.create(address="support@desk.example"), port)
    notify(make_agent("me", EmailDigest.HOURLY), at(9, 30))
    with clock.travel_to(at(10)):
        assert send_digests(now=at(10)) == 1
    return OutboundMail.objects.get()


@pytest.mark.django_db(transaction=True)
def test_a_digest_leaves_from_the_default_mailbox_once_the_claim_commits(
    site_smtp: SmtpSink, notify: Callable[..., Notification]
) -> None:
    Mailbox.objects.create(address="billing@desk.example")
    Mailbox.objects.create(
        address="support@desk.example", display_name="Acme Support", is_default=True,
        signature="Acme Support team",
    )  # fmt: skip
    me = make_agent("me", EmailDigest.HOURLY)
    notify(me, at(9, 30))

    with clock.travel_to(at(10)):
        assert send_digests(now=at(10)) == 1

    row = OutboundMail.objects.get()
    assert row.state == OutboundMail.State.SENT and row.attempts == 1
    assert row.sent_at is not None and soon_after(at(10), row.sent_at)
    assert row.mailbox is not None and row.mailbox.address == "support@desk.example"
    (got,) = site_smtp.wait_for(1)
    message = parsed(got.raw)
    assert message["From"] == "Acme Support <support@desk.example>"
    assert message["To"] == "me@desk.example"
    assert message["Subject"] == "Patron: 1 unread notification"
    assert message["Message-ID"] == f"<{row.message_id_header}>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Reply-To"] is None and message["In-Reply-To"] is None
    text = message.get_content().replace("\r\n", "\n")
    assert text == row.body and "Acme Support team" not in text
    assert "You have 1 unread notification in Patron" in text
    assert outbound_tasks.send_due_mail.call() == 0  # sent once


@pytest.mark.django_db(transaction=True)
def test_a_desk_without_mailboxes_sends_the_digest_from_the_site_address(
    site_smtp: SmtpSink, notify: Callable[..., Notification], settings: Any
) -> None:
    settings.DEFAULT_FROM_EMAIL = "Patron <patron@desk.example>"
    me = make_agent("me", EmailDigest.HOURLY)
    notify(me, at(9, 30))

    with clock.travel_to(at(10)):
        send_digests(now=at(10))

    row = OutboundMail.objects.get()
    assert row.mailbox is None and row.state == OutboundMail.State.SENT
    assert row.message_id_header.endswith("@desk.example")
    message = parsed(site_smtp.wait_for(1)[0].raw)
    assert message["From"] == "Patron <patron@desk.example>"


@pytest.mark.django_db(transaction=True)
def test_an_smtp_outage_delays_the_digest_and_the_periodic_job_delivers_it_once(
    smtp_sink: SmtpSink, notify: Callable[..., Notification]
) -> None:
    smtp_sink.stop()

    row = digest_through(smtp_sink.port, notify)

    assert row.state == OutboundMail.State.QUEUED and row.attempts == 1
    assert row.last_error.startswith("Cannot reach the SMTP server")
    profile = AgentProfile.objects.get(user__username="me")
    assert profile.last_digest_at == at(10)  # the period is done
    assert send_digests(now=at(10, 30)) == 0  # so the next run does not queue it again

    smtp_sink.start()
    with clock.travel_to(row.next_attempt_at):
        assert outbound_tasks.send_due_mail.call() == 1
        assert outbound_tasks.send_due_mail.call() == 0
    assert len(smtp_sink.wait_for(1)) == 1
    row.refresh_from_db()
    assert row.state == OutboundMail.State.SENT and row.last_error == ""


@pytest.mark.django_db(transaction=True)
def test_a_4xx_answer_makes_the_digest_retry_with_backoff(
    answering: tuple[Answering, int], notify: Callable[..., Notification]
) -> None:
    handler, port = answering
    handler.answer = "451 4.7.1 <me@desk.example>: Recipient address rejected: Try again later"

    row = digest_through(port, notify)

    assert row.state == OutboundMail.State.QUEUED and row.attempts == 1
    assert "451 4.7.1" in row.last_error and "Try again later" in row.last_error
    assert soon_after(at(10) + outbound.backoff(1), row.next_attempt_at)  # the clock ticks on
    assert outbound.send_due(now=row.next_attempt_at - timedelta(seconds=1)) == 0  # not yet

    assert outbound.send_due(now=row.next_attempt_at) == 0  # refused again: waits longer
    row.refresh_from_db()
    assert row.attempts == 2
    assert soon_after(at(10) + outbound.backoff(1) + outbound.backoff(2), row.next_attempt_at)

    handler.answer = None
    assert outbound.send_due(now=row.next_attempt_at) == 1
    row.refresh_from_db()
    assert row.state == OutboundMail.State.SENT and row.attempts == 3
    assert len(handler.received) == 1
    assert b"You have 1 unread notification" in handler.received[0]


@pytest.mark.django_db(transaction=True)
def test_a_5xx_refusal_fails_the_digest_with_the_servers_answer(
    answering: tuple[Answering, int], notify: Callable[..., Notification]
) -> None:
    handler, port = answering
    handler.answer = "550 5.1.1 <me@desk.example>: Recipient address rejected: User unknown"

    row = digest_through(port, notify)

    assert row.state == OutboundMail.State.FAILED and row.attempts == 1
    assert (
        row.last_error.startswith("me@desk.example: 550 5.1.1") and "User unknown" in row.last_error
    )
    assert outbound.send_due(now=at(12)) == 0 and handler.received == []


# The command


@pytest.mark.django_db
def test_the_command_sends_the_due_digests_once(
    notify: Callable[..., Notification], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "now", lambda: at(10, 5))
    me = make_agent("me", EmailDigest.HOURLY)
    notify(me, at(9, 30))

    call_command("notification_digest")
    call_command("notification_digest")

    assert [row.to for row in OutboundMail.objects.all()] == [["me@desk.example"]]
    assert len(queued_to("me@desk.example")) == 1


@pytest.mark.django_db
def test_the_command_leaves_out_notifications_older_than_since_hours(
    notify: Callable[..., Notification], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "now", lambda: at(10))
    me = make_agent("me", EmailDigest.HOURLY)
    send_digests(now=at(6))
    notify(me, at(7))
    notify(me, at(9, 30))

    call_command("notification_digest", "--since-hours", "2")

    assert "You have 1 unread notification" in sent_to("me@desk.example")[0]


@pytest.mark.parametrize("hours", ["0", "-3", str(24 * 367)])
def test_the_command_refuses_a_nonsense_since(hours: str) -> None:
    with pytest.raises(CommandError, match="--since-hours must be between"):
        call_command("notification_digest", "--since-hours", hours)

"""The three ways in, end to end: IMAP polling against the real Dovecot, `patron mail listen` and
`patron mail pipe` as real processes sharing the test database. Each ends in stored raw bytes
and a ticket; each failure leaves the message with its sender (or on the IMAP server)."""

from __future__ import annotations

import os
import queue
import signal
import smtplib
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from patron.cli import main
from patron.core import clock
from patron.core.scheduler import fire_due_jobs
from patron.mail import inbound
from patron.mail.listener import Envelope
from patron.mail.models import InboundMail, Mailbox
from patron.tickets.models import Ticket
from tests.browser.conftest import database_url
from tests.mail.servers import PASSWORD, Dovecot, message, server_now

SEEN = "\\Seen"
START_TIMEOUT = 60
PROCESS_TIMEOUT = 120


def imap_mailbox(dovecot: Dovecot, user: str, **changes: Any) -> Mailbox:
    values: dict[str, Any] = {
        "address": "support@example.test",
        "inbound": Mailbox.Inbound.IMAP,
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.imap_port,
        "imap_security": "none",
        "imap_username": user,
        "imap_password": PASSWORD,
    }
    values.update(changes)
    return Mailbox.objects.create(**values)


def seen(dovecot: Dovecot, user: str) -> dict[int, bool]:
    return {uid: SEEN in flags for uid, flags in dovecot.flags(user).items()}


# --- IMAP ---------------------------------------------------------------------------------------


@pytest.mark.real_clock  # Dovecot dates the mail by the real clock
@pytest.mark.django_db(transaction=True)
def test_poll_turns_delivered_mail_into_tickets_and_a_second_poll_adds_nothing(
    dovecot: Dovecot, mailbox_user: str
) -> None:
    raws = [message(n) for n in range(3)]
    for raw in raws:
        dovecot.deliver(mailbox_user, raw)
    mailbox = imap_mailbox(dovecot, mailbox_user)
    now = clock.now()

    summary = inbound.poll_mailbox(mailbox, now=now)

    assert summary.ok and summary.stored == 3 and summary.last_uid == 3, summary
    mails = list(InboundMail.objects.order_by("pk"))
    assert [m.state for m in mails] == [InboundMail.State.PROCESSED] * 3, [m.reason for m in mails]
    assert all(m.source == InboundMail.Source.IMAP for m in mails)
    for mail, raw in zip(mails, raws, strict=True):
        assert bytes(mail.raw).endswith(raw)  # Dovecot adds Return-Path and Delivered-To
        # Arrival is the server's INTERNALDATE (whole seconds), not the poll's clock.
        assert abs(mail.received_at - server_now()) < timedelta(minutes=5)
        assert mail.received_at.microsecond == 0
    assert Ticket.objects.count() == 3
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        "Test 0",
        "Test 1",
        "Test 2",
    ]
    mailbox.refresh_from_db()
    assert mailbox.imap_last_uid == 3 and mailbox.imap_uidvalidity is not None
    assert mailbox.imap_checked_at == now and mailbox.imap_error == ""
    assert seen(dovecot, mailbox_user) == {1: True, 2: True, 3: True}

    again = inbound.poll_mailbox(mailbox, now=now + timedelta(minutes=1))

    assert again.ok and again.stored == 0 and again.last_uid == 3
    assert InboundMail.objects.count() == 3 and Ticket.objects.count() == 3
    assert str(again) == "support@example.test: 0 new messages (last UID 3)."


@pytest.mark.django_db(transaction=True)
def test_the_arrival_time_is_the_imap_internaldate(dovecot: Dovecot, mailbox_user: str) -> None:
    arrived = datetime(2026, 11, 20, 8, 30, 15, tzinfo=UTC)
    with dovecot.imap(mailbox_user) as client:
        client.append("INBOX", message(1), msg_time=arrived)
    mailbox = imap_mailbox(dovecot, mailbox_user)

    inbound.poll_mailbox(mailbox, now=arrived + timedelta(days=3))

    mail = InboundMail.objects.get()
    assert mail.received_at == arrived
    assert mail.ticket is not None and mail.ticket.created_at == arrived


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_is_recorded_and_nothing_is_lost(
    dovecot: Dovecot, mailbox_user: str
) -> None:
    dovecot.deliver(mailbox_user, message(1))
    mailbox = imap_mailbox(dovecot, mailbox_user, imap_password="not-the-password")
    now = clock.now()

    summary = inbound.poll_mailbox(mailbox, now=now)

    assert not summary.ok
    mailbox.refresh_from_db()
    assert mailbox.imap_error.startswith(f"Could not log in as {mailbox_user} on 127.0.0.1:")
    assert mailbox.imap_error.endswith(".") and "not-the-password" not in mailbox.imap_error
    assert mailbox.imap_checked_at == now and mailbox.imap_last_uid == 0
    assert not InboundMail.objects.exists()
    assert seen(dovecot, mailbox_user) == {1: False}

    Mailbox.objects.filter(pk=mailbox.pk).update(imap_password=PASSWORD)
    mailbox.refresh_from_db()
    fixed = inbound.poll_mailbox(mailbox, now=now + timedelta(minutes=1))

    assert fixed.ok and fixed.stored == 1
    mailbox.refresh_from_db()
    assert mailbox.imap_error == ""  # cleared by a good poll
    assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_server_that_does_not_answer_is_recorded(dovecot: Dovecot) -> None:
    from tests.mail.servers import free_port

    mailbox = imap_mailbox(dovecot, "nobody@example.test", imap_port=free_port())

    summary = inbound.poll_mailbox(mailbox, now=clock.now(), timeout=5)

    mailbox.refresh_from_db()
    assert not summary.ok
    assert mailbox.imap_error.startswith("Could not connect to the mailbox of nobody@example.test")


@pytest.mark.django_db(transaction=True)
def test_oversize_mail_stays_on_the_server_and_is_reported(
    dovecot: Dovecot, mailbox_user: str
) -> None:
    dovecot.deliver(mailbox_user, message(1))
    dovecot.deliver(mailbox_user, message(2, size=40_000))
    dovecot.deliver(mailbox_user, message(3))
    mailbox = imap_mailbox(dovecot, mailbox_user)

    summary = inbound.poll_mailbox(mailbox, now=clock.now(), max_bytes=20_000)

    assert summary.ok and summary.stored == 2 and summary.too_large == 1
    assert summary.last_uid == 3
    assert str(summary).endswith("; 1 too big, left on the server.")
    mailbox.refresh_from_db()
    assert mailbox.imap_error.startswith("Too big to fetch: 1 message in INBOX is bigger than")
    assert "(UID 2)" in mailbox.imap_error
    assert seen(dovecot, mailbox_user) == {1: True, 2: False, 3: True}
    assert Ticket.objects.count() == 2

    # Later polls move past it, but the note stays until an admin has seen it...
    dovecot.deliver(mailbox_user, message(4))
    later = inbound.poll_mailbox(mailbox, now=clock.now(), max_bytes=20_000)
    assert later.stored == 1 and later.too_large == 0
    mailbox.refresh_from_db()
    assert "(UID 2)" in mailbox.imap_error
    # ...even when a failure is reported beside it.
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_password="wrong")
    mailbox.refresh_from_db()
    inbound.poll_mailbox(mailbox, now=clock.now())
    mailbox.refresh_from_db()
    assert mailbox.imap_error.startswith("Could not log in as")
    assert mailbox.imap_error.endswith("raise PATRON_MAX_ATTACHMENT_MB.")


@pytest.mark.django_db(transaction=True)
def test_the_periodic_job_polls_every_active_imap_mailbox_despite_a_broken_one(
    dovecot: Dovecot,
) -> None:
    broken_user, good_user, idle_user = (dovecot.new_user() for _ in range(3))
    for user in (broken_user, good_user, idle_user):
        dovecot.deliver(user, message(1, to="x@example.test"))
    broken = imap_mailbox(
        dovecot, broken_user, address="broken@example.test", imap_password="wrong"
    )
    good = imap_mailbox(dovecot, good_user, address="good@example.test")
    inactive = imap_mailbox(dovecot, idle_user, address="idle@example.test", active=False)
    Mailbox.objects.create(address="piped@example.test", inbound=Mailbox.Inbound.PIPE)

    # As the scheduler fires it: inside its claim's transaction; the polls run after commit.
    fired = fire_due_jobs(clock.now())

    assert "poll_mailboxes" in fired
    for box in (broken, good, inactive):
        box.refresh_from_db()
    assert broken.imap_error.startswith("Could not log in")
    assert good.imap_error == "" and good.imap_last_uid == 1
    assert inactive.imap_checked_at is None
    assert list(InboundMail.objects.values_list("mailbox__address", flat=True)) == [
        "good@example.test"
    ]
    assert seen(dovecot, broken_user) == {1: False} and seen(dovecot, idle_user) == {1: False}
    assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_store_that_fails_leaves_the_message_on_the_server(
    dovecot: Dovecot, mailbox_user: str
) -> None:
    """The mailbox row is gone by the time the bytes are written (deleted mid-poll): the
    insert fails, the poll stops, and the message stays unread for the next poll."""
    dovecot.deliver(mailbox_user, message(1))
    mailbox = imap_mailbox(dovecot, mailbox_user)
    ghost = Mailbox.objects.get(pk=mailbox.pk)
    Mailbox.objects.filter(pk=mailbox.pk).delete()

    summary = inbound.poll_mailbox(ghost, now=clock.now())

    assert not summary.ok
    assert summary.error.startswith("Storing message UID 1 failed; it stays on the server")
    assert seen(dovecot, mailbox_user) == {1: False}
    assert not InboundMail.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_patron_mail_poll_fetches_now_and_prints_a_summary(
    capsys: pytest.CaptureFixture[str], dovecot: Dovecot
) -> None:
    good_user, other_user = dovecot.new_user(), dovecot.new_user()
    dovecot.deliver(good_user, message(1))
    dovecot.deliver(good_user, message(2))
    common = {"imap_host": "127.0.0.1", "imap_port": dovecot.imap_port, "imap_security": "none"}
    Mailbox.objects.create(
        address="good@desk.example", imap_username=good_user, imap_password=PASSWORD, **common
    )
    Mailbox.objects.create(
        address="bad@desk.example", imap_username=other_user, imap_password="nope", **common
    )

    code = main(["mail", "poll"])

    captured = capsys.readouterr()
    assert code == 1  # one mailbox failed
    assert "good@desk.example: 2 new messages (last UID 2)." in captured.out
    assert f"patron: bad@desk.example: Could not log in as {other_user}" in captured.err
    assert InboundMail.objects.filter(mailbox__address="good@desk.example").count() == 2

    code = main(["mail", "poll", "--mailbox", "GOOD@desk.example"])

    assert code == 0
    assert "good@desk.example: 0 new messages (last UID 2)." in capsys.readouterr().out


# --- callbacks, in process ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_listener_store_keeps_one_copy_per_mailbox_among_the_recipients() -> None:
    support = Mailbox.objects.create(address="support@example.test", inbound="listener")
    sales = Mailbox.objects.create(address="sales@example.test", inbound="listener")
    Mailbox.objects.create(address="polled@example.test", inbound="imap")
    assert inbound.listener_accepts("Support+t1@Example.test")
    assert not inbound.listener_accepts("polled@example.test")
    assert not inbound.listener_accepts("nobody@example.test")
    raw = message(1)
    envelope = Envelope(
        "a@example.org",
        ("support@example.test", "support+x@example.test", "sales@example.test"),
        "127.0.0.1:1",
        "smtp",
    )

    inbound.listener_store(raw, envelope)
    inbound.listener_store(raw, envelope)  # the MTA retries after a lost 250

    copies = {m.mailbox_id: m for m in InboundMail.objects.all()}
    assert set(copies) == {support.pk, sales.pk}
    assert copies[support.pk].envelope_to == ["support@example.test", "support+x@example.test"]
    assert copies[sales.pk].envelope_from == "a@example.org"
    assert copies[sales.pk].source == InboundMail.Source.SMTP


# --- `patron mail listen` and `patron mail pipe` as processes -------------------------------


def patron_env(**extra: str) -> dict[str, str]:
    """The environment of a `patron` subprocess that uses this test's database."""
    from patron.settings import CONFIG

    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DATABASE_URL=database_url(connection.settings_dict),
        PATRON_DATA_DIR=str(CONFIG.data_dir),
        PATRON_SECRET_KEY=CONFIG.secret_key,
        PATRON_TASK_BACKEND="immediate",
    )
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


class Listener:
    def __init__(self, process: subprocess.Popen[str], port: int, lines: queue.Queue[str]) -> None:
        self.process = process
        self.port = port
        self.lines = lines


@contextmanager
def listening(*args: str) -> Iterator[Listener]:
    command = [sys.executable, "-m", "patron.cli", "mail", "listen", "--port", "0", *args]
    process = subprocess.Popen(
        command,
        env=patron_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    port = 0
    seen_lines: list[str] = []
    try:
        while not port:
            try:
                line = lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no 'Listening' line: {seen_lines}") from None
            seen_lines.append(line)
            if line.startswith("Listening for "):
                port = int(line.split()[4].rsplit(":", 1)[1])
        yield Listener(process, port, lines)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def listener_mailbox() -> Mailbox:
    return Mailbox.objects.create(
        address="support@example.test", inbound=Mailbox.Inbound.LISTENER, display_name="Support"
    )


@pytest.mark.django_db(transaction=True)
def test_patron_mail_listen_takes_smtp_and_answers_250_once_stored() -> None:
    mailbox = listener_mailbox()
    raw = message(1)
    with listening() as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
            code, _ = smtp.ehlo()
            assert code == 250
            refused = smtp.sendmail("customer1@example.org", ["support@example.test"], raw)
            assert refused == {}
            # The 250 came back: the bytes are committed, whatever happens to the process now.
            mail = InboundMail.objects.get()
            assert bytes(mail.raw) == raw
            assert mail.mailbox == mailbox and mail.source == InboundMail.Source.SMTP
            assert mail.envelope_from == "customer1@example.org"

            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused_error:
                smtp.sendmail("x@example.org", ["nobody@example.test"], message(2))
            code, text = refused_error.value.recipients["nobody@example.test"]
            assert code == 550 and b"5.1.1" in text
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    mail.refresh_from_db()
    assert mail.state == InboundMail.State.PROCESSED, mail.reason
    assert Ticket.objects.get().subject == "Test 1"
    assert InboundMail.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_patron_mail_listen_lmtp_answers_per_recipient() -> None:
    listener_mailbox()
    Mailbox.objects.create(address="sales@example.test", inbound=Mailbox.Inbound.LISTENER)
    raw = message(1)
    with listening("--lmtp") as server:
        with smtplib.LMTP("127.0.0.1", server.port, timeout=30) as lmtp:
            # smtplib reads one reply after DATA; LMTP sends one per recipient (RFC 2033).
            lmtp.ehlo()
            assert lmtp.mail("customer1@example.org")[0] == 250
            assert lmtp.rcpt("support@example.test")[0] == 250
            assert lmtp.rcpt("sales@example.test")[0] == 250
            assert lmtp.data(raw)[0] == 250
            assert lmtp.getreply()[0] == 250
        with (
            smtplib.LMTP("127.0.0.1", server.port, timeout=30) as lmtp,
            pytest.raises(smtplib.SMTPRecipientsRefused),
        ):
            lmtp.sendmail("x@example.org", ["nobody@example.test"], message(2))

    stored = {m.mailbox.address: m for m in InboundMail.objects.select_related("mailbox")}
    assert set(stored) == {"support@example.test", "sales@example.test"}
    assert all(m.source == InboundMail.Source.LMTP for m in stored.values())
    assert all(bytes(m.raw) == raw for m in stored.values())


def test_patron_mail_listen_says_why_it_cannot_listen() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "patron.cli", "mail", "listen", "--port", str(port)],
            env={**os.environ},
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
        )
    assert done.returncode == 1
    assert f"patron: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def pipe(
    raw: bytes, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "patron.cli", "mail", "pipe", *args],
        input=raw,
        env=env if env is not None else patron_env(),
        capture_output=True,
        timeout=PROCESS_TIMEOUT,
    )


@pytest.mark.django_db(transaction=True)
def test_patron_mail_pipe_stores_a_message_and_exits_0() -> None:
    mailbox = Mailbox.objects.create(address="support@example.test", inbound="pipe")
    raw = message(1)

    done = pipe(raw, "--mailbox", "Support@Example.test")

    assert done.returncode == 0, done.stderr
    mail = InboundMail.objects.get()
    assert bytes(mail.raw) == raw and mail.mailbox == mailbox
    assert mail.source == InboundMail.Source.PIPE
    assert mail.state == InboundMail.State.PROCESSED, mail.reason
    assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_patron_mail_pipe_finds_the_mailbox_from_postfix_environment() -> None:
    mailbox = Mailbox.objects.create(address="support@example.test", inbound="pipe")

    done = pipe(
        message(1),
        env=patron_env(SENDER="customer1@example.org", RECIPIENT="support+t1@example.test"),
    )

    assert done.returncode == 0, done.stderr
    mail = InboundMail.objects.get()
    assert mail.mailbox == mailbox
    assert mail.envelope_from == "customer1@example.org"
    assert mail.envelope_to == ["support+t1@example.test"]


@pytest.mark.django_db(transaction=True)
def test_patron_mail_pipe_without_a_mailbox_is_a_temporary_failure() -> None:
    done = pipe(message(1), env=patron_env(RECIPIENT="nobody@example.test"))

    assert done.returncode == 75
    err = done.stderr.decode()
    assert err.count("\n") == 1, err
    assert "No active mailbox in Patron for nobody@example.test" in err
    assert not InboundMail.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://postgres@127.0.0.1:1/unreachable",  # nothing listens there
        "sqlite:////nonexistent-directory/patron.sqlite3",  # cannot be opened
        "mysql://nonsense",  # not even a supported database
    ],
)
def test_patron_mail_pipe_with_no_usable_database_exits_75(url: str) -> None:
    done = pipe(message(1), "--mailbox", "support@example.test", env=patron_env(DATABASE_URL=url))

    assert done.returncode == 75, done.stderr
    err = done.stderr.decode()
    assert err.count("\n") == 1, err
    assert "Traceback" not in err


@pytest.mark.django_db(transaction=True)
def test_patron_mail_pipe_refuses_empty_input_for_good() -> None:
    Mailbox.objects.create(address="support@example.test", inbound="pipe")

    done = pipe(b"\n", "--mailbox", "support@example.test")

    assert done.returncode == 65
    assert b"empty input" in done.stderr

"""The IMAP IDLE loop against the real Dovecot: mail appended to the folder becomes an
InboundMail within seconds (the poll runs every minute; no poll runs here), by IDLE on a server
that offers it and by NOOP on one that does not; failures back off and are recorded."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from patron.mail import idle
from patron.mail.models import InboundMail, Mailbox
from tests.mail.servers import Dovecot, message
from tests.mail.test_inbound import imap_mailbox

ARRIVAL_SECONDS = 5  # well under the poll's minute
# The threads share the test database, so the rows they write must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> float:
    """Poll `condition`; return how long it took, or fail naming what was awaited."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


@contextmanager
def running(**options: float) -> Iterator[idle.IdleLoop]:
    loop = idle.IdleLoop(refresh_seconds=0.2, **options).start()
    try:
        yield loop
    finally:
        started = time.monotonic()
        loop.stop()
        assert time.monotonic() - started < 5, "the IDLE loop took long to stop"
        assert not any(w.is_alive() for w in loop.watchers.values())


def checked(mailbox: Mailbox) -> bool:
    mailbox.refresh_from_db()
    return mailbox.imap_checked_at is not None


def mails(mailbox: Mailbox) -> int:
    return InboundMail.objects.filter(mailbox=mailbox).count()


def arrived(mailbox: Mailbox, count: int) -> Callable[[], bool]:
    return lambda: mails(mailbox) == count


@pytest.mark.parametrize("server", ["dovecot", "dovecot_basic"])
def test_appended_mail_arrives_within_seconds(
    server: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot: Dovecot = request.getfixturevalue(server)
    caplog.set_level(logging.DEBUG, logger="patron.mail.imap")
    user = dovecot.new_user()
    dovecot.append(user, "INBOX", message(1))
    mailbox = imap_mailbox(dovecot, user)

    with running(noop_seconds=0.5):
        # The first round fetches what was already there, then waits on the folder.
        wait_for(lambda: mails(mailbox) == 1, timeout=ARRIVAL_SECONDS, what="the first mail")
        time.sleep(0.5)  # into the wait
        for n in (2, 3):
            dovecot.append(user, "INBOX", message(n))
            took = wait_for(arrived(mailbox, n), timeout=ARRIVAL_SECONDS, what=f"mail {n}")
            assert took < ARRIVAL_SECONDS

    assert set(InboundMail.objects.values_list("source", flat=True)) == {"imap"}
    # Acknowledged after the commit, as the poller does: every message is \Seen now.
    assert all("\\Seen" in flags for flags in dovecot.flags(user).values())
    mailbox.refresh_from_db()
    assert mailbox.imap_last_uid == 3 and mailbox.imap_error == ""
    waits = [r.getMessage() for r in caplog.records if r.name == "patron.mail.imap"]
    if server == "dovecot":
        assert any("with IDLE" in text for text in waits), waits
        assert not any("offers no IDLE" in text for text in waits), waits
    else:  # the capability list lacks IDLE: the loop polls the open connection with NOOP
        assert any("offers no IDLE" in text for text in waits), waits
        assert not any("with IDLE" in text for text in waits), waits


def test_idle_is_issued_again_after_its_time(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    mailbox = imap_mailbox(dovecot, user)
    with running(idle_seconds=0.5) as loop:
        wait_for(lambda: checked(mailbox), timeout=ARRIVAL_SECONDS, what="the first round")
        first = mailbox.imap_checked_at
        # Each IDLE ends after its time; the watcher polls (a safety poll) and idles again.
        wait_for(
            lambda: checked(mailbox) and mailbox.imap_checked_at != first,
            timeout=ARRIVAL_SECONDS,
            what="a second round",
        )
        dovecot.append(user, "INBOX", message(1))
        wait_for(lambda: mails(mailbox) == 1, timeout=ARRIVAL_SECONDS, what="the mail")
        assert [w.failures for w in loop.watchers.values()] == [0]


def test_a_failing_mailbox_backs_off_and_recovers_when_fixed(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    mailbox = imap_mailbox(dovecot, user, imap_password="wrong")
    dovecot.append(user, "INBOX", message(1))
    with running() as loop:
        wait_for(
            lambda: checked(mailbox) and mailbox.imap_error.startswith("Could not log in"),
            timeout=ARRIVAL_SECONDS,
            what="the error on the mailbox",
        )
        watcher = loop.watchers[mailbox.pk]
        # The poll saves the error before the watcher counts the failure: wait for the count.
        wait_for(lambda: watcher.failures >= 1, timeout=ARRIVAL_SECONDS, what="the failure counted")
        assert watcher.is_alive() and watcher.failures == 1  # waiting RETRY_FIRST, not spinning
        time.sleep(1)
        assert watcher.failures == 1

        # An admin fixes the password: the loop replaces the watcher, which fetches at once.
        Mailbox.objects.filter(pk=mailbox.pk).update(imap_password="secret")
        wait_for(
            lambda: mails(mailbox) == 1 and checked(mailbox) and not mailbox.imap_error,
            timeout=ARRIVAL_SECONDS,
            what="the mail, and the error gone",
        )
        assert not watcher.is_alive()


def test_a_mailbox_switched_off_is_let_go(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    mailbox = imap_mailbox(dovecot, user)
    other = imap_mailbox(dovecot, dovecot.new_user(), address="sales@example.test")
    with running() as loop:
        wait_for(lambda: len(loop.watchers) == 2, timeout=ARRIVAL_SECONDS, what="two watchers")
        watcher = loop.watchers[mailbox.pk]
        Mailbox.objects.filter(pk=mailbox.pk).update(inbound=Mailbox.Inbound.PIPE)
        wait_for(lambda: not watcher.is_alive(), timeout=ARRIVAL_SECONDS, what="its watcher")
        assert list(loop.watchers) == [other.pk]

"""IMAP polling against a real Dovecot: nothing is marked before it is stored, nothing is lost."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from patron.mail.imap import Fetched, MailboxUnavailable, StoreFailed, idle_once, poll
from tests.mail.servers import PASSWORD, Dovecot, message, server_now

SEEN = "\\Seen"


class Store:
    """A store that keeps what it is given and can be told to fail on its n-th call."""

    def __init__(self, *, fail_on: int | None = None) -> None:
        self.got: list[Fetched] = []
        self.calls = 0
        self.fail_on = fail_on

    def __call__(self, fetched: Fetched) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("database is down")
        self.got.append(fetched)


def seen(dovecot: Dovecot, user: str, folder: str = "INBOX") -> dict[int, bool]:
    return {uid: SEEN in flags for uid, flags in dovecot.flags(user, folder).items()}


def test_poll_stores_then_flags_and_a_second_poll_stores_nothing(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    raws = [message(n) for n in range(3)]
    for raw in raws:
        dovecot.deliver(user, raw)
    assert seen(dovecot, user) == {1: False, 2: False, 3: False}
    store = Store()

    result = poll(dovecot.account(user), uidvalidity=None, last_uid=0, store=store)

    assert (result.stored, result.last_uid, result.too_large, result.restarted) == (3, 3, (), False)
    assert [f.uid for f in store.got] == [1, 2, 3]
    # Byte for byte what the MTA delivered (Dovecot adds its Return-Path/Delivered-To on top).
    for fetched, raw in zip(store.got, raws, strict=True):
        assert fetched.raw.endswith(raw)
        assert fetched.internal_date is not None
        assert fetched.internal_date.tzinfo is not None
        assert fetched.internal_date.utcoffset() == timedelta(0)
        assert abs(fetched.internal_date - server_now()) < timedelta(minutes=5)
    assert seen(dovecot, user) == {1: True, 2: True, 3: True}

    again = Store()
    second = poll(
        dovecot.account(user), uidvalidity=result.uidvalidity, last_uid=result.last_uid, store=again
    )
    assert again.got == [] and second.stored == 0 and second.last_uid == 3


def test_progress_is_by_uid_not_by_the_seen_flag(dovecot: Dovecot) -> None:
    """A person reading a message in webmail (setting \\Seen) does not hide it from Patron."""
    user = dovecot.new_user()
    dovecot.deliver(user, message(1))
    with dovecot.imap(user) as client:
        client.select_folder("INBOX")
        client.add_flags([1], [b"\\Seen"])
    store = Store()
    result = poll(dovecot.account(user), uidvalidity=None, last_uid=0, store=store)
    assert [f.uid for f in store.got] == [1] and result.last_uid == 1


def test_a_failing_store_leaves_that_message_and_later_ones_untouched(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    for n in range(3):
        dovecot.deliver(user, message(n))
    failing = Store(fail_on=2)

    with pytest.raises(StoreFailed) as caught:
        poll(dovecot.account(user), uidvalidity=None, last_uid=0, store=failing)

    assert caught.value.uid == 2
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert (caught.value.result.stored, caught.value.result.last_uid) == (1, 1)
    assert [f.uid for f in failing.got] == [1]
    assert seen(dovecot, user) == {1: True, 2: False, 3: False}

    # A later poll from the saved progress gets exactly the two that were left.
    later = Store()
    result = poll(
        dovecot.account(user),
        uidvalidity=caught.value.result.uidvalidity,
        last_uid=caught.value.result.last_uid,
        store=later,
    )
    assert [f.uid for f in later.got] == [2, 3]
    assert result.last_uid == 3
    assert seen(dovecot, user) == {1: True, 2: True, 3: True}


def test_small_batches_cover_every_message(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    for n in range(7):
        dovecot.deliver(user, message(n))
    store = Store()
    result = poll(dovecot.account(user), uidvalidity=None, last_uid=0, store=store, batch=3)
    assert [f.uid for f in store.got] == list(range(1, 8))
    assert result.stored == 7 and result.last_uid == 7


@pytest.mark.parametrize("server", ["dovecot", "dovecot_basic"])
def test_move_to_moves_only_after_storing(server: str, request: pytest.FixtureRequest) -> None:
    """With MOVE, and without (COPY + \\Deleted + UID EXPUNGE) on the trimmed-down server."""
    dovecot: Dovecot = request.getfixturevalue(server)
    user = dovecot.new_user()
    raws = [message(n) for n in range(3)]
    for raw in raws:
        dovecot.deliver(user, raw)
    with dovecot.imap(user) as client:
        client.create_folder("Patron")
        assert client.has_capability("MOVE") == (server == "dovecot")
    account = dovecot.account(user, move_to="Patron")

    with pytest.raises(StoreFailed):
        poll(account, uidvalidity=None, last_uid=0, store=Store(fail_on=3))
    assert sorted(dovecot.flags(user, "INBOX")) == [3]
    assert len(dovecot.flags(user, "Patron")) == 2

    store = Store()
    result = poll(account, uidvalidity=None, last_uid=2, store=store)
    assert [f.uid for f in store.got] == [3] and result.last_uid == 3
    assert dovecot.flags(user, "INBOX") == {}
    with dovecot.imap(user) as client:
        client.select_folder("Patron", readonly=True)
        moved = client.fetch(client.search("ALL"), ["BODY.PEEK[]"])
    bodies = sorted(bytes(d[b"BODY[]"]) for d in moved.values())
    assert len(bodies) == 3
    for raw in raws:
        assert sum(body.endswith(raw) for body in bodies) == 1


def test_missing_move_to_folder_is_reported_before_anything_is_stored(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    dovecot.deliver(user, message(1))
    store = Store()
    with pytest.raises(MailboxUnavailable, match="'Nowhere'"):
        poll(dovecot.account(user, move_to="Nowhere"), uidvalidity=None, last_uid=0, store=store)
    assert store.calls == 0
    assert seen(dovecot, user) == {1: False}


def test_uidvalidity_change_fetches_everything_again(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    dovecot.append(user, "Support", message(1))
    dovecot.append(user, "Support", message(2))
    account = dovecot.account(user, folder="Support")
    first = poll(account, uidvalidity=None, last_uid=0, store=Store())
    assert first.last_uid == 2

    # Recreate the folder: the server gives it a new UIDVALIDITY, and UIDs restart at 1.
    with dovecot.imap(user) as client:
        client.delete_folder("Support")
    time.sleep(1.1)  # Dovecot derives UIDVALIDITY from the clock
    dovecot.append(user, "Support", message(3))
    store = Store()
    second = poll(account, uidvalidity=first.uidvalidity, last_uid=first.last_uid, store=store)

    assert second.uidvalidity != first.uidvalidity
    assert second.restarted
    assert [f.uid for f in store.got] == [1]
    assert b"Message number 3." in store.got[0].raw
    assert second.last_uid == 1


def test_a_stale_uidvalidity_alone_refetches_the_folder(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    for n in range(2):
        dovecot.deliver(user, message(n))
    first = poll(dovecot.account(user), uidvalidity=None, last_uid=0, store=Store())
    store = Store()
    again = poll(dovecot.account(user), uidvalidity=first.uidvalidity + 1, last_uid=2, store=store)
    assert again.restarted and [f.uid for f in store.got] == [1, 2]


def test_oversize_message_is_left_on_the_server_and_reported(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    dovecot.deliver(user, message(1))
    dovecot.deliver(user, message(2, size=50_000))
    dovecot.deliver(user, message(3))
    store = Store()

    result = poll(
        dovecot.account(user), uidvalidity=None, last_uid=0, store=store, max_bytes=20_000
    )

    assert [f.uid for f in store.got] == [1, 3]
    assert [t.uid for t in result.too_large] == [2] == list(result.skipped_too_large)
    assert result.too_large[0].size > 50_000 - 200
    assert result.last_uid == 3
    assert seen(dovecot, user) == {1: True, 2: False, 3: True}
    # Still there, whole: an admin can raise the limit and poll it from UID 1.
    store = Store()
    poll(dovecot.account(user), uidvalidity=None, last_uid=1, store=store, max_bytes=10**6)
    assert [f.uid for f in store.got] == [2, 3]
    assert len(store.got[0].raw) == result.too_large[0].size


def test_wrong_password_is_a_clear_error_without_the_password(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    account = dovecot.account(user, password="hunter2-wrong")
    with pytest.raises(MailboxUnavailable) as caught:
        poll(account, uidvalidity=None, last_uid=0, store=Store())
    text = str(caught.value)
    assert "hunter2" not in text and PASSWORD not in text
    assert user in text and "log in" in text
    assert text.endswith(".") and text.count("\n") == 0
    assert "hunter2" not in repr(account)


def test_nothing_listening_is_a_clear_error(dovecot: Dovecot) -> None:
    from tests.mail.servers import free_port

    account = dovecot.account(dovecot.new_user(), port=free_port())
    with pytest.raises(MailboxUnavailable, match="Could not connect"):
        poll(account, uidvalidity=None, last_uid=0, store=Store(), timeout=5)


def test_missing_folder_is_a_clear_error(dovecot: Dovecot) -> None:
    account = dovecot.account(dovecot.new_user(), folder="Nope")
    with pytest.raises(MailboxUnavailable, match="'Nope'"):
        poll(account, uidvalidity=None, last_uid=0, store=Store())


@pytest.mark.parametrize("server", ["dovecot", "dovecot_basic"])
def test_idle_once_wakes_when_mail_arrives(server: str, request: pytest.FixtureRequest) -> None:
    """With IDLE, and by NOOP polling on the server that does not advertise IDLE."""
    dovecot: Dovecot = request.getfixturevalue(server)
    user = dovecot.new_user()
    account = dovecot.account(user)
    poll(account, uidvalidity=None, last_uid=0, store=Store())  # creates the mailbox
    timer = threading.Timer(1.0, dovecot.deliver, args=(user, message(1)))
    timer.start()
    started = time.monotonic()
    try:
        arrived = idle_once(account, seconds=20, interval=0.5)
    finally:
        timer.join()
    elapsed = time.monotonic() - started
    assert arrived is True
    assert 0.9 < elapsed < 10


def test_idle_once_times_out_without_mail(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    account = dovecot.account(user)
    poll(account, uidvalidity=None, last_uid=0, store=Store())
    started = time.monotonic()
    assert idle_once(account, seconds=1) is False
    assert 0.9 < time.monotonic() - started < 5


def test_idle_once_sees_mail_that_arrived_before_it_started(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    account = dovecot.account(user)
    dovecot.deliver(user, message(1))
    first = poll(account, uidvalidity=None, last_uid=0, store=Store())
    dovecot.deliver(user, message(2))  # between the poll and the wait
    started = time.monotonic()
    assert idle_once(account, seconds=10, last_uid=first.last_uid) is True
    assert time.monotonic() - started < 5
    assert idle_once(account, seconds=0.5, last_uid=2) is False

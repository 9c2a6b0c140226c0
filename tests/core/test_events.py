"""The event spine: events are written with their change, consumers run after commit, at least
once, with an effect that happens exactly once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from patron.core import consumers, events
from patron.core.events import LEASE, MAX_ATTEMPTS, REDRIVE_GRACE, claim, deliver, redrive
from patron.core.models import DeliveryState, EventDelivery
from patron.notifications.consumers import notify_followers
from patron.notifications.models import Notification
from patron.people.models import PeopleEventDelivery
from patron.search.models import SearchDocument
from patron.tickets import followers, services
from patron.tickets.events import record
from patron.tickets.models import EventKind, Message, Ticket, TicketEvent
from tests import factories

CaptureCallbacks = Callable[..., Any]
SECOND = timedelta(seconds=1)


class Boom(Exception):
    """Raised by a test after a change, to roll its transaction back."""


@pytest.fixture
def alice() -> User:
    return factories.agent(username="alice", password=None)


@pytest.fixture
def bob() -> User:
    return factories.agent(username="bob", password=None)


@pytest.fixture
def carol() -> User:
    return factories.agent(username="carol", password=None)


@pytest.fixture
def ticket(now: datetime, alice: User, bob: User, carol: User) -> Ticket:
    """Assigned to alice, followed by bob and carol."""
    ticket = factories.ticket(now=now, actor=alice, assignee=alice)
    followers.follow(ticket, bob, actor=bob, now=now)
    followers.follow(ticket, carol, actor=carol, now=now)
    return ticket


def receipt_of(event: TicketEvent) -> EventDelivery:
    return EventDelivery.objects.get(event=event, consumer="notify_followers")


def last_event(ticket: Ticket) -> TicketEvent:
    return TicketEvent.objects.filter(ticket=ticket).latest("id")


def notified(event: TicketEvent) -> dict[str, str]:
    rows = Notification.objects.filter(event=event).select_related("recipient")
    return {n.recipient.username: n.reason for n in rows}


def malformed_assignment(ticket: Ticket, *, actor: User, at: datetime) -> EventDelivery:
    """An assigned event whose assignee is not a user id: notify_followers fails on it."""
    with transaction.atomic():
        event = record(ticket, EventKind.ASSIGNED, actor=actor, at=at, to="nobody")
    return receipt_of(event)


# Receipts are written with the event


@pytest.mark.django_db
def test_it_writes_a_pending_receipt_for_each_interested_consumer(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    services.reply(ticket, author=bob, body="On it", now=now)

    event = last_event(ticket)
    receipt = receipt_of(event)
    assert event.kind == EventKind.MESSAGE_ADDED
    assert (receipt.state, receipt.attempts) == (DeliveryState.PENDING, 0)
    assert receipt.due_at == now + REDRIVE_GRACE


@pytest.mark.django_db
def test_it_writes_no_receipt_for_an_event_no_consumer_reads(
    now: datetime, ticket: Ticket, alice: User
) -> None:
    followers.unfollow(ticket, alice, actor=alice, now=now)
    followers.follow(ticket, alice, actor=alice, now=now)

    assert not EventDelivery.objects.filter(event=last_event(ticket)).exists()


@pytest.mark.django_db
def test_it_lists_every_consumer_by_name() -> None:
    assert consumers.consumers_for(EventKind.MESSAGE_ADDED) == [
        "notify_followers",
        "search_index",
        "notify_account_manager",
        "send_reply_mail",
        "sla_clocks",
        "triggers",  # only while a trigger is asked at this moment (tests/automation)
        "webhooks",  # every kind, but only while a webhook wants it (tests/webhooks)
    ]
    assert consumers.consumers_for(EventKind.FOLLOWED) == ["webhooks"]
    assert consumers.consumer_named("notify_followers") is notify_followers
    with pytest.raises(LookupError, match="No event consumer is called 'nope'"):
        consumers.consumer_named("nope")


# The same transaction


@pytest.mark.django_db(transaction=True)
def test_it_keeps_neither_change_nor_event_nor_receipt_when_the_transaction_rolls_back(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    counts = (Message.objects.count(), TicketEvent.objects.count(), EventDelivery.objects.count())

    with pytest.raises(Boom), transaction.atomic():
        services.reply(ticket, author=bob, body="Lost", now=now, status="pending")
        raise Boom

    after = (Message.objects.count(), TicketEvent.objects.count(), EventDelivery.objects.count())
    assert after == counts
    refreshed = Ticket.objects.get(pk=ticket.pk)
    assert (refreshed.status, refreshed.message_count) == ("open", 1)


@pytest.mark.django_db(transaction=True)
def test_it_runs_no_consumer_for_a_change_that_rolled_back(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    Notification.objects.all().delete()

    with pytest.raises(Boom), transaction.atomic():
        services.reply(ticket, author=bob, body="Lost", now=now)
        raise Boom

    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_record_an_event_outside_a_transaction(now: datetime, ticket: Ticket) -> None:
    with pytest.raises(RuntimeError, match="must run inside the transaction"):
        record(ticket, EventKind.MESSAGE_ADDED, actor=None, at=now)


@pytest.mark.django_db(transaction=True)
def test_it_delivers_after_a_real_commit_with_the_immediate_backend(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    services.reply(ticket, author=bob, body="Committed", now=now)

    event = last_event(ticket)
    assert receipt_of(event).state == DeliveryState.DONE
    assert notified(event) == {"alice": "your_ticket", "carol": "following"}


# After commit, once


@pytest.mark.django_db
def test_it_runs_no_consumer_before_the_commit(
    now: datetime,
    ticket: Ticket,
    bob: User,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.reply(ticket, author=bob, body="Not yet", now=now)

    event = last_event(ticket)
    assert len(callbacks) == 1
    assert receipt_of(event).state == DeliveryState.PENDING
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_it_notifies_followers_and_the_assignee_but_not_the_actor_after_commit(
    now: datetime,
    ticket: Ticket,
    bob: User,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket, author=bob, body="Found it", now=now)

    event = last_event(ticket)
    assert notified(event) == {"alice": "your_ticket", "carol": "following"}
    assert receipt_of(event).state == DeliveryState.DONE
    assert set(Notification.objects.values_list("ticket_id", "created_at")) == {(ticket.pk, now)}


@pytest.mark.django_db
def test_it_notifies_everyone_when_the_customer_writes(
    now: datetime, ticket: Ticket, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.add_customer_message(ticket, contact=ticket.requester, body="Hi", now=now)

    message_added = TicketEvent.objects.filter(ticket=ticket, kind="message_added").latest("id")
    assert notified(message_added) == {
        "alice": "your_ticket",
        "bob": "following",
        "carol": "following",
    }


@pytest.mark.django_db
def test_it_tells_the_new_assignee_the_ticket_is_theirs(
    now: datetime,
    ticket: Ticket,
    bob: User,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    dave = factories.agent(username="dave", password=None)

    with django_capture_on_commit_callbacks(execute=True):
        services.assign(ticket, dave, actor=bob, now=now)

    assert notified(last_event(ticket)) == {"carol": "following", "dave": "assigned_to_you"}


@pytest.mark.django_db
def test_it_does_nothing_when_a_done_receipt_is_delivered_again(
    now: datetime,
    ticket: Ticket,
    bob: User,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket, author=bob, body="Once", now=now)
    receipt = receipt_of(last_event(ticket))
    before = Notification.objects.count()

    outcome = deliver(receipt.pk, now=now + LEASE * 2)

    assert outcome == "skipped"
    assert Notification.objects.count() == before
    receipt.refresh_from_db()
    assert (receipt.state, receipt.attempts) == (DeliveryState.DONE, 1)


@pytest.mark.django_db
def test_notify_followers_is_idempotent_on_its_own(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    services.reply(ticket, author=bob, body="Twice", now=now)
    event = last_event(ticket)

    notify_followers(event)
    notify_followers(event)

    assert Notification.objects.filter(event=event).count() == 2


# Failures, retries and giving up


@pytest.mark.django_db
def test_it_keeps_a_failed_delivery_pending_with_the_error_and_a_backoff(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    receipt = malformed_assignment(ticket, actor=bob, at=now)

    outcome = deliver(receipt.pk, now=now, worker="w1")

    receipt.refresh_from_db()
    assert outcome == DeliveryState.PENDING
    assert (receipt.state, receipt.attempts) == (DeliveryState.PENDING, 1)
    assert receipt.due_at == now + timedelta(seconds=30)
    assert "ValueError" in receipt.last_error
    assert "'nobody'" in receipt.last_error
    assert not Notification.objects.filter(event=receipt.event).exists()


@pytest.mark.django_db
def test_it_doubles_the_backoff_after_each_failure(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    receipt = malformed_assignment(ticket, actor=bob, at=now)
    deliver(receipt.pk, now=now)
    second_try = now + timedelta(seconds=30)

    deliver(receipt.pk, now=second_try)

    receipt.refresh_from_db()
    assert receipt.attempts == 2
    assert receipt.due_at == second_try + timedelta(seconds=60)


@pytest.mark.django_db
def test_it_gives_up_after_the_last_attempt(now: datetime, ticket: Ticket, bob: User) -> None:
    receipt = malformed_assignment(ticket, actor=bob, at=now)
    outcomes = [deliver(receipt.pk, now=now + i * timedelta(hours=1)) for i in range(MAX_ATTEMPTS)]

    receipt.refresh_from_db()
    assert outcomes == [DeliveryState.PENDING] * (MAX_ATTEMPTS - 1) + [DeliveryState.FAILED]
    assert (receipt.state, receipt.attempts) == (DeliveryState.FAILED, MAX_ATTEMPTS)
    assert deliver(receipt.pk, now=now + timedelta(days=1)) == "skipped"
    redrive(now=now + timedelta(days=1))
    receipt.refresh_from_db()
    assert (receipt.state, receipt.attempts) == (DeliveryState.FAILED, MAX_ATTEMPTS)


@pytest.mark.django_db
def test_it_keeps_a_receipt_for_a_consumer_that_no_longer_exists_as_a_failure(
    now: datetime, ticket: Ticket
) -> None:
    receipt = EventDelivery.objects.create(
        event=last_event(ticket), consumer="retired_consumer", due_at=now
    )

    outcome = deliver(receipt.pk, now=now)

    receipt.refresh_from_db()
    assert outcome == DeliveryState.PENDING
    assert (receipt.state, receipt.attempts) == (DeliveryState.PENDING, 1)
    assert "No event consumer is called 'retired_consumer'" in receipt.last_error


@pytest.mark.django_db
def test_it_records_a_failure_from_a_consumer_that_raises(
    now: datetime, ticket: Ticket, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(event: TicketEvent) -> None:
        notify_followers(event)
        raise ConnectionError("the notification service is down")

    original = consumers._BY_NAME["notify_followers"]
    monkeypatch.setitem(
        consumers._BY_NAME,
        "notify_followers",
        consumers.Consumer(name=original.name, kinds=original.kinds, handle=broken),
    )
    services.reply(ticket, author=bob, body="Hi", now=now)
    receipt = receipt_of(last_event(ticket))

    outcome = deliver(receipt.pk, now=now)

    receipt.refresh_from_db()
    assert outcome == DeliveryState.PENDING
    assert "the notification service is down" in receipt.last_error
    assert not Notification.objects.exists()


# Re-drive


@pytest.mark.django_db
def test_redrive_takes_pending_receipts_past_due_and_running_ones_whose_lease_expired(
    now: datetime, ticket: Ticket, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_notify = tuple(c for c in consumers.CONSUMERS if c.name == "notify_followers")
    monkeypatch.setattr(consumers, "CONSUMERS", only_notify)
    redrive(now=now + REDRIVE_GRACE)  # whatever setting up the ticket left pending
    start = now + timedelta(hours=1)
    services.reply(ticket, author=bob, body="lost task", now=start)
    lost = receipt_of(last_event(ticket))
    services.reply(ticket, author=bob, body="dead worker", now=start)
    crashed = receipt_of(last_event(ticket))
    assert claim(crashed.pk, worker="crashed", now=start)
    redrive_at = start + LEASE + SECOND
    services.reply(ticket, author=bob, body="fresh", now=redrive_at - SECOND)
    fresh = receipt_of(last_event(ticket))
    services.reply(ticket, author=bob, body="busy", now=start)
    busy = receipt_of(last_event(ticket))
    assert claim(busy.pk, worker="alive", now=redrive_at - SECOND)

    finished = redrive(now=redrive_at)

    states = {
        name: EventDelivery.objects.get(pk=receipt.pk).state
        for name, receipt in {
            "lost": lost,
            "crashed": crashed,
            "fresh": fresh,
            "busy": busy,
        }.items()
    }
    assert finished == 2
    assert states == {
        "lost": DeliveryState.DONE,
        "crashed": DeliveryState.DONE,
        "fresh": DeliveryState.PENDING,
        "busy": DeliveryState.RUNNING,
    }
    assert EventDelivery.objects.get(pk=crashed.pk).attempts == 2


@pytest.mark.django_db
def test_redrive_retries_a_failed_attempt_once_its_backoff_has_passed(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    receipt = malformed_assignment(ticket, actor=bob, at=now)
    deliver(receipt.pk, now=now)
    receipt.refresh_from_db()

    redrive(now=receipt.due_at - SECOND)
    attempts_before_due = EventDelivery.objects.get(pk=receipt.pk).attempts
    redrive(now=receipt.due_at)

    assert attempts_before_due == 1
    assert EventDelivery.objects.get(pk=receipt.pk).attempts == 2


# Claims and leases


@pytest.mark.django_db
def test_only_one_of_two_claims_succeeds(now: datetime, ticket: Ticket, bob: User) -> None:
    services.reply(ticket, author=bob, body="Hi", now=now)
    receipt = receipt_of(last_event(ticket))

    first = claim(receipt.pk, worker="A", now=now)
    second = claim(receipt.pk, worker="B", now=now)

    receipt.refresh_from_db()
    assert (first, second) == (True, False)
    assert (receipt.state, receipt.claimed_by, receipt.attempts) == ("running", "A", 1)


@pytest.mark.django_db
def test_a_claim_can_be_taken_over_only_after_the_lease(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    services.reply(ticket, author=bob, body="Hi", now=now)
    receipt = receipt_of(last_event(ticket))
    claim(receipt.pk, worker="A", now=now)

    at_the_lease = claim(receipt.pk, worker="B", now=now + LEASE)
    after_the_lease = claim(receipt.pk, worker="B", now=now + LEASE + SECOND)

    assert (at_the_lease, after_the_lease) == (False, True)
    assert EventDelivery.objects.get(pk=receipt.pk).claimed_by == "B"


@pytest.mark.django_db
def test_a_worker_whose_lease_was_taken_over_is_skipped_and_the_effect_happens_once(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    services.reply(ticket, author=bob, body="Hi", now=now)
    receipt = receipt_of(last_event(ticket))
    assert claim(receipt.pk, worker="A", now=now)  # A stalls after claiming

    by_b = deliver(receipt.pk, now=now + LEASE + SECOND, worker="B")
    by_a = deliver(receipt.pk, now=now + LEASE + 2 * SECOND, worker="A")

    assert (by_b, by_a) == (DeliveryState.DONE, "skipped")
    assert Notification.objects.filter(event=receipt.event).count() == 2


@pytest.mark.django_db
def test_a_worker_that_loses_its_lease_while_running_rolls_back_its_effect(
    now: datetime, ticket: Ticket, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def overtaken(event: TicketEvent) -> None:
        """Do the work, then find that worker B took the receipt over meanwhile."""
        notify_followers(event)
        assert claim(receipt.pk, worker="B", now=now + LEASE + SECOND)

    original = consumers._BY_NAME["notify_followers"]
    services.reply(ticket, author=bob, body="Hi", now=now)
    receipt = receipt_of(last_event(ticket))
    monkeypatch.setitem(
        consumers._BY_NAME,
        "notify_followers",
        consumers.Consumer(name=original.name, kinds=original.kinds, handle=overtaken),
    )

    outcome = deliver(receipt.pk, now=now, worker="A")

    assert outcome == "skipped"
    assert not Notification.objects.exists()
    assert EventDelivery.objects.get(pk=receipt.pk).state != DeliveryState.DONE


@pytest.mark.django_db
def test_the_redrive_finishes_what_a_stalled_worker_left_exactly_once(
    now: datetime, ticket: Ticket, bob: User
) -> None:
    services.reply(ticket, author=bob, body="Hi", now=now)
    receipt = receipt_of(last_event(ticket))
    assert claim(receipt.pk, worker="stalled", now=now)

    redrive(now=now + LEASE + SECOND)
    redrive(now=now + 2 * LEASE + 2 * SECOND)

    assert notified(receipt.event) == {"alice": "your_ticket", "carol": "following"}
    assert EventDelivery.objects.get(pk=receipt.pk).state == DeliveryState.DONE


def test_the_spine_names_its_intervals() -> None:
    assert REDRIVE_GRACE < LEASE
    assert events.REDRIVE_BATCH > 0


# Delivering many receipts at once (the demo's history; later, batched ingest)


@pytest.mark.django_db(transaction=True)
def test_held_enqueueing_writes_receipts_but_enqueues_no_task(
    now: datetime, alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = factories.ticket(now=now, actor=alice, assignee=alice)
    enqueued: list[int] = []
    monkeypatch.setattr(events, "_enqueue_deliveries", lambda outbox, ids: enqueued.extend(ids))

    with events.enqueue_held():
        services.assign(ticket, bob, actor=alice, now=now)
    services.assign(ticket, alice, actor=bob, now=now)

    held, normal = TicketEvent.objects.filter(kind=EventKind.ASSIGNED).order_by("id")[1:]
    assert EventDelivery.objects.filter(event=held, state=DeliveryState.PENDING).exists()
    assert not set(enqueued) & set(held.deliveries.values_list("pk", flat=True))
    assert set(enqueued) == set(normal.deliveries.values_list("pk", flat=True))


@pytest.mark.django_db
def test_a_batch_runs_every_consumer_and_marks_every_receipt_done_together(
    now: datetime, ticket: Ticket, alice: User
) -> None:
    services.add_note(ticket, author=alice, body="Checked the contract.", now=now)
    pending = list(
        EventDelivery.objects.filter(state=DeliveryState.PENDING).values_list("pk", flat=True)
    )

    finished = events.deliver_batch(pending, now=now + SECOND)

    assert finished == len(pending) > 3
    assert not EventDelivery.objects.exclude(state=DeliveryState.DONE).exists()
    assert set(notified(last_event(ticket))) == {"bob", "carol"}


@pytest.mark.django_db
def test_a_batch_skips_receipts_that_are_done_or_held_by_a_live_worker(
    now: datetime, ticket: Ticket, alice: User
) -> None:
    services.add_note(ticket, author=alice, body="A note", now=now)
    event = last_event(ticket)
    held = receipt_of(event)
    assert claim(held.pk, worker="other", now=now)

    events.deliver_batch([held.pk], now=now + SECOND)

    held.refresh_from_db()
    assert held.state == DeliveryState.RUNNING
    assert held.claimed_by == "other"
    assert not Notification.objects.filter(event=event).exists()


@pytest.mark.django_db
def test_a_failing_event_in_a_batch_backs_off_alone(
    now: datetime, ticket: Ticket, alice: User
) -> None:
    bad = malformed_assignment(ticket, actor=alice, at=now)
    services.add_note(ticket, author=alice, body="A good note", now=now)
    good = receipt_of(last_event(ticket))

    finished = events.deliver_batch([bad.pk, good.pk], now=now + SECOND)

    bad.refresh_from_db()
    good.refresh_from_db()
    assert finished == 1
    assert good.state == DeliveryState.DONE
    assert bad.state == DeliveryState.PENDING
    assert bad.attempts == 1
    assert bad.due_at > now + SECOND
    assert bad.last_error


@pytest.mark.django_db
def test_a_batch_hands_a_batch_consumer_all_its_events_at_once(
    now: datetime, ticket: Ticket, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    for body in ("one", "two", "three"):
        services.add_note(ticket, author=alice, body=body, now=now)
    search = consumers.consumer_for("search_index")
    assert search is not None and search.handle_batch is not None
    batches: list[int] = []
    original = search.handle_batch

    def counting(batch: list[TicketEvent]) -> None:
        batches.append(len(batch))
        original(batch)

    monkeypatch.setitem(
        consumers._BY_NAME, "search_index", dataclasses.replace(search, handle_batch=counting)
    )
    receipts = EventDelivery.objects.filter(consumer="search_index")
    pending = list(receipts.filter(state=DeliveryState.PENDING).values_list("pk", flat=True))

    events.deliver_batch(pending, now=now + SECOND)

    assert batches == [len(pending)]
    assert not receipts.filter(state=DeliveryState.PENDING).exists()
    document = SearchDocument.objects.get(kind="ticket", object_id=ticket.pk)
    assert "three" in document.body


@pytest.mark.django_db
def test_deliver_pending_drains_everything_in_batches_and_reports_progress(
    now: datetime, ticket: Ticket, alice: User
) -> None:
    for number in range(5):
        services.add_note(ticket, author=alice, body=f"note {number}", now=now)
    outboxes = (EventDelivery, PeopleEventDelivery)  # the requester's creation has one too
    pending = [o.objects.filter(state=DeliveryState.PENDING).count() for o in outboxes]
    total = sum(pending)
    reports: list[tuple[int, int]] = []

    finished = events.deliver_pending(
        now=lambda: now + SECOND, batch=4, progress=lambda done, of: reports.append((done, of))
    )

    assert finished == total
    assert reports[-1] == (total, total)
    assert len(reports) == sum(-(-n // 4) for n in pending)  # batches of 4, one outbox at a time
    assert not any(o.objects.filter(state=DeliveryState.PENDING).exists() for o in outboxes)

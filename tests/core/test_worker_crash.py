"""A worker killed mid-delivery loses nothing and does nothing twice, on either task backend.

Events are recorded through the services with the real backend configured, so their deliveries
are enqueued after commit exactly as in production. A real worker process starts on them and is
SIGKILLed while it holds a claimed receipt it has not finished; a fresh worker takes the rest, and
the re-drive, once the dead worker's lease has run out, finishes what it held.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.core import events
from patron.core.models import DeliveryState, EventDelivery
from patron.notifications.models import Notification
from patron.people import services as people
from patron.people.models import PeopleEventDelivery
from patron.search.models import SearchDocument
from patron.tickets import followers
from patron.tickets import services as tickets
from tests import factories
from tests.core.conftest import DB_BACKEND, CeleryQueue, WorkerProcess, wait_until

TICKETS = 5
NOTES_PER_TICKET = 30  # 150 note events, each delivered to notify_followers
DONE_BEFORE_CRASH = 20
CRASH_ATTEMPTS = 200
SETTLE_SECONDS = 0.1
WORKER_TIMEOUT_SECONDS = 40

# Worker processes read the real clock, so these tests do too.
pytestmark = [pytest.mark.services, pytest.mark.real_clock]


def _followed_tickets_with_notes(total_notes: int) -> list[User]:
    """Tickets followed by two agents, each with notes by a third; return the followers."""
    now = timezone.now()
    author = factories.agent(password=None)  # no password hashing: the tests never log in
    agents = [factories.agent(password=None), factories.agent(password=None)]
    for _ in range(TICKETS):
        ticket = factories.ticket(now=now)
        for follower in agents:
            followers.follow(ticket, follower, actor=follower, now=now)
        for n in range(total_notes // TICKETS):
            tickets.add_note(ticket, author=author, body=f"Checked the courier, step {n}.", now=now)
    return agents


Receipts = type[EventDelivery] | type[PeopleEventDelivery]


def _count(state: str, receipts: Receipts = EventDelivery) -> int:
    return receipts.objects.filter(state=state).count()


def _held_receipts(receipts: Receipts = EventDelivery) -> list[int]:
    return sorted(receipts.objects.filter(state=DeliveryState.RUNNING).values_list("pk", flat=True))


def _crash_while_holding_a_receipt(
    worker: WorkerProcess, receipts: Receipts = EventDelivery
) -> list[int]:
    """SIGKILL the worker at a moment it has claimed a receipt and not finished it.

    The worker is frozen (SIGSTOP) and looked at; if it holds nothing, it is thawed and looked at
    again a moment later. The look is taken twice, so a commit already on its way to the database
    server is seen before the kill. Return the receipts it held.
    """
    for _ in range(CRASH_ATTEMPTS):
        worker.pause()
        held = _held_receipts(receipts)
        time.sleep(SETTLE_SECONDS)
        if held and held == _held_receipts(receipts):
            worker.crash()
            return held
        worker.resume()
        time.sleep(0.001)
    raise AssertionError(f"never caught the worker holding a receipt; output:\n{worker.output()}")


def _survives_a_worker_crash(
    settings: SettingsWrapper,
    tasks_setting: dict[str, Any],
    start: Callable[[], WorkerProcess],
) -> None:
    settings.TASKS = tasks_setting
    followers = _followed_tickets_with_notes(TICKETS * NOTES_PER_TICKET)
    total = EventDelivery.objects.count()
    assert total >= TICKETS * NOTES_PER_TICKET
    first = start()
    wait_until(
        lambda: _count(DeliveryState.DONE) >= DONE_BEFORE_CRASH,
        timeout=WORKER_TIMEOUT_SECONDS,
        what="the first worker to get going",
        worker=first,
    )

    held = _crash_while_holding_a_receipt(first)

    assert 0 < _count(DeliveryState.DONE) < total, "the crash came before or after the work"
    fresh = start()
    wait_until(
        lambda: _count(DeliveryState.DONE) == total - len(held),
        timeout=WORKER_TIMEOUT_SECONDS,
        what="the fresh worker to take the rest",
        worker=fresh,
    )
    assert _held_receipts() == held, "a live lease was taken over before it ran out"
    redriven = events.redrive(now=timezone.now() + events.LEASE + timedelta(seconds=1))

    assert redriven == len(held)
    assert _count(DeliveryState.DONE) == total
    expected = sorted(
        (follower.pk, event_id)
        for event_id in EventDelivery.objects.filter(consumer="notify_followers").values_list(
            "event_id", flat=True
        )
        for follower in followers
    )
    notified = sorted(Notification.objects.values_list("recipient_id", "event_id"))
    assert notified == expected


def test_it_does_every_delivery_once_when_a_db_worker_is_killed(
    settings: SettingsWrapper,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    _survives_a_worker_crash(
        settings, {"default": {"BACKEND": DB_BACKEND}}, lambda: start_worker("db")
    )


def test_it_does_every_delivery_once_when_a_celery_worker_is_killed(
    settings: SettingsWrapper,
    rabbitmq_queue: CeleryQueue,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    settings.CELERY_BROKER_URL = rabbitmq_queue.broker_url
    _survives_a_worker_crash(
        settings,
        rabbitmq_queue.tasks_setting,
        lambda: start_worker(
            "celery", queues=(rabbitmq_queue.name,), broker_url=rabbitmq_queue.broker_url
        ),
    )


CONTACTS = 150  # one rename each, delivered to search_index_people


def test_a_killed_worker_leaves_no_contact_stale_in_the_search_index(
    settings: SettingsWrapper,
    start_worker: Callable[..., WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Contacts renamed, their PeopleEvents' receipts enqueued after commit; a worker SIGKILLed
    while it holds one; the re-drive, after the lease, re-indexes what it held."""
    settings.TASKS = {"default": {"BACKEND": DB_BACKEND}}
    now = timezone.now()
    admin: Any = factories.agent(role="admin", password=None)
    with events.enqueue_held():
        contacts = [factories.contact(now=now, name=f"Old name {n}") for n in range(CONTACTS)]
    created = events.deliver_pending(now=timezone.now)  # their creations, indexed via the outbox
    for n, contact in enumerate(contacts):
        people.update_contact(contact, actor=admin, now=now, name=f"New name {n}")
    total = PeopleEventDelivery.objects.count() - created

    def done() -> int:
        return _count(DeliveryState.DONE, PeopleEventDelivery) - created

    assert total == CONTACTS
    first = start_worker("db")
    wait_until(
        lambda: done() >= DONE_BEFORE_CRASH,
        timeout=WORKER_TIMEOUT_SECONDS,
        what="the first worker to get going",
        worker=first,
    )

    held = _crash_while_holding_a_receipt(first, PeopleEventDelivery)

    assert 0 < done() < total
    fresh = start_worker("db")
    wait_until(
        lambda: done() == total - len(held),
        timeout=WORKER_TIMEOUT_SECONDS,
        what="the fresh worker to take the rest",
        worker=fresh,
    )
    stale = PeopleEventDelivery.objects.filter(pk__in=held).values_list("event__contact", flat=True)
    titles = dict(SearchDocument.objects.filter(kind="contact").values_list("object_id", "title"))
    assert all(titles[pk].startswith("Old name") for pk in stale), "the killed work committed"

    redriven = events.redrive(now=timezone.now() + events.LEASE + timedelta(seconds=1))

    assert redriven == len(held)
    assert done() == total
    titles = dict(SearchDocument.objects.filter(kind="contact").values_list("object_id", "title"))
    assert [titles[contact.pk] for contact in contacts] == [
        f"New name {n}" for n in range(CONTACTS)
    ]

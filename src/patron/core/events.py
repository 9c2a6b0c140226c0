"""The event spine: record a TicketEvent with its delivery receipts, hand it to consumers after
commit, and re-drive whatever a crashed worker left unfinished.

Delivery is at least once; the effect is exactly once, because each consumer's writes and its
receipt's `done` commit together, and a receipt is claimed with a conditional UPDATE.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby
from typing import Literal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q

from patron.core import wake
from patron.core.models import DeliveryState, EventDelivery
from patron.people.models import Contact
from patron.tickets.models import AuthorKind, EventKind, Ticket, TicketEvent

logger = logging.getLogger(__name__)

# A pending receipt is left to the task enqueued on commit for this long before the re-drive
# takes it; a running one whose worker has not finished in LEASE is presumed dead.
REDRIVE_GRACE = timedelta(seconds=60)
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
REDRIVE_BATCH = 500
DELIVERY_BATCH = 500

# Set by `enqueue_held()`: record() writes receipts but enqueues no task for them.
_enqueue_held: ContextVar[bool] = ContextVar("patron_enqueue_held", default=False)


@dataclass(frozen=True)
class SystemActor:
    """An actor that is not a person: the system itself, a bot, or an automation rule, by name.

    Events made by one go through `patron.tickets.services.record_system_event`.
    """

    kind: Literal["system", "bot", "rule"]
    name: str
    rule_id: int | None = None  # which rule, for `kind == "rule"`

    @classmethod
    def system(cls, name: str) -> SystemActor:
        return cls("system", name)

    @classmethod
    def bot(cls, name: str) -> SystemActor:
        return cls("bot", name)

    @classmethod
    def rule(cls, rule_id: int, name: str) -> SystemActor:
        return cls("rule", name, rule_id)


Actor = User | Contact | None  # a person, or None for the system when it needs no name


class LeaseLost(Exception):
    """Another worker claimed this receipt after our lease ran out; our effect is rolled back."""


def author_kind(actor: Actor | SystemActor, *, bot: bool = False) -> str:
    """Who acted: a contact, an agent, a bot (acting as an agent user or alone), a rule, or the
    system."""
    if isinstance(actor, SystemActor):
        return actor.kind
    if isinstance(actor, Contact):
        return AuthorKind.CONTACT
    if bot:
        return AuthorKind.BOT
    return AuthorKind.AGENT if actor is not None else AuthorKind.SYSTEM


def record(
    ticket: Ticket, kind: str, *, actor: Actor | SystemActor, at: datetime, **data: object
) -> TicketEvent:
    """Write one event and a receipt per interested consumer; enqueue them after commit.

    Must be called inside the transaction that makes the change it describes.
    """
    from patron.core.consumers import consumers_for

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record() must run inside the transaction of the change it records")
    if kind not in EventKind.values:
        raise ValueError(f"{kind!r} is not an EventKind; add it there before recording it")
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        at=at,
        data=data,
        actor_kind=author_kind(actor),
        actor_name=actor.name[:120] if isinstance(actor, SystemActor) else "",
        actor_agent=actor if isinstance(actor, User) else None,
        actor_contact=actor if isinstance(actor, Contact) else None,
    )
    receipts = EventDelivery.objects.bulk_create(
        EventDelivery(event=event, consumer=name, due_at=at + REDRIVE_GRACE)
        for name in consumers_for(kind)
    )
    if receipts:
        ids = [r.pk for r in receipts if r.pk is not None]
        if len(ids) != len(receipts):  # backends that do not return ids from bulk_create
            ids = list(EventDelivery.objects.filter(event=event).values_list("pk", flat=True))
        if not _enqueue_held.get():
            transaction.on_commit(partial(_enqueue_deliveries, ids), robust=True)
    wake.announce()
    return event


@contextmanager
def enqueue_held() -> Iterator[None]:
    """Inside the block, record() writes receipts without enqueuing a task per receipt: the
    caller delivers them itself in batches (`deliver_pending`), as the demo loader does for its
    months of history. Whatever it leaves undelivered, the re-drive finds."""
    token = _enqueue_held.set(True)
    try:
        yield
    finally:
        _enqueue_held.reset(token)


def _enqueue_deliveries(delivery_ids: list[int]) -> None:
    from patron.core.tasks import run_delivery

    # One transaction for the event's receipts: on the database queue that is one commit, not one
    # per consumer. A failure here loses nothing: the re-drive finds pending receipts.
    with transaction.atomic():
        for delivery_id in delivery_ids:
            run_delivery.enqueue(delivery_id)


def _claimable(now: datetime) -> Q:
    return Q(state=DeliveryState.PENDING) | Q(
        state=DeliveryState.RUNNING, claimed_at__lt=now - LEASE
    )


def claim(delivery_id: int, *, worker: str, now: datetime) -> bool:
    """Take a receipt for this worker, unless it is done or another live worker holds it."""
    updated = EventDelivery.objects.filter(_claimable(now), pk=delivery_id).update(
        state=DeliveryState.RUNNING, claimed_at=now, claimed_by=worker, attempts=F("attempts") + 1
    )
    return updated == 1


def deliver(delivery_id: int, *, now: datetime, worker: str | None = None) -> str:
    """Claim a receipt and run its consumer; return the receipt's state afterwards."""
    from patron.core.consumers import consumer_named

    worker = worker or uuid.uuid4().hex
    if not claim(delivery_id, worker=worker, now=now):
        return "skipped"
    delivery = EventDelivery.objects.select_related("event").get(pk=delivery_id)
    try:
        # Inside the try: a receipt for a consumer since removed fails and backs off like any
        # other, instead of staying claimed and being re-driven every LEASE for ever.
        consumer = consumer_named(delivery.consumer)
        with transaction.atomic():
            consumer(delivery.event)
            finished = EventDelivery.objects.filter(
                pk=delivery_id, state=DeliveryState.RUNNING, claimed_by=worker
            ).update(state=DeliveryState.DONE, done_at=now, last_error="")
            if finished != 1:
                raise LeaseLost(f"delivery {delivery_id} was claimed by another worker")
    except LeaseLost:
        logger.warning("Delivery %s was taken over by another worker; rolled back", delivery_id)
        return "skipped"
    except Exception as error:
        logger.exception("Consumer %s failed on event %s", delivery.consumer, delivery.event_id)
        return _record_failure(delivery, worker=worker, now=now, error=error)
    return DeliveryState.DONE


def deliver_batch(delivery_ids: Sequence[int], *, now: datetime, worker: str | None = None) -> int:
    """Claim many receipts and run their consumers in one transaction; return how many are done.

    The claim, every effect and every `done` commit together, so a crash leaves all of them
    pending for the re-drive. A consumer with a `handle_batch` gets its events at once (the
    search index writes each ticket once, however many events it had); one that raises is
    retried event by event in savepoints, and only the events that fail back off, as in
    `deliver`.
    """
    worker = worker or uuid.uuid4().hex
    done: list[int] = []
    with transaction.atomic():
        EventDelivery.objects.filter(_claimable(now), pk__in=list(delivery_ids)).update(
            state=DeliveryState.RUNNING,
            claimed_at=now,
            claimed_by=worker,
            attempts=F("attempts") + 1,
        )
        claimed = (
            EventDelivery.objects.select_related("event")
            .filter(pk__in=list(delivery_ids), state=DeliveryState.RUNNING, claimed_by=worker)
            .order_by("consumer", "id")
        )
        for name, group in groupby(claimed, key=lambda delivery: delivery.consumer):
            deliveries = list(group)
            done += _run_group(name, deliveries, worker=worker, now=now)
        EventDelivery.objects.filter(pk__in=done, claimed_by=worker).update(
            state=DeliveryState.DONE, done_at=now, last_error=""
        )
    return len(done)


def _run_group(
    name: str, deliveries: list[EventDelivery], *, worker: str, now: datetime
) -> list[int]:
    """Run one consumer over its claimed receipts; return the ids that succeeded."""
    from patron.core.consumers import consumer_for, consumer_named

    consumer = consumer_for(name)
    if consumer is not None and consumer.handle_batch is not None:
        try:
            with transaction.atomic():
                consumer.handle_batch([delivery.event for delivery in deliveries])
            return [delivery.pk for delivery in deliveries]
        except Exception:
            logger.warning("Consumer %s failed on a batch; retrying it event by event", consumer)
    succeeded: list[int] = []
    for delivery in deliveries:
        try:
            # Inside the try: a consumer since removed fails and backs off, as in `deliver`.
            with transaction.atomic():
                consumer_named(name)(delivery.event)
        except Exception as error:
            logger.exception("Consumer %s failed on event %s", delivery.consumer, delivery.event_id)
            _record_failure(delivery, worker=worker, now=now, error=error)
        else:
            succeeded.append(delivery.pk)
    return succeeded


def deliver_pending(
    *,
    now: Callable[[], datetime],
    batch: int = DELIVERY_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Deliver every pending receipt now, in batches, oldest first; return how many are done.

    For a caller that held the enqueueing (`enqueue_held`); `progress(done, total)` after each
    batch. Receipts that fail stay pending with their backoff, for the re-drive."""
    pending = EventDelivery.objects.filter(state=DeliveryState.PENDING).order_by("id")
    total = pending.count()
    handled = finished = 0
    after = 0
    while True:
        ids = list(pending.filter(pk__gt=after).values_list("pk", flat=True)[:batch])
        if not ids:
            return finished
        finished += deliver_batch(ids, now=now())
        handled += len(ids)
        after = ids[-1]
        if progress is not None:
            progress(min(handled, total), total)


def _record_failure(
    delivery: EventDelivery, *, worker: str, now: datetime, error: Exception
) -> str:
    attempts = delivery.attempts
    give_up = attempts >= MAX_ATTEMPTS
    state = DeliveryState.FAILED if give_up else DeliveryState.PENDING
    backoff = timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))
    EventDelivery.objects.filter(pk=delivery.pk, claimed_by=worker).update(
        state=state,
        due_at=now + backoff,
        last_error="".join(traceback.format_exception(error))[-4000:],
    )
    return state


def redrive(*, now: datetime, limit: int = REDRIVE_BATCH) -> int:
    """Run receipts whose delivery was lost or whose worker died; return how many finished."""
    stale = EventDelivery.objects.filter(
        Q(state=DeliveryState.PENDING, due_at__lte=now)
        | Q(state=DeliveryState.RUNNING, claimed_at__lt=now - LEASE)
    ).order_by("id")
    worker = f"redrive-{uuid.uuid4().hex[:12]}"
    finished = 0
    for delivery_id in stale.values_list("pk", flat=True)[:limit]:
        if deliver(delivery_id, now=now, worker=worker) == DeliveryState.DONE:
            finished += 1
    return finished

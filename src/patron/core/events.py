"""The event spine: write an event (a TicketEvent, or a PeopleEvent about a contact or an
organization) with its delivery receipts, hand it to consumers after commit, and re-drive
whatever a crashed worker left unfinished. Each event model has its receipt table (an
"outbox": `EventDelivery`, `PeopleEventDelivery`); the claim, delivery and re-drive below are one
path over both.

Delivery is at least once; the effect is exactly once, because each consumer's writes and its
receipt's `done` commit together, and a receipt is claimed with a conditional UPDATE.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from itertools import groupby
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.db.models import F, Q

from patron.core import commit_batch, task_rows
from patron.core.backoff import backoff
from patron.core.receipts import DeliveryState

if TYPE_CHECKING:
    from patron.core.models import EventDelivery
    from patron.people.models import PeopleEvent, PeopleEventDelivery
    from patron.tickets.models import TicketEvent

logger = logging.getLogger(__name__)

# A pending receipt is left to the task enqueued on commit for this long before the re-drive
# takes it; a running one whose worker has not finished in LEASE is presumed dead.
REDRIVE_GRACE = timedelta(seconds=60)
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
REDRIVE_BATCH = 500
DELIVERY_BATCH = 500

# Each event model's receipts ("outbox"), by the name a delivery task carries; the registry
# (`patron.core.consumers.OUTBOXES`) pairs each name with its event and receipt models.
TICKETS = "tickets"
PEOPLE = "people"
if TYPE_CHECKING:
    type Delivery = EventDelivery | PeopleEventDelivery
    type OutboxEvent = TicketEvent | PeopleEvent  # what a receipt delivers and consumers read


def _receipts(outbox: str) -> Any:
    from patron.core.consumers import OUTBOXES

    return OUTBOXES[outbox][1]


def _outboxes() -> dict[str, Any]:
    from patron.core.consumers import OUTBOXES

    return {name: receipts for name, (_, receipts) in OUTBOXES.items()}


def _outbox_of(event: models.Model) -> str:
    from patron.core.consumers import OUTBOXES

    return next(name for name, (model, _) in OUTBOXES.items() if isinstance(event, model))


# Set by `enqueue_held()`: record() writes receipts but enqueues no task for them.
_enqueue_held: ContextVar[bool] = ContextVar("patron_enqueue_held", default=False)


class LeaseLost(Exception):
    """Another worker claimed this receipt after our lease ran out; our effect is rolled back."""


def open_receipts(event: OutboxEvent) -> None:
    """Write a pending receipt for each consumer of this new event's model and kind, in the
    current transaction, and enqueue their deliveries after it commits (unless held).

    `record()` calls it for a TicketEvent; saving a new PeopleEvent calls it for that. The
    deliveries of every event of one transaction are enqueued together, after its commit, as
    one batch of task rows (`core.commit_batch`)."""
    from patron.core.consumers import consumers_for

    outbox = _outbox_of(event)
    names = consumers_for(event.kind, model=type(event), event=event)
    if not names:
        return
    # The receipt model of the event's model (mypy cannot pair the two unions, hence Any).
    receipts = _receipts(outbox)
    written = receipts.objects.bulk_create(
        receipts(event=event, consumer=name, due_at=event.at + REDRIVE_GRACE) for name in names
    )
    ids = [r.pk for r in written if r.pk is not None]
    if len(ids) != len(written):  # backends that do not return ids from bulk_create
        ids = list(receipts.objects.filter(event=event).values_list("pk", flat=True))
    if not _enqueue_held.get():
        commit_batch.collect("deliveries", (outbox, ids), _enqueue_batch)


@contextmanager
def enqueue_held() -> Iterator[None]:
    """Inside the block, new events get receipts without enqueuing a task per receipt: the
    caller delivers them itself in batches (`deliver_pending`), as the demo loader does for its
    months of history. Whatever it leaves undelivered, the re-drive finds."""
    token = _enqueue_held.set(True)
    try:
        yield
    finally:
        _enqueue_held.reset(token)


def _enqueue_batch(batch: list[tuple[str, list[int]]]) -> None:
    """After a commit: one delivery task per receipt its events opened, in one transaction (on
    the database queue, one INSERT of task rows per outbox). A receipt of a savepoint that
    rolled back may be among them: its task finds nothing to claim. A failure here loses
    nothing: the re-drive finds pending receipts."""
    by_outbox: dict[str, dict[int, None]] = {}
    for outbox, ids in batch:
        by_outbox.setdefault(outbox, {}).update(dict.fromkeys(ids))
    with transaction.atomic():
        for outbox, unique in by_outbox.items():
            _enqueue_deliveries(outbox, list(unique))


def _enqueue_deliveries(outbox: str, delivery_ids: list[int]) -> None:
    from patron.core.tasks import run_delivery

    task_rows.enqueue_many(run_delivery, [(delivery_id, outbox) for delivery_id in delivery_ids])


def _claimable(now: datetime) -> Q:
    return Q(state=DeliveryState.PENDING) | Q(
        state=DeliveryState.RUNNING, claimed_at__lt=now - LEASE
    )


def claim(delivery_id: int, *, worker: str, now: datetime, outbox: str = TICKETS) -> bool:
    """Take a receipt for this worker, unless it is done or another live worker holds it."""
    updated: int = (
        _receipts(outbox)
        .objects.filter(_claimable(now), pk=delivery_id)
        .update(
            state=DeliveryState.RUNNING,
            claimed_at=now,
            claimed_by=worker,
            attempts=F("attempts") + 1,
        )
    )
    return updated == 1


def deliver(
    delivery_id: int, *, now: datetime, worker: str | None = None, outbox: str = TICKETS
) -> str:
    """Claim a receipt of this outbox and run its consumer; return the receipt's state after."""
    from patron.core.consumers import consumer_named

    receipts = _receipts(outbox)
    worker = worker or uuid.uuid4().hex
    if not claim(delivery_id, worker=worker, now=now, outbox=outbox):
        return "skipped"
    delivery: Delivery = receipts.objects.select_related("event").get(pk=delivery_id)
    try:
        # Inside the try: a receipt for a consumer since removed fails and backs off like any
        # other, instead of staying claimed and being re-driven every LEASE for ever.
        consumer = consumer_named(delivery.consumer)
        with transaction.atomic():
            consumer(delivery.event)
            finished = receipts.objects.filter(
                pk=delivery_id, state=DeliveryState.RUNNING, claimed_by=worker
            ).update(state=DeliveryState.DONE, done_at=now, last_error="")
            if finished != 1:
                raise LeaseLost(f"delivery {delivery_id} was claimed by another worker")
    except LeaseLost:
        logger.warning("Delivery %s was taken over by another worker; rolled back", delivery_id)
        return "skipped"
    except Exception as error:
        logger.exception("Consumer %s failed on %s", delivery.consumer, delivery.event)
        return _record_failure(delivery, worker=worker, now=now, error=error)
    return DeliveryState.DONE


def deliver_batch(
    delivery_ids: Sequence[int],
    *,
    now: datetime,
    worker: str | None = None,
    outbox: str = TICKETS,
) -> int:
    """Claim many receipts and run their consumers in one transaction; return how many are done.

    The claim, every effect and every `done` commit together, so a crash leaves all of them
    pending for the re-drive. A consumer with a `handle_batch` gets its events at once (the
    search index writes each ticket once, however many events it had); one that raises is
    retried event by event in savepoints, and only the events that fail back off, as in
    `deliver`.
    """
    receipts = _receipts(outbox)
    worker = worker or uuid.uuid4().hex
    done: list[int] = []
    with transaction.atomic():
        receipts.objects.filter(_claimable(now), pk__in=list(delivery_ids)).update(
            state=DeliveryState.RUNNING,
            claimed_at=now,
            claimed_by=worker,
            attempts=F("attempts") + 1,
        )
        claimed: Iterable[Delivery] = (
            receipts.objects.select_related("event")
            .filter(pk__in=list(delivery_ids), state=DeliveryState.RUNNING, claimed_by=worker)
            .order_by("consumer", "id")
        )
        for name, group in groupby(claimed, key=lambda delivery: delivery.consumer):
            deliveries = list(group)
            done += _run_group(name, deliveries, worker=worker, now=now)
        receipts.objects.filter(pk__in=done, claimed_by=worker).update(
            state=DeliveryState.DONE, done_at=now, last_error=""
        )
    return len(done)


def _run_group(name: str, deliveries: list[Delivery], *, worker: str, now: datetime) -> list[int]:
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
            logger.exception("Consumer %s failed on %s", delivery.consumer, delivery.event)
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
    """Deliver every pending receipt now, in batches, oldest first (one outbox, then the
    other); return how many are done.

    For a caller that held the enqueueing (`enqueue_held`); `progress(done, total)` after each
    batch. Receipts that fail stay pending with their backoff, for the re-drive."""
    pending = {
        outbox: receipts.objects.filter(state=DeliveryState.PENDING).order_by("id")
        for outbox, receipts in _outboxes().items()
    }
    total = sum(queryset.count() for queryset in pending.values())
    handled = finished = 0
    for outbox, queryset in pending.items():
        after = 0
        while ids := list(queryset.filter(pk__gt=after).values_list("pk", flat=True)[:batch]):
            finished += deliver_batch(ids, now=now(), outbox=outbox)
            handled += len(ids)
            after = ids[-1]
            # A consumer may record events of its own (the SLA clocks do): theirs count too.
            total = max(total, handled)
            if progress is not None:
                progress(min(handled, total), total)
    return finished


def _record_failure(delivery: Delivery, *, worker: str, now: datetime, error: Exception) -> str:
    attempts = delivery.attempts
    give_up = attempts >= MAX_ATTEMPTS
    state = DeliveryState.FAILED if give_up else DeliveryState.PENDING
    wait = backoff(attempts, first=BACKOFF_FIRST, maximum=BACKOFF_MAX)
    type(delivery).objects.filter(pk=delivery.pk, claimed_by=worker).update(
        state=state,
        due_at=now + wait,
        last_error="".join(traceback.format_exception(error))[-4000:],
    )
    return state


def redrive(*, now: datetime, limit: int = REDRIVE_BATCH) -> int:
    """Run receipts whose delivery was lost or whose worker died, for events of either model;
    return how many finished. At most `limit` receipts in all, oldest first in each outbox."""
    due = Q(state=DeliveryState.PENDING, due_at__lte=now) | Q(
        state=DeliveryState.RUNNING, claimed_at__lt=now - LEASE
    )
    worker = f"redrive-{uuid.uuid4().hex[:12]}"
    finished = taken = 0
    for outbox, receipts in _outboxes().items():
        stale = receipts.objects.filter(due).order_by("id").values_list("pk", flat=True)
        for delivery_id in stale[: limit - taken]:
            taken += 1
            if deliver(delivery_id, now=now, worker=worker, outbox=outbox) == DeliveryState.DONE:
                finished += 1
    return finished

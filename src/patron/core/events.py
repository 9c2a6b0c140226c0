"""The event spine: record a TicketEvent with its delivery receipts, hand it to consumers after
commit, and re-drive whatever a crashed worker left unfinished.

Delivery is at least once; the effect is exactly once, because each consumer's writes and its
receipt's `done` commit together, and a receipt is claimed with a conditional UPDATE.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from datetime import datetime, timedelta
from functools import partial

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q

from patron.core import wake
from patron.core.models import DeliveryState, EventDelivery
from patron.people.models import Contact
from patron.tickets.models import AuthorKind, Ticket, TicketEvent

logger = logging.getLogger(__name__)

# A pending receipt is left to the task enqueued on commit for this long before the re-drive
# takes it; a running one whose worker has not finished in LEASE is presumed dead.
REDRIVE_GRACE = timedelta(seconds=60)
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
REDRIVE_BATCH = 500

Actor = User | Contact | None


class LeaseLost(Exception):
    """Another worker claimed this receipt after our lease ran out; our effect is rolled back."""


def author_kind(actor: Actor, *, bot: bool = False) -> str:
    """Who acted: a contact, an agent, a bot (acting as an agent user or alone), or the system."""
    if isinstance(actor, Contact):
        return AuthorKind.CONTACT
    if bot:
        return AuthorKind.BOT
    return AuthorKind.AGENT if actor is not None else AuthorKind.SYSTEM


def record(ticket: Ticket, kind: str, *, actor: Actor, at: datetime, **data: object) -> TicketEvent:
    """Write one event and a receipt per interested consumer; enqueue them after commit.

    Must be called inside the transaction that makes the change it describes.
    """
    from patron.core.consumers import consumers_for

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record() must run inside the transaction of the change it records")
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        at=at,
        data=data,
        actor_kind=author_kind(actor),
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
        transaction.on_commit(partial(_enqueue_deliveries, ids), robust=True)
    wake.announce()
    return event


def _enqueue_deliveries(delivery_ids: list[int]) -> None:
    from patron.core.tasks import run_delivery

    # One transaction for the event's receipts: on the database queue that is one commit, not one
    # per consumer. A failure here loses nothing: the re-drive finds pending receipts.
    with transaction.atomic():
        for delivery_id in delivery_ids:
            run_delivery.enqueue(delivery_id)


def claim(delivery_id: int, *, worker: str, now: datetime) -> bool:
    """Take a receipt for this worker, unless it is done or another live worker holds it."""
    claimable = Q(state=DeliveryState.PENDING) | Q(
        state=DeliveryState.RUNNING, claimed_at__lt=now - LEASE
    )
    updated = EventDelivery.objects.filter(claimable, pk=delivery_id).update(
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

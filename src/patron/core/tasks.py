"""Background entry points of the spine; each calls a service with `now` read once, here."""

from __future__ import annotations

from django.tasks import task
from django.utils import timezone

from patron.core import events


@task()
def run_delivery(delivery_id: int) -> str:
    """Hand one event to one consumer (enqueued after the event's transaction commits)."""
    return events.deliver(delivery_id, now=timezone.now())


@task()
def redrive_events() -> int:
    """Pick up receipts whose task was lost or whose worker died."""
    return events.redrive(now=timezone.now())

"""Background entry points of the spine; each calls a service with `now` read once, here."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.tasks import task
from django_tasks_db.models import DBTaskResult

from patron.core import clock, events, task_rows

# Finished background-task results (django-tasks-db rows) are kept this long for inspection.
TASK_RESULT_RETENTION = timedelta(days=7)


@task()
def run_delivery(delivery_id: int, outbox: str = events.TICKETS) -> str:
    """Hand one event to one consumer (enqueued after the event's transaction commits); the
    receipt is in `outbox`, that of ticket or of people events."""
    return events.deliver(delivery_id, now=clock.now(), outbox=outbox)


@task()
def redrive_events() -> int:
    """Pick up receipts whose task was lost or whose worker died."""
    return events.redrive(now=clock.now())


@task()
def expire_task_rows() -> int:
    """Close the task rows of workers that died mid-task (`patron.core.task_rows`)."""
    return task_rows.expire_abandoned(now=clock.now())


@task()
def prune_task_results() -> int:
    """Delete old finished task results, so the database queue's table stays small."""
    return prune_finished_task_results(now=clock.now())


def prune_finished_task_results(*, now: datetime) -> int:
    """Delete django-tasks-db results that finished before the retention; return how many."""
    cutoff = now - TASK_RESULT_RETENTION
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return deleted

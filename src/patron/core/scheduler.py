"""The embedded scheduler: enqueue each periodic job when it is due, once, however many run.

A job fires only when a conditional UPDATE moves its `ScheduledJob.next_run_at` forward; two
schedulers (two `patron serve` processes) racing for the same run both try, one row is updated,
one job is enqueued. With the database task backend the UPDATE and the enqueued task commit
together, so a run is neither lost nor doubled.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from django.db import DatabaseError, close_old_connections, transaction

from patron.core import clock
from patron.core.models import ScheduledJob
from patron.core.schedule import PERIODIC_JOBS, PeriodicJob

logger = logging.getLogger(__name__)

DEFAULT_TICK_SECONDS = 1.0


def fire_due_jobs(now: datetime, jobs: tuple[PeriodicJob, ...] = PERIODIC_JOBS) -> list[str]:
    """Enqueue every job whose run is due at `now` and that no other scheduler took; return names.

    A job seen for the first time is due at once.
    """
    ScheduledJob.objects.bulk_create(
        [ScheduledJob(name=job.name, next_run_at=now) for job in jobs], ignore_conflicts=True
    )
    fired = []
    for job in jobs:
        try:
            with transaction.atomic():
                claimed = ScheduledJob.objects.filter(name=job.name, next_run_at__lte=now).update(
                    next_run_at=now + job.every, last_run_at=now
                )
                if claimed != 1:
                    continue
                job.task.enqueue()
        except Exception:
            # The claim rolled back with the failed enqueue: the job stays due for the next tick.
            logger.exception("Could not enqueue periodic job %s; will try again", job.name)
            continue
        fired.append(job.name)
    return fired


def run_scheduler(stop: threading.Event | None = None, tick: float = DEFAULT_TICK_SECONDS) -> None:
    """Fire due jobs every `tick` seconds until `stop` is set (forever when it is None)."""
    stop = stop or threading.Event()
    logger.info("Scheduler started: %s", ", ".join(job.name for job in PERIODIC_JOBS))
    while not stop.is_set():
        try:
            fired = fire_due_jobs(clock.now())
        except DatabaseError:
            logger.exception("Scheduler could not reach the database; retrying")
        else:
            if fired:
                logger.info("Enqueued periodic jobs: %s", ", ".join(fired))
        finally:
            close_old_connections()
        stop.wait(tick)
    logger.info("Scheduler stopped")

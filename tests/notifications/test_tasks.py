"""The hourly periodic job: registered once, read by both schedulers, and it sends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from patron.core import clock
from patron.core.celery_app import RUN_TASK_NAME, beat_schedule
from patron.core.schedule import PERIODIC_JOBS
from patron.core.scheduler import fire_due_jobs
from patron.notifications.models import Notification
from patron.notifications.tasks import send_due_digests
from patron.people.models import AgentProfile, EmailDigest
from tests.notifications.conftest import make_agent, sent_to

JOB = "notification_digests"


def test_the_digest_job_is_registered_hourly() -> None:
    jobs = {job.name: job for job in PERIODIC_JOBS}

    assert jobs[JOB].task is send_due_digests
    assert jobs[JOB].every == timedelta(hours=1)


def test_celery_beat_runs_the_digest_job_from_the_same_registry() -> None:
    entry = beat_schedule()[JOB]

    assert entry["task"] == RUN_TASK_NAME
    assert entry["schedule"] == timedelta(hours=1)
    assert entry["args"] == ("patron.notifications.tasks.send_due_digests", [], {})


@pytest.mark.django_db
def test_the_embedded_scheduler_fires_the_job_and_it_sends_the_due_digests(
    now: datetime, notify: Callable[..., Notification]
) -> None:
    """With the in-process task backend the job runs as it is enqueued, at the real time."""
    me = make_agent("me", EmailDigest.HOURLY)
    off = make_agent("off", EmailDigest.OFF)
    written = clock.now() - timedelta(minutes=1)
    notify(me, written)
    notify(off, written)

    fired = fire_due_jobs(now)

    assert JOB in fired
    assert len(sent_to("me@desk.example")) == 1 and sent_to("off@desk.example") == []
    assert AgentProfile.objects.get(user=me).last_digest_at is not None
    assert send_due_digests.call() == 0  # the same hour again: nothing more


@pytest.mark.django_db
def test_the_job_fires_again_an_hour_later_and_not_before(now: datetime) -> None:
    fire_due_jobs(now)

    assert JOB not in fire_due_jobs(now + timedelta(minutes=59))
    assert JOB in fire_due_jobs(now + timedelta(hours=1))

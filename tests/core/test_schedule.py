from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connections

from patron.core.celery_app import RUN_TASK_NAME, beat_schedule
from patron.core.models import ScheduledJob
from patron.core.schedule import PERIODIC_JOBS
from patron.core.scheduler import fire_due_jobs, run_scheduler
from tests.core.conftest import wait_until

ALL_JOBS = [job.name for job in PERIODIC_JOBS]
SHORTEST = min(PERIODIC_JOBS, key=lambda job: job.every)
# Every job that shares the shortest interval (several jobs may run every 30 s).
SHORTEST_NAMES = [job.name for job in PERIODIC_JOBS if job.every == SHORTEST.every]


@pytest.mark.django_db
def test_it_fires_every_job_the_first_time_it_sees_it(now: datetime) -> None:
    fired = fire_due_jobs(now)

    assert fired == ALL_JOBS
    rows = {row.name: row for row in ScheduledJob.objects.all()}
    for job in PERIODIC_JOBS:
        assert rows[job.name].last_run_at == now
        assert rows[job.name].next_run_at == now + job.every


@pytest.mark.django_db
def test_it_fires_each_run_once_when_called_twice_at_the_same_time(now: datetime) -> None:
    first = fire_due_jobs(now)

    second = fire_due_jobs(now)

    assert first == ALL_JOBS
    assert second == []


@pytest.mark.django_db
def test_it_does_not_fire_a_job_before_it_is_due(now: datetime) -> None:
    fire_due_jobs(now)

    fired = fire_due_jobs(now + SHORTEST.every - timedelta(seconds=1))

    assert fired == []


@pytest.mark.django_db
def test_it_fires_a_job_again_once_its_interval_has_passed(now: datetime) -> None:
    fire_due_jobs(now)

    fired = fire_due_jobs(now + SHORTEST.every)

    assert fired == SHORTEST_NAMES
    assert ScheduledJob.objects.get(name=SHORTEST.name).next_run_at == now + 2 * SHORTEST.every


@pytest.mark.django_db(transaction=True)
def test_it_fires_each_job_once_when_schedulers_race_in_threads(now: datetime) -> None:
    fire_due_jobs(now)  # rows exist, so the race is on the conditional UPDATE alone
    due = now + SHORTEST.every
    results: list[list[str]] = []
    start = threading.Barrier(4)

    def scheduler() -> None:
        try:
            start.wait()
            results.append(fire_due_jobs(due))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(name for fired in results for name in fired) == sorted(SHORTEST_NAMES)
    assert len(results) == 4


@pytest.mark.django_db(transaction=True)
def test_it_runs_the_scheduler_loop_until_asked_to_stop() -> None:
    stop = threading.Event()

    def loop() -> None:
        try:
            run_scheduler(stop, tick=0.05)
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        wait_until(
            lambda: (
                ScheduledJob.objects.filter(last_run_at__isnull=False).count() == len(PERIODIC_JOBS)
            ),
            timeout=10,
            what="the scheduler's first run",
        )
    finally:
        stop.set()
        thread.join(timeout=10)

    assert not thread.is_alive()


def test_it_gives_celery_beat_every_job_in_the_registry() -> None:
    schedule = beat_schedule()

    assert sorted(schedule) == sorted(ALL_JOBS)
    for job in PERIODIC_JOBS:
        entry = schedule[job.name]
        assert entry["task"] == RUN_TASK_NAME
        assert entry["schedule"] == job.every
        assert entry["args"] == (job.task.module_path, [], {})

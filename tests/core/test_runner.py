"""`patron worker` and `patron beat` as real processes: they start, and stop cleanly on SIGTERM."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ImproperlyConfigured
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.core.models import ScheduledJob
from patron.core.runner import run_worker
from patron.core.schedule import PERIODIC_JOBS
from tests.core.conftest import CeleryQueue, WorkerProcess, is_gone, wait_until

START_TIMEOUT_SECONDS = 30

pytestmark = pytest.mark.services


def _wait_for_output(process: WorkerProcess, text: str) -> None:
    wait_until(
        lambda: text in process.output(),
        timeout=START_TIMEOUT_SECONDS,
        what=f"{text!r} in the output:\n{process.output()}",
    )


def test_it_stops_a_db_worker_cleanly_on_sigterm(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker("db")
    _wait_for_output(worker, "Starting worker")

    status = worker.stop()

    assert status == 0, worker.output()


def test_it_stops_a_celery_worker_cleanly_on_sigterm(
    rabbitmq_queue: CeleryQueue,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker("celery", queues=(rabbitmq_queue.name,))
    _wait_for_output(worker, "ready.")

    status = worker.stop()

    assert status == 0, worker.output()


def test_it_enqueues_periodic_jobs_and_stops_the_embedded_scheduler_on_sigterm(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    scheduler = start_worker("db", program="beat")
    wait_until(
        lambda: (
            ScheduledJob.objects.filter(last_run_at__isnull=False).count() == len(PERIODIC_JOBS)
        ),
        timeout=START_TIMEOUT_SECONDS,
        what=f"the scheduler's first run; its output:\n{scheduler.output()}",
    )

    status = scheduler.stop()

    assert status == 0, scheduler.output()
    assert sorted(DBTaskResult.objects.values_list("task_path", flat=True)) == sorted(
        job.task.module_path for job in PERIODIC_JOBS
    )


def test_it_stops_celery_beat_cleanly_on_sigterm(
    rabbitmq_queue: CeleryQueue,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    beat = start_worker("celery", program="beat", broker_url=rabbitmq_queue.broker_url)
    _wait_for_output(beat, "beat: Starting")

    status = beat.stop()

    assert status == 0, beat.output()


def test_it_refuses_to_run_a_worker_for_tasks_that_run_where_they_are_enqueued(
    settings: SettingsWrapper,
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}

    with pytest.raises(ImproperlyConfigured, match="PATRON_TASK_BACKEND"):
        run_worker()


def test_it_runs_several_db_workers_and_stops_them_all_on_sigterm(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    workers = start_worker("db", concurrency=2)
    wait_until(
        lambda: workers.output().count("Starting worker") == 2,
        timeout=START_TIMEOUT_SECONDS,
        what=f"two db workers to start; the output:\n{workers.output()}",
    )

    status = workers.stop()

    assert status == 0, workers.output()


def test_it_leaves_no_db_worker_behind_when_the_parent_is_killed(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    workers = start_worker("db", concurrency=2)
    wait_until(
        lambda: workers.output().count("Starting worker") == 2,
        timeout=START_TIMEOUT_SECONDS,
        what=f"two db workers to start; the output:\n{workers.output()}",
    )
    children = workers.children()

    workers.crash()

    assert len(children) == 2
    wait_until(
        lambda: all(is_gone(pid) for pid in children),
        timeout=START_TIMEOUT_SECONDS,
        what="the orphaned db workers to stop",
    )

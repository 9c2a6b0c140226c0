"""The Celery app for production workers: one generic task that runs any django.tasks Task.

Late acknowledgement: a message is acked only after its task returns, so a worker killed mid-task
leaves it on the broker for another worker. Effects stay exactly once because tasks claim their
work in the database (see `patron.core.events`).

Start workers and beat with `patron worker` / `patron beat` (`patron.core.runner`), or
`celery -A patron.core.celery_app worker|beat`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import django
from django.apps import apps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
if not apps.ready:  # started by the `celery` command rather than from inside Django
    django.setup()

from celery import Celery
from celery.signals import after_setup_logger
from django.conf import settings
from django.tasks import Task, task_backends
from django.utils.json import normalize_json
from django.utils.module_loading import import_string
from kombu import Connection

from patron.core.celery_backend import CeleryBackend, celery_priority
from patron.core.schedule import PERIODIC_JOBS

RUN_TASK_NAME = "patron.run_task"
# RabbitMQ serves priorities only on queues declared with a maximum; Redis ignores it.
QUEUE_MAX_PRIORITY = 10


def broker_queue(task: Task[..., Any]) -> str:
    """The broker queue a django.tasks Task is sent to."""
    backend = task_backends[task.backend]
    if isinstance(backend, CeleryBackend):
        return backend.broker_queue(task.queue_name)
    return task.queue_name


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Celery beat's schedule, from the one registry of periodic jobs."""
    # parses; does not connect
    transport = Connection(settings.CELERY_BROKER_URL).transport_cls  # type: ignore[no-untyped-call]
    return {
        job.name: {
            "task": RUN_TASK_NAME,
            "schedule": job.every,
            "args": (job.task.module_path, [], {}),
            "options": {
                "queue": broker_queue(job.task),
                "priority": celery_priority(job.task.priority, transport=transport),
            },
        }
        for job in PERIODIC_JOBS
    }


# Celery logs two INFO lines per task; like the database worker's, they show at DEBUG only.
PER_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


@after_setup_logger.connect  # type: ignore[untyped-decorator]
def _quiet_per_task_lines(**kwargs: Any) -> None:
    if settings.PATRON_LOG_LEVEL != "DEBUG":
        for name in PER_TASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


app = Celery("patron")
app.conf.update(
    broker_url=settings.CELERY_BROKER_URL,
    broker_connection_retry_on_startup=True,
    result_backend=settings.REDIS_URL or None,
    result_extended=True,
    task_ignore_result=not settings.REDIS_URL,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    task_queue_max_priority=QUEUE_MAX_PRIORITY,
    timezone=settings.TIME_ZONE,
    enable_utc=True,
    beat_schedule=beat_schedule(),
    beat_schedule_filename=str(settings.DATA_DIR / "celerybeat-schedule"),
)


@app.task(name=RUN_TASK_NAME)  # type: ignore[untyped-decorator]
def run_task(module_path: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Import the django.tasks Task at `module_path` and run it here, in the worker."""
    task = import_string(module_path)
    if not isinstance(task, Task):
        raise TypeError(f"{module_path} is not a django.tasks Task")
    return normalize_json(task.call(*args, **kwargs))

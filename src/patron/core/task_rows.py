"""Task rows whose worker died: a django-tasks-db row left RUNNING is closed after a lease.

A worker killed in the middle of a task (SIGKILL, the machine lost) never writes the end of its
`DBTaskResult` row, which would otherwise say RUNNING for ever. The periodic job
`expire_task_rows` marks every row still RUNNING `TASK_LEASE` after it started as FAILED, with a
reason that says so. No task runs that long; one that does and finishes after all simply
overwrites the row with its real outcome.

The row is not run again from here: the work it held is re-driven from its own records, which
the queue cannot lose — an event's receipt by `redrive_events` (its lease is shorter than this
one), a stored mail still waiting by `process_pending_mail`, outbound mail by `send_due_mail`.
Those tasks are idempotent, so a re-drive racing a late worker does nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.tasks import Task, TaskResultStatus
from django.tasks.signals import task_enqueued
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.compat import normalize_json
from django_tasks_db.models import DBTaskResult, get_date_max

# Longer than any task may run: event deliveries and mail processing take seconds.
TASK_LEASE = timedelta(minutes=15)
ABANDONED = "patron.core.task_rows.TaskAbandoned"


class TaskAbandoned(Exception):
    """The name a row's `exception_class_path` gets when its worker died while running it."""


def abandoned_reason(lease: timedelta) -> str:
    minutes = int(lease.total_seconds() // 60)
    return (
        f"{ABANDONED}: the worker running this task stopped without finishing it (killed, or its "
        f"machine went down); the row was still running {minutes} minutes after it started, "
        "longer than any task runs. Its work is re-driven from its own records (event receipts, "
        "stored mail, outbound mail), not by running this row again.\n"
    )


def expire_abandoned(*, now: datetime, lease: timedelta = TASK_LEASE) -> int:
    """Mark every task row RUNNING since before `now - lease` as FAILED; return how many."""
    stale = DBTaskResult.objects.running().filter(started_at__lt=now - lease)
    return stale.update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        return_value=None,
        exception_class_path=ABANDONED,
        traceback=abandoned_reason(lease),
    )


def enqueue_many(task: Task[Any, Any], calls: Sequence[tuple[Any, ...]]) -> None:
    """Enqueue `task` once per argument tuple. On the database queue the rows are one INSERT
    (as `DatabaseBackend.enqueue` writes them, one by one); any other backend enqueues each."""
    backend = task.get_backend()
    if not isinstance(backend, DatabaseBackend) or backend.options.get("id_function"):
        for args in calls:
            task.enqueue(*args)
        return
    backend.validate_task(task)
    run_after = task.run_after if task.run_after is not None else get_date_max()
    rows = DBTaskResult.objects.bulk_create(
        DBTaskResult(
            args_kwargs=normalize_json({"args": list(args), "kwargs": {}}),
            priority=task.priority,
            task_path=task.module_path,
            queue_name=task.queue_name,
            run_after=run_after,
            backend_name=backend.alias,
        )
        for args in calls
    )
    for row in rows:
        task_enqueued.send(type(backend), task_result=row.task_result)

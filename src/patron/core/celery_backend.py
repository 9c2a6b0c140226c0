"""A django.tasks backend that hands tasks to Celery (RabbitMQ or Redis) as one generic task.

Every django.tasks Task travels as `patron.run_task(module_path, args, kwargs)`
(`patron.core.celery_app`), so task functions stay written once against Django's API and Celery
needs no per-task registration.

TASKS options (all optional):
- `queue_prefix`: put before every queue name on the broker, so several Patron instances (or test
  runs) can share one broker without taking each other's messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import (
    TASK_MAX_PRIORITY,
    TASK_MIN_PRIORITY,
    TaskError,
)
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils.module_loading import import_string
from kombu.pools import producers

from patron.core import clock

if TYPE_CHECKING:
    from celery.result import AsyncResult

# Celery's broker priorities run 0..9; RabbitMQ serves higher first, Redis serves lower first.
CELERY_MAX_PRIORITY = 9
REVERSED_PRIORITY_TRANSPORTS = frozenset({"redis", "rediss"})
SEND_TIMEOUT_SECONDS = 10

_STATUSES = {
    "PENDING": TaskResultStatus.READY,
    "RECEIVED": TaskResultStatus.READY,
    "RETRY": TaskResultStatus.READY,
    "STARTED": TaskResultStatus.RUNNING,
    "SUCCESS": TaskResultStatus.SUCCESSFUL,
    "FAILURE": TaskResultStatus.FAILED,
    "REVOKED": TaskResultStatus.FAILED,
}
_FINISHED = frozenset({TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED})


def celery_priority(priority: int, *, transport: str) -> int:
    """Map django.tasks' -100..100 (higher first) onto the broker's 0..9 scale."""
    span = TASK_MAX_PRIORITY - TASK_MIN_PRIORITY
    level = round((priority - TASK_MIN_PRIORITY) * CELERY_MAX_PRIORITY / span)
    return CELERY_MAX_PRIORITY - level if transport in REVERSED_PRIORITY_TRANSPORTS else level


class CeleryBackend(BaseTaskBackend):
    supports_defer = True
    supports_priority = True
    supports_async_task = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.queue_prefix: str = self.options.get("queue_prefix", "")
        # Results can be read back only when Celery stores them, in Redis.
        self.supports_get_result = bool(settings.REDIS_URL)

    def broker_queue(self, queue_name: str) -> str:
        """The broker's name for a django.tasks queue."""
        return f"{self.queue_prefix}{queue_name}"

    def broker_queues(self) -> list[str]:
        """Every broker queue a worker for this backend consumes."""
        return sorted(self.broker_queue(name) for name in self.queues)

    def validate_task(self, task: Task[..., Any]) -> None:
        super().validate_task(task)
        if task.takes_context:
            raise InvalidTask("CeleryBackend does not pass a task context; drop takes_context.")

    def enqueue[**P, R](self, task: Task[P, R], args: Any, kwargs: Any) -> TaskResult[P, R]:
        from patron.core.celery_app import RUN_TASK_NAME, app

        self.validate_task(task)
        connection = app.connection_for_write(settings.CELERY_BROKER_URL)
        options: dict[str, Any] = {"queue": self.broker_queue(task.queue_name)}
        if task.run_after is not None:
            options["eta"] = task.run_after
        # Always set: a broker reads a message without one as its lowest (RabbitMQ) or highest
        # (Redis) priority, which would put default-priority tasks behind or ahead of every other.
        options["priority"] = celery_priority(task.priority, transport=connection.transport_cls)
        with producers[connection].acquire(block=True, timeout=SEND_TIMEOUT_SECONDS) as producer:
            sent = app.send_task(
                RUN_TASK_NAME,
                args=[task.module_path, list(args), dict(kwargs)],
                producer=producer,
                ignore_result=not self.supports_get_result,
                **options,
            )
        result: TaskResult[P, R] = TaskResult(
            task=task,
            id=sent.id,
            status=TaskResultStatus.READY,
            enqueued_at=clock.now(),
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=list(args),
            kwargs=dict(kwargs),
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult[..., Any]:
        if not self.supports_get_result:
            raise NotImplementedError("CeleryBackend reads results only when REDIS_URL is set.")
        from patron.core.celery_app import app

        stored: AsyncResult = app.AsyncResult(result_id)
        if stored.state == "PENDING" or stored.args is None:
            # Celery cannot tell an unknown id from a queued task; neither has stored arguments.
            raise TaskResultDoesNotExist(result_id)
        module_path, args, kwargs = stored.args
        status = _STATUSES.get(stored.state, TaskResultStatus.READY)
        finished_at = stored.date_done if status in _FINISHED else None
        result: TaskResult[..., Any] = TaskResult(
            task=import_string(module_path),
            id=result_id,
            status=status,
            enqueued_at=None,
            started_at=None,
            finished_at=finished_at,
            last_attempted_at=finished_at,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=_errors(stored) if status == TaskResultStatus.FAILED else [],
            worker_ids=[stored.worker] if stored.worker else [],
        )
        if status == TaskResultStatus.SUCCESSFUL:
            object.__setattr__(result, "_return_value", stored.result)
        return result


def _errors(stored: AsyncResult) -> list[TaskError]:
    error = stored.result
    kind = type(error) if isinstance(error, BaseException) else Exception
    return [
        TaskError(
            exception_class_path=f"{kind.__module__}.{kind.__qualname__}",
            traceback=stored.traceback or "",
        )
    ]

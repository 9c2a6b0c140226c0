"""Start the background worker and the scheduler for whichever task backend is configured.

`patron worker` and `patron beat` call these. With the database backend the worker is
django-tasks-db's `db_worker` and the scheduler is ours (`patron.core.scheduler`); with Celery
they are a Celery worker and Celery beat. Ctrl-C or SIGTERM stops either cleanly: a task that is
running finishes first.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from patron.core.processes import die_with_parent
from patron.core.scheduler import DEFAULT_TICK_SECONDS, run_scheduler

logger = logging.getLogger(__name__)

DB_WORKER_INTERVAL_SECONDS = 0.5
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class QuietDbWorker(DbWorkerCommand):
    """django-tasks-db's worker, logging as Patron's LOGGING setting says (PATRON_LOG_LEVEL):
    its own set-up would print two INFO lines per task whatever the setting."""

    def configure_logging(self, verbosity: int) -> None:
        return None


def run_worker(concurrency: int = 1, *, queues: Sequence[str] | None = None) -> int:
    """Run tasks until stopped; return the exit status. `queues` defaults to every queue."""
    if concurrency < 1:
        raise ValueError("A worker needs a concurrency of at least 1.")
    backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    if settings.PATRON_TASK_BACKEND == "celery":
        return _run_celery_worker(concurrency, queues)
    if isinstance(backend, DatabaseBackend):
        queue_name = ",".join(queues) if queues else "*"
        if concurrency == 1:
            return _run_db_worker(queue_name)
        return _run_db_workers(queue_name, concurrency)
    raise ImproperlyConfigured(
        f"The task backend {type(backend).__name__} runs tasks where they are enqueued; "
        "set PATRON_TASK_BACKEND=db or celery to run a worker."
    )


def run_beat() -> int:
    """Enqueue periodic jobs until stopped; return the exit status."""
    if settings.PATRON_TASK_BACKEND == "celery":
        return _run_celery_beat()
    stop = threading.Event()
    with _stop_on_signal(lambda signum, frame: stop.set()):
        run_scheduler(stop, tick=DEFAULT_TICK_SECONDS)
    return 0


def _run_celery_worker(concurrency: int, queues: Sequence[str] | None) -> int:
    # Celery is an extra: imported only when PATRON_TASK_BACKEND=celery chose it.
    from patron.core.celery_app import app
    from patron.core.celery_backend import CeleryBackend

    backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    assert isinstance(backend, CeleryBackend)

    broker_queues = list(queues) if queues else backend.broker_queues()
    argv = [
        "worker",
        f"--loglevel={settings.PATRON_LOG_LEVEL}",
        f"--concurrency={concurrency}",
        f"--queues={','.join(broker_queues)}",
        f"--hostname=patron-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    return app.start(argv) or 0


def _run_celery_beat() -> int:
    from celery.signals import beat_init

    from patron.core.celery_app import app

    # Celery beat saves its schedule on SIGINT/SIGTERM, which fails with a traceback if the
    # signal comes while the schedule file is still being opened: hold the signals until then.
    def release(**kwargs: object) -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    beat_init.connect(release, weak=False)
    try:
        return app.start(["beat", f"--loglevel={settings.PATRON_LOG_LEVEL}"]) or 0
    finally:
        beat_init.disconnect(release)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _run_db_worker(queue_name: str) -> int:
    try:
        call_command(
            QuietDbWorker(),
            queue_name=queue_name,
            interval=DB_WORKER_INTERVAL_SECONDS,
            reload=False,
            startup_delay=False,
        )
    except SystemExit as exit:  # db_worker leaves with sys.exit on SIGINT/SIGTERM
        return exit.code if isinstance(exit.code, int) else 0
    return 0


def _run_db_workers(queue_name: str, concurrency: int) -> int:
    """db_worker runs one task at a time, so run several and stop them together."""
    command = [sys.executable, "-m", "patron.cli", "worker", "--queue", queue_name]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE}
    # Each child in its own session: a terminal's Ctrl-C reaches them once, through `forward`;
    # and sent SIGTERM when this process dies, even by SIGKILL, so a killed `patron worker`
    # leaves no orphans (Linux; elsewhere a supervisor must see to it).
    before_exec = die_with_parent()
    children = [
        subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=before_exec)
        for _ in range(concurrency)
    ]

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            child.send_signal(signum)

    with _stop_on_signal(forward):
        codes = [child.wait() for child in children]
    return max(codes)


@contextmanager
def _stop_on_signal(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to `handler` inside the block, then restore what was there."""
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)

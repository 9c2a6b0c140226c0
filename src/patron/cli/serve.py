"""`patron serve`, `patron worker` and `patron beat`: the web server with its worker and
scheduler under one supervisor, or the background processes on their own."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from patron import config
from patron.cli.check import describe_database
from patron.cli.common import EXIT_CONFIG, fail, migrate, out
from patron.cli.supervisor import Child, Supervisor

WEB_GRACEFUL_SHUTDOWN_SECONDS = 5


def run_worker(args: argparse.Namespace) -> int:
    from django.core.exceptions import ImproperlyConfigured

    from patron.core import runner

    if args.concurrency < 1:
        fail("--concurrency must be at least 1.")
        return EXIT_CONFIG
    try:
        queues = [name for name in args.queue.split(",") if name.strip() not in ("", "*")]
        return runner.run_worker(concurrency=args.concurrency, queues=queues or None)
    except ImproperlyConfigured as error:
        fail(str(error))
        return EXIT_CONFIG


def run_beat(args: argparse.Namespace) -> int:
    from patron.core import runner

    return runner.run_beat()


def web_command(host: str, port: int, *, access_log: bool = True) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "patron.asgi:application",
        "--host", host, "--port", str(port),
        "--lifespan", "off",
        "--timeout-graceful-shutdown", str(WEB_GRACEFUL_SHUTDOWN_SECONDS),
        "--no-server-header",
        *([] if access_log else ["--no-access-log"]),
    ]  # fmt: skip


def queued_tasks() -> int | None:
    """Tasks waiting in the database queue (None on other backends, which have their own)."""
    from django.conf import settings
    from django_tasks_db.models import DBTaskResult

    if settings.PATRON_TASK_BACKEND != "db":
        return None
    return DBTaskResult.objects.ready().count()


def startup_summary() -> list[str]:
    """What a person starting Patron should know, in a few lines."""
    from django.conf import settings

    from patron.mail.models import Mailbox

    loaded: config.Config = settings.CONFIG
    engine, name = describe_database(loaded.database)
    lines = [
        f"Database: {engine} ({name}); background tasks: {loaded.task_backend}; "
        f"log level {settings.PATRON_LOG_LEVEL}"
    ]
    if not Mailbox.objects.filter(active=True).exists():
        lines.append(
            "No active mailbox: replies are not sent by email until one is added "
            "(Settings → Email)."
        )
    return lines


def run_serve(args: argparse.Namespace) -> int:
    from django.conf import settings

    migrate()
    # WhiteNoise serves from the finders too, but warns at start-up when STATIC_ROOT is missing.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    backend = settings.PATRON_TASK_BACKEND
    children = [
        Child(
            "web server", web_command(args.host, args.port, access_log=settings.PATRON_ACCESS_LOG)
        )
    ]
    if backend == "db":
        children.append(Child("worker", [sys.executable, "-m", "patron.cli", "worker"]))
    if backend in ("db", "immediate"):
        children.append(Child("scheduler", [sys.executable, "-m", "patron.cli", "beat"]))
    shown_host = f"[{args.host}]" if ":" in args.host else args.host

    def started() -> None:
        for line in startup_summary():
            out.print(line, markup=False, highlight=False)
        out.print(f"Patron is at http://{shown_host}:{args.port}/  (Ctrl-C stops it)")
        if backend == "celery":
            out.print(
                "Background work runs on Celery: start `patron worker` (as many as you need) "
                "and exactly one `patron beat` separately."
            )
        elif backend == "immediate":
            out.print("Tasks run inside the web server (PATRON_TASK_BACKEND=immediate).")

    return Supervisor(children, backlog=queued_tasks).run(on_started=started)

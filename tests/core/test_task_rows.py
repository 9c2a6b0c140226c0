"""A killed worker's task row is closed after the lease, and the mail it held is processed.

A real worker (`patron.core.runner.run_worker` in a child process, on the test's own database) is
SIGKILLed while it holds a `process_inbound` task whose mail it has not finished. Its row stays
RUNNING; `expire_abandoned` at a `now` past the lease marks it failed with the reason, and the
periodic mail re-drive queues the mail again for a fresh worker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.core import task_rows
from patron.core.schedule import PERIODIC_JOBS
from patron.mail import services
from patron.mail.models import InboundMail, Mailbox
from patron.mail.tasks import process_inbound, process_pending_mail
from tests.core.conftest import (  # noqa: F401 (start_worker is a fixture)
    DB_BACKEND,
    WorkerProcess,
    start_worker,
    wait_until,
)
from tests.mail.test_worker_kill import _kill_while_holding_a_mail, _raw

MAILS = 100
DONE_BEFORE_KILL = 10
TIMEOUT_SECONDS = 120
PROCESS_INBOUND = "patron.mail.tasks.process_inbound"


def _rows(status: str) -> int:
    return DBTaskResult.objects.filter(status=status, task_path=PROCESS_INBOUND).count()


def _store_mails_on_the_db_queue(settings: SettingsWrapper) -> None:
    """MAILS stored mails, each with its processing task waiting in the database queue; the
    mail re-drive takes any still waiting (no grace)."""
    settings.TASKS = {"default": {"BACKEND": DB_BACKEND}}
    settings.PATRON_MAIL_PROCESS_GRACE_SECONDS = 0
    mailbox = Mailbox.objects.create(address="support@desk.example")
    for n in range(MAILS):
        services.receive_raw(_raw(n), mailbox=mailbox, source="smtp", received_at=timezone.now())


@pytest.mark.services
@pytest.mark.real_clock
def test_a_killed_workers_row_is_failed_after_the_lease_and_its_mail_processed(
    settings: SettingsWrapper,
    start_worker: Callable[..., WorkerProcess],  # noqa: F811 (the fixture imported above)
) -> None:
    _store_mails_on_the_db_queue(settings)
    first = start_worker("db")
    wait_until(
        lambda: (
            InboundMail.objects.exclude(state=InboundMail.State.RECEIVED).count()
            >= DONE_BEFORE_KILL
        ),
        timeout=TIMEOUT_SECONDS,
        what=f"the first worker to process {DONE_BEFORE_KILL} mails",
        worker=first,
    )
    held = _kill_while_holding_a_mail(first)
    running = list(
        DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, task_path=PROCESS_INBOUND)
    )
    assert [row.args_kwargs["args"][0] for row in running] == held

    # Within the lease nothing is touched: the worker might only be slow.
    assert task_rows.expire_abandoned(now=timezone.now()) == 0
    assert _rows(TaskResultStatus.RUNNING) == len(held)

    later = timezone.now() + task_rows.TASK_LEASE + timedelta(minutes=1)
    assert task_rows.expire_abandoned(now=later) == len(held)
    assert _rows(TaskResultStatus.RUNNING) == 0
    for row in running:
        row.refresh_from_db()
        assert row.status == TaskResultStatus.FAILED
        assert row.finished_at == later
        assert row.exception_class_path == task_rows.ABANDONED
        assert "stopped without finishing it" in row.traceback
        assert row.task_result.errors[0].exception_class_path == task_rows.ABANDONED
    # Rows that were waiting or finished are left alone, and a second run finds nothing.
    assert _rows(TaskResultStatus.READY) + _rows(TaskResultStatus.SUCCESSFUL) == (MAILS - len(held))
    assert task_rows.expire_abandoned(now=later) == 0

    # The mail the dead worker held is still waiting; the mail re-drive queues it again.
    assert InboundMail.objects.filter(pk__in=held, state=InboundMail.State.RECEIVED).count() == (
        len(held)
    )
    assert process_pending_mail.call() >= len(held)
    fresh = start_worker("db")
    wait_until(
        lambda: InboundMail.objects.filter(state=InboundMail.State.PROCESSED).count() == MAILS,
        timeout=TIMEOUT_SECONDS,
        what="every mail to be processed",
        worker=fresh,
    )
    assert InboundMail.objects.filter(pk__in=held, attempts=1).count() == len(held)


def test_only_rows_running_past_the_lease_are_failed(
    transactional_db: None, settings: SettingsWrapper
) -> None:
    settings.TASKS = {"default": {"BACKEND": DB_BACKEND}}
    now = timezone.now()
    results = [process_inbound.enqueue(n) for n in range(4)]
    rows = DBTaskResult.objects.filter(pk__in=[r.id for r in results]).order_by("args_kwargs")
    stale, fresh, ready, done = (row.pk for row in rows)
    started = now - task_rows.TASK_LEASE - timedelta(seconds=1)
    DBTaskResult.objects.filter(pk=stale).update(status="RUNNING", started_at=started)
    DBTaskResult.objects.filter(pk=fresh).update(status="RUNNING", started_at=now)
    DBTaskResult.objects.filter(pk=done).update(
        status="SUCCESSFUL", started_at=started, finished_at=started
    )

    assert task_rows.expire_abandoned(now=now) == 1

    statuses = dict(DBTaskResult.objects.values_list("pk", "status"))
    assert statuses == {stale: "FAILED", fresh: "RUNNING", ready: "READY", done: "SUCCESSFUL"}


def test_the_expiry_is_a_periodic_job_shorter_than_the_lease() -> None:
    jobs = {job.name: job for job in PERIODIC_JOBS}
    assert jobs["expire_task_rows"].every < task_rows.TASK_LEASE

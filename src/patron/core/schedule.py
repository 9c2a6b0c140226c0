"""Every periodic job, in one list: what it is called, which task it enqueues, how often.

Both the embedded scheduler (`patron.core.scheduler`) and Celery beat
(`patron.core.celery_app.beat_schedule`) read this tuple; a job added here runs under either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.tasks import Task

from patron.core import tasks as core_tasks
from patron.mail import inbound as mail_inbound
from patron.mail import outbound_tasks as mail_outbound_tasks
from patron.mail import tasks as mail_tasks
from patron.notifications import tasks as notification_tasks
from patron.sla import tasks as sla_tasks
from patron.webhooks import tasks as webhook_tasks


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Task[..., Any]
    every: timedelta


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        name="redrive_events",
        task=core_tasks.redrive_events,
        every=timedelta(seconds=30),
    ),
    # Task rows a killed worker left RUNNING are marked failed after their lease; the work they
    # held is re-driven by the jobs that own it (redrive_events, process_pending_mail, …).
    PeriodicJob(
        name="expire_task_rows",
        task=core_tasks.expire_task_rows,
        every=timedelta(minutes=5),
    ),
    PeriodicJob(
        name="prune_task_results",
        task=core_tasks.prune_task_results,
        every=timedelta(days=1),
    ),
    # Hourly: each agent's preference (hourly, daily at 08:00 their time) decides who is due.
    PeriodicJob(
        name="notification_digests",
        task=notification_tasks.send_due_digests,
        every=timedelta(hours=1),
    ),
    # IMAP mailboxes: one poll task per active mailbox (the listener and the pipe need none).
    PeriodicJob(
        name="poll_mailboxes",
        task=mail_inbound.poll_mailboxes,
        every=timedelta(seconds=60),
    ),
    # Stored mail whose processing task was lost (a worker killed, a broker down) is queued again.
    PeriodicJob(
        name="process_pending_mail",
        task=mail_tasks.process_pending_mail,
        every=timedelta(seconds=60),
    ),
    # Queued outbound mail that is due: retries after an SMTP outage, and sends whose task was lost.
    PeriodicJob(
        name="send_due_mail",
        task=mail_outbound_tasks.send_due_mail,
        every=timedelta(seconds=30),
    ),
    # Webhook deliveries that are due: retries after a receiver's outage, and lost sends.
    PeriodicJob(
        name="send_due_webhooks",
        task=webhook_tasks.send_due_webhooks,
        every=timedelta(seconds=30),
    ),
    # Warnings and breaches within a minute of their instant: a 30 s tick, no cap per run.
    PeriodicJob(
        name="sla_tick",
        task=sla_tasks.tick,
        every=timedelta(seconds=30),
    ),
)

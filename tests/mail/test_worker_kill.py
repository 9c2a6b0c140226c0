"""A worker SIGKILLed in the middle of ingesting 1,000 mails loses none and doubles none.

The mails are stored with `receive_raw` on the `db` task backend, so each one's processing is a
task row. A real worker (`patron.core.runner.run_worker` in a child process, on the test's own
database) starts on them and is killed while it holds a mail it has not finished; a fresh worker
takes the rest, and the periodic re-drive (`process_pending_mail`, with the grace shortened) queues
again what the dead worker held. Runs on SQLite and, with DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest
from django.db.models import Count
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.mail import services
from patron.mail.models import InboundMail, Mailbox
from patron.mail.tasks import process_pending_mail
from patron.tickets.models import Message
from tests.core.conftest import (  # noqa: F401 (start_worker is a fixture)
    DB_BACKEND,
    WorkerProcess,
    start_worker,
    wait_until,
)

MAILS = 1000
SENDERS = 200  # five mails each: a new conversation, then replies threading by In-Reply-To
DONE_BEFORE_KILL = 150
KILL_WINDOW_SECONDS = 120
SETTLE_SECONDS = 0.05
TIMEOUT_SECONDS = 400  # 1,000 mails on a busy 2-core CI machine: about 50-200 s

# Worker processes read the real clock, so these tests do too.
pytestmark = [pytest.mark.services, pytest.mark.real_clock]


def _raw(n: int) -> bytes:
    sender, turn = divmod(n, MAILS // SENDERS)
    reply = f"In-Reply-To: <m{n - 1}@kill.example>\n" if turn else ""
    return (
        f"From: Customer {sender} <c{sender}@kill.example>\nTo: support@desk.example\n"
        f"Subject: {'Re: ' if turn else ''}Order {sender} has not arrived\n"
        f"Message-ID: <m{n}@kill.example>\n{reply}"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"Mail {n}: where is my order?\n"
    ).encode()


def _processed() -> int:
    return InboundMail.objects.exclude(state=InboundMail.State.RECEIVED).count()


def _held() -> list[int]:
    """Mails whose processing task a worker has claimed while the mail is still unprocessed."""
    running = DBTaskResult.objects.filter(
        status="RUNNING", task_path="patron.mail.tasks.process_inbound"
    ).values_list("args_kwargs", flat=True)
    ids = [args["args"][0] for args in running]
    return sorted(
        InboundMail.objects.filter(pk__in=ids, state=InboundMail.State.RECEIVED).values_list(
            "pk", flat=True
        )
    )


def _kill_while_holding_a_mail(worker: WorkerProcess) -> list[int]:
    """SIGKILL the worker at a moment it is inside a mail's processing (task claimed, mail not
    committed): freeze it, look twice, and kill it if so; else thaw it, let it run a while (a
    random while, so the looks fall anywhere in its cycle: a batch, then its mails' own tasks,
    which find them done), and look again."""
    deadline = time.monotonic() + KILL_WINDOW_SECONDS
    looks = 0
    while time.monotonic() < deadline:
        worker.pause()
        looks += 1
        held = _held()
        if held:
            time.sleep(SETTLE_SECONDS)
            if held == _held():
                worker.crash()
                return held
        worker.resume()
        time.sleep(random.uniform(0.005, 0.15))
    raise AssertionError(
        f"never caught the worker inside a mail in {looks} looks; output:\n{worker.output()}"
    )


def test_a_worker_killed_mid_ingest_loses_no_mail_and_doubles_none(
    settings: SettingsWrapper,
    start_worker: Callable[..., WorkerProcess],  # noqa: F811 (the fixture imported above)
) -> None:
    settings.TASKS = {"default": {"BACKEND": DB_BACKEND}}
    settings.PATRON_MAIL_PROCESS_GRACE_SECONDS = 0
    mailbox = Mailbox.objects.create(address="support@desk.example")
    started = timezone.now()
    for n in range(MAILS):
        services.receive_raw(_raw(n), mailbox=mailbox, source="smtp", received_at=started)
    assert InboundMail.objects.count() == MAILS
    assert DBTaskResult.objects.filter(task_path="patron.mail.tasks.process_inbound").count() == (
        MAILS
    )

    first = start_worker("db")
    wait_until(
        lambda: _processed() >= DONE_BEFORE_KILL,
        timeout=TIMEOUT_SECONDS,
        what=f"the first worker to process {DONE_BEFORE_KILL} mails",
        worker=first,
    )
    held = _kill_while_holding_a_mail(first)
    assert DONE_BEFORE_KILL <= _processed() < MAILS, "the kill came after the work"
    assert InboundMail.objects.filter(pk__in=held, state=InboundMail.State.RECEIVED).count() == (
        len(held)
    )

    fresh = start_worker("db", concurrency=2)
    # The dead worker's claimed task is never finished by anyone: without the re-drive its
    # mail would wait for ever. Queue every waiting mail again (duplicates of live tasks too:
    # processing is idempotent, so those are no-ops).
    requeued = process_pending_mail.call()
    assert requeued >= len(held)
    try:
        wait_until(lambda: _processed() == MAILS, timeout=TIMEOUT_SECONDS, what="every mail")
    except AssertionError:
        states = dict(InboundMail.objects.values_list("state").annotate(n=Count("id")))
        tasks = dict(DBTaskResult.objects.values_list("status", "priority").annotate(n=Count("id")))
        raise AssertionError(
            f"the fresh worker did not process every mail in {TIMEOUT_SECONDS} s: mails {states}, "
            f"tasks {tasks}, held {held}; its output ends:\n{fresh.output()[-3000:]}"
        ) from None

    assert InboundMail.objects.filter(state=InboundMail.State.PROCESSED).count() == MAILS
    assert Message.objects.count() == MAILS
    assert not (
        Message.objects.values("inbound_mail").annotate(n=Count("id")).filter(n__gt=1).exists()
    )
    assert InboundMail.objects.filter(message__isnull=True).count() == 0
    assert InboundMail.objects.filter(pk__in=held, attempts=1).count() == len(held)
    bodies = set(Message.objects.values_list("body_text", flat=True))
    assert bodies == {f"Mail {n}: where is my order?" for n in range(MAILS)}

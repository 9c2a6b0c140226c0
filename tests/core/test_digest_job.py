"""The digest job end to end: the embedded scheduler enqueues it, a real database-queue worker
runs it, and the digest reaches a real SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.contrib.auth.models import User
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from patron.notifications.models import Notification
from patron.people.models import AgentProfile, EmailDigest
from tests import factories
from tests.core.conftest import WorkerProcess, wait_until

# Worker processes read the real clock, so these tests do too.
pytestmark = [pytest.mark.services, pytest.mark.real_clock]

TIMEOUT_SECONDS = 60
DIGEST_TASK = "patron.notifications.tasks.send_due_digests"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        text = content.decode() if isinstance(content, bytes) else str(content)
        self.received.append((list(envelope.rcpt_tos), text))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on loopback; processes started after this send their mail to it."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("PATRON_EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("PATRON_EMAIL_PORT", str(port))
    try:
        yield inbox
    finally:
        controller.stop()


def test_the_scheduler_and_a_db_worker_send_the_due_digests_by_smtp(
    start_worker: Callable[..., WorkerProcess], smtp_inbox: Inbox
) -> None:
    me, off, sam = (factories.agent(username=name, password=None) for name in ("me", "off", "sam"))
    assert isinstance(me, User) and isinstance(off, User)
    AgentProfile.objects.filter(user=me).update(email_digest=EmailDigest.HOURLY)
    AgentProfile.objects.filter(user__in=[off, sam]).update(email_digest=EmailDigest.OFF)
    written = timezone.now() - timedelta(minutes=5)  # the processes read the real clock
    ticket = factories.ticket(now=written, subject="Refund", actor=sam)
    event = ticket.events.latest("id")
    for recipient in (me, off):
        Notification.objects.create(
            recipient=recipient, event=event, ticket=ticket, reason="x", created_at=written
        )

    scheduler = start_worker("db", program="beat")
    worker = start_worker("db")
    wait_until(
        lambda: DBTaskResult.objects.filter(task_path=DIGEST_TASK, status="SUCCESSFUL").exists(),
        timeout=TIMEOUT_SECONDS,
        what=f"the digest job to run; the scheduler's output:\n{scheduler.output()}",
        worker=worker,
    )

    result = DBTaskResult.objects.get(task_path=DIGEST_TASK)
    assert result.return_value == 1
    # The digest job queues the mail; the worker sends it in a task of its own after commit.
    wait_until(
        lambda: bool(smtp_inbox.received),
        timeout=TIMEOUT_SECONDS,
        what="the queued digest mail to reach the SMTP server",
        worker=worker,
    )
    assert [to for to, _ in smtp_inbox.received] == [["me@desk.example"]]
    assert f"#{ticket.number} Refund" in smtp_inbox.received[0][1]
    assert AgentProfile.objects.get(user=me).last_digest_at is not None
    assert AgentProfile.objects.get(user=off).last_digest_at is None

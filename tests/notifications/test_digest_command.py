"""The digest command end to end: one email per agent with something unread, nothing older than
asked, queued as outbound mail and sent by its task once the claim commits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command

from patron.core import clock
from patron.mail.models import OutboundMail
from patron.notifications import services
from patron.notifications.models import Notification
from tests import factories
from tests.notifications.bell import make_agent, notify, sam_ito

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam() -> User:
    return sam_ito()


@pytest.fixture(autouse=True)
def _digest_clock(now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(hours=1))


def test_the_digest_sends_one_email_per_agent_with_unread_notifications(
    now: datetime, sam: User, settings: Any, run_on_commit: Callable[..., Any]
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    busy, idle, caught_up = make_agent("busy"), make_agent("idle"), make_agent("caughtup")
    refund = factories.ticket(now=now, subject="Refund", actor=sam)
    notify(busy, refund, reason="your_ticket", at=now)
    other = factories.ticket(now=now, subject="Invoice", actor=sam)
    notify(busy, other, reason="assigned_to_you", at=now)
    notify(caught_up, other, reason="x", at=now)
    services.mark_all_read(caught_up, now)
    assert not Notification.objects.filter(recipient=idle).exists()
    mail.outbox = []

    with run_on_commit():
        call_command("notification_digest", "--since-hours", "24")

    assert [message.to for message in mail.outbox] == [["busy@desk.example"]]
    assert OutboundMail.objects.get().state == OutboundMail.State.SENT
    body = mail.outbox[0].body
    assert "You have 2 unread notifications" in body
    assert f"#{refund.number} Refund" in body and f"#{other.number} Invoice" in body


def test_the_digest_leaves_out_notifications_older_than_asked(
    now: datetime, sam: User, settings: Any, run_on_commit: Callable[..., Any]
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    busy = make_agent("busy")
    notify(busy, factories.ticket(now=now, actor=sam), reason="x", at=now - timedelta(hours=24))
    mail.outbox = []

    with run_on_commit():
        call_command("notification_digest", "--since-hours", "24")

    assert mail.outbox == [] and not OutboundMail.objects.exists()

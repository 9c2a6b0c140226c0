"""Agents and notifications for the digest tests, written the way consumers write them, and the
mail tests' real SMTP servers for the digests' delivery."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail

from patron.mail.models import OutboundMail
from patron.notifications.models import Notification
from patron.people.models import AgentProfile, EmailDigest, Role
from patron.tickets import services as tickets
from patron.tickets.models import Ticket
from tests import factories
from tests.mail.conftest import smtp_sink  # noqa: F401  (a fixture, shared)
from tests.mail.test_outbound import answering, site_smtp  # noqa: F401  (fixtures, shared)


@pytest.fixture(autouse=True)
def _mail_outbox(settings: Any) -> None:
    """Django's own in-memory mail backend, emptied for each test."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []


def make_agent(
    username: str,
    digest: str = EmailDigest.DAILY,
    *,
    role: str = Role.AGENT,
    time_zone: str = "",
) -> User:
    user = factories.agent(role, username=username, password=None)
    assert isinstance(user, User)
    AgentProfile.objects.filter(user=user).update(email_digest=digest, time_zone=time_zone)
    return user


@pytest.fixture
def sam() -> User:
    """The colleague whose work the notifications are about."""
    return make_agent("sam", EmailDigest.OFF)


@pytest.fixture
def ticket(now: datetime, sam: User) -> Ticket:
    return factories.ticket(now=now, subject="Refund", actor=sam)


@pytest.fixture
def notify(ticket: Ticket, sam: User) -> Callable[..., Notification]:
    """A notification for `recipient` created at `at`, on a new event of the ticket (by default
    the shared "Refund" one; pass `about=` to tell notifications apart in a digest)."""

    def make(
        recipient: User, at: datetime, reason: str = "your_ticket", about: Ticket | None = None
    ) -> Notification:
        on = about or ticket
        tickets.add_note(on, author=sam, body=f"Note at {at:%H:%M}", now=at)
        event = on.events.latest("id")
        return Notification.objects.create(
            recipient=recipient, event=event, ticket=on, reason=reason, created_at=at
        )

    return make


def queued_to(address: str) -> list[OutboundMail]:
    """The digests queued for one address, oldest first."""
    rows = OutboundMail.objects.filter(kind=OutboundMail.Kind.DIGEST).order_by("pk")
    return [row for row in rows if row.to == [address]]


def sent_to(address: str) -> list[str]:
    """The bodies of the digests queued for one address, oldest first."""
    return [row.body for row in queued_to(address)]

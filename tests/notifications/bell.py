"""Helpers for the bell's tests: agents, and notifications written as a consumer writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User

from patron.notifications.models import Notification
from patron.people.models import Role
from patron.tickets.models import Ticket, TicketEvent
from tests import factories


def make_agent(username: str, role: str = Role.AGENT, **kwargs: Any) -> User:
    user = factories.agent(role, username=username, password=None, **kwargs)
    assert isinstance(user, User)
    return user


def sam_ito() -> User:
    """The colleague whose work the notifications are about, with a full name."""
    user = make_agent("sam")
    user.first_name, user.last_name = "Sam", "Ito"
    user.save()
    return user


def notify(
    recipient: User, ticket: Ticket, *, reason: str, at: datetime, kind: str | None = None
) -> Notification:
    """A notification on the ticket's latest event (of a kind), as a consumer would write it."""
    events = TicketEvent.objects.filter(ticket=ticket)
    event = (events.filter(kind=kind) if kind else events).latest("id")
    return Notification.objects.create(
        recipient=recipient, event=event, ticket=ticket, reason=reason, created_at=at
    )

"""Followers of a ticket: agents who get its notifications without being its assignee."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction

from patron.people import permissions
from patron.tickets import services as tickets
from patron.tickets.events import record
from patron.tickets.models import EventKind, Ticket


def follow(ticket: Ticket, follower: User, *, actor: User, now: datetime) -> None:
    """Add a follower (an agent follows themselves, or a supervisor adds someone)."""
    permissions.check_view_ticket(actor, ticket)
    if follower.pk != actor.pk:
        permissions.check_change_ticket(actor, ticket)
    permissions.check_view_ticket(follower, ticket)
    with transaction.atomic():
        tickets.lock_ticket(ticket)
        if ticket.followers.filter(pk=follower.pk).exists():
            return
        ticket.followers.add(follower)
        record(ticket, EventKind.FOLLOWED, actor=actor, at=now, user=follower.pk)


def unfollow(ticket: Ticket, follower: User, *, actor: User, now: datetime) -> None:
    permissions.check_view_ticket(actor, ticket)
    if follower.pk != actor.pk:
        permissions.check_change_ticket(actor, ticket)
    with transaction.atomic():
        tickets.lock_ticket(ticket)
        if not ticket.followers.filter(pk=follower.pk).exists():
            return
        ticket.followers.remove(follower)
        record(ticket, EventKind.UNFOLLOWED, actor=actor, at=now, user=follower.pk)

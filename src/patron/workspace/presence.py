"""Collision detection without WebSockets: each open ticket page sends a heartbeat; the page
shows the other agents seen on the same ticket recently, and whether they are typing."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import User

from patron.core import wake
from patron.core.models import Presence
from patron.tickets.models import Ticket

# A heartbeat comes every HEARTBEAT; someone not heard from in PRESENT_FOR has left.
HEARTBEAT = timedelta(seconds=10)
PRESENT_FOR = timedelta(seconds=30)


def touch(user: User, ticket: Ticket, *, typing: bool, now: datetime) -> None:
    """Record that `user` has `ticket` open now (and whether they are typing)."""
    Presence.objects.update_or_create(
        user=user, ticket=ticket, defaults={"typing": typing, "seen_at": now}
    )
    wake.announce()


def others_on(ticket: Ticket, *, viewer: User, now: datetime) -> list[Presence]:
    """Other agents seen on this ticket in the last PRESENT_FOR, typists first."""
    return list(
        Presence.objects.filter(ticket=ticket, seen_at__gte=now - PRESENT_FOR)
        .exclude(user=viewer)
        .select_related("user")
        .order_by("-typing", "user__first_name", "user__username")
    )

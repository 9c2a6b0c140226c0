"""Consumers of ticket events (registered in `patron.core.consumers`)."""

from __future__ import annotations

from patron.core import wake
from patron.core.models import Notification
from patron.tickets.models import EventKind, TicketEvent


def notify_followers(event: TicketEvent) -> None:
    """Tell the ticket's followers, assignee and anyone @mentioned what happened, except whoever
    did it."""
    ticket = event.ticket
    reasons: dict[int, str] = {}
    for user_id in ticket.followers.values_list("pk", flat=True):
        reasons[user_id] = "following"
    if event.kind == EventKind.ASSIGNED and event.data.get("to"):
        reasons[int(event.data["to"])] = "assigned_to_you"
    elif ticket.assignee_id is not None:
        reasons.setdefault(ticket.assignee_id, "your_ticket")
    if event.kind == EventKind.MESSAGE_ADDED:
        for user_id in event.data.get("mentions", []):
            reasons[int(user_id)] = "mentioned"
    if event.actor_agent_id is not None:
        reasons.pop(event.actor_agent_id, None)
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=user_id,
                event=event,
                ticket=ticket,
                reason=reason,
                created_at=event.at,
            )
            for user_id, reason in sorted(reasons.items())
        ],
        ignore_conflicts=True,
    )
    wake.announce()

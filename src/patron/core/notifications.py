"""The notification bell: what an agent has been told, in words, and marking it read.

Notifications are written by event consumers (`tickets.consumers.notify_followers`,
`notify_account_manager` below); pages and the digest read them through these functions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from patron.core import wake
from patron.core.models import Notification
from patron.people.models import Relationship
from patron.tickets.models import EventKind, Message, TicketEvent

CLIENT_WAITING = "client_waiting"


def for_user(user: AbstractBaseUser) -> QuerySet[Notification]:
    """The user's notifications, newest first, with what describing them needs."""
    return (
        Notification.objects.filter(recipient_id=user.pk)
        .select_related("ticket", "event", "event__actor_agent", "event__actor_contact")
        .order_by("-created_at", "-id")
    )


def unread(user: AbstractBaseUser) -> QuerySet[Notification]:
    return for_user(user).filter(read_at__isnull=True)


def unread_count(user: AbstractBaseUser) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).count()


def mark_read(user: AbstractBaseUser, ids: Iterable[int], now: datetime) -> int:
    """Mark some of the user's own notifications read; others' ids are ignored."""
    return Notification.objects.filter(
        recipient_id=user.pk, pk__in=list(ids), read_at__isnull=True
    ).update(read_at=now)


def mark_all_read(user: AbstractBaseUser, now: datetime) -> int:
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).update(
        read_at=now
    )


@dataclass(frozen=True)
class Line:
    """One notification as a sentence: "Sam Ito replied on #1042 Refund"."""

    notification: Notification
    text: str

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None


def describe(notification: Notification) -> str:
    event, ticket = notification.event, notification.ticket
    about = f"#{ticket.number} {ticket.subject}"
    who = event.actor_label()
    if notification.reason == CLIENT_WAITING:
        return f"Client ticket waiting: {who} wrote on {about}"
    if notification.reason in ("mentioned", "mentioned_you"):
        return f"{who} mentioned you on {about}"
    if event.kind == EventKind.ASSIGNED:
        if notification.reason == "assigned_to_you":
            return f"{who} assigned {about} to you"
        return f"{who} reassigned {about}"
    if event.kind == EventKind.MESSAGE_ADDED:
        verb = "replied on" if event.data.get("public", True) else "added a note on"
        return f"{who} {verb} {about}"
    if event.kind == EventKind.CREATED:
        return f"{who} opened {about}"
    if event.kind == EventKind.FIELD_CHANGED:
        field = str(event.data.get("field", "a field")).replace("_", " ")
        return f"{who} changed the {field} of {about}"
    return f"{who}: {event.get_kind_display().lower()} on {about}"


def lines(notifications: Iterable[Notification]) -> list[Line]:
    return [Line(notification, describe(notification)) for notification in notifications]


# The consumer (registered in patron.core.consumers)


def notify_account_manager(event: TicketEvent) -> None:
    """A client wrote in (new ticket or public reply): tell their account manager, unless the
    manager did it themselves. One notification per event, however often it is delivered."""
    ticket = event.ticket
    if event.kind == EventKind.CREATED:
        organization = ticket.organization or ticket.requester.organization
    elif event.kind == EventKind.MESSAGE_ADDED:
        if not event.data.get("public") or event.actor_contact is None:
            return
        first = Message.objects.filter(ticket=ticket).order_by("id").values_list("pk", flat=True)
        if first.first() == event.data.get("message_id"):
            return  # the ticket's opening message: its `created` event already told them
        organization = event.actor_contact.organization
    else:
        return
    if organization is None or organization.relationship != Relationship.CLIENT:
        return
    manager_id = organization.account_manager_id
    if manager_id is None or manager_id == event.actor_agent_id:
        return
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=manager_id,
                event=event,
                ticket=ticket,
                reason=CLIENT_WAITING,
                created_at=event.at,
            )
        ],
        ignore_conflicts=True,
    )
    wake.announce()

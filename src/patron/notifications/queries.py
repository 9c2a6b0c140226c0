"""The bell's reads: what an agent has been told, newest first, and in words.

Notifications are written by the event consumers in `patron.notifications.consumers`; marking
them read is in `patron.notifications.services`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from patron.notifications.models import (
    ASSIGNED_TO_YOU,
    CLIENT_WAITING,
    MENTION_REASONS,
    RULE_ALERT,
    Notification,
)
from patron.tickets import sentences


def for_user(user: AbstractBaseUser) -> QuerySet[Notification]:
    """The user's notifications, newest first, with what describing them needs."""
    return (
        Notification.objects.filter(recipient_id=user.pk)
        .select_related("ticket", "event", "event__actor_agent", "event__actor_contact")
        .order_by("-created_at", "-id")
    )


def unread(user: AbstractBaseUser) -> QuerySet[Notification]:
    return for_user(user).filter(read_at__isnull=True)


def unread_count(user: AbstractBaseUser | AnonymousUser) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).count()


@dataclass(frozen=True)
class Line:
    """One notification as a sentence: "Sam Ito replied on #1042 Refund"."""

    notification: Notification
    text: str

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None


def describe(notification: Notification) -> str:
    """The notification as a sentence: why the reader was told, else the event's own words."""
    ticket, event, reason = notification.ticket, notification.event, notification.reason
    about = f"#{ticket.number} {ticket.subject}"
    if reason == CLIENT_WAITING:
        return f"Client ticket waiting: {sentences.actor(event)} wrote on {about}"
    if reason == RULE_ALERT:
        return f"A rule asks you to look at {about}"
    if reason in MENTION_REASONS:
        return f"{sentences.actor(event)} mentioned you on {about}"
    return sentences.tell(event, about=about, to_you=reason == ASSIGNED_TO_YOU)


def lines(notifications: Iterable[Notification]) -> list[Line]:
    return [Line(notification, describe(notification)) for notification in notifications]

"""The unread-notification digest: one plain-text email per agent with unread notifications."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.urls import reverse

from patron.core import notifications
from patron.core.models import Notification


def _ticket_path(notification: Notification) -> str:
    return reverse("ticket_detail", args=[notification.ticket.number])


def send_digests(*, now: datetime, since: timedelta) -> int:
    """Email each active agent their unread notifications created since `now - since`; return
    how many emails were sent. Agents with nothing unread, or no address, get nothing."""
    pending = (
        Notification.objects.filter(
            read_at__isnull=True,
            created_at__gte=now - since,
            recipient__is_active=True,
            recipient__agent__isnull=False,
        )
        .exclude(recipient__email="")
        .select_related(
            "recipient", "ticket", "event", "event__actor_agent", "event__actor_contact"
        )
        .order_by("recipient_id", "-created_at", "-id")
    )
    by_recipient: dict[User, list[Notification]] = defaultdict(list)
    for notification in pending:
        by_recipient[notification.recipient].append(notification)
    site = settings.PATRON_SITE_URL.rstrip("/")
    sent = 0
    for recipient, items in by_recipient.items():
        lines = [
            f"- {line.text}\n  {site}{_ticket_path(line.notification)}"
            for line in notifications.lines(items)
        ]
        count = len(items)
        body = (
            f"Hello {recipient.get_full_name() or recipient.get_username()},\n\n"
            f"You have {count} unread notification{'s' if count != 1 else ''} in Patron:\n\n"
            + "\n".join(lines)
            + f"\n\nSee them all: {site}{reverse('notification_list')}\n"
        )
        sent += send_mail(
            subject=f"Patron: {count} unread notification{'s' if count != 1 else ''}",
            message=body,
            from_email=None,
            recipient_list=[recipient.email],
        )
    return sent

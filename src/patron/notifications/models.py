"""In-app notifications: what an agent should see in their bell, one row per recipient and event.

The table is the one the model had in `patron.core` (`core_notification`): the model moved to
this app in state only (`core.0003`, `notifications.0001`), so existing rows stay where they are.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

# Why an agent was told (`Notification.reason`), as the consumers write it.
FOLLOWING = "following"
ASSIGNED_TO_YOU = "assigned_to_you"
YOUR_TICKET = "your_ticket"
MENTIONED = "mentioned"
CLIENT_WAITING = "client_waiting"
SLA_AT_RISK = "sla_at_risk"  # a warning or a breach, for the assignee and the team's leads
RULE_ALERT = "rule_alert"  # a trigger's "notify" action
MENTION_REASONS = frozenset({MENTIONED, "mentioned_you"})


class Notification(models.Model):
    """Something an agent should see in their bell: one per recipient and event."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.ForeignKey(
        "tickets.TicketEvent", on_delete=models.CASCADE, related_name="notifications"
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="notifications"
    )
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "core_notification"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "event"], name="notification_once")
        ]

    def __str__(self) -> str:
        return f"{self.reason} for {self.recipient_id} on ticket {self.ticket_id}"

"""The outbox's delivery receipts, the scheduler's run times, and who is on a ticket.

In-app notifications live in `patron.notifications.models`."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from patron.core.receipts import DeliveryState, Receipt

__all__ = ["DeliveryState", "EventDelivery", "Presence", "ScheduledJob"]


class EventDelivery(Receipt):
    """One consumer's receipt for one TicketEvent (the columns and their meaning: `Receipt`)."""

    event = models.ForeignKey(
        "tickets.TicketEvent", on_delete=models.CASCADE, related_name="deliveries"
    )

    class Meta(Receipt.Meta):
        constraints = [
            models.UniqueConstraint(fields=["event", "consumer"], name="delivery_once_per_consumer")
        ]

    def __str__(self) -> str:
        return f"{self.consumer} for event {self.event_id}: {self.state}"


class ScheduledJob(models.Model):
    """When a periodic job next runs; claimed with a conditional UPDATE so it fires once."""

    name = models.CharField(max_length=64, primary_key=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} next at {self.next_run_at:%Y-%m-%d %H:%M:%S}"


class Presence(models.Model):
    """Who has a ticket open, and whether they are typing: one row per agent and ticket, upserted
    by the page's heartbeat (see `patron.workspace.presence`)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    typing = models.BooleanField(default=False)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "ticket"], name="presence_once_per_ticket")
        ]
        indexes = [models.Index(fields=["ticket", "seen_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} on ticket {self.ticket_id} at {self.seen_at:%H:%M:%S}"

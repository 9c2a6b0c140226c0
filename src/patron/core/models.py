"""The outbox's delivery receipts, the scheduler's run times, and in-app notifications."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class EventDelivery(models.Model):
    """One consumer's receipt for one TicketEvent: written with the event, closed by the consumer.

    A consumer's effect and the receipt's `done` are committed in one transaction, so an event is
    handled exactly once per consumer however often it is delivered.
    """

    event = models.ForeignKey(
        "tickets.TicketEvent", on_delete=models.CASCADE, related_name="deliveries"
    )
    consumer = models.CharField(max_length=64)
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(help_text="When the re-drive may pick it up if still pending.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "consumer"], name="delivery_once_per_consumer")
        ]
        indexes = [
            models.Index(fields=["state", "due_at"]),
            models.Index(fields=["state", "claimed_at"]),
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
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "event"], name="notification_once")
        ]

    def __str__(self) -> str:
        return f"{self.reason} for {self.recipient_id} on ticket {self.ticket_id}"


class Presence(models.Model):
    """Who has a ticket open, and whether they are typing: one row per agent and ticket, upserted
    by the page's heartbeat (see `patron.core.presence`)."""

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

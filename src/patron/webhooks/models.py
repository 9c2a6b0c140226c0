"""Webhooks out: an admin's subscription of a URL to ticket event kinds, and one delivery row per
subscription and event, the log of what was sent and what the receiver answered."""

from __future__ import annotations

from django.db import models


class Webhook(models.Model):
    name = models.CharField(max_length=120, unique=True)
    url = models.URLField(max_length=2000)
    # The key of the HMAC-SHA256 signature; generated, shown to the admin, never sent.
    secret = models.CharField(max_length=128)
    # Ticket event kinds (`tickets.models.EventKind` values); empty: every kind.
    kinds = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    # Deliveries given up one after another; reset by any delivery that succeeds.
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Given up"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(
        "tickets.TicketEvent", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status = models.PositiveIntegerField(null=True, blank=True)  # the receiver's HTTP code
    last_error = models.TextField(blank=True, default="")
    last_response = models.TextField(blank=True, default="")  # the first KB of the answer
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event"], name="webhook_delivery_once")
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} event {self.event_id}: {self.state}"

"""Triggers (rules run on ticket events) and the log of every time one fired."""

from __future__ import annotations

from django.db import models


class Moment(models.TextChoices):
    """When a trigger is asked: the moments an admin picks, each a set of ticket event kinds."""

    CREATED = "created", "Ticket is created"
    UPDATED = "updated", "Ticket is updated"
    MESSAGE_ADDED = "message_added", "A message is added"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACHED = "sla_breached", "SLA breached"


class Trigger(models.Model):
    """When (moments) a ticket matching `rule` (the condition language) gets `actions`, in
    `position` order among the triggers asked at that moment."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, default="")
    moments = models.JSONField(default=list)
    rule = models.JSONField(default=dict)
    actions = models.JSONField(default=list)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def actor_name(self) -> str:
        return f"Trigger: {self.name}"


class Firing(models.Model):
    """One trigger asked about one event: what it did, or why it did nothing. At most one per
    trigger and event, so a re-delivered event never acts twice."""

    class Outcome(models.TextChoices):
        ACTED = "acted", "Acted"
        FAILED = "failed", "An action failed"
        CAPPED = "capped", "Skipped: too many firings on this ticket in a minute"
        LOOP = "loop", "Skipped: chain of rules too long"

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="firings")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey("tickets.TicketEvent", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["trigger", "event"], name="firing_once_per_event")
        ]
        indexes = [models.Index(fields=["ticket", "at"])]

    def __str__(self) -> str:
        return f"{self.trigger_id} on event {self.event_id}: {self.outcome}"

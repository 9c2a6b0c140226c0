"""What the outbox keeps for one consumer and one event, whichever model the event is.

`core.EventDelivery` is the `Receipt` for a TicketEvent, `people.PeopleEventDelivery` the one
for a PeopleEvent. Each concrete receipt
adds `event`, a foreign key to its event model with `related_name="deliveries"`, and a unique
constraint on (event, consumer). `patron.core.events` claims, delivers and re-drives both.
"""

from __future__ import annotations

from django.db import models


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Receipt(models.Model):
    """A consumer's receipt for one event: written with the event, closed by the consumer.

    A consumer's effect and the receipt's `done` are committed in one transaction, so an event is
    handled exactly once per consumer however often it is delivered.
    """

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
        abstract = True
        indexes = [
            models.Index(fields=["state", "due_at"]),
            models.Index(fields=["state", "claimed_at"]),
        ]

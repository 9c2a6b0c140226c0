"""Service levels as stored: business calendars, ordered policies, and one clock per ticket,
metric and cycle.

The arithmetic lives in the Django-free core (`patron.sla.calendar`, `patron.sla.engine`);
these rows are what it reads (calendars, policies) and what it writes (clocks), so lists can
filter and sort by due time and the periodic tick finds what falls due with an index.
"""

from __future__ import annotations

from django.db import models


class BusinessCalendar(models.Model):
    """Opening hours in a time zone, with holidays; or 24/7."""

    name = models.CharField(max_length=120, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    always_open = models.BooleanField(default=False, help_text="24/7: every minute counts.")
    # Weekday name -> list of ["HH:MM", "HH:MM"] intervals, as `patron sla replay` reads them.
    hours = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class SlaPolicy(models.Model):
    """Targets per metric and priority for the tickets its rule selects; the first active
    policy by position whose rule matches a ticket is the ticket's."""

    name = models.CharField(max_length=120, unique=True)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    description = models.TextField(blank=True, default="")
    # A rule over tickets in the one condition language (`patron.conditions`, target "ticket").
    rule = models.JSONField(default=dict, blank=True)
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policies",
        help_text="Business-time targets count this calendar's hours; none means 24/7.",
    )
    # metric -> {"measure": "business"|"calendar", "targets": {priority: minutes},
    #            "warning_minutes": [minutes, ...]}
    metrics = models.JSONField(default=dict, blank=True)
    # metric -> [status, ...]: the statuses in which that metric's clock is paused.
    pause_rules = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name


class ClockState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ACHIEVED = "achieved", "Achieved"
    BREACHED = "breached", "Breached"
    CANCELLED = "cancelled", "Cancelled"


RUNNING_STATES = (ClockState.ACTIVE, ClockState.PAUSED)


class SlaClock(models.Model):
    """One metric's clock for one cycle of one ticket, as the engine last evaluated it."""

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="sla_clocks"
    )
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="clocks"
    )
    metric = models.CharField(max_length=32)
    cycle = models.PositiveIntegerField(default=1)
    state = models.CharField(max_length=16, choices=ClockState.choices)
    measure = models.CharField(max_length=16, default="business")
    target_minutes = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    # The earliest warning instant not yet announced (none left: null), for the tick's index.
    next_warning_at = models.DateTimeField(null=True, blank=True)
    warnings_sent = models.PositiveSmallIntegerField(default=0)
    achieved_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    # When the cycle's stopping event happened (the reply, the solve), whatever the outcome: a
    # breached clock that is still unanswered has none.
    stopped_at = models.DateTimeField(null=True, blank=True)
    breach_announced = models.BooleanField(default=False)
    counted_minutes = models.FloatField(default=0)
    paused_minutes = models.FloatField(default=0)
    paused_business_minutes = models.FloatField(default=0)
    # The refresh that last changed the clock (a refresh that changes nothing writes nothing).
    evaluated_at = models.DateTimeField()

    class Meta:
        ordering = ["ticket", "metric", "cycle"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "metric", "cycle"], name="sla_clock_once_per_cycle"
            )
        ]
        indexes = [
            models.Index(fields=["state", "due_at"], name="sla_clock_due"),
            models.Index(fields=["state", "next_warning_at"], name="sla_clock_warning"),
            # The compliance report: clocks that finished within a period.
            models.Index(fields=["state", "achieved_at"], name="sla_clock_achieved"),
            models.Index(fields=["state", "breached_at"], name="sla_clock_breached"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} #{self.cycle} of ticket {self.ticket_id}: {self.state}"

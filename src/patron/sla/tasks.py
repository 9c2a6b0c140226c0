"""Background entry points of the SLA engine; each reads `now` once, here."""

from __future__ import annotations

from datetime import datetime

from django.tasks import task

from patron.core import clock
from patron.sla import services
from patron.sla.models import SlaPolicy
from patron.tickets.models import TicketEvent

# Tickets refreshed in one transaction: their locks are held while it runs (under a second), and
# on SQLite the whole database's.
TICK_BATCH = 50


@task()
def tick() -> int:
    """Refresh every ticket with a warning or due instant passed and not yet announced: the
    warning and breach events follow within one tick (every 30 s). No cap: a backlog is worked
    through in batches within the one run. Returns how many tickets it refreshed."""
    now = clock.now()
    policies = services.active_policies()
    ticket_ids = services.tickets_due(now)
    _refresh_in_batches(ticket_ids, now=now, policies=policies)
    return len(ticket_ids)


def refresh_after_event(event: TicketEvent) -> None:
    """The `sla_clocks` consumer: a ticket event may have moved its clocks."""
    services.refresh(event.ticket, now=clock.now())


def refresh_after_events(events: list[TicketEvent]) -> None:
    """The same for many events at once (a backlog, the demo): each ticket refreshed once."""
    now = clock.now()
    ticket_ids = sorted({event.ticket_id for event in events})
    _refresh_in_batches(ticket_ids, now=now, policies=services.active_policies())


def _refresh_in_batches(ticket_ids: list[int], *, now: datetime, policies: list[SlaPolicy]) -> None:
    for start in range(0, len(ticket_ids), TICK_BATCH):
        services.refresh_many(ticket_ids[start : start + TICK_BATCH], now=now, policies=policies)

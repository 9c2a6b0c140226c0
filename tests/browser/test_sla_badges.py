"""SLA badges count down on an open page in Chromium, with no ticket event to wake them: the list
row and the ticket page re-render their running clocks (every second here; every 30 s by
default), and a clock finished in the background shows as achieved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from playwright.sync_api import Page, expect

from patron.people.models import Role
from patron.sla import services
from patron.sla.models import ClockState, SlaClock
from patron.tickets.models import Ticket
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]


def _ticket_with_a_first_reply_clock() -> Ticket:
    now = timezone.now()
    services.save_policy(
        None,
        {
            "name": "Customers",
            "metrics": {"first_reply": {"measure": "calendar", "targets": {"normal": 480}}},
        },
        now=now,
    )
    ticket = factories.ticket(now=now, subject="Parcel stuck in customs")
    services.refresh(ticket, now=now)  # whether or not the consumer already ran: idempotent
    assert SlaClock.objects.filter(ticket=ticket, metric="first_reply").exists()
    return ticket


def _due_in(ticket: Ticket, minutes: int) -> None:
    """Move the clock's due time as time passing would, behind the page's back (no event)."""
    due = timezone.now() + timedelta(minutes=minutes, seconds=30)
    SlaClock.objects.filter(ticket=ticket, metric="first_reply").update(
        due_at=due, next_warning_at=None
    )


def test_the_list_and_ticket_page_count_down_without_a_reload(page: Page, log_in: LogIn) -> None:
    log_in(factories.agent(Role.AGENT, password=None))
    ticket = _ticket_with_a_first_reply_clock()
    _due_in(ticket, 45)

    page.goto("/tickets/?view=all_open&sort=sla")
    page.evaluate("() => { window.__notReloaded = true; }")
    row = page.locator(f'tr[data-ticket="{ticket.number}"] .sla')
    expect(row).to_have_text("First reply: 45 min left")
    _due_in(ticket, 44)
    expect(row).to_have_text("First reply: 44 min left")

    page.goto(f"/tickets/{ticket.number}")
    page.evaluate("() => { window.__notReloaded = true; }")
    line = page.locator("#ticket-sidebar .sla-clocks li").first
    expect(line).to_contain_text("44 min left")
    _due_in(ticket, 3)
    expect(line).to_contain_text("3 min left")
    # Finished in the background (as the SLA consumer does after an agent's reply): no event.
    SlaClock.objects.filter(ticket=ticket, metric="first_reply").update(
        state=ClockState.ACHIEVED, achieved_at=timezone.now(), stopped_at=timezone.now()
    )
    expect(line).to_contain_text("achieved")
    assert page.evaluate("() => window.__notReloaded") is True

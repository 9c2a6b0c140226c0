"""The inbox's SLA slots: the "Breaching soon" view (a clock due within the hour, or breached
and unanswered) and the Next SLA sort, soonest first, tickets without a clock last."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from patron.core import clock as patron_clock
from patron.people.models import Role
from patron.sla import services
from patron.tickets import inbox
from patron.tickets import services as tickets
from patron.tickets.models import Status, Ticket
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(now: datetime, run_on_commit: Callable[[], Any]) -> dict[str, Ticket]:
    """First reply in calendar time: 60 min for urgent, 120 for high, 600 for normal."""
    services.save_policy(
        None,
        {
            "name": "Everyone",
            "metrics": {
                "first_reply": {
                    "measure": "calendar",
                    "targets": {"urgent": 60, "high": 120, "normal": 600},
                }
            },
        },
        now=now,
    )
    agent = factories.agent(Role.AGENT)
    made: dict[str, Ticket] = {}
    with run_on_commit():
        made["early_breach"] = factories.ticket(now=now - timedelta(hours=3), priority="urgent")
        made["answered_late"] = factories.ticket(now=now - timedelta(hours=3), priority="urgent")
        made["due_soon"] = factories.ticket(now=now - timedelta(minutes=80), priority="high")
        made["due_later"] = factories.ticket(now=now, priority="normal")
        made["solved_breach"] = factories.ticket(now=now - timedelta(hours=3), priority="urgent")
    with run_on_commit():
        tickets.reply(made["answered_late"], author=agent, body="Sorry", now=now)
        tickets.change_status(made["solved_breach"], Status.SOLVED, actor=agent, now=now)
    with run_on_commit():
        for ticket in made.values():
            services.refresh(ticket, now=now)
    return made


def numbers(client: Client, **params: str) -> list[int]:
    response = client.get(reverse("ticket_list"), params)
    assert response.status_code == 200
    return [ticket.number for ticket in response.context["page"].tickets]


def test_breaching_soon_lists_the_unanswered_breach_first_then_what_falls_due_within_the_hour(
    desk: dict[str, Ticket], client: Client
) -> None:
    client.force_login(factories.agent(Role.AGENT, password=None))
    assert numbers(client, view="breaching") == [
        desk["early_breach"].number,
        desk["due_soon"].number,
    ]
    counts = client.get(reverse("inbox_counts")).json()
    assert counts["breaching"] == 2


def test_the_next_sla_sort_orders_by_due_time_with_no_clock_last(
    desk: dict[str, Ticket], client: Client, now: datetime
) -> None:
    plain = Ticket.objects.get(pk=desk["due_later"].pk)
    with patron_clock.travel_to(now):
        other = factories.ticket(now=now, subject="No policy reaches me?")
    client.force_login(factories.agent(Role.AGENT, password=None))
    order = numbers(client, view="all_open", sort="sla")
    assert order[:3] == [desk["early_breach"].number, desk["due_soon"].number, plain.number]
    # The answered ticket's clock is achieved: no next due, so it sorts with the clockless ones.
    assert set(order[3:]) == {desk["answered_late"].number, other.number}


def test_the_sla_sort_pages_by_cursor_without_losing_a_row(
    desk: dict[str, Ticket], now: datetime
) -> None:
    agent = factories.agent(Role.AGENT)
    everything = inbox.base_tickets(agent).filter(status__in=inbox.UNSOLVED)
    seen: list[int] = []
    after = ""
    while True:
        page = inbox.paginate(everything, key="sla", descending=False, after=after, size=2)
        seen.extend(t.number for t in page.tickets)
        if not page.older:
            break
        after = page.older
    assert sorted(seen) == sorted(t.number for t in everything)
    assert len(seen) == len(set(seen))

"""What agents see: a badge per list row and a line per clock on the ticket page, in the
policy's own terms (business time as business time, the calendar named), in words.

NOW (conftest) is Monday 2026-11-23 09:00 UTC = 16:00 in Jakarta (UTC+7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from patron.core import clock as patron_clock
from patron.people.models import Role
from patron.sla import badges, services
from patron.sla.models import BusinessCalendar, SlaPolicy
from patron.tickets import services as tickets
from patron.tickets.models import Status, Ticket
from tests import factories

pytestmark = pytest.mark.django_db

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


@pytest.fixture
def policies(now: datetime) -> tuple[SlaPolicy, SlaPolicy]:
    jakarta = services.save_calendar(
        None,
        {
            "name": "Jakarta office",
            "timezone": "Asia/Jakarta",
            "hours": {day: [["09:00", "17:00"]] for day in WEEKDAYS},
        },
    )
    gold = services.save_policy(
        None,
        {
            "name": "Gold clients",
            "rule": {"all": [{"field": "relationship", "op": "eq", "value": "client"}]},
            "calendar": jakarta,
            "metrics": {
                "first_reply": {"measure": "business", "targets": {"normal": 120}},
                "resolution": {"measure": "business", "targets": {"normal": 960}},
            },
            "pause_rules": {"resolution": ["pending"]},
        },
        now=now,
    )
    customers = services.save_policy(
        None,
        {
            "name": "Customers",
            "metrics": {"first_reply": {"measure": "calendar", "targets": {"normal": 480}}},
        },
        now=now,
    )
    return gold, customers


def client_ticket(now: datetime) -> Ticket:
    org = factories.organization(now=now, relationship="client")
    return factories.ticket(now=now, requester=factories.contact(now=now, organization=org))


def test_words_for_durations() -> None:
    assert badges.duration(45) == "45 min"
    assert badges.duration(60) == "1 h"
    assert badges.duration(125) == "2 h 5 min"
    assert badges.duration(24 * 60 * 3 + 120) == "3 d 2 h"
    assert badges.duration(-5) == "0 min"


def test_business_time_is_shown_as_business_time_with_its_calendar(
    policies: tuple[SlaPolicy, SlaPolicy], now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    with run_on_commit():
        ticket = client_ticket(now)
    # 120 business minutes from Monday 16:00 Jakarta: 60 today, 60 on Tuesday from 09:00.
    # Seen at Monday 16:30: 90 business minutes left although the due is 17 real hours away.
    row = badges.for_tickets([ticket.pk], now=now + timedelta(minutes=30))[ticket.pk]
    assert (row.label, row.tone) == ("First reply", "ok")
    assert row.text == "1 h 30 min business left (Jakarta office)"
    assert row.due_at == datetime(2026, 11, 24, 3, 0, tzinfo=now.tzinfo)


def test_calendar_time_and_a_breach_are_told_in_words(
    policies: tuple[SlaPolicy, SlaPolicy], now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    with run_on_commit():
        ticket = factories.ticket(now=now)
    row = badges.for_tickets([ticket.pk], now=now + timedelta(hours=2))[ticket.pk]
    assert (row.text, row.tone) == ("6 h left", "ok")
    with patron_clock.travel_to(now + timedelta(hours=8, minutes=12)):
        services.refresh(ticket, now=patron_clock.now())
        row = badges.for_tickets([ticket.pk], now=patron_clock.now())[ticket.pk]
    assert (row.text, row.tone) == ("breached 12 min ago", "breached")
    assert row.title == "First reply: breached 12 min ago"


def test_a_paused_clock_says_what_is_left(
    policies: tuple[SlaPolicy, SlaPolicy], now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    agent = factories.agent(Role.AGENT)
    with run_on_commit():
        ticket = client_ticket(now)
    with run_on_commit():
        tickets.reply(ticket, author=agent, body="Do you have the invoice?", now=now,
                      status=Status.PENDING)  # fmt: skip
    lines = {item.label: item for item in badges.for_ticket(ticket.pk, now=now)}
    assert lines["First reply"].text == "achieved"
    assert lines["Resolution"].text == "paused, 16 h business left (Jakarta office)"
    assert lines["Resolution"].tone == "paused"
    # A list row shows the clock that still runs first; a paused one only when it is all there is.
    assert badges.for_tickets([ticket.pk], now=now)[ticket.pk].label == "Resolution"


def test_the_list_and_the_ticket_page_show_the_badges(
    policies: tuple[SlaPolicy, SlaPolicy],
    now: datetime,
    client: Client,
    run_on_commit: Callable[[], Any],
) -> None:
    agent = factories.agent(Role.AGENT, password=None)
    with run_on_commit():
        ticket = client_ticket(now)
        factories.ticket(now=now)
    client.force_login(agent)
    listing = client.get(reverse("ticket_list") + "?view=all_open").content.decode()
    assert "First reply: 2 h business left (Jakarta office)" in listing
    assert "First reply: 8 h left" in listing
    page = client.get(reverse("ticket_detail", args=[ticket.number])).content.decode()
    assert "Service levels" in page
    assert "2 h business left (Jakarta office)" in page
    assert "16 h business left (Jakarta office)" in page


def test_a_desk_without_policies_shows_no_service_levels(
    now: datetime, client: Client, run_on_commit: Callable[[], Any]
) -> None:
    agent = factories.agent(Role.AGENT, password=None)
    with run_on_commit():
        ticket = factories.ticket(now=now)
    assert not BusinessCalendar.objects.exists()
    client.force_login(agent)
    page = client.get(reverse("ticket_detail", args=[ticket.number])).content.decode()
    assert "Service levels" not in page

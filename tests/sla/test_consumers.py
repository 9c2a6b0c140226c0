"""Clocks move through the event road only: a ticket's events reach the `sla_clocks`
consumer, the tick announces what fell due, and the warning and breach events reach the bell
of the assignee and the team's supervisors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from patron.core import clock as patron_clock
from patron.core.models import EventDelivery
from patron.notifications import queries as bell
from patron.notifications.models import SLA_AT_RISK, Notification
from patron.people.models import Role
from patron.sla import services, tasks
from patron.sla.models import ClockState, SlaClock, SlaPolicy
from patron.tickets import sentences
from patron.tickets import services as tickets
from patron.tickets.models import EventKind, Status, TicketEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def hour_policy(now: datetime) -> SlaPolicy:
    return services.save_policy(
        None,
        {
            "name": "Everyone",
            "metrics": {
                "first_reply": {
                    "measure": "calendar",
                    "targets": {"normal": 60},
                    "warning_minutes": [15],
                },
                "resolution": {"measure": "calendar", "targets": {"normal": 600}},
            },
            "pause_rules": {"resolution": ["pending"]},
        },
        now=now,
    )


def test_ticket_events_drive_the_clocks_through_the_consumer(
    hour_policy: SlaPolicy, now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    agent = factories.agent(Role.AGENT)
    with run_on_commit():
        ticket = factories.ticket(now=now)
    first = SlaClock.objects.get(ticket=ticket, metric="first_reply")
    assert (first.state, first.due_at) == (ClockState.ACTIVE, now + timedelta(hours=1))
    assert EventDelivery.objects.filter(
        consumer="sla_clocks", event__ticket=ticket, state="done"
    ).exists()

    later = now + timedelta(minutes=20)
    with patron_clock.travel_to(later), run_on_commit():
        tickets.reply(ticket, author=agent, body="On it", now=later, status=Status.PENDING)
    first.refresh_from_db()
    assert (first.state, first.achieved_at) == (ClockState.ACHIEVED, later)
    resolution = SlaClock.objects.get(ticket=ticket, metric="resolution")
    assert resolution.state == ClockState.PAUSED
    pause = TicketEvent.objects.get(
        ticket=ticket, kind=EventKind.SLA_PAUSED, data__metric="resolution"
    )
    assert sentences.describe(pause) == "The resolution clock paused"


def test_the_tick_warns_then_breaches_and_the_bell_says_so(
    hour_policy: SlaPolicy, now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    team = factories.team("Billing")
    lead = factories.agent(Role.SUPERVISOR, teams=(team,))
    other_lead = factories.agent(Role.SUPERVISOR)
    assignee = factories.agent(Role.AGENT, teams=(team,))
    with run_on_commit():
        ticket = factories.ticket(now=now, team=team, assignee=assignee)
    Notification.objects.all().delete()

    with patron_clock.travel_to(now + timedelta(minutes=46)), run_on_commit():
        assert tasks.tick.call() == 1
    with patron_clock.travel_to(now + timedelta(minutes=61)), run_on_commit():
        assert tasks.tick.call() == 1
        assert tasks.tick.call() == 0

    told = Notification.objects.filter(reason=SLA_AT_RISK)
    assert sorted(set(told.values_list("recipient_id", flat=True))) == sorted(
        [lead.pk, assignee.pk]
    )
    assert other_lead.pk not in told.values_list("recipient_id", flat=True)
    texts = [line.text for line in bell.lines(bell.for_user(assignee))]
    about = f"#{ticket.number} {ticket.subject}"
    assert texts == [
        f"SLA breached: first reply was due at 2026-11-23 10:00 UTC on {about}",
        f"SLA warning: first reply is due in 14 min on {about}",
    ]


def test_a_breach_found_after_the_reply_or_on_a_solved_ticket_rings_no_bell(
    hour_policy: SlaPolicy, now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    factories.agent(Role.SUPERVISOR)  # someone who would be told
    agent = factories.agent(Role.AGENT)
    with run_on_commit():
        late = factories.ticket(now=now, assignee=agent)
        solved = factories.ticket(now=now, assignee=agent)
    # Nothing ticked for two hours (the worker was down); then the agent answers one ticket
    # and solves the other.
    after = now + timedelta(hours=2)
    with patron_clock.travel_to(after), run_on_commit():
        tickets.reply(late, author=agent, body="Sorry for the wait", now=after)
        tickets.change_status(solved, Status.SOLVED, actor=agent, now=after)
        tasks.tick.call()
    breaches = TicketEvent.objects.filter(kind=EventKind.SLA_BREACHED)
    assert {(e.ticket_id, e.data["metric"]) for e in breaches} >= {
        (late.pk, "first_reply"),
        (solved.pk, "first_reply"),
    }
    assert not Notification.objects.filter(reason=SLA_AT_RISK).exists()

    # A breach while the ticket waits still rings.
    with patron_clock.travel_to(after), run_on_commit():
        waiting = factories.ticket(now=after, assignee=agent)
    with patron_clock.travel_to(after + timedelta(minutes=61)), run_on_commit():
        tasks.tick.call()
    told = Notification.objects.filter(reason=SLA_AT_RISK)
    assert set(told.values_list("ticket_id", flat=True)) == {waiting.pk}


def test_an_unassigned_ticket_without_a_team_warns_every_supervisor(
    hour_policy: SlaPolicy, now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    leads = [factories.agent(Role.SUPERVISOR), factories.agent(Role.SUPERVISOR)]
    factories.agent(Role.AGENT)
    with run_on_commit():
        factories.ticket(now=now)
    with patron_clock.travel_to(now + timedelta(minutes=61)), run_on_commit():
        tasks.tick.call()
    told = Notification.objects.filter(reason=SLA_AT_RISK)
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted(u.pk for u in leads)


def test_a_breach_is_written_on_the_ticket_page_timeline(
    hour_policy: SlaPolicy, now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    with run_on_commit():
        ticket = factories.ticket(now=now)
    with patron_clock.travel_to(now + timedelta(minutes=90)), run_on_commit():
        tasks.tick.call()
    breach = TicketEvent.objects.get(ticket=ticket, kind=EventKind.SLA_BREACHED)
    assert breach.actor_label() == "SLA"
    assert sentences.tell(breach, about="#7 Down").startswith("SLA breached: first reply")

"""Service levels on real tickets: policy selection by the condition language, the ticket's
events read as the engine's timeline, and the clocks stored with an event for every pause,
resume, warning and breach. Numbers are counted by hand in the comments.

NOW (conftest) is Monday 2026-11-23 09:00 UTC = 16:00 in Jakarta (UTC+7, no DST).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from patron.core.errors import InvalidInput
from patron.people.models import Role
from patron.sla import services
from patron.sla.engine import evaluate
from patron.sla.models import BusinessCalendar, ClockState, SlaClock, SlaPolicy
from patron.sla.replay import parse as parse_replay
from patron.tickets import services as tickets
from patron.tickets.models import EventKind, Status, Ticket, TicketEvent
from tests import factories

pytestmark = pytest.mark.django_db

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


@pytest.fixture
def jakarta() -> BusinessCalendar:
    return services.save_calendar(
        None,
        {
            "name": "Jakarta office",
            "timezone": "Asia/Jakarta",
            "hours": {day: [["09:00", "17:00"]] for day in WEEKDAYS},
        },
        holidays=[date(2026, 11, 24)],
    )


@pytest.fixture
def gold(jakarta: BusinessCalendar, now: datetime) -> SlaPolicy:
    return services.save_policy(
        None,
        {
            "name": "Gold clients",
            "rule": {"all": [{"field": "relationship", "op": "eq", "value": "client"}]},
            "calendar": jakarta,
            "metrics": {
                "first_reply": {
                    "measure": "business",
                    "targets": {"normal": 60, "urgent": 30},
                    "warning_minutes": [30, 10],
                },
                "resolution": {"measure": "business", "targets": {"normal": 480}},
            },
            "pause_rules": {"resolution": ["pending", "on_hold"]},
        },
        now=now,
    )


@pytest.fixture
def customers(now: datetime) -> SlaPolicy:
    return services.save_policy(
        None,
        {
            "name": "Customers",
            "rule": {},
            "metrics": {"first_reply": {"measure": "calendar", "targets": {"normal": 480}}},
        },
        now=now,
    )


@pytest.fixture
def agent() -> User:
    return factories.agent(Role.AGENT)


def client_ticket(now: datetime, **kwargs: object) -> Ticket:
    org = factories.organization(now=now, relationship="client")
    requester = factories.contact(now=now, organization=org)
    return factories.ticket(now=now, requester=requester, **kwargs)


def clock(ticket: Ticket, metric: str, cycle: int = 1) -> SlaClock:
    return SlaClock.objects.get(ticket=ticket, metric=metric, cycle=cycle)


def kinds(ticket: Ticket) -> list[str]:
    return list(
        TicketEvent.objects.filter(ticket=ticket, kind__startswith="sla_")
        .order_by("id")
        .values_list("kind", flat=True)
    )


def test_the_first_policy_whose_rule_matches_is_the_tickets(
    gold: SlaPolicy, customers: SlaPolicy, now: datetime
) -> None:
    assert services.policy_for(client_ticket(now)) == gold
    assert services.policy_for(factories.ticket(now=now)) == customers
    services.reorder_policies([customers.pk, gold.pk])
    assert services.policy_for(client_ticket(now)) == customers


def test_a_client_ticket_counts_down_in_jakarta_business_hours(
    gold: SlaPolicy, customers: SlaPolicy, now: datetime
) -> None:
    ticket = client_ticket(now)
    services.refresh(ticket, now=now)
    first = clock(ticket, "first_reply")
    # Created Monday 16:00 Jakarta: the hour left of Monday fills the target at closing time.
    assert first.state == ClockState.ACTIVE
    assert first.due_at == now + timedelta(hours=1)
    assert first.policy == gold
    resolution = clock(ticket, "resolution")
    # 480 business minutes: 60 on Monday, Tuesday a holiday, 420 on Wednesday from 09:00 Jakarta
    # (02:00 UTC) = due Wednesday 16:00 Jakarta = 09:00 UTC.
    assert resolution.due_at == datetime(2026, 11, 25, 9, 0, tzinfo=now.tzinfo)
    assert kinds(ticket) == [EventKind.SLA_POLICY_CHANGED]


def test_a_customer_ticket_counts_calendar_time(customers: SlaPolicy, now: datetime) -> None:
    ticket = factories.ticket(now=now)
    services.refresh(ticket, now=now)
    assert clock(ticket, "first_reply").due_at == now + timedelta(hours=8)


def test_a_public_agent_reply_achieves_first_reply_and_a_note_does_not(
    gold: SlaPolicy, agent: User, now: datetime
) -> None:
    ticket = client_ticket(now)
    tickets.reply(
        ticket, author=agent, body="Looking", public=False, now=now + timedelta(minutes=5)
    )
    services.refresh(ticket, now=now + timedelta(minutes=6))
    assert clock(ticket, "first_reply").state == ClockState.ACTIVE
    tickets.reply(ticket, author=agent, body="Hello", now=now + timedelta(minutes=20))
    services.refresh(ticket, now=now + timedelta(minutes=21))
    first = clock(ticket, "first_reply")
    assert first.state == ClockState.ACHIEVED
    assert first.achieved_at == now + timedelta(minutes=20)
    assert first.counted_minutes == 20


def test_pending_pauses_resolution_not_first_reply_and_each_is_an_event(
    gold: SlaPolicy, agent: User, now: datetime
) -> None:
    ticket = client_ticket(now)
    services.refresh(ticket, now=now)
    tickets.change_status(ticket, Status.PENDING, actor=agent, now=now + timedelta(minutes=10))
    services.refresh(ticket, now=now + timedelta(minutes=10))
    assert clock(ticket, "resolution").state == ClockState.PAUSED
    assert clock(ticket, "first_reply").state == ClockState.ACTIVE
    tickets.change_status(ticket, Status.OPEN, actor=agent, now=now + timedelta(minutes=40))
    services.refresh(ticket, now=now + timedelta(minutes=40))
    resolution = clock(ticket, "resolution")
    assert resolution.state == ClockState.ACTIVE
    assert resolution.paused_minutes == 30
    assert resolution.counted_minutes == 10
    paused, resumed = TicketEvent.objects.filter(
        ticket=ticket,
        kind__in=[EventKind.SLA_PAUSED, EventKind.SLA_RESUMED],
        data__metric="resolution",
    ).order_by("id")
    assert (paused.kind, paused.data["metric"]) == (EventKind.SLA_PAUSED, "resolution")
    assert paused.data["since"] == (now + timedelta(minutes=10)).isoformat()
    assert (resumed.kind, resumed.data["metric"]) == (EventKind.SLA_RESUMED, "resolution")


def test_warnings_then_a_breach_are_announced_once_each(gold: SlaPolicy, now: datetime) -> None:
    ticket = client_ticket(now)
    services.refresh(ticket, now=now)
    assert clock(ticket, "first_reply").next_warning_at == now + timedelta(minutes=30)
    assert services.tickets_due(now + timedelta(minutes=29)) == []
    assert services.tickets_due(now + timedelta(minutes=30)) == [ticket.pk]
    services.refresh(ticket, now=now + timedelta(minutes=30))
    services.refresh(ticket, now=now + timedelta(minutes=31))  # nothing new
    assert clock(ticket, "first_reply").next_warning_at == now + timedelta(minutes=50)
    services.refresh(ticket, now=now + timedelta(minutes=50))
    assert clock(ticket, "first_reply").next_warning_at is None
    services.refresh(ticket, now=now + timedelta(minutes=61))
    services.refresh(ticket, now=now + timedelta(minutes=62))
    first = clock(ticket, "first_reply")
    assert first.state == ClockState.BREACHED
    assert first.breached_at == now + timedelta(hours=1)
    assert services.tickets_due(now + timedelta(minutes=63)) == []
    assert kinds(ticket) == [
        EventKind.SLA_POLICY_CHANGED,
        EventKind.SLA_WARNING,
        EventKind.SLA_WARNING,
        EventKind.SLA_BREACHED,
    ]
    breach = TicketEvent.objects.get(ticket=ticket, kind=EventKind.SLA_BREACHED)
    assert breach.actor_label() == "SLA"
    assert breach.data["breached_at"] == (now + timedelta(hours=1)).isoformat()


def test_a_clock_found_breached_announces_the_breach_not_the_warnings_it_passed(
    gold: SlaPolicy, now: datetime
) -> None:
    ticket = client_ticket(now)
    services.refresh(ticket, now=now)
    services.refresh(ticket, now=now + timedelta(hours=2))
    assert kinds(ticket) == [EventKind.SLA_POLICY_CHANGED, EventKind.SLA_BREACHED]


def test_a_priority_change_recomputes_the_running_clock(
    gold: SlaPolicy, agent: User, now: datetime
) -> None:
    ticket = client_ticket(now)
    services.refresh(ticket, now=now)
    tickets.change_priority(ticket, "urgent", actor=agent, now=now + timedelta(minutes=5))
    services.refresh(ticket, now=now + timedelta(minutes=5))
    first = clock(ticket, "first_reply")
    assert first.target_minutes == 30
    assert first.due_at == now + timedelta(minutes=30)


def test_a_ticket_that_leaves_its_policy_has_its_running_clocks_cancelled(
    gold: SlaPolicy, now: datetime
) -> None:
    ticket = client_ticket(now)
    services.refresh(ticket, now=now)
    SlaPolicy.objects.filter(pk=gold.pk).update(active=False)
    services.refresh(ticket, now=now + timedelta(minutes=1))
    assert {c.state for c in SlaClock.objects.filter(ticket=ticket)} == {ClockState.CANCELLED}
    changed = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.SLA_POLICY_CHANGED).last()
    assert changed is not None and changed.data["to"] is None
    assert changed.data["from"] == "Gold clients"


def test_stored_clocks_equal_a_replay_of_the_same_history(
    gold: SlaPolicy, agent: User, now: datetime
) -> None:
    ticket = client_ticket(now)
    tickets.change_status(ticket, Status.PENDING, actor=agent, now=now + timedelta(minutes=10))
    tickets.add_customer_message(
        ticket, contact=ticket.requester, body="Any news?", now=now + timedelta(minutes=50)
    )
    tickets.reply(ticket, author=agent, body="Soon", now=now + timedelta(minutes=70))
    later = now + timedelta(hours=30)
    services.refresh(ticket, now=later)
    document = {
        "calendar": {
            "timezone": "Asia/Jakarta",
            "hours": {day: [["09:00", "17:00"]] for day in WEEKDAYS},
            "holidays": ["2026-11-24"],
        },
        "policy": gold.metrics,
        "pause_rules": gold.pause_rules,
        "timeline": [
            {"at": "2026-11-23T09:00:00Z", "type": "created", "priority": "normal"},
            {"at": "2026-11-23T09:10:00Z", "type": "status_change", "status": "pending"},
            {"at": "2026-11-23T09:50:00Z", "type": "requester_message"},
            {"at": "2026-11-23T09:50:00Z", "type": "status_change", "status": "open"},
            {"at": "2026-11-23T10:10:00Z", "type": "agent_public_reply"},
        ],
        "evaluate_at": "2026-11-24T15:00:00Z",
    }
    spec = parse_replay(document)
    replayed = {(c.metric, c.cycle): c for c in evaluate(spec.policy, spec.timeline, at=later)}
    stored = {(c.metric, c.cycle): c for c in SlaClock.objects.filter(ticket=ticket)}
    assert set(stored) == set(replayed)
    for key, live in stored.items():
        assert (live.state, live.due_at, live.counted_minutes, live.paused_minutes) == (
            replayed[key].state,
            replayed[key].due_at,
            replayed[key].counted_minutes,
            replayed[key].paused_minutes,
        ), key


def test_a_policy_is_checked_before_it_is_saved(jakarta: BusinessCalendar, now: datetime) -> None:
    with pytest.raises(InvalidInput, match="name"):
        services.save_policy(None, {"name": " ", "metrics": {}}, now=now)
    with pytest.raises(InvalidInput, match="at least one target"):
        services.save_policy(None, {"name": "Empty", "metrics": {}}, now=now)
    with pytest.raises(InvalidInput, match="calendar"):
        services.save_policy(
            None,
            {"name": "B", "metrics": {"first_reply": {"measure": "business",
                                                     "targets": {"normal": 60}}}},
            now=now,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="not a metric"):
        services.save_policy(
            None, {"name": "C", "metrics": {"first_rply": {"targets": {"normal": 1}}}}, now=now
        )
    with pytest.raises(InvalidInput, match="status"):
        services.save_policy(
            None,
            {
                "name": "D",
                "metrics": {"resolution": {"measure": "calendar", "targets": {"normal": 60}}},
                "pause_rules": {"resolution": ["waiting"]},
            },
            now=now,
        )
    with pytest.raises(InvalidInput):
        services.save_policy(
            None,
            {
                "name": "E",
                "rule": {"all": [{"field": "colour", "op": "eq", "value": "red"}]},
                "metrics": {"resolution": {"measure": "calendar", "targets": {"normal": 60}}},
            },
            now=now,
        )


def test_a_calendar_is_checked_and_imports_holidays_from_icalendar(
    jakarta: BusinessCalendar,
) -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        services.save_calendar(None, {"name": "X", "timezone": "Mars/Olympus"})
    with pytest.raises(InvalidInput, match="already"):
        services.save_calendar(None, {"name": "jakarta OFFICE", "always_open": True})
    ical = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "BEGIN:VEVENT",
            "DTSTART;VALUE=DATE:20261225",
            "DTEND;VALUE=DATE:20261227",
            "SUMMARY:Christmas\\, and Boxing Day",
            "END:VEVENT",
            "BEGIN:VEVENT",
            "DTSTART;VALUE=DATE:20261231",
            "END:VEVENT",
            "END:VCALENDAR",
        ]
    )
    assert services.import_holidays(jakarta, ical) == 3
    assert services.import_holidays(jakarta, ical) == 0  # the same days are not added twice
    assert sorted(jakarta.holidays.values_list("date", flat=True)) == [
        date(2026, 11, 24),
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2026, 12, 31),
    ]
    # Each day is named by its event's SUMMARY (unescaped); an event without one, "Imported".
    assert dict(
        jakarta.holidays.filter(date__gte=date(2026, 12, 1)).values_list("date", "name")
    ) == {
        date(2026, 12, 25): "Christmas, and Boxing Day",
        date(2026, 12, 26): "Christmas, and Boxing Day",
        date(2026, 12, 31): "Imported",
    }
    with pytest.raises(InvalidInput, match="iCalendar"):
        services.import_holidays(jakarta, "this is not a calendar")


def test_the_tick_refreshes_what_fell_due(gold: SlaPolicy, now: datetime) -> None:
    from patron.core import clock as patron_clock
    from patron.sla import tasks

    ticket = client_ticket(now)
    services.refresh(ticket, now=now)
    with patron_clock.travel_to(now + timedelta(minutes=61)):
        assert tasks.tick.call() == 1
        assert tasks.tick.call() == 0
    assert clock(ticket, "first_reply").state == ClockState.BREACHED

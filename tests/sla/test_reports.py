"""SLA compliance and breach reports over stored clocks, with every number counted by hand.

NOW (conftest) is Monday 2026-11-23 09:00 UTC = 16:00 in Jakarta (UTC+7, closes at 17:00;
Tuesday the 24th is a holiday). The period is [NOW, NOW + 3 days).

The desk (`desk` fixture), clock by clock:

| ticket | policy    | team    | assignee | first reply (and resolution)   | counted           |
| ------ | --------- | ------- | -------- | ------------------------------ | ----------------- |
| t1     | Gold      | Billing | Sam      | reply +20 m; solved +30 m      | 20; 30 business   |
| t2     | Gold      | Support | Ana      | reply Wednesday: breached +1 h | 90 business       |
| t3     | Customers | Billing | Sam      | reply +100 m                   | 100 calendar      |
| t4     | Customers | -       | -        | reply +300 m                   | 300 calendar      |
| t5     | Customers | -       | -        | no reply: breached +8 h        | 481 at +481 m     |
| t6     | Customers | -       | -        | no reply: running, not counted |                   |
| t7     | Customers | -       | -        | solved, closed: cancelled      |                   |
| t8     | Customers | -       | -        | achieved the day before        |                   |

t1's measured-only clocks (agent work, requester wait) have no target and are not counted.
t3's requester is at Acme Retail, the one ticket of the saved segment "Acme".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.core.errors import InvalidInput
from patron.people import services as people
from patron.people.models import Role, Team
from patron.sla import reports, services
from patron.sla.models import BusinessCalendar, ClockState, SlaClock, SlaPolicy
from patron.sla.reports import ComplianceRow, Filters
from patron.tickets import services as tickets
from patron.tickets.models import Status, Ticket
from tests import factories
from tests.sla.test_services import jakarta  # noqa: F401  (the fixture: Jakarta office, 09-17)

pytestmark = pytest.mark.django_db


@dataclass
class Desk:
    gold: SlaPolicy
    customers: SlaPolicy
    billing: Team
    support: Team
    sam: User
    ana: User
    tickets: dict[str, Ticket]


@pytest.fixture
def desk(jakarta: BusinessCalendar, now: datetime) -> Desk:  # noqa: F811  (the fixture)
    gold = services.save_policy(
        None,
        {
            "name": "Gold clients",
            "rule": {"all": [{"field": "relationship", "op": "eq", "value": "client"}]},
            "calendar": jakarta,
            "metrics": {
                "first_reply": {"measure": "business", "targets": {"normal": 60}},
                "resolution": {"measure": "business", "targets": {"normal": 480}},
            },
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
    billing, support = factories.team("Billing"), factories.team("Support")
    sam = factories.agent(Role.AGENT, teams=(billing,), username="sam", password=None)
    ana = factories.agent(Role.AGENT, teams=(support,), username="ana", password=None)
    client_org = factories.organization(now=now, relationship="client", name="Borobudur Bank")
    acme = factories.organization(now=now, name="Acme Retail")

    def make(at: datetime, *, client: bool = False, **kwargs: object) -> Ticket:
        org = client_org if client else (acme if kwargs.pop("acme", False) else None)
        requester = factories.contact(now=at, organization=org)
        return factories.ticket(now=at, requester=requester, **kwargs)

    def after(minutes: float) -> datetime:
        return now + timedelta(minutes=minutes)

    made = {
        "t1": make(now, client=True, team=billing, assignee=sam, subject="Card declined"),
        "t2": make(now, client=True, team=support, assignee=ana, subject="=HYPERLINK(1)"),
        "t3": make(now, acme=True, team=billing, assignee=sam),
        "t4": make(now),
        "t5": make(now, subject="Where is my parcel?"),
        "t6": make(now),
        "t7": make(now),
        "t8": make(now - timedelta(days=1)),
    }
    t = made
    tickets.reply(t["t1"], author=sam, body="Looking", now=after(20))
    tickets.change_status(t["t1"], Status.SOLVED, actor=sam, now=after(30))
    # Monday 16:00-17:00 Jakarta (60), Tuesday a holiday, Wednesday 09:00-09:30 (30) = 90.
    tickets.reply(
        t["t2"], author=ana, body="Sorry", now=datetime(2026, 11, 25, 2, 30, tzinfo=now.tzinfo)
    )
    tickets.reply(t["t3"], author=sam, body="Hello", now=after(100))
    tickets.reply(t["t4"], author=sam, body="Hello", now=after(300))
    tickets.change_status(t["t7"], Status.SOLVED, actor=sam, now=after(5))
    tickets.change_status(t["t7"], Status.CLOSED, actor=sam, now=after(10))
    tickets.reply(
        t["t8"], author=sam, body="Hello", now=now - timedelta(days=1) + timedelta(minutes=5)
    )
    # Refreshed Wednesday 03:00 UTC (10:00 Jakarta), before t2's resolution falls due at 16:00.
    wednesday = datetime(2026, 11, 25, 3, 0, tzinfo=now.tzinfo)
    for name, ticket in made.items():
        if name != "t6":
            services.refresh(ticket, now=after(481) if name == "t5" else wednesday)
    services.refresh(t["t6"], now=now)
    return Desk(gold, customers, billing, support, sam, ana, made)  # fmt: skip


def period(now: datetime) -> tuple[datetime, datetime]:
    return now, now + timedelta(days=3)


def table(rows: list[ComplianceRow]) -> list[tuple[object, ...]]:
    return [
        (row.group, row.achieved, row.breached, row.measure, row.median_minutes, row.p90_minutes)
        for row in rows
    ]


def test_compliance_per_policy_counts_clocks_that_finished_in_the_period(
    desk: Desk, now: datetime
) -> None:
    rows = reports.compliance(*period(now), group_by="policy")
    # Gold: t1 first reply 20 and resolution 30 achieved, t2 breached: median of 20 and 30 is 25,
    # p90 the 2nd of 2. Customers: t3 100 and t4 300 achieved, t5 breached; t6 running, t7
    # cancelled and t8 before the period are left out.
    assert table(rows) == [
        ("Gold clients", 2, 1, "business", 25, 30),
        ("Customers", 2, 1, "calendar", 200, 300),
    ]
    assert [row.clocks for row in rows] == [3, 3]
    measured_only = SlaClock.objects.filter(ticket=desk.tickets["t1"], metric="agent_work")
    assert measured_only.get().state == ClockState.ACHIEVED  # and yet not counted
    assert rows[0].compliance == pytest.approx(200 / 3)


def test_compliance_per_metric_gives_no_median_when_measures_mix(desk: Desk, now: datetime) -> None:
    rows = reports.compliance(*period(now), group_by="metric")
    assert table(rows) == [
        ("First reply", 3, 2, "", None, None),
        ("Resolution", 1, 0, "business", 30, 30),
    ]
    assert rows[0].compliance == 60
    assert rows[0].note == "Times mix business and calendar minutes."


def test_compliance_per_team_and_per_agent_puts_the_nameless_group_last(
    desk: Desk, now: datetime
) -> None:
    teams = reports.compliance(*period(now), group_by="team")
    assert [(r.group, r.key, r.achieved, r.breached) for r in teams] == [
        ("Billing", str(desk.billing.pk), 3, 0),
        ("Support", str(desk.support.pk), 0, 1),
        ("No team", "", 1, 1),
    ]
    assert teams[1].compliance == 0
    agents = reports.compliance(*period(now), group_by="agent")
    assert [(r.group, r.achieved, r.breached, r.median_minutes) for r in agents] == [
        ("Ana", 0, 1, None),
        ("Sam", 3, 0, None),  # 20 and 30 business, 100 calendar
        ("Unassigned", 1, 1, 300),
    ]


def test_compliance_per_segment_has_clients_customers_and_each_saved_segment(
    desk: Desk, now: datetime
) -> None:
    admin = factories.agent(Role.ADMIN, password=None)
    rule = {"all": [{"field": "organization", "op": "eq", "value": "Acme Retail"}]}
    people.save_segment(None, actor=admin, name="Acme", rule=rule)
    nobody = {"all": [{"field": "tier", "op": "eq", "value": "none"}]}
    people.save_segment(None, actor=admin, name="Nobody", rule=nobody)
    rows = reports.compliance(*period(now), group_by="segment")
    assert table(rows) == [
        ("Clients", 2, 1, "business", 25, 30),
        ("Customers", 2, 1, "calendar", 200, 300),
        ("Acme", 1, 0, "calendar", 100, 100),
        ("Nobody", 0, 0, "", None, None),
    ]
    assert rows[3].compliance is None


def test_filters_narrow_the_clocks_before_grouping(desk: Desk, now: datetime) -> None:
    by_team = reports.compliance(
        *period(now), group_by="policy", filters=Filters(team=desk.billing.pk)
    )
    assert table(by_team) == [
        ("Gold clients", 2, 0, "business", 25, 30),
        ("Customers", 1, 0, "calendar", 100, 100),
    ]
    clients = reports.compliance(
        *period(now), group_by="metric", filters=Filters(segment="clients")
    )
    assert [(r.group, r.achieved, r.breached) for r in clients] == [
        ("First reply", 1, 1),
        ("Resolution", 1, 0),
    ]
    mine = Filters(assignee=desk.ana.pk, metric="first_reply", policy=desk.gold.pk)
    rows = reports.compliance(*period(now), group_by="team", filters=mine)
    assert [(r.group, r.breached) for r in rows] == [("Support", 1)]


def test_the_period_is_half_open_on_the_finishing_instant(desk: Desk, now: datetime) -> None:
    # t1's first reply was achieved at NOW + 20 min: a period ending then leaves it out.
    end = now + timedelta(minutes=20)
    first = Filters(metric="first_reply", policy=desk.gold.pk)
    assert reports.compliance(now, end, group_by="policy", filters=first) == []
    after = reports.compliance(end, end + timedelta(minutes=1), group_by="policy", filters=first)
    assert table(after) == [("Gold clients", 1, 0, "business", 20, 20)]


def test_each_group_kind_is_a_fixed_number_of_queries(desk: Desk, now: datetime) -> None:
    counts = {}
    for kind in ("policy", "metric", "team", "agent"):
        with CaptureQueriesContext(connection) as queries:
            reports.compliance(*period(now), group_by=kind)  # type: ignore[arg-type]
        counts[kind] = len(queries)
    assert counts == {"policy": 2, "metric": 2, "team": 2, "agent": 2}
    with CaptureQueriesContext(connection) as queries:
        reports.compliance(*period(now), group_by="segment")
    assert len(queries) == 3  # the segments, the counts, the times


def test_the_breach_list_says_why_in_the_policys_terms(desk: Desk, now: datetime) -> None:
    rows = reports.breaches(*period(now), now=now + timedelta(hours=10))
    assert [row.ticket_number for row in rows] == [
        desk.tickets["t5"].number,
        desk.tickets["t2"].number,
    ]
    late, gold = rows
    assert gold.subject == "=HYPERLINK(1)"
    assert (gold.policy, gold.metric, gold.cycle, gold.measure) == (
        "Gold clients",
        "first_reply",
        1,
        "business",
    )
    assert gold.breached_at == now + timedelta(hours=1)
    # Answered Wednesday 09:30 Jakarta: 90 business minutes counted, 30 past the target.
    assert (gold.target_minutes, gold.over_minutes, gold.paused_minutes) == (60, 30, 0)
    assert gold.stopped_at == datetime(2026, 11, 25, 2, 30, tzinfo=now.tzinfo)
    assert (gold.organization, gold.relationship, gold.team, gold.assignee) == (
        "Borobudur Bank",
        "Client",
        "Support",
        "Ana",
    )
    assert gold.requester.endswith("@mail.example>")
    assert gold.reason == (
        "No first public reply within 1 business hour (Jakarta office); never paused; "
        "now open, assigned to Ana"
    )
    # Still unanswered: from its breach at NOW + 8 h to the report's NOW + 10 h.
    assert (late.over_minutes, late.stopped_at) == (120, None)
    assert (late.relationship, late.organization) == ("Customer", "")
    assert late.reason == (
        "No first public reply within 8 hours (calendar time); never paused; now new, unassigned"
    )  # fmt: skip


def test_a_breach_shows_the_minutes_it_was_paused(now: datetime) -> None:
    services.save_policy(
        None,
        {
            "name": "Pausing",
            "metrics": {"first_reply": {"measure": "calendar", "targets": {"normal": 60}}},
            "pause_rules": {"first_reply": ["pending"]},
        },
        now=now,
    )
    agent = factories.agent(Role.AGENT, password=None)
    ticket = factories.ticket(now=now)
    tickets.change_status(ticket, Status.PENDING, actor=agent, now=now + timedelta(minutes=10))
    tickets.change_status(ticket, Status.OPEN, actor=agent, now=now + timedelta(minutes=40))
    services.refresh(ticket, now=now + timedelta(minutes=100))
    (row,) = reports.breaches(now, now + timedelta(days=1), now=now + timedelta(minutes=100))
    # Due at 60 counted minutes + 30 paused = NOW + 90 min; at +100 it is 10 over.
    assert row.breached_at == now + timedelta(minutes=90)
    assert (row.over_minutes, row.paused_minutes) == (10, 30)
    assert row.reason == (
        "No first public reply within 1 hour (calendar time); paused 30 minutes in all; "
        "now open, unassigned"
    )


def test_an_unanswered_breach_is_over_by_business_minutes_since_the_breach(
    desk: Desk, now: datetime
) -> None:
    org = factories.organization(now=now, relationship="client")
    ticket = factories.ticket(now=now, requester=factories.contact(now=now, organization=org))
    services.refresh(ticket, now=now + timedelta(minutes=61))
    wednesday_10_jakarta = datetime(2026, 11, 25, 3, 0, tzinfo=now.tzinfo)
    rows = reports.breaches(*period(now), Filters(policy=desk.gold.pk), now=wednesday_10_jakarta)
    (row,) = [row for row in rows if row.ticket_number == ticket.number]
    # Breached Monday 17:00 Jakarta; Tuesday a holiday; Wednesday 09:00-10:00 counts: 60.
    assert (row.stopped_at, row.over_minutes) == (None, 60)


def test_the_breach_list_reads_a_fixed_number_of_queries(desk: Desk, now: datetime) -> None:
    with CaptureQueriesContext(connection) as queries:
        reports.breaches(*period(now), now=now)
    assert len(queries) == 2  # the clocks with their tickets, the requesters' addresses


def test_a_period_that_ends_before_it_starts_is_refused(now: datetime) -> None:
    with pytest.raises(InvalidInput, match="must end after it starts"):
        reports.compliance(now, now, group_by="policy")


def test_an_unknown_group_metric_or_segment_is_refused(now: datetime) -> None:
    with pytest.raises(InvalidInput, match="Group by one of"):
        reports.compliance(*period(now), group_by="weekday")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="no metric"):
        reports.compliance(*period(now), group_by="policy", filters=Filters(metric="lunch"))
    with pytest.raises(InvalidInput, match="no segment"):
        reports.compliance(*period(now), group_by="policy", filters=Filters(segment="vip"))


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [([5], 90, 5), ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9), ([10, 1, 7], 50, 7), ([3, 1], 90, 3)],
)
def test_the_percentile_is_by_nearest_rank(values: list[float], p: int, expected: float) -> None:
    assert reports.percentile(values, p) == expected


@pytest.mark.parametrize(
    ("minutes", "unit", "words"),
    [(60, "business ", "1 business hour"), (480, "", "8 hours"), (90, "", "90 minutes"),
     (1, "", "1 minute"), (0.5, "business ", "0.5 business minutes")],
)  # fmt: skip
def test_minutes_in_words(minutes: float, unit: str, words: str) -> None:
    assert reports.minutes_in_words(minutes, unit=unit) == words

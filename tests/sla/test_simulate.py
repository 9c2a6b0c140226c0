"""`patron sla simulate`: a stored or draft policy replayed over the tickets of a period, with
compliance and breaches per segment counted by hand in the comments.

NOW (conftest) is Monday 2026-11-23 09:00 UTC; the desk's time zone is UTC. The period is the
week before, Monday 16 to Sunday 22 November, so every ticket is evaluated at its end, Monday
23 00:00 UTC. The stored policy promises a first reply within 60 calendar minutes:

    ticket  created           first reply   segment     60 min       draft: 30 min
    A       Mon 16 10:00      10:30         client      achieved     achieved (at the due)
    B       Tue 17 10:00      11:30         client      breached 30  breached 60
    C       Wed 18 10:00      none          customer    breached     breached
    D       Thu 19 10:00      10:59         client      achieved     breached 29

Two tickets outside the period (Sunday 15 23:59, and Monday 23 08:00) are never counted.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from patron.cli import main
from patron.core.errors import InvalidInput
from patron.people import services as people
from patron.people.models import Role
from patron.sla import services, simulate
from patron.sla.calendar import FieldError
from patron.sla.models import SlaPolicy
from patron.tickets import services as tickets
from patron.tickets.models import Ticket
from tests import factories

pytestmark = pytest.mark.django_db

START = datetime.fromisoformat("2026-11-16T00:00:00+00:00")
END = datetime.fromisoformat("2026-11-23T00:00:00+00:00")
PERIOD = ["--from", "2026-11-16", "--to", "2026-11-22"]
# Wednesday 10:00 to Monday 00:00 is 4 days 14 hours: 6,600 minutes, 6,540 past a 60-minute due.
C_OVER_60 = 6600 - 60
DRAFT = {
    "name": "Faster first reply",
    "policy": {
        "first_reply": {"measure": "calendar", "targets": {"normal": 30}},
        # Seven days: no ticket of the week is solved, and none has run that long.
        "resolution": {"measure": "calendar", "targets": {"normal": 7 * 24 * 60}},
    },
    "pause_rules": {"resolution": ["pending"]},
}


@pytest.fixture
def agent() -> User:
    return factories.agent(Role.AGENT)


@pytest.fixture
def policy(now: datetime) -> SlaPolicy:
    return services.save_policy(
        None,
        {
            "name": "Customers",
            "rule": {},
            "metrics": {"first_reply": {"measure": "calendar", "targets": {"normal": 60}}},
        },
        now=now,
    )


@pytest.fixture
def week(agent: User) -> dict[str, Ticket]:
    """The four tickets of the table above, and two outside the period."""
    gold = factories.organization(now=START, relationship="client", tier="gold")
    client = factories.contact(now=START, organization=gold)
    made: dict[str, Ticket] = {}
    for name, day, reply_after, requester in (
        ("A", 0, 30, client),
        ("B", 1, 90, client),
        ("C", 2, None, None),
        ("D", 3, 59, client),
    ):
        created = START + timedelta(days=day, hours=10)
        ticket = factories.ticket(now=created, requester=requester)
        if reply_after is not None:
            at = created + timedelta(minutes=reply_after)
            tickets.reply(ticket, author=agent, body="On it.", now=at)
        made[name] = ticket
    factories.ticket(now=START - timedelta(minutes=1))
    factories.ticket(now=END + timedelta(hours=8))
    return made


def tallies(result: simulate.Simulation, slug: str) -> dict[str, tuple[int, int, int, int]]:
    """metric -> (measured, achieved, breached, open) for one segment's row."""
    (row,) = [segment for segment in result.segments if segment.slug == slug]
    return {t.metric: (t.measured, t.achieved, t.breached, t.open) for t in row.metrics()}


def compliance(result: simulate.Simulation, slug: str, metric: str) -> float | None:
    (row,) = [segment for segment in result.segments if segment.slug == slug]
    return row.tallies[metric].compliance


def test_a_stored_policy_breaches_two_of_the_weeks_four_tickets(
    policy: SlaPolicy, week: dict[str, Ticket], now: datetime
) -> None:
    result = simulate.simulate(simulate.stored_policy("customers"), start=START, end=END, now=now)

    assert result.evaluated_at == END
    assert [(row.slug, row.tickets) for row in result.segments] == [
        ("all", 4),
        ("clients", 3),
        ("customers", 1),
    ]
    assert tallies(result, "all") == {"first_reply": (4, 2, 2, 0)}
    assert compliance(result, "all", "first_reply") == 50.0
    assert tallies(result, "clients") == {"first_reply": (3, 2, 1, 0)}
    assert compliance(result, "clients", "first_reply") == 66.7
    assert tallies(result, "customers") == {"first_reply": (1, 0, 1, 0)}
    assert compliance(result, "customers", "first_reply") == 0.0
    b_due, c_due = START + timedelta(days=1, hours=11), START + timedelta(days=2, hours=11)
    assert [
        (b.ticket_number, b.metric, b.cycle, b.due_at, b.over_minutes, b.segments)
        for b in result.breaches
    ] == [
        (week["B"].number, "first_reply", 1, b_due, 30, ("all", "clients")),
        (week["C"].number, "first_reply", 1, c_due, C_OVER_60, ("all", "customers")),
    ]


def test_a_draft_policy_would_have_breached_three(week: dict[str, Ticket], now: datetime) -> None:
    result = simulate.simulate(
        simulate.draft_policy(json.dumps(DRAFT)), start=START, end=END, now=now
    )

    assert result.policy == "Faster first reply"
    # A's reply came at the 30-minute due itself, which is achieved; D's 59 minutes are not.
    # No ticket is solved and none is seven days old: every resolution clock is still open.
    assert tallies(result, "all") == {"first_reply": (4, 1, 3, 0), "resolution": (4, 0, 0, 4)}
    assert compliance(result, "all", "first_reply") == 25.0
    assert compliance(result, "all", "resolution") is None
    assert [(b.ticket_number, b.over_minutes) for b in result.breaches] == [
        (week["B"].number, 60),
        (week["C"].number, 6600 - 30),
        (week["D"].number, 29),
    ]


def test_a_saved_segment_has_its_own_row(
    policy: SlaPolicy, week: dict[str, Ticket], now: datetime
) -> None:
    admin = factories.agent(Role.ADMIN)
    people.save_segment(
        None,
        actor=admin,
        name="Gold",
        rule={"all": [{"field": "tier", "op": "eq", "value": "gold"}]},
    )

    result = simulate.simulate(simulate.stored_policy("Customers"), start=START, end=END, now=now)

    assert tallies(result, "gold") == {"first_reply": (3, 2, 1, 0)}


def test_one_segment_counts_only_its_tickets(
    policy: SlaPolicy, week: dict[str, Ticket], now: datetime
) -> None:
    result = simulate.simulate(
        simulate.stored_policy("Customers"), start=START, end=END, now=now, segment="customers"
    )

    assert [(row.slug, row.tickets) for row in result.segments] == [("customers", 1)]
    assert tallies(result, "customers") == {"first_reply": (1, 0, 1, 0)}
    assert [b.ticket_number for b in result.breaches] == [week["C"].number]


def test_a_period_still_running_is_evaluated_now(
    policy: SlaPolicy, agent: User, now: datetime
) -> None:
    # Created 07:30 today, unanswered: at NOW (09:00) it is 30 minutes past its due.
    factories.ticket(now=now - timedelta(minutes=90))

    result = simulate.simulate(
        simulate.stored_policy("Customers"), start=END, end=END + timedelta(days=1), now=now
    )

    assert result.evaluated_at == now
    assert [b.over_minutes for b in result.breaches] == [30]


def test_small_chunks_read_the_same_events(
    policy: SlaPolicy, week: dict[str, Ticket], now: datetime
) -> None:
    whole = simulate.simulate(simulate.stored_policy("Customers"), start=START, end=END, now=now)
    chunked = simulate.simulate(
        simulate.stored_policy("Customers"), start=START, end=END, now=now, chunk=1
    )

    assert chunked.to_json() == whole.to_json()


def test_it_names_the_policies_there_are_for_an_unknown_one(policy: SlaPolicy) -> None:
    with pytest.raises(
        InvalidInput, match=r"no SLA policy called 'Platinum' \(the policies: Customers\)"
    ):
        simulate.stored_policy("Platinum")


def test_it_refuses_an_unknown_segment(policy: SlaPolicy, now: datetime) -> None:
    with pytest.raises(
        InvalidInput, match=r"no segment 'vip' \(the segments: clients, customers\)"
    ):
        simulate.simulate(
            simulate.stored_policy("Customers"), start=START, end=END, now=now, segment="vip"
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ("[]", "must be a JSON object"),
        ("{}", "policy: is required"),
        ('{"policy": {"first_reply": {"measure": "weekly"}}}', "policy.first_reply.measure"),
        ('{"policy": {"first_reply": {"measure": "calendar"}}}', "policy: has no target"),
        (
            '{"policy": {"first_reply": {"measure": "business", "targets": {"normal": 60}}},'
            ' "calendar": {"timezone": "Mars/Olympus", "hours": {"monday": [["09:00", "17:00"]]}}}',
            "calendar.timezone",
        ),
        (
            '{"policy": {"first_reply": {"measure": "calendar", "targets": {"normal": 60}}},'
            ' "pause_rules": {"first_reply": ["waiting"]}}',
            r"pause_rules.first_reply\[0\]",
        ),
    ],
)
def test_a_bad_draft_names_the_field(text: str, message: str) -> None:
    with pytest.raises(FieldError, match=message):
        simulate.draft_policy(text)


# --- the command -------------------------------------------------------------------------------


def test_the_command_prints_tables_and_the_breaches(
    policy: SlaPolicy, week: dict[str, Ticket], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sla", "simulate", "--policy", "Customers", *PERIOD])

    printed = capsys.readouterr().out
    assert code == 0
    assert "All tickets: 4 tickets" in printed
    assert "  first_reply             4        2        2      0  50.0 %" in printed
    assert "Clients: 3 tickets" in printed
    assert "  first_reply             3        2        1      0  66.7 %" in printed
    assert "Breaches: 2" in printed
    assert f"#{week['B'].number} first_reply 1: due 2026-11-17 11:00, over by 30 min" in printed
    assert f"#{week['C'].number} first_reply 1: due 2026-11-18 11:00, over by 6540 min" in printed


def test_the_command_prints_json_for_a_draft_file(
    week: dict[str, Ticket], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(DRAFT))

    code = main(
        ["sla", "simulate", "--draft", str(draft), *PERIOD, "--segment", "clients", "--json"]
    )

    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["from"] == "2026-11-16T00:00:00Z"
    assert document["to"] == "2026-11-23T00:00:00Z"
    (clients,) = document["segments"]
    assert clients["tickets"] == 3
    assert clients["metrics"][0] == {
        "metric": "first_reply", "measured": 3, "achieved": 1, "breached": 2, "open": 0,
        "compliance": 33.3,
    }  # fmt: skip
    assert [(b["ticket"], b["over_minutes"]) for b in document["breaches"]] == [
        (week["B"].number, 60),
        (week["D"].number, 29),
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--policy", "Platinum"],
            "patron: sla simulate: There is no SLA policy called 'Platinum'",
        ),
        (["--draft", "/nonexistent/draft.json"], "patron: sla simulate: cannot read"),
        (
            ["--policy", "Customers", "--segment", "vip"],
            "patron: sla simulate: There is no segment 'vip'",
        ),
    ],
)
def test_the_command_refuses_bad_input_with_status_2(
    policy: SlaPolicy,
    arguments: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["sla", "simulate", *arguments, *PERIOD])

    printed = capsys.readouterr()
    assert code == 2
    assert printed.err.startswith(message)
    assert "Traceback" not in printed.err
    assert printed.out == ""


def test_the_command_names_the_field_of_a_bad_draft(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "draft.json"
    draft.write_text('{"policy": {"first_reply": {"measure": "weekly"}}}')

    code = main(["sla", "simulate", "--draft", str(draft), *PERIOD])

    assert code == 2
    assert capsys.readouterr().err == (
        f"patron: sla simulate: {draft}: policy.first_reply.measure: 'weekly' is not business"
        " or calendar\n"
    )


def test_the_command_refuses_a_period_that_ends_before_it_starts(
    policy: SlaPolicy, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["sla", "simulate", "--policy", "Customers", "--from", "2026-11-22", "--to", "2026-11-16"]
    )

    assert code == 2
    assert "ends before it starts" in capsys.readouterr().err


def test_the_command_refuses_a_date_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sla", "simulate", "--policy", "Customers", "--from", "16/11/2026", "--to", "x"])

    assert exited.value.code == 2
    assert "'16/11/2026' is not a date like 2026-11-01" in capsys.readouterr().err

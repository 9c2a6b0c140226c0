"""The SLA report page and its CSV downloads, through Django's test client: what a supervisor
sees, the CSV columns and rows (formula-looking text made inert), who may see it, and bad
dates answered with a sentence, not a crash.

The desk: one calendar-time policy (first reply in 1 hour). At NOW the ticket "Printer jam"
is answered after 20 minutes (achieved); "=1+2" is not answered and breaches at NOW + 1 h.
The page is read at NOW + 3 h (UTC, the desk's zone), so that breach is 120 minutes over
(a little more: the test's clock ticks on from there).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from patron.core import clock
from patron.people.models import Role
from patron.sla import services
from patron.tickets import services as tickets
from patron.tickets.models import Ticket
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered_and_breached(now: datetime) -> tuple[Ticket, Ticket]:
    services.save_policy(
        None,
        {
            "name": "Everyone",
            "metrics": {"first_reply": {"measure": "calendar", "targets": {"normal": 60}}},
        },
        now=now,
    )
    agent = factories.agent(Role.AGENT, password=None, username="sam")
    answered = factories.ticket(now=now, subject="Printer jam")
    late = factories.ticket(
        now=now,
        subject="=1+2",
        requester=factories.contact(now=now, name="@Mallory", email="m@mail.example"),
    )
    tickets.reply(answered, author=agent, body="Fixed", now=now + timedelta(minutes=20))
    for ticket in (answered, late):
        services.refresh(ticket, now=now + timedelta(minutes=61))
    return answered, late


@pytest.fixture
def supervisor() -> User:
    return factories.agent(Role.SUPERVISOR, password=None)


@pytest.fixture
def at_three_hours(now: datetime) -> Iterator[None]:
    with clock.travel_to(now + timedelta(hours=3)):
        yield


@pytest.fixture
def desk_client(
    client: Client,
    supervisor: User,
    answered_and_breached: tuple[Ticket, Ticket],
    at_three_hours: None,
) -> Client:
    """A supervisor's client, at NOW + 3 h, on the desk of the module docstring."""
    return signed_in(client, supervisor)


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def rows_of(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def streamed(response: object) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_a_supervisor_sees_compliance_and_the_breach_in_words(
    desk_client: Client, answered_and_breached: tuple[Ticket, Ticket]
) -> None:
    _, late = answered_and_breached
    response = desk_client.get(reverse("sla_report"), {"period": "7"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Compliance by policy" in page
    # One achieved (20 min), one breached: 50%, median and p90 of the one time, 20.
    assert "<td>2</td>\n      <td>1</td>\n      <td>1</td>\n      <td>50.0%</td>" in page
    assert "20 calendar min" in page
    assert f"#{late.number} =1+2" in page
    assert (
        "No first public reply within 1 hour (calendar time); never paused; now new, unassigned"
        in page
    )
    assert "120 calendar min, still running" in page
    assert "2026-11-23 10:00 UTC" in page  # the breach, in the viewer's zone, named
    assert 'href="/tickets/reports/sla"' in page  # the top bar's link


def test_the_group_by_tabs_regroup_the_same_clocks(desk_client: Client) -> None:
    response = desk_client.get(reverse("sla_report"), {"group": "metric"})
    page = response.content.decode()
    assert "Compliance by metric" in page
    assert "First reply</a>" in page
    assert 'aria-current="page">Metric</a>' in page


def test_the_compliance_csv_has_a_header_and_a_row_per_group(desk_client: Client) -> None:
    response = desk_client.get(reverse("sla_compliance_csv"), {"group": "segment", "period": "7"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "sla-compliance-segment-20261117-20261123.csv" in response["Content-Disposition"]
    assert rows_of(streamed(response)) == [
        ["group", "clocks", "achieved", "breached", "compliance_percent", "measure",
         "median_minutes", "p90_minutes", "note"],
        ["Clients", "0", "0", "0", "", "", "", "", ""],
        ["Customers", "2", "1", "1", "50", "calendar", "20", "20", ""],
    ]  # fmt: skip


def test_the_breach_csv_makes_formula_text_inert(
    desk_client: Client, answered_and_breached: tuple[Ticket, Ticket]
) -> None:
    _, late = answered_and_breached
    response = desk_client.get(reverse("sla_breaches_csv"), {"period": "30"})
    header, *rows = rows_of(streamed(response))
    assert header == [
        "ticket", "subject", "requester", "organization", "relationship", "policy", "metric",
        "cycle", "measure", "target_minutes", "breached_at", "stopped_at", "over_minutes",
        "paused_minutes", "status", "assignee", "team", "reason",
    ]  # fmt: skip
    (row,) = rows
    assert row[:10] == [
        str(late.number), "'=1+2", "'@Mallory <m@mail.example>", "", "Customer", "Everyone",
        "first_reply", "1", "calendar", "60",
    ]  # fmt: skip
    assert row[10:12] == ["2026-11-23T10:00:00+00:00", ""]  # breached, not yet answered
    assert float(row[12]) == pytest.approx(120, abs=0.5)  # the test's clock ticks on from +3 h
    assert row[13:15] == ["0", "New"]


def test_an_agent_is_refused_with_the_reason(
    client: Client, answered_and_breached: tuple[Ticket, Ticket]
) -> None:
    agent = factories.agent(Role.AGENT, password=None)
    for name in ("sla_report", "sla_compliance_csv", "sla_breaches_csv"):
        response = signed_in(client, agent).get(reverse(name))
        assert response.status_code == 403
        assert b"Only supervisors and admins can see reports." in response.content
    page = client.get(reverse("ticket_list")).content.decode()
    assert "SLA report" not in page


def test_an_admin_may_see_it(client: Client) -> None:
    admin = factories.agent(Role.ADMIN, password=None)
    response = signed_in(client, admin).get(reverse("sla_report"))
    assert response.status_code == 200
    assert "No clock finished in this period." in response.content.decode()


def test_a_signed_out_visitor_is_sent_to_sign_in(client: Client) -> None:
    response = client.get(reverse("sla_report"))
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ({"from": "2026-13-01", "to": "2026-11-30"}, "From: '2026-13-01' is not a date"),
        ({"period": "dates", "from": "2026-11-20"}, "To: choose a day."),
        ({"from": "2026-11-20", "to": "2026-11-01"}, "The period's last day is before its first"),
        ({"period": "12"}, "Period: '12' is not one of the choices."),
        ({"group": "weekday"}, "Group by one of policy, metric, segment, team, agent"),
        ({"segment": "vip"}, "There is no segment 'vip'."),
    ],
)  # fmt: skip
def test_bad_input_is_a_sentence_on_the_page(
    client: Client, supervisor: User, query: dict[str, str], sentence: str
) -> None:
    response = signed_in(client, supervisor).get(reverse("sla_report"), query)
    assert response.status_code == 400
    assert sentence in html.unescape(response.content.decode())


def test_bad_dates_in_a_csv_download_are_a_plain_400(client: Client, supervisor: User) -> None:
    response = signed_in(client, supervisor).get(
        reverse("sla_breaches_csv"), {"from": "yesterday", "to": "2026-11-23"}
    )
    assert response.status_code == 400
    assert response.content.decode() == "From: 'yesterday' is not a date; use YYYY-MM-DD."


def test_chosen_dates_are_whole_local_days(desk_client: Client) -> None:
    # The answer came on the 23rd: a period ending the 22nd has none, one of the 23rd has it.
    before = {"period": "dates", "from": "2026-11-01", "to": "2026-11-22"}
    on_the_day = {"period": "dates", "from": "2026-11-23", "to": "2026-11-23"}
    url = reverse("sla_compliance_csv")
    assert rows_of(streamed(desk_client.get(url, before)))[1:] == []
    (row,) = rows_of(streamed(desk_client.get(url, on_the_day)))[1:]
    assert row[:4] == ["Everyone", "2", "1", "1"]

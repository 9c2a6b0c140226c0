"""Bulk actions from the inbox: one action per ticket through its service, each refusal
skipped with its reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from patron.people.models import Role
from patron.tickets import services
from patron.tickets.models import EventKind, Status, Ticket, TicketEvent
from tests import factories
from tests.tickets.test_inbox import logged_in, make_agent


@pytest.fixture
def agent() -> User:
    return make_agent()


def bulk(client: Client, tickets: list[Ticket], action: str, **params: str) -> Any:
    data = {"tickets": [str(t.number) for t in tickets], "action": action, **params}
    return client.post(reverse("inbox_bulk"), data, follow=True)


def flash(response: Any) -> str:
    return " ".join(str(m) for m in response.context["messages"])


@pytest.mark.django_db
def test_it_bulk_assigns_with_one_event_each_and_skips_a_closed_ticket_with_its_reason(
    client: Client, agent: User, now: datetime
) -> None:
    first, second = factories.ticket(now=now), factories.ticket(now=now)
    closed = factories.ticket(now=now)
    services.change_status(closed, Status.SOLVED, actor=agent, now=now)
    services.change_status(closed, Status.CLOSED, actor=agent, now=now)

    response = bulk(logged_in(client, agent), [first, second, closed], "assign", assignee="me")

    assert flash(response) == (
        f"2 updated, 1 skipped: Ticket #{closed.number} is closed and cannot change; "
        "open a follow-up ticket."
    )
    for ticket in (first, second):
        ticket.refresh_from_db()
        assert ticket.assignee == agent
        assert ticket.events.filter(kind=EventKind.ASSIGNED).count() == 1
    assert not closed.events.filter(kind=EventKind.ASSIGNED).exists()


@pytest.mark.django_db
def test_it_refuses_a_light_agents_bulk_change_ticket_by_ticket(
    client: Client, now: datetime
) -> None:
    light = make_agent(Role.LIGHT_AGENT)
    tickets = [factories.ticket(now=now), factories.ticket(now=now)]
    before = TicketEvent.objects.count()

    response = bulk(logged_in(client, light), tickets, "status", status="solved")

    assert flash(response).startswith("0 updated, 2 skipped: Light agents can add internal notes")
    assert TicketEvent.objects.count() == before
    assert 'name="action"' not in response.text  # no bulk bar offered


@pytest.mark.django_db
def test_it_skips_tickets_a_restricted_agent_cannot_see(client: Client, now: datetime) -> None:
    billing, sales = factories.team("Billing"), factories.team("Sales")
    seller = make_agent(teams=(sales,), restricted=True)
    visible = factories.ticket(now=now, team=sales)
    hidden = factories.ticket(now=now, team=billing)

    response = bulk(logged_in(client, seller), [visible, hidden], "priority", priority="high")

    assert flash(response) == f"1 updated, 1 skipped: #{hidden.number} is not a ticket you can see."
    hidden.refresh_from_db()
    assert hidden.priority == "normal"


@pytest.mark.django_db
def test_it_bulk_changes_team_status_priority_and_tags(
    client: Client, agent: User, now: datetime
) -> None:
    team = factories.team("Billing")
    ticket = factories.ticket(now=now, tags=["old"])
    logged_in(client, agent)

    bulk(client, [ticket], "team", team=str(team.pk))
    bulk(client, [ticket], "status", status="pending")
    bulk(client, [ticket], "priority", priority="urgent")
    bulk(client, [ticket], "add_tags", tags="vip, refund")
    bulk(client, [ticket], "remove_tags", tags="old")

    ticket.refresh_from_db()
    assert (ticket.team, ticket.status, ticket.priority) == (team, "pending", "urgent")
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["refund", "vip"]


@pytest.mark.django_db
def test_it_bulk_merges_the_selected_tickets_into_the_chosen_one(
    client: Client, agent: User, now: datetime
) -> None:
    survivor, a, b = (factories.ticket(now=now) for _ in range(3))

    response = bulk(
        logged_in(client, agent), [survivor, a, b], "merge", merge_into=str(survivor.number)
    )

    assert flash(response) == "2 updated."
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.merged_into == survivor and b.merged_into == survivor


@pytest.mark.django_db
def test_it_marks_spam_by_tagging_and_solving_through_the_services(
    client: Client, agent: User, now: datetime
) -> None:
    ticket = factories.ticket(now=now)

    response = bulk(logged_in(client, agent), [ticket], "spam")

    assert flash(response) == "1 updated."
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED
    assert list(ticket.tags.values_list("name", flat=True)) == ["spam"]
    changed = ticket.events.filter(kind=EventKind.FIELD_CHANGED).values_list("data", flat=True)
    assert [d["field"] for d in changed] == ["tags", "status"]


@pytest.mark.django_db
def test_it_explains_an_empty_selection_and_refuses_a_get(client: Client, agent: User) -> None:
    logged_in(client, agent)

    response = client.post(reverse("inbox_bulk"), {"action": "assign"}, follow=True)

    assert flash(response) == "Select at least one ticket first."
    assert client.get(reverse("inbox_bulk")).status_code == 405

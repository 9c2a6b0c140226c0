"""The ticket page's reads, called directly as an API would: the timeline in words, mentions,
the stale-send check, neighbours, and the customer context."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from patron.people.models import CustomFieldDefinition, Role
from patron.tickets import queries, services
from patron.tickets.models import Message, Status, Ticket
from tests import factories

pytestmark = pytest.mark.django_db


def make_agent(username: str, role: str = Role.AGENT, **kwargs: Any) -> User:
    user = factories.agent(role, username=username, password=None, **kwargs)
    assert isinstance(user, User)
    return user


@pytest.fixture
def sam() -> User:
    user = make_agent("sam")
    user.first_name, user.last_name = "Sam", "Ito"
    user.save()
    return user


@pytest.fixture
def ticket(now: datetime) -> Ticket:
    return factories.ticket(now=now, subject="Parcel never arrived")


def test_the_timeline_names_agents_teams_and_custom_fields(
    now: datetime, sam: User, ticket: Ticket
) -> None:
    billing = factories.team("Billing")
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="plan", label="Plan", field_type="text"
    )
    services.assign(ticket, sam, actor=sam, now=now)
    services.change_team(ticket, billing, actor=sam, now=now)
    services.set_custom_fields(ticket, {"plan": "Pro"}, actor=sam, now=now)

    lines = [text for _, text in queries.timeline(ticket.events.all())]

    assert "Sam Ito assigned the ticket from nobody to Sam Ito" in lines
    assert "Sam Ito changed team from nothing to Billing" in lines
    assert "Sam Ito changed Plan from nothing to Pro" in lines


def test_mentions_are_active_agents_by_username(now: datetime) -> None:
    priya = make_agent("priya")
    gone = make_agent("gone")
    gone.is_active = False
    gone.save()

    found = queries.mentioned_agents("@Priya. and @gone and @nobody, mail me@priya.example")

    assert found == [priya]
    assert queries.mentioned_agents("no names here") == []


def test_a_public_message_after_the_last_seen_one_makes_a_send_stale(
    now: datetime, sam: User, ticket: Ticket
) -> None:
    seen = int(Message.objects.filter(ticket=ticket).latest("pk").pk)
    services.add_note(ticket, author=sam, body="internal", now=now)
    assert not queries.public_message_since(ticket, seen)

    services.add_customer_message(ticket, contact=ticket.requester, body="Any news?", now=now)
    assert queries.public_message_since(ticket, seen)


def test_neighbours_follow_the_lists_order(now: datetime, sam: User) -> None:
    oldest = factories.ticket(now=now)
    middle = factories.ticket(now=now + timedelta(minutes=1))
    newest = factories.ticket(now=now + timedelta(minutes=2))

    assert queries.neighbours(sam, middle) == (newest.number, oldest.number)
    assert queries.neighbours(sam, newest) == (None, middle.number)


def test_the_customer_context_counts_open_tickets_and_lists_the_others(
    now: datetime, sam: User
) -> None:
    acme = factories.organization(now=now, relationship="client", name="Acme")
    dana = factories.contact(now=now, organization=acme)
    current = factories.ticket(now=now, requester=dana)
    older = factories.ticket(now=now, requester=dana)
    colleague = factories.ticket(now=now, requester=factories.contact(now=now, organization=acme))
    services.change_status(colleague, Status.SOLVED, actor=sam, now=now)

    assert queries.organization_with_open_tickets(acme.pk).open_tickets == 2
    assert queries.requester_tickets(sam, current) == [older]
    assert set(queries.organization_tickets(sam, current, acme)) == {older, colleague}


def test_custom_field_inputs_carry_the_tickets_values(
    now: datetime, sam: User, ticket: Ticket
) -> None:
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="plan", label="Plan", field_type="text"
    )
    services.set_custom_fields(ticket, {"plan": "Pro"}, actor=sam, now=now)
    ticket.refresh_from_db()

    [only] = queries.custom_field_inputs(ticket)

    assert only["definition"].key == "plan" and only["value"] == "Pro"


def test_lookups_stay_on_their_ticket(now: datetime, ticket: Ticket) -> None:
    other = factories.ticket(now=now)
    message = Message.objects.filter(ticket=ticket).first()
    assert message is not None

    assert queries.ticket_by_number(ticket.number) == ticket
    assert queries.ticket_by_number(-1) is None
    assert queries.message_on(ticket, message.pk) == message
    assert queries.message_on(other, message.pk) is None
    assert queries.attachment_on(ticket.number, 0) is None

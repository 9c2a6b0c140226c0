"""Every ticket service: the change it makes and exactly the events it writes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Max

from patron.core.errors import IllegalTransition, InvalidInput, NotAllowed
from patron.people.models import CustomFieldDefinition, Role
from patron.tickets import followers, merging, services
from patron.tickets.models import AuthorKind, Message, Status, Ticket, TicketEvent
from tests import factories

FieldType = CustomFieldDefinition.FieldType


def last_event_id() -> int:
    return TicketEvent.objects.aggregate(last=Max("id"))["last"] or 0


def events_after(mark: int) -> list[tuple[str, dict[str, Any]]]:
    """The kind and data of every event written after `mark`, oldest first."""
    rows = TicketEvent.objects.filter(id__gt=mark).order_by("id")
    return [(event.kind, event.data) for event in rows]


def kinds_after(mark: int) -> list[str]:
    return [kind for kind, _ in events_after(mark)]


def ticket_field(field: str, **data: Any) -> tuple[str, dict[str, Any]]:
    return ("field_changed", {"field": field, **data})


@pytest.fixture
def agent() -> User:
    return factories.agent(password=None)


@pytest.fixture
def ticket(now: datetime) -> Ticket:
    return factories.ticket(now=now)


def later(now: datetime, minutes: int = 5) -> datetime:
    return now + timedelta(minutes=minutes)


def solved(ticket: Ticket, *, actor: User, now: datetime) -> Ticket:
    services.change_status(ticket, Status.SOLVED, actor=actor, now=now)
    return ticket


def closed(ticket: Ticket, *, actor: User, now: datetime) -> Ticket:
    services.change_status(ticket, Status.SOLVED, actor=actor, now=now)
    services.change_status(ticket, Status.CLOSED, actor=actor, now=now)
    return ticket


# create_ticket


@pytest.mark.django_db
def test_it_writes_a_created_and_a_message_added_event_for_a_new_ticket(now: datetime) -> None:
    requester = factories.contact(now=now)
    mark = last_event_id()

    ticket = services.create_ticket(
        requester=requester, subject="Broken  login", body="I cannot log in.", now=now
    )

    message = ticket.messages.get()
    assert events_after(mark) == [
        ("created", {"channel": "web", "subject": "Broken login", "priority": "normal"}),
        ("message_added", {"message_id": message.pk, "public": True, "attachments": 0}),
    ]
    assert ticket.status == Status.NEW
    assert ticket.message_count == 1
    assert Ticket.objects.get(pk=ticket.pk).message_count == 1


@pytest.mark.django_db
def test_it_credits_the_requester_when_they_wrote_in_themselves(now: datetime) -> None:
    requester = factories.contact(now=now)

    ticket = services.create_ticket(requester=requester, subject="Hi", body="Hello", now=now)

    event = ticket.events.get(kind="created")
    message = ticket.messages.get()
    assert (event.actor_kind, event.actor_contact_id) == (AuthorKind.CONTACT, requester.pk)
    assert (message.author_kind, message.author_contact_id) == (AuthorKind.CONTACT, requester.pk)


@pytest.mark.django_db
def test_it_credits_the_agent_who_opened_a_ticket_on_someones_behalf(
    now: datetime, agent: User
) -> None:
    requester = factories.contact(now=now)

    ticket = services.create_ticket(
        requester=requester, subject="Phoned in", body="Called about X", now=now, actor=agent
    )

    assert set(ticket.events.values_list("actor_agent_id", flat=True)) == {agent.pk}
    assert ticket.messages.get().author_kind == AuthorKind.AGENT


@pytest.mark.django_db
def test_it_opens_a_ticket_created_with_an_assignee_and_records_the_assignment(
    now: datetime, agent: User
) -> None:
    requester = factories.contact(now=now)
    mark = last_event_id()

    ticket = services.create_ticket(
        requester=requester, subject="Hi", body="Hello", now=now, actor=agent, assignee=agent
    )

    assert kinds_after(mark) == ["created", "assigned", "message_added"]
    assert events_after(mark)[1] == ("assigned", {"from": None, "to": agent.pk})
    assert ticket.status == Status.OPEN
    assert ticket.assignee_id == agent.pk


@pytest.mark.django_db
def test_it_refuses_a_new_ticket_assigned_to_someone_who_is_not_an_agent(
    now: datetime, agent: User
) -> None:
    outsider = User.objects.create_user(username="outsider")

    with pytest.raises(InvalidInput, match="outsider is not an agent"):
        factories.ticket(now=now, actor=agent, assignee=outsider)

    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_it_numbers_tickets_from_1000_upwards(now: datetime) -> None:
    first = factories.ticket(now=now)
    second = factories.ticket(now=now)

    assert (first.number, second.number) == (1000, 1001)


@pytest.mark.django_db
def test_it_takes_the_organization_of_the_requester(now: datetime) -> None:
    organization = factories.organization(now=now, relationship="client")
    requester = factories.contact(now=now, organization=organization)

    ticket = factories.ticket(now=now, requester=requester)

    assert ticket.organization_id == organization.pk


@pytest.mark.django_db
def test_it_normalizes_tags_given_on_creation(now: datetime) -> None:
    ticket = factories.ticket(now=now, tags=["  Billing ", "Refund request", "billing"])

    assert list(ticket.tags.values_list("name", flat=True)) == ["billing", "refund-request"]


@pytest.mark.django_db
def test_it_sanitizes_the_html_of_the_first_message(now: datetime) -> None:
    ticket = factories.ticket(
        now=now, body="Hello", body_html='<p onclick="steal()">Hello<script>alert(1)</script></p>'
    )

    assert ticket.messages.get().body_html == "<p>Hello</p>"


@pytest.mark.django_db
def test_it_refuses_a_ticket_for_a_merged_contact(now: datetime, agent: User) -> None:
    source = factories.contact(now=now, name="Jo Old")
    merging.merge_contacts(source, factories.contact(now=now), actor=agent, now=now)

    with pytest.raises(InvalidInput, match="Jo Old was merged into another contact"):
        factories.ticket(now=now, requester=source)

    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_ticket_without_a_subject(now: datetime) -> None:
    with pytest.raises(InvalidInput, match="needs a subject"):
        factories.ticket(now=now, subject="   ")


@pytest.mark.django_db
def test_it_refuses_a_ticket_without_a_message(now: datetime) -> None:
    with pytest.raises(InvalidInput, match="needs a message"):
        factories.ticket(now=now, body=" \n ")


@pytest.mark.django_db
def test_it_refuses_a_ticket_with_an_unknown_priority(now: datetime) -> None:
    with pytest.raises(InvalidInput, match="'asap' is not a priority; use one of low, normal"):
        factories.ticket(now=now, priority="asap")

    assert not TicketEvent.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_ticket_with_an_unknown_channel(now: datetime) -> None:
    with pytest.raises(InvalidInput, match="'fax' is not a channel"):
        factories.ticket(now=now, channel="fax")


@pytest.mark.django_db
def test_it_refuses_a_ticket_opened_by_a_light_agent(now: datetime) -> None:
    light = factories.agent(Role.LIGHT_AGENT, password=None)

    with pytest.raises(NotAllowed, match="Only agents can create tickets"):
        factories.ticket(now=now, actor=light)


@pytest.mark.django_db
def test_it_refuses_a_ticket_missing_a_required_custom_field(now: datetime) -> None:
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="order", label="Order number", field_type=FieldType.TEXT,
        required=True,
    )  # fmt: skip

    with pytest.raises(InvalidInput, match="Order number is required"):
        factories.ticket(now=now, actor=factories.agent(password=None))


@pytest.mark.django_db
def test_it_accepts_a_customers_own_ticket_without_a_required_field(now: datetime) -> None:
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="order", label="Order number", field_type=FieldType.TEXT,
        required=True,
    )  # fmt: skip

    ticket = factories.ticket(now=now)

    assert ticket.custom_fields == {}
    assert ticket.messages.count() == 1


# reply


@pytest.mark.django_db
def test_it_records_a_public_reply_as_one_message_added_event(now: datetime, agent: User) -> None:
    ticket = factories.ticket(now=now, actor=agent, assignee=agent)
    mark = last_event_id()

    message = services.reply(ticket, author=agent, body="We are on it.", now=later(now))

    assert events_after(mark) == [
        ("message_added", {"message_id": message.pk, "public": True, "attachments": 0}),
    ]
    assert message.public
    assert message.author_agent_id == agent.pk
    assert Ticket.objects.get(pk=ticket.pk).message_count == 2
    assert Ticket.objects.get(pk=ticket.pk).updated_at == later(now)


@pytest.mark.django_db
def test_it_opens_a_new_ticket_on_a_public_reply(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    mark = last_event_id()

    services.reply(ticket, author=agent, body="Looking into it.", now=later(now))

    assert kinds_after(mark) == ["message_added", "field_changed"]
    assert events_after(mark)[1] == ticket_field("status", **{"from": "new", "to": "open"})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


@pytest.mark.django_db
def test_it_sets_the_status_given_with_a_reply(now: datetime, agent: User, ticket: Ticket) -> None:
    mark = last_event_id()

    services.reply(ticket, author=agent, body="Which order?", now=later(now), status="pending")

    assert kinds_after(mark) == ["message_added", "field_changed"]
    assert events_after(mark)[1] == ticket_field("status", **{"from": "new", "to": "pending"})
    assert Ticket.objects.get(pk=ticket.pk).status == Status.PENDING


@pytest.mark.django_db
def test_it_writes_no_status_event_when_a_reply_keeps_the_status(
    now: datetime, agent: User
) -> None:
    ticket = factories.ticket(now=now, actor=agent, assignee=agent)
    mark = last_event_id()

    services.reply(ticket, author=agent, body="Still open.", now=later(now), status="open")

    assert kinds_after(mark) == ["message_added"]


@pytest.mark.django_db
def test_it_rejects_a_reply_on_a_closed_ticket(now: datetime, agent: User, ticket: Ticket) -> None:
    closed(ticket, actor=agent, now=now)
    mark = last_event_id()

    with pytest.raises(IllegalTransition, match=rf"#{ticket.number} is closed and cannot change"):
        services.reply(ticket, author=agent, body="Hello?", now=later(now))

    assert kinds_after(mark) == []
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_it_rejects_an_empty_reply(now: datetime, agent: User, ticket: Ticket) -> None:
    with pytest.raises(InvalidInput, match="The reply is empty"):
        services.reply(ticket, author=agent, body="  \n\t", now=later(now))


@pytest.mark.django_db
def test_it_rejects_a_reply_with_an_unknown_status(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    with pytest.raises(InvalidInput, match="'done' is not a status; use one of new, open"):
        services.reply(ticket, author=agent, body="Done", now=later(now), status="done")

    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_it_keeps_no_reply_when_the_status_it_asks_for_is_illegal(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    mark = last_event_id()

    with pytest.raises(IllegalTransition, match="Solve ticket"):
        services.reply(ticket, author=agent, body="Bye", now=later(now), status="closed")

    assert kinds_after(mark) == []
    assert ticket.messages.count() == 1
    assert Ticket.objects.get(pk=ticket.pk).message_count == 1


@pytest.mark.django_db
def test_it_stores_the_sanitized_html_of_a_reply(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    message = services.reply(
        ticket,
        author=agent,
        body="Click",
        body_html='<a href="javascript:alert(1)">Click</a><b>bold</b>',
        now=later(now),
    )

    assert "javascript" not in message.body_html
    assert "<b>bold</b>" in message.body_html


# add_note


@pytest.mark.django_db
def test_it_adds_an_internal_note_that_is_not_public(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    mark = last_event_id()

    note = services.add_note(ticket, author=agent, body="Customer is VIP", now=later(now))

    assert not note.public
    assert events_after(mark) == [
        ("message_added", {"message_id": note.pk, "public": False, "attachments": 0}),
    ]


@pytest.mark.django_db
def test_it_keeps_a_new_ticket_new_after_an_internal_note(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    services.add_note(ticket, author=agent, body="Checking", now=later(now))

    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


@pytest.mark.django_db
def test_it_lets_a_light_agent_add_an_internal_note(now: datetime, ticket: Ticket) -> None:
    light = factories.agent(Role.LIGHT_AGENT, password=None)

    note = services.add_note(ticket, author=light, body="FYI from sales", now=later(now))

    assert not note.public
    assert note.author_agent_id == light.pk


@pytest.mark.django_db
def test_it_refuses_a_public_reply_from_a_light_agent(now: datetime, ticket: Ticket) -> None:
    light = factories.agent(Role.LIGHT_AGENT, password=None)

    with pytest.raises(NotAllowed, match="Light agents cannot reply to customers"):
        services.reply(ticket, author=light, body="Hi!", now=later(now))

    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_it_refuses_a_status_change_from_a_light_agent_with_a_note(
    now: datetime, ticket: Ticket
) -> None:
    light = factories.agent(Role.LIGHT_AGENT, password=None)
    mark = last_event_id()

    with pytest.raises(NotAllowed, match="cannot change tickets"):
        services.reply(ticket, author=light, body="Done", public=False, status="solved", now=now)

    assert kinds_after(mark) == []
    assert ticket.messages.count() == 1


# add_customer_message


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Status.PENDING, Status.SOLVED, Status.ON_HOLD])
def test_it_reopens_a_waiting_ticket_when_the_customer_writes(
    now: datetime, agent: User, ticket: Ticket, status: str
) -> None:
    services.change_status(ticket, status, actor=agent, now=now)
    mark = last_event_id()

    message = services.add_customer_message(
        ticket, contact=ticket.requester, body="Any news?", now=later(now)
    )

    assert events_after(mark) == [
        ("message_added", {"message_id": message.pk, "public": True, "attachments": 0}),
        ticket_field("status", **{"from": status, "to": "open"}),
    ]
    refreshed = Ticket.objects.get(pk=ticket.pk)
    assert refreshed.status == Status.OPEN
    assert refreshed.solved_at is None
    assert set(TicketEvent.objects.filter(id__gt=mark).values_list("actor_kind", flat=True)) == {
        AuthorKind.CONTACT
    }


@pytest.mark.django_db
def test_it_leaves_a_new_ticket_new_when_the_customer_writes_again(
    now: datetime, ticket: Ticket
) -> None:
    mark = last_event_id()

    services.add_customer_message(ticket, contact=ticket.requester, body="Also…", now=later(now))

    assert kinds_after(mark) == ["message_added"]
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


@pytest.mark.django_db
def test_it_rejects_an_empty_customer_message(now: datetime, ticket: Ticket) -> None:
    with pytest.raises(InvalidInput, match="The message is empty"):
        services.add_customer_message(ticket, contact=ticket.requester, body=" ", now=now)


@pytest.mark.django_db
def test_it_rejects_a_customer_message_on_a_closed_ticket(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    closed(ticket, actor=agent, now=now)

    with pytest.raises(IllegalTransition, match="is closed"):
        services.add_customer_message(ticket, contact=ticket.requester, body="Hi", now=now)


# change_status


@pytest.mark.django_db
def test_it_records_the_old_and_new_status(now: datetime, agent: User, ticket: Ticket) -> None:
    mark = last_event_id()

    services.change_status(ticket, Status.PENDING, actor=agent, now=later(now))

    assert events_after(mark) == [ticket_field("status", **{"from": "new", "to": "pending"})]
    event = TicketEvent.objects.get(id__gt=mark)
    assert (event.actor_agent_id, event.at) == (agent.pk, later(now))


@pytest.mark.django_db
def test_it_stamps_solved_at_when_solving(now: datetime, agent: User, ticket: Ticket) -> None:
    services.change_status(ticket, Status.SOLVED, actor=agent, now=later(now))

    assert Ticket.objects.get(pk=ticket.pk).solved_at == later(now)


@pytest.mark.django_db
def test_it_clears_solved_at_when_reopening(now: datetime, agent: User, ticket: Ticket) -> None:
    solved(ticket, actor=agent, now=now)

    services.change_status(ticket, Status.OPEN, actor=agent, now=later(now))

    assert Ticket.objects.get(pk=ticket.pk).solved_at is None


@pytest.mark.django_db
def test_it_closes_a_solved_ticket(now: datetime, agent: User, ticket: Ticket) -> None:
    solved(ticket, actor=agent, now=now)
    mark = last_event_id()

    services.change_status(ticket, Status.CLOSED, actor=agent, now=later(now))

    assert events_after(mark) == [ticket_field("status", **{"from": "solved", "to": "closed"})]
    refreshed = Ticket.objects.get(pk=ticket.pk)
    assert (refreshed.closed_at, refreshed.solved_at) == (later(now), now)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD])
def test_it_refuses_to_close_a_ticket_that_is_not_solved(
    now: datetime, agent: User, ticket: Ticket, status: str
) -> None:
    if status != Status.NEW:
        services.change_status(ticket, status, actor=agent, now=now)
    mark = last_event_id()

    with pytest.raises(IllegalTransition, match=rf"Solve ticket #{ticket.number} before closing"):
        services.change_status(ticket, Status.CLOSED, actor=agent, now=later(now))

    assert kinds_after(mark) == []
    assert Ticket.objects.get(pk=ticket.pk).status == status


@pytest.mark.django_db
def test_it_refuses_to_send_a_ticket_back_to_new(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    services.change_status(ticket, Status.OPEN, actor=agent, now=now)

    with pytest.raises(IllegalTransition, match=rf"#{ticket.number} cannot go back to New"):
        services.change_status(ticket, Status.NEW, actor=agent, now=later(now))


@pytest.mark.django_db
def test_it_rejects_an_unknown_status(now: datetime, agent: User, ticket: Ticket) -> None:
    with pytest.raises(InvalidInput, match="'archived' is not a status"):
        services.change_status(ticket, "archived", actor=agent, now=now)


@pytest.mark.django_db
def test_it_writes_no_event_when_the_status_does_not_change(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    services.change_status(ticket, Status.PENDING, actor=agent, now=now)
    mark = last_event_id()

    services.change_status(ticket, Status.PENDING, actor=agent, now=later(now))

    assert kinds_after(mark) == []
    assert Ticket.objects.get(pk=ticket.pk).updated_at == now


@pytest.mark.django_db
def test_it_refuses_a_status_change_from_a_light_agent(now: datetime, ticket: Ticket) -> None:
    light = factories.agent(Role.LIGHT_AGENT, password=None)

    with pytest.raises(NotAllowed, match="Light agents can add internal notes"):
        services.change_status(ticket, Status.OPEN, actor=light, now=now)


@pytest.mark.django_db
def test_it_decides_on_the_stored_status_not_a_stale_copy(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    stale = Ticket.objects.get(pk=ticket.pk)
    closed(ticket, actor=agent, now=now)

    with pytest.raises(IllegalTransition, match="is closed"):
        services.change_priority(stale, "high", actor=agent, now=later(now))


# change_priority, change_type, change_team


@pytest.mark.django_db
def test_it_records_a_priority_change(now: datetime, agent: User, ticket: Ticket) -> None:
    mark = last_event_id()

    services.change_priority(ticket, "urgent", actor=agent, now=later(now))

    assert events_after(mark) == [ticket_field("priority", **{"from": "normal", "to": "urgent"})]
    assert Ticket.objects.get(pk=ticket.pk).priority == "urgent"


@pytest.mark.django_db
def test_it_rejects_an_unknown_priority(now: datetime, agent: User, ticket: Ticket) -> None:
    mark = last_event_id()

    with pytest.raises(InvalidInput, match="'critical' is not a priority; use one of"):
        services.change_priority(ticket, "critical", actor=agent, now=now)

    assert kinds_after(mark) == []


@pytest.mark.django_db
def test_it_writes_no_event_when_the_priority_does_not_change(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    mark = last_event_id()

    services.change_priority(ticket, "normal", actor=agent, now=later(now))

    assert kinds_after(mark) == []


@pytest.mark.django_db
def test_it_records_a_type_change_and_clearing_it(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    mark = last_event_id()

    services.change_type(ticket, "incident", actor=agent, now=now)
    services.change_type(ticket, "", actor=agent, now=later(now))

    assert events_after(mark) == [
        ticket_field("type", **{"from": "", "to": "incident"}),
        ticket_field("type", **{"from": "incident", "to": ""}),
    ]


@pytest.mark.django_db
def test_it_rejects_an_unknown_ticket_type(now: datetime, agent: User, ticket: Ticket) -> None:
    with pytest.raises(InvalidInput, match="'bug' is not a ticket type"):
        services.change_type(ticket, "bug", actor=agent, now=now)


@pytest.mark.django_db
def test_it_records_a_team_change_by_id(now: datetime, agent: User, ticket: Ticket) -> None:
    billing = factories.team("Billing")
    mark = last_event_id()

    services.change_team(ticket, billing, actor=agent, now=now)
    services.change_team(ticket, None, actor=agent, now=later(now))

    assert events_after(mark) == [
        ticket_field("team", **{"from": None, "to": billing.pk}),
        ticket_field("team", **{"from": billing.pk, "to": None}),
    ]
    assert Ticket.objects.get(pk=ticket.pk).team_id is None


@pytest.mark.django_db
def test_it_writes_no_event_when_the_team_does_not_change(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    billing = factories.team("Billing")
    services.change_team(ticket, billing, actor=agent, now=now)
    mark = last_event_id()

    services.change_team(ticket, billing, actor=agent, now=later(now))

    assert kinds_after(mark) == []


# assign


@pytest.mark.django_db
def test_it_assigns_a_new_ticket_and_opens_it(now: datetime, agent: User, ticket: Ticket) -> None:
    mark = last_event_id()

    services.assign(ticket, agent, actor=agent, now=later(now))

    assert events_after(mark) == [
        ("assigned", {"from": None, "to": agent.pk}),
        ticket_field("status", **{"from": "new", "to": "open"}),
    ]
    refreshed = Ticket.objects.get(pk=ticket.pk)
    assert (refreshed.assignee_id, refreshed.status) == (agent.pk, Status.OPEN)


@pytest.mark.django_db
def test_it_reassigns_without_touching_the_status(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    colleague = factories.agent(password=None)
    services.assign(ticket, agent, actor=agent, now=now)
    services.change_status(ticket, Status.PENDING, actor=agent, now=now)
    mark = last_event_id()

    services.assign(ticket, colleague, actor=agent, now=later(now))

    assert events_after(mark) == [("assigned", {"from": agent.pk, "to": colleague.pk})]
    assert Ticket.objects.get(pk=ticket.pk).status == Status.PENDING


@pytest.mark.django_db
def test_it_unassigns_a_ticket(now: datetime, agent: User, ticket: Ticket) -> None:
    services.assign(ticket, agent, actor=agent, now=now)
    mark = last_event_id()

    services.assign(ticket, None, actor=agent, now=later(now))

    assert events_after(mark) == [("assigned", {"from": agent.pk, "to": None})]
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None


@pytest.mark.django_db
def test_it_writes_no_event_when_assigning_to_the_current_assignee(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    services.assign(ticket, agent, actor=agent, now=now)
    mark = last_event_id()

    services.assign(ticket, agent, actor=agent, now=later(now))

    assert kinds_after(mark) == []


@pytest.mark.django_db
def test_it_refuses_to_assign_to_someone_who_is_not_an_agent(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    outsider = User.objects.create_user(username="outsider")

    with pytest.raises(InvalidInput, match="outsider is not an agent"):
        services.assign(ticket, outsider, actor=agent, now=now)


@pytest.mark.django_db
def test_it_refuses_to_assign_to_an_agent_who_cannot_see_the_team(
    now: datetime, agent: User
) -> None:
    billing, sales = factories.team("Billing"), factories.team("Sales")
    seller = factories.agent(teams=(sales,), restricted=True, username="seller", password=None)
    ticket = factories.ticket(now=now, team=billing)

    with pytest.raises(InvalidInput, match=rf"seller cannot see ticket #{ticket.number}'s team"):
        services.assign(ticket, seller, actor=agent, now=now)


@pytest.mark.django_db
def test_it_refuses_an_assignment_by_a_light_agent(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    light = factories.agent(Role.LIGHT_AGENT, password=None)

    with pytest.raises(NotAllowed):
        services.assign(ticket, agent, actor=light, now=now)

    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None


# set_tags


@pytest.mark.django_db
def test_it_records_the_old_and_new_tags(now: datetime, agent: User, ticket: Ticket) -> None:
    services.set_tags(ticket, ["vip"], actor=agent, now=now)
    mark = last_event_id()

    services.set_tags(ticket, [" Refund request", "VIP"], actor=agent, now=later(now))

    assert events_after(mark) == [
        ticket_field("tags", **{"from": ["vip"], "to": ["refund-request", "vip"]})
    ]
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["refund-request", "vip"]


@pytest.mark.django_db
def test_it_writes_no_event_when_the_tags_are_the_same(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    services.set_tags(ticket, ["a", "b"], actor=agent, now=now)
    mark = last_event_id()

    services.set_tags(ticket, ["B", "a", ""], actor=agent, now=later(now))

    assert kinds_after(mark) == []


@pytest.mark.django_db
def test_it_rejects_a_tag_that_is_too_long(now: datetime, agent: User, ticket: Ticket) -> None:
    with pytest.raises(InvalidInput, match="Tags may be at most 64 characters"):
        services.set_tags(ticket, ["x" * 65], actor=agent, now=now)


# set_custom_fields


@pytest.fixture
def ticket_fields() -> None:
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="order", label="Order", field_type=FieldType.TEXT
    )
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="seats", label="Seats", field_type=FieldType.NUMBER
    )
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="plan", label="Plan", field_type=FieldType.CHOICE,
        choices=["basic", "pro"],
    )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.usefixtures("ticket_fields")
def test_it_records_one_event_per_changed_custom_field(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    services.set_custom_fields(ticket, {"order": "A-1", "plan": "basic"}, actor=agent, now=now)
    mark = last_event_id()

    services.set_custom_fields(
        ticket, {"order": "A-1", "plan": "pro", "seats": "12"}, actor=agent, now=later(now)
    )

    assert events_after(mark) == [
        ticket_field("custom.plan", **{"from": "basic", "to": "pro"}),
        ticket_field("custom.seats", **{"from": None, "to": 12}),
    ]
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {
        "order": "A-1", "plan": "pro", "seats": 12,
    }  # fmt: skip


@pytest.mark.django_db
@pytest.mark.usefixtures("ticket_fields")
def test_it_removes_a_custom_field_set_to_none(now: datetime, agent: User, ticket: Ticket) -> None:
    services.set_custom_fields(ticket, {"order": "A-1"}, actor=agent, now=now)
    mark = last_event_id()

    services.set_custom_fields(ticket, {"order": None}, actor=agent, now=later(now))

    assert events_after(mark) == [ticket_field("custom.order", **{"from": "A-1", "to": None})]
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {}


@pytest.mark.django_db
@pytest.mark.usefixtures("ticket_fields")
def test_it_writes_no_event_when_the_custom_fields_do_not_change(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    services.set_custom_fields(ticket, {"seats": 3}, actor=agent, now=now)
    mark = last_event_id()

    services.set_custom_fields(ticket, {"seats": "3"}, actor=agent, now=later(now))

    assert kinds_after(mark) == []


@pytest.mark.django_db
@pytest.mark.usefixtures("ticket_fields")
def test_it_rejects_an_unknown_custom_field(now: datetime, agent: User, ticket: Ticket) -> None:
    with pytest.raises(InvalidInput, match="There is no ticket field called colour"):
        services.set_custom_fields(ticket, {"colour": "red"}, actor=agent, now=now)


@pytest.mark.django_db
@pytest.mark.usefixtures("ticket_fields")
def test_it_rejects_a_custom_field_value_of_the_wrong_type(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    mark = last_event_id()

    with pytest.raises(InvalidInput, match="Seats must be a number, not 'many'"):
        services.set_custom_fields(ticket, {"order": "A-2", "seats": "many"}, actor=agent, now=now)

    assert kinds_after(mark) == []
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {}


# follow, unfollow


@pytest.mark.django_db
def test_it_records_a_follower(now: datetime, agent: User, ticket: Ticket) -> None:
    mark = last_event_id()

    followers.follow(ticket, agent, actor=agent, now=now)

    assert events_after(mark) == [("followed", {"user": agent.pk})]
    assert list(ticket.followers.all()) == [agent]


@pytest.mark.django_db
def test_it_writes_no_second_event_when_following_twice(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    followers.follow(ticket, agent, actor=agent, now=now)
    mark = last_event_id()

    followers.follow(ticket, agent, actor=agent, now=later(now))

    assert kinds_after(mark) == []
    assert ticket.followers.count() == 1


@pytest.mark.django_db
def test_it_records_an_unfollow(now: datetime, agent: User, ticket: Ticket) -> None:
    followers.follow(ticket, agent, actor=agent, now=now)
    mark = last_event_id()

    followers.unfollow(ticket, agent, actor=agent, now=later(now))

    assert events_after(mark) == [("unfollowed", {"user": agent.pk})]
    assert not ticket.followers.exists()


@pytest.mark.django_db
def test_it_writes_no_event_when_unfollowing_a_ticket_not_followed(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    mark = last_event_id()

    followers.unfollow(ticket, agent, actor=agent, now=now)

    assert kinds_after(mark) == []


@pytest.mark.django_db
def test_it_lets_a_supervisor_add_another_agent_as_follower(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    supervisor = factories.agent(Role.SUPERVISOR, password=None)
    mark = last_event_id()

    followers.follow(ticket, agent, actor=supervisor, now=now)

    assert events_after(mark) == [("followed", {"user": agent.pk})]
    assert TicketEvent.objects.get(id__gt=mark).actor_agent_id == supervisor.pk


@pytest.mark.django_db
def test_it_lets_a_light_agent_follow_but_not_add_others(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    light = factories.agent(Role.LIGHT_AGENT, password=None)

    followers.follow(ticket, light, actor=light, now=now)
    with pytest.raises(NotAllowed):
        followers.follow(ticket, agent, actor=light, now=now)

    assert list(ticket.followers.all()) == [light]


@pytest.mark.django_db
def test_it_refuses_a_follower_who_is_not_an_agent(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    outsider = User.objects.create_user(username="outsider")

    with pytest.raises(NotAllowed, match="Only agents"):
        followers.follow(ticket, outsider, actor=agent, now=now)


@pytest.mark.django_db
def test_it_numbers_messages_in_the_order_they_were_written(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    services.reply(ticket, author=agent, body="Second", now=later(now, 1))
    services.add_customer_message(ticket, contact=ticket.requester, body="Third", now=later(now, 2))

    bodies = list(Message.objects.filter(ticket=ticket).values_list("body_text", flat=True))
    assert bodies == ["I ordered a week ago and nothing came.", "Second", "Third"]
    assert Ticket.objects.get(pk=ticket.pk).message_count == 3

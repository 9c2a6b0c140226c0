"""Merging tickets: the survivor gets the conversation, the merged ticket points to it and is
closed, and nothing can change on a merged ticket any more."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Max

from patron.core.errors import IllegalTransition, NotAllowed
from patron.people.models import CustomFieldDefinition, Role
from patron.tickets import services
from patron.tickets.models import EventKind, Message, Status, Ticket, TicketEvent
from tests import factories


def make_agent(role: str = Role.AGENT, **kwargs: Any) -> User:
    """An agent without a password hash: hashing is slow and these tests never log in."""
    return factories.agent(role, password=None, **kwargs)  # type: ignore[return-value]


def last_event_id() -> int:
    return TicketEvent.objects.aggregate(last=Max("id"))["last"] or 0


def later(now: datetime, minutes: int = 5) -> datetime:
    return now + timedelta(minutes=minutes)


@pytest.fixture
def agent() -> User:
    return make_agent()


@pytest.fixture
def source(now: datetime) -> Ticket:
    ticket = factories.ticket(now=now, subject="Order late (again)")
    services.add_customer_message(ticket, contact=ticket.requester, body="Hello?", now=now)
    return ticket


@pytest.fixture
def target(now: datetime) -> Ticket:
    return factories.ticket(now=now, subject="Order late")


@pytest.mark.django_db
def test_it_moves_the_messages_to_the_survivor(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    source_messages = set(source.messages.values_list("pk", flat=True))
    target_messages = set(target.messages.values_list("pk", flat=True))

    services.merge_tickets(source, target, actor=agent, now=later(now))

    assert set(target.messages.values_list("pk", flat=True)) == source_messages | target_messages
    assert not Message.objects.filter(ticket=source).exists()


@pytest.mark.django_db
def test_it_counts_the_moved_messages_on_both_tickets(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    services.merge_tickets(source, target, actor=agent, now=later(now))

    assert Ticket.objects.get(pk=target.pk).message_count == 3
    assert Ticket.objects.get(pk=source.pk).message_count == 0


@pytest.mark.django_db
def test_it_moves_the_events_of_the_merged_ticket_to_the_survivor(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    source_events = set(source.events.values_list("pk", flat=True))

    services.merge_tickets(source, target, actor=agent, now=later(now))

    assert source_events <= set(target.events.values_list("pk", flat=True))
    assert list(source.events.values_list("kind", flat=True)) == [EventKind.MERGED]


@pytest.mark.django_db
def test_it_records_merged_on_the_source_and_merged_in_on_the_survivor(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    mark = last_event_id()

    services.merge_tickets(source, target, actor=agent, now=later(now))

    written = TicketEvent.objects.filter(id__gt=mark).order_by("id")
    assert [(event.ticket_id, event.kind, event.data) for event in written] == [
        (source.pk, "merged", {"into": target.number, "into_id": target.pk}),
        (target.pk, "merged_in", {"source": source.number, "source_id": source.pk, "messages": 2}),
    ]
    assert {event.actor_agent_id for event in written} == {agent.pk}
    assert {event.at for event in written} == {later(now)}


@pytest.mark.django_db
def test_it_closes_the_merged_ticket_and_points_it_to_the_survivor(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    services.merge_tickets(source, target, actor=agent, now=later(now))

    merged = Ticket.objects.get(pk=source.pk)
    assert (merged.status, merged.closed_at, merged.merged_into_id) == (
        Status.CLOSED,
        later(now),
        target.pk,
    )


@pytest.mark.django_db
def test_it_leaves_the_survivor_open_for_work(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    services.merge_tickets(source, target, actor=agent, now=later(now))

    survivor = Ticket.objects.get(pk=target.pk)
    assert survivor.merged_into_id is None
    assert survivor.status == Status.NEW
    assert survivor.updated_at == later(now)


@pytest.mark.django_db
def test_it_points_tickets_merged_into_the_source_at_the_survivor(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    earlier = factories.ticket(now=now)
    services.merge_tickets(earlier, source, actor=agent, now=now)

    services.merge_tickets(source, target, actor=agent, now=later(now))

    assert Ticket.objects.get(pk=earlier.pk).merged_into_id == target.pk


@pytest.mark.django_db
def test_it_gives_the_survivor_the_union_of_the_followers(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    both, only_source, only_target = make_agent(), make_agent(), make_agent()
    source.followers.add(both, only_source)
    target.followers.add(both, only_target)

    services.merge_tickets(source, target, actor=agent, now=later(now))

    assert set(target.followers.all()) == {both, only_source, only_target}


@pytest.mark.django_db
def test_it_returns_the_survivor_refreshed(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    survivor = services.merge_tickets(source, target, actor=agent, now=later(now))

    assert survivor.pk == target.pk
    assert survivor.message_count == 3
    assert source.merged_into_id == target.pk


@pytest.mark.django_db
def test_it_refuses_to_merge_a_ticket_into_itself(
    now: datetime, agent: User, target: Ticket
) -> None:
    mark = last_event_id()

    with pytest.raises(IllegalTransition, match="A ticket cannot be merged into itself"):
        services.merge_tickets(target, target, actor=agent, now=now)

    assert not TicketEvent.objects.filter(id__gt=mark).exists()


@pytest.mark.django_db
def test_it_refuses_to_merge_an_already_merged_ticket(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    services.merge_tickets(source, target, actor=agent, now=now)
    third = factories.ticket(now=now)
    mark = last_event_id()

    with pytest.raises(
        IllegalTransition,
        match=rf"Ticket #{source.number} was merged into #{target.number}; work there instead",
    ):
        services.merge_tickets(source, third, actor=agent, now=later(now))

    assert not TicketEvent.objects.filter(id__gt=mark).exists()
    assert Ticket.objects.get(pk=third.pk).message_count == 1


@pytest.mark.django_db
def test_it_refuses_to_merge_into_a_merged_ticket(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    services.merge_tickets(source, target, actor=agent, now=now)
    third = factories.ticket(now=now)

    with pytest.raises(IllegalTransition, match=rf"merged into #{target.number}"):
        services.merge_tickets(third, source, actor=agent, now=later(now))

    assert Ticket.objects.get(pk=third.pk).merged_into_id is None


@pytest.mark.django_db
def test_it_refuses_to_merge_a_closed_ticket(now: datetime, agent: User, target: Ticket) -> None:
    closed = factories.ticket(now=now)
    services.change_status(closed, Status.SOLVED, actor=agent, now=now)
    services.change_status(closed, Status.CLOSED, actor=agent, now=now)

    with pytest.raises(IllegalTransition, match=rf"#{closed.number} is closed"):
        services.merge_tickets(closed, target, actor=agent, now=later(now))


@pytest.mark.django_db
def test_it_refuses_a_merge_by_a_light_agent(now: datetime, source: Ticket, target: Ticket) -> None:
    light = make_agent(Role.LIGHT_AGENT)

    with pytest.raises(NotAllowed, match="Light agents"):
        services.merge_tickets(source, target, actor=light, now=now)

    assert Ticket.objects.get(pk=source.pk).merged_into_id is None


@pytest.mark.django_db
def test_it_refuses_a_merge_into_a_ticket_the_agent_cannot_see(now: datetime) -> None:
    billing, sales = factories.team("Billing"), factories.team("Sales")
    seller = make_agent(teams=(sales,), restricted=True)
    mine = factories.ticket(now=now, team=sales)
    theirs = factories.ticket(now=now, team=billing)

    with pytest.raises(NotAllowed, match=rf"#{theirs.number} belongs to a team you are not in"):
        services.merge_tickets(mine, theirs, actor=seller, now=now)


# Any change on a merged ticket is refused and names the survivor.


@pytest.fixture
def ticket_field() -> None:
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="order", label="Order", field_type="text"
    )


Change = Callable[[Ticket, User, datetime], object]

CHANGES: dict[str, Change] = {
    "reply": lambda t, a, now: services.reply(t, author=a, body="Hi", now=now),
    "note": lambda t, a, now: services.add_note(t, author=a, body="Hi", now=now),
    "customer message": lambda t, a, now: services.add_customer_message(
        t, contact=t.requester, body="Hi", now=now
    ),
    "status": lambda t, a, now: services.change_status(t, Status.OPEN, actor=a, now=now),
    "priority": lambda t, a, now: services.change_priority(t, "high", actor=a, now=now),
    "type": lambda t, a, now: services.change_type(t, "task", actor=a, now=now),
    "team": lambda t, a, now: services.change_team(t, factories.team(), actor=a, now=now),
    "assign": lambda t, a, now: services.assign(t, a, actor=a, now=now),
    "tags": lambda t, a, now: services.set_tags(t, ["vip"], actor=a, now=now),
    "custom fields": lambda t, a, now: services.set_custom_fields(
        t, {"order": "A-1"}, actor=a, now=now
    ),
}


@pytest.mark.django_db
@pytest.mark.usefixtures("ticket_field")
@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_it_refuses_any_change_on_a_merged_ticket_naming_the_survivor(
    now: datetime, agent: User, source: Ticket, target: Ticket, change: Change
) -> None:
    services.merge_tickets(source, target, actor=agent, now=now)
    stale = Ticket.objects.get(pk=source.pk)
    stale.merged_into_id = None  # a copy read before the merge must not fool the check
    stale.status = Status.NEW
    mark = last_event_id()

    with pytest.raises(
        IllegalTransition,
        match=rf"Ticket #{source.number} was merged into #{target.number}; work there instead",
    ):
        change(stale, agent, later(now))

    assert not TicketEvent.objects.filter(id__gt=mark).exists()
    assert Message.objects.filter(ticket=source).count() == 0

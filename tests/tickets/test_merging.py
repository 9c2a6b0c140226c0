"""Merging tickets: the survivor gets the conversation, the merged ticket points to it and is
closed, and nothing can change on a merged ticket any more. Splitting a customer's message off
into a ticket of its own, and moving a ticket to another requester (contacts merged)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Max

from patron.core.errors import IllegalTransition, InvalidInput, NotAllowed
from patron.people.models import CustomFieldDefinition, Role
from patron.tickets import merging, services
from patron.tickets.models import EventKind, Message, Status, Ticket, TicketEvent
from tests import factories


def make_agent(role: str = Role.AGENT, **kwargs: Any) -> User:
    """An agent without a password hash: hashing is slow and these tests never log in."""
    return factories.agent(role, password=None, **kwargs)


def last_event_id() -> int:
    return TicketEvent.objects.aggregate(last=Max("id"))["last"] or 0


def events_after(mark: int) -> list[tuple[str, int, dict[str, Any]]]:
    """The kind, ticket and data of every event written after `mark`, oldest first."""
    rows = TicketEvent.objects.filter(id__gt=mark).order_by("id")
    return [(event.kind, event.ticket_id, event.data) for event in rows]


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

    merging.merge_tickets(source, target, actor=agent, now=later(now))

    assert set(target.messages.values_list("pk", flat=True)) == source_messages | target_messages
    assert not Message.objects.filter(ticket=source).exists()


@pytest.mark.django_db
def test_it_counts_the_moved_messages_on_both_tickets(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    merging.merge_tickets(source, target, actor=agent, now=later(now))

    assert Ticket.objects.get(pk=target.pk).message_count == 3
    assert Ticket.objects.get(pk=source.pk).message_count == 0


@pytest.mark.django_db
def test_it_moves_the_events_of_the_merged_ticket_to_the_survivor(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    source_events = set(source.events.values_list("pk", flat=True))

    merging.merge_tickets(source, target, actor=agent, now=later(now))

    assert source_events <= set(target.events.values_list("pk", flat=True))
    assert list(source.events.values_list("kind", flat=True)) == [EventKind.MERGED]


@pytest.mark.django_db
def test_it_records_merged_on_the_source_and_merged_in_on_the_survivor(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    mark = last_event_id()

    merging.merge_tickets(source, target, actor=agent, now=later(now))

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
    merging.merge_tickets(source, target, actor=agent, now=later(now))

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
    merging.merge_tickets(source, target, actor=agent, now=later(now))

    survivor = Ticket.objects.get(pk=target.pk)
    assert survivor.merged_into_id is None
    assert survivor.status == Status.NEW
    assert survivor.updated_at == later(now)


@pytest.mark.django_db
def test_it_points_tickets_merged_into_the_source_at_the_survivor(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    earlier = factories.ticket(now=now)
    merging.merge_tickets(earlier, source, actor=agent, now=now)

    merging.merge_tickets(source, target, actor=agent, now=later(now))

    assert Ticket.objects.get(pk=earlier.pk).merged_into_id == target.pk


@pytest.mark.django_db
def test_it_gives_the_survivor_the_union_of_the_followers(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    both, only_source, only_target = make_agent(), make_agent(), make_agent()
    source.followers.add(both, only_source)
    target.followers.add(both, only_target)

    merging.merge_tickets(source, target, actor=agent, now=later(now))

    assert set(target.followers.all()) == {both, only_source, only_target}


@pytest.mark.django_db
def test_it_returns_the_survivor_refreshed(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    survivor = merging.merge_tickets(source, target, actor=agent, now=later(now))

    assert survivor.pk == target.pk
    assert survivor.message_count == 3
    assert source.merged_into_id == target.pk


@pytest.mark.django_db
def test_it_refuses_to_merge_a_ticket_into_itself(
    now: datetime, agent: User, target: Ticket
) -> None:
    mark = last_event_id()

    with pytest.raises(IllegalTransition, match="A ticket cannot be merged into itself"):
        merging.merge_tickets(target, target, actor=agent, now=now)

    assert not TicketEvent.objects.filter(id__gt=mark).exists()


@pytest.mark.django_db
def test_it_refuses_to_merge_an_already_merged_ticket(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    merging.merge_tickets(source, target, actor=agent, now=now)
    third = factories.ticket(now=now)
    mark = last_event_id()

    with pytest.raises(
        IllegalTransition,
        match=rf"Ticket #{source.number} was merged into #{target.number}; work there instead",
    ):
        merging.merge_tickets(source, third, actor=agent, now=later(now))

    assert not TicketEvent.objects.filter(id__gt=mark).exists()
    assert Ticket.objects.get(pk=third.pk).message_count == 1


@pytest.mark.django_db
def test_it_refuses_to_merge_into_a_merged_ticket(
    now: datetime, agent: User, source: Ticket, target: Ticket
) -> None:
    merging.merge_tickets(source, target, actor=agent, now=now)
    third = factories.ticket(now=now)

    with pytest.raises(IllegalTransition, match=rf"merged into #{target.number}"):
        merging.merge_tickets(third, source, actor=agent, now=later(now))

    assert Ticket.objects.get(pk=third.pk).merged_into_id is None


@pytest.mark.django_db
def test_it_refuses_to_merge_a_closed_ticket(now: datetime, agent: User, target: Ticket) -> None:
    closed = factories.ticket(now=now)
    services.change_status(closed, Status.SOLVED, actor=agent, now=now)
    services.change_status(closed, Status.CLOSED, actor=agent, now=now)

    with pytest.raises(IllegalTransition, match=rf"#{closed.number} is closed"):
        merging.merge_tickets(closed, target, actor=agent, now=later(now))


@pytest.mark.django_db
def test_it_refuses_a_merge_by_a_light_agent(now: datetime, source: Ticket, target: Ticket) -> None:
    light = make_agent(Role.LIGHT_AGENT)

    with pytest.raises(NotAllowed, match="Light agents"):
        merging.merge_tickets(source, target, actor=light, now=now)

    assert Ticket.objects.get(pk=source.pk).merged_into_id is None


@pytest.mark.django_db
def test_it_refuses_a_merge_into_a_ticket_the_agent_cannot_see(now: datetime) -> None:
    billing, sales = factories.team("Billing"), factories.team("Sales")
    seller = make_agent(teams=(sales,), restricted=True)
    mine = factories.ticket(now=now, team=sales)
    theirs = factories.ticket(now=now, team=billing)

    with pytest.raises(NotAllowed, match=rf"#{theirs.number} belongs to a team you are not in"):
        merging.merge_tickets(mine, theirs, actor=seller, now=now)


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
    merging.merge_tickets(source, target, actor=agent, now=now)
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


# split_message


@pytest.fixture
def split(now: datetime, target: Ticket) -> Message:
    """A second customer message on `target`, about something else."""
    return services.add_customer_message(
        target, contact=target.requester, body="Also, my invoice is wrong", now=now
    )


@pytest.mark.django_db
def test_it_splits_a_customer_message_into_a_new_ticket_like_the_old_one(
    now: datetime, agent: User, target: Ticket, split: Message
) -> None:
    team = factories.team()
    services.change_team(target, team, actor=agent, now=now)
    services.change_priority(target, "high", actor=agent, now=now)
    services.change_type(target, "problem", actor=agent, now=now)
    numbers = set(Ticket.objects.values_list("number", flat=True))

    new = merging.split_message(target, split, actor=agent, now=later(now))

    new.refresh_from_db()
    assert new.number == max(numbers) + 1
    assert (new.subject, new.channel, new.priority, new.type) == (
        target.subject, target.channel, "high", "problem",
    )  # fmt: skip
    assert (new.requester_id, new.organization_id) == (
        target.requester_id, target.requester.organization_id,
    )  # fmt: skip
    assert (new.team_id, new.assignee_id, new.status) == (team.pk, None, Status.OPEN)
    assert (new.created_at, new.updated_at, new.custom_fields) == (later(now), later(now), {})
    assert list(new.tags.all()) == []
    assert list(Message.objects.filter(ticket=new)) == [split]
    assert split.ticket_id == new.pk
    old = Ticket.objects.get(pk=target.pk)
    assert (new.message_count, old.message_count, old.updated_at) == (1, 1, later(now))


@pytest.mark.django_db
def test_it_records_the_split_on_both_tickets_and_adds_no_message(
    now: datetime, agent: User, target: Ticket, split: Message
) -> None:
    mark = last_event_id()

    new = merging.split_message(target, split, actor=agent, now=later(now))

    assert events_after(mark) == [
        ("created", new.pk, {
            "channel": target.channel, "subject": target.subject, "priority": target.priority,
            "split_from": target.number, "message_id": split.pk,
        }),
        ("split_off", target.pk, {"into": new.number, "into_id": new.pk, "message_id": split.pk}),
    ]  # fmt: skip
    assert set(TicketEvent.objects.filter(id__gt=mark).values_list("actor_agent", flat=True)) == {
        agent.pk
    }


@pytest.mark.django_db
def test_it_splits_even_when_tickets_have_required_fields(
    now: datetime, agent: User, target: Ticket, split: Message
) -> None:
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="order", label="Order", field_type="text", required=True
    )

    new = merging.split_message(target, split, actor=agent, now=later(now))

    assert Ticket.objects.get(pk=new.pk).custom_fields == {}


@pytest.mark.django_db
def test_it_refuses_to_split_off_the_only_message(
    now: datetime, agent: User, target: Ticket
) -> None:
    only = target.messages.get()

    with pytest.raises(IllegalTransition, match=f"the only message on ticket #{target.number}"):
        merging.split_message(target, only, actor=agent, now=now)

    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_it_refuses_to_split_a_message_of_another_ticket(
    now: datetime, agent: User, source: Ticket, target: Ticket, split: Message
) -> None:
    with pytest.raises(InvalidInput, match=f"not on ticket #{source.number}"):
        merging.split_message(source, split, actor=agent, now=now)


@pytest.mark.django_db
def test_it_refuses_to_split_an_agents_message(
    now: datetime, agent: User, target: Ticket, split: Message
) -> None:
    note = services.add_note(target, author=agent, body="Checking", now=now)
    reply = services.reply(target, author=agent, body="On it", now=now)

    for message in (note, reply):
        with pytest.raises(InvalidInput, match="Only a customer's message"):
            merging.split_message(target, message, actor=agent, now=now)


@pytest.mark.django_db
def test_it_refuses_a_split_by_a_light_agent(now: datetime, target: Ticket, split: Message) -> None:
    light = make_agent(Role.LIGHT_AGENT)
    mark = last_event_id()

    with pytest.raises(NotAllowed):
        merging.split_message(target, split, actor=light, now=now)

    assert events_after(mark) == []


@pytest.mark.django_db
def test_it_refuses_to_split_a_closed_ticket(
    now: datetime, agent: User, target: Ticket, split: Message
) -> None:
    services.change_status(target, Status.SOLVED, actor=agent, now=now)
    services.change_status(target, Status.CLOSED, actor=agent, now=now)

    with pytest.raises(IllegalTransition, match=f"Ticket #{target.number} is closed"):
        merging.split_message(target, split, actor=agent, now=later(now))

    assert Ticket.objects.count() == 1


# change_requester


@pytest.mark.django_db
def test_it_moves_a_ticket_to_another_requester_and_their_organization(
    now: datetime, agent: User, target: Ticket
) -> None:
    acme = factories.organization(now=now, name="Acme")
    other = factories.contact(now=now, organization=acme)
    old = target.requester_id
    mark = last_event_id()

    merging.change_requester(target, other, actor=agent, now=later(now))

    assert events_after(mark) == [("requester_changed", target.pk, {"from": old, "to": other.pk})]
    refreshed = Ticket.objects.get(pk=target.pk)
    assert (refreshed.requester_id, refreshed.organization_id) == (other.pk, acme.pk)


@pytest.mark.django_db
def test_it_writes_no_event_when_the_requester_is_the_same(
    now: datetime, agent: User, target: Ticket
) -> None:
    mark = last_event_id()

    merging.change_requester(target, target.requester, actor=agent, now=now)

    assert events_after(mark) == []


@pytest.mark.django_db
def test_it_refuses_a_requester_change_by_a_light_agent(now: datetime, target: Ticket) -> None:
    light = factories.agent(Role.LIGHT_AGENT, password=None)

    with pytest.raises(NotAllowed, match="Only agents can change contacts"):
        merging.change_requester(target, factories.contact(now=now), actor=light, now=now)

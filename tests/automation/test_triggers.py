"""Triggers: saved and validated by admins, run as the `triggers` consumer of ticket events,
acting through the ticket services as a named rule, once per event, and never in a loop."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from patron.automation import actions, services
from patron.automation.models import Firing, Trigger
from patron.core import events
from patron.core.errors import InvalidInput, NotAllowed
from patron.notifications.models import RULE_ALERT, Notification
from patron.people.models import Role
from patron.tickets import services as tickets
from patron.tickets.events import SystemActor, record_system_event
from patron.tickets.models import AuthorKind, EventKind, Ticket, TicketEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> User:
    return factories.agent(Role.ADMIN)


def drain(now: datetime) -> None:
    events.deliver_pending(now=lambda: now + timedelta(seconds=1))


def trigger(admin: User, now: datetime, **values: object) -> Trigger:
    values.setdefault("name", f"Rule {Trigger.objects.count() + 1}")
    values.setdefault("moments", ["created"])
    return services.save_trigger(None, values, actor=admin, now=now)


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def test_a_trigger_acts_on_a_matching_new_ticket_and_names_itself_on_every_change(
    admin: User, now: datetime
) -> None:
    manager = factories.agent()
    client = factories.organization(now=now, relationship="client", account_manager=manager)
    urgent = trigger(
        admin,
        now,
        name="Client tickets to their manager",
        rule={"all": [{"field": "relationship", "op": "eq", "value": "client"}]},
        actions=[
            {"type": "assign", "to": "account_manager"},
            {"type": "set_priority", "value": "high"},
            {"type": "add_tags", "value": "client, vip"},
        ],
    )
    ticket = factories.ticket(now=now, requester=factories.contact(now=now, organization=client))
    other = factories.ticket(now=now)

    drain(now)

    ticket = fresh(ticket)
    assert ticket.assignee_id == manager.pk and ticket.priority == "high"
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["client", "vip"]
    made = TicketEvent.objects.filter(ticket=ticket, actor_kind=AuthorKind.RULE)
    assert {e.actor_name for e in made} == {"Trigger: Client tickets to their manager"}
    assert all(e.data["rule_chain"] == [urgent.pk] for e in made)
    assert {e.kind for e in made} == {EventKind.ASSIGNED, EventKind.FIELD_CHANGED}
    assert fresh(other).assignee_id is None  # not a client: the rule did not match
    firing = Firing.objects.get(ticket=ticket)
    assert firing.outcome == Firing.Outcome.ACTED and "Assign the account manager" in firing.detail


def test_a_redelivered_event_does_not_act_twice(admin: User, now: datetime) -> None:
    trigger(admin, now, actions=[{"type": "add_tags", "value": ["seen"]}])
    ticket = factories.ticket(now=now)
    drain(now)
    created = TicketEvent.objects.get(ticket=ticket, kind=EventKind.CREATED)

    services.run_triggers(created)  # as a retried delivery would

    assert Firing.objects.filter(event=created).count() == 1
    assert TicketEvent.objects.filter(ticket=ticket, actor_kind=AuthorKind.RULE).count() == 1


def test_triggers_run_in_order_and_each_sees_what_the_one_before_did(
    admin: User, now: datetime
) -> None:
    trigger(admin, now, name="first", actions=[{"type": "set_priority", "value": "urgent"}])
    trigger(
        admin,
        now,
        name="second",
        rule={"all": [{"field": "priority", "op": "eq", "value": "urgent"}]},
        actions=[{"type": "add_tags", "value": ["escalated"]}],
    )
    ticket = factories.ticket(now=now)

    drain(now)

    assert list(fresh(ticket).tags.values_list("name", flat=True)) == ["escalated"]


def test_a_trigger_does_not_retrigger_itself_on_its_own_change(admin: User, now: datetime) -> None:
    # On every update, flip the priority: without the loop guard this would never end.
    trigger(
        admin,
        now,
        moments=["created", "updated"],
        actions=[
            {"type": "add_tags", "value": ["touched"]},
            {"type": "set_priority", "value": "low"},
        ],
    )
    ticket = factories.ticket(now=now)

    drain(now)

    assert Firing.objects.filter(ticket=ticket).count() == 1
    assert fresh(ticket).priority == "low"


def test_two_triggers_that_undo_each_other_stop_at_the_chain_limit(
    admin: User, now: datetime
) -> None:
    moments = ["created", "updated"]

    def priority(op: str) -> dict[str, object]:
        return {"all": [{"field": "priority", "op": op, "value": "high"}]}

    up = [{"type": "set_priority", "value": "high"}]
    down = [{"type": "set_priority", "value": "low"}]
    trigger(admin, now, name="up", moments=moments, rule=priority("ne"), actions=up)
    trigger(admin, now, name="down", moments=moments, rule=priority("eq"), actions=down)
    ticket = factories.ticket(now=now)

    drain(now)

    # On "created", up then down (each sees the ticket as the one before left it); on down's
    # event, up again; on that event both are in its chain, so it ends there.
    rule_events = TicketEvent.objects.filter(ticket=ticket, actor_kind=AuthorKind.RULE)
    chains = [e.data["rule_chain"] for e in rule_events.order_by("id")]
    first, second = Trigger.objects.order_by("position").values_list("pk", flat=True)
    assert chains == [[first], [second], [second, first]]
    assert fresh(ticket).priority == "high"


def test_a_ticket_takes_at_most_the_cap_of_firings_a_minute(admin: User, now: datetime) -> None:
    agent = factories.agent()
    trigger(admin, now, moments=["message_added"], actions=[{"type": "notify", "to": agent.pk}])
    ticket = factories.ticket(now=now)
    for n in range(services.MAX_FIRINGS_PER_MINUTE + 3):
        tickets.add_note(ticket, author=agent, body=f"note {n}", now=now + timedelta(seconds=1))
    drain(now)

    outcomes = list(Firing.objects.filter(ticket=ticket).values_list("outcome", flat=True))
    assert outcomes.count(Firing.Outcome.ACTED) == services.MAX_FIRINGS_PER_MINUTE
    assert outcomes.count(Firing.Outcome.CAPPED) == 3
    assert Notification.objects.filter(recipient=agent, reason=RULE_ALERT).count() == 30


def test_an_action_that_cannot_be_done_is_logged_and_the_rest_still_run(
    admin: User, now: datetime
) -> None:
    trigger(
        admin,
        now,
        actions=[
            {"type": "assign", "to": "account_manager"},
            {"type": "set_priority", "value": "high"},
        ],
    )
    ticket = factories.ticket(now=now)  # a customer with no organization: no account manager

    drain(now)

    firing = Firing.objects.get(ticket=ticket)
    assert firing.outcome == Firing.Outcome.FAILED
    assert "no account manager" in firing.detail and "Set priority to high" in firing.detail
    assert fresh(ticket).priority == "high"


def test_an_sla_breach_on_a_client_ticket_can_alert_the_account_manager(
    admin: User, now: datetime
) -> None:
    manager = factories.agent()
    client = factories.organization(now=now, relationship="client", account_manager=manager)
    rule = {"all": [{"field": "relationship", "op": "eq", "value": "client"}]}
    alert = [{"type": "notify", "to": "account_manager"}]
    trigger(admin, now, moments=["sla_breached"], rule=rule, actions=alert)
    ticket = factories.ticket(now=now, requester=factories.contact(now=now, organization=client))
    drain(now)
    with transaction.atomic():
        record_system_event(ticket, EventKind.SLA_BREACHED, by=SystemActor.system("SLA"), at=now)
    drain(now)

    # One notification per person and event: the manager is told once, by the rule.
    told = Notification.objects.filter(recipient=manager, reason=RULE_ALERT)
    assert [n.event.kind for n in told] == [EventKind.SLA_BREACHED]


def test_a_desk_without_triggers_writes_no_receipts_for_them(now: datetime) -> None:
    ticket = factories.ticket(now=now)
    created = TicketEvent.objects.get(ticket=ticket, kind=EventKind.CREATED)
    assert not services.wanted(created)
    assert not created.deliveries.filter(consumer="triggers").exists()


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"moments": []}, "When: pick at least one moment"),
        ({"moments": ["sometimes"]}, "sometimes is not one of"),
        ({"actions": []}, "at least one action"),
        ({"actions": [{"type": "delete_everything"}]}, "'delete_everything' is not one of"),
        ({"actions": [{"type": "set_status", "value": "gone"}]}, "Set status: 'gone'"),
        ({"actions": [{"type": "assign", "to": "nobody@x"}]}, "is not a person's id"),
        ({"actions": [{"type": "add_tags", "value": " , "}]}, "name at least one tag"),
        ({"rule": {"all": [{"field": "colour", "op": "eq", "value": "red"}]}}, "colour"),
        ({"name": " "}, "give the trigger a name"),
    ],
)
def test_a_wrong_trigger_is_refused_with_a_reason_and_nothing_saved(
    admin: User, now: datetime, values: dict[str, object], error: str
) -> None:
    values = {
        "name": "x",
        "moments": ["created"],
        "actions": [{"type": "add_tags", "value": "a"}],
    } | values
    with pytest.raises(InvalidInput, match=error):
        services.save_trigger(None, values, actor=admin, now=now)
    assert not Trigger.objects.exists()


def test_only_admins_manage_triggers(now: datetime) -> None:
    with pytest.raises(NotAllowed):
        services.save_trigger(
            None,
            {"name": "x", "moments": ["created"], "actions": [{"type": "add_tags", "value": "a"}]},
            actor=factories.agent(),
            now=now,
        )


def test_a_trigger_reads_as_a_sentence_and_previews_the_tickets_it_would_match(
    admin: User, now: datetime
) -> None:
    rule = {"all": [{"field": "priority", "op": "eq", "value": "urgent"}]}
    saved = trigger(
        admin, now, name="urgent", rule=rule, actions=[{"type": "notify", "to": "assignee"}]
    )
    urgent = factories.ticket(now=now, priority="urgent")
    factories.ticket(now=now)

    assert services.describe(saved) == (
        "When ticket is created, if Priority is Urgent: Notify the assignee"
    )
    count, shown = services.preview(rule)
    assert count == 1 and [t.pk for t in shown] == [urgent.pk]


def test_every_action_has_words() -> None:
    assert [label for _, label in actions.KINDS][:2] == ["Set status", "Set priority"]

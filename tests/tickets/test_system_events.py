"""Events no person makes: the system, a bot or a rule, each named, through one road."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.db import transaction

from patron.tickets import events, services
from patron.tickets.events import SystemActor, record
from patron.tickets.models import AuthorKind, EventKind, Ticket, TicketEvent
from tests import factories


@pytest.fixture
def ticket(now: datetime) -> Ticket:
    return factories.ticket(now=now)


def system_event(
    ticket: Ticket, by: SystemActor, now: datetime, cause: TicketEvent | None = None
) -> TicketEvent:
    with transaction.atomic():
        return events.record_system_event(
            ticket, EventKind.FIELD_CHANGED, by=by, at=now, cause=cause, field="priority", to="high"
        )


@pytest.mark.django_db
def test_a_system_event_is_named_and_has_no_person_behind_it(ticket: Ticket, now: datetime) -> None:
    event = system_event(ticket, SystemActor.system("SLA"), now)

    event.refresh_from_db()
    assert (event.actor_kind, event.actor_name) == (AuthorKind.SYSTEM, "SLA")
    assert event.actor_agent_id is None and event.actor_contact_id is None
    assert event.actor_label() == "SLA"
    assert "rule_chain" not in event.data


@pytest.mark.django_db
def test_a_bot_event_is_a_bot_event(ticket: Ticket, now: datetime) -> None:
    event = system_event(ticket, SystemActor.bot("Copilot triage"), now)

    assert (event.actor_kind, event.actor_label()) == (AuthorKind.BOT, "Copilot triage")


@pytest.mark.django_db
def test_a_rule_event_carries_the_chain_of_rules_behind_it(ticket: Ticket, now: datetime) -> None:
    first = system_event(ticket, SystemActor.rule(7, "Rule: VIPs are urgent"), now)
    second = system_event(ticket, SystemActor.rule(9, "Rule: urgent to Tier 2"), now, cause=first)

    assert first.actor_kind == AuthorKind.RULE
    assert events.rule_chain(first) == [7]
    assert events.rule_chain(second) == [7, 9]
    assert events.may_trigger(11, second)
    assert not events.may_trigger(7, second)


@pytest.mark.django_db
def test_a_rule_cannot_act_again_on_what_its_own_action_caused(
    ticket: Ticket, now: datetime
) -> None:
    rule = SystemActor.rule(7, "Rule: VIPs are urgent")
    first = system_event(ticket, rule, now)
    before = TicketEvent.objects.count()

    with pytest.raises(events.RuleLoop, match="Rule: VIPs are urgent would act again"):
        system_event(ticket, rule, now, cause=first)
    assert TicketEvent.objects.count() == before


@pytest.mark.django_db
def test_a_chain_of_rules_stops_at_its_limit(ticket: Ticket, now: datetime) -> None:
    cause = None
    for rule_id in range(1, events.MAX_RULE_CHAIN + 1):
        cause = system_event(ticket, SystemActor.rule(rule_id, f"Rule {rule_id}"), now, cause=cause)

    with pytest.raises(events.RuleLoop):
        system_event(ticket, SystemActor.rule(99, "Rule 99"), now, cause=cause)


@pytest.mark.django_db
def test_an_event_that_an_agent_made_has_no_rule_chain(ticket: Ticket, now: datetime) -> None:
    agent = factories.agent(password=None)
    services.change_priority(ticket, "high", actor=agent, now=now)
    event = TicketEvent.objects.filter(ticket=ticket).last()

    assert events.rule_chain(event) == []
    assert events.may_trigger(1, event)


@pytest.mark.django_db
def test_a_kind_missing_from_event_kind_is_refused(ticket: Ticket, now: datetime) -> None:
    with transaction.atomic(), pytest.raises(ValueError, match="not an EventKind"):
        record(ticket, "sla_breached_typo", actor=None, at=now)
    assert not TicketEvent.objects.filter(kind="sla_breached_typo").exists()

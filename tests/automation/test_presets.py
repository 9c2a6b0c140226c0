"""The per-segment presets, scenario by scenario: clients' account managers hear of urgent
tickets and SLA trouble at once, customers' breached tickets go up in priority."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from patron.automation import services
from patron.automation.models import Firing
from patron.automation.presets import CLIENT_PRESETS, CUSTOMER_PRESETS
from patron.core import events
from patron.notifications.models import RULE_ALERT, Notification
from patron.people.models import Contact, Role
from patron.tickets import services as tickets
from patron.tickets.events import SystemActor, record_system_event
from patron.tickets.models import EventKind, Ticket
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def presets(now: datetime) -> None:
    services.install_presets(CLIENT_PRESETS + CUSTOMER_PRESETS, now=now)


@pytest.fixture
def manager() -> User:
    return factories.agent()


@pytest.fixture
def client(now: datetime, manager: User) -> Contact:
    org = factories.organization(now=now, relationship="client", account_manager=manager)
    return factories.contact(now=now, organization=org)


def drain(now: datetime) -> None:
    events.deliver_pending(now=lambda: now + timedelta(seconds=1))


def alerts(user: User) -> list[str]:
    told = Notification.objects.filter(recipient=user, reason=RULE_ALERT).order_by("id")
    return [n.event.kind for n in told]


def sla_event(ticket: Ticket, kind: EventKind, now: datetime) -> None:
    with transaction.atomic():
        record_system_event(ticket, kind, by=SystemActor.system("SLA"), at=now)
    drain(now)


def test_installing_twice_adds_nothing(now: datetime) -> None:
    assert services.install_presets(CLIENT_PRESETS + CUSTOMER_PRESETS, now=now) == []


def test_an_urgent_client_ticket_escalates_to_the_account_manager_once(
    now: datetime, client: Contact, manager: User
) -> None:
    ticket = factories.ticket(now=now, requester=client, priority="urgent")
    drain(now)
    agent = factories.agent()
    tickets.add_note(ticket, author=agent, body="Looking", now=now + timedelta(minutes=1))
    drain(now)

    assert list(ticket.tags.values_list("name", flat=True)) == ["escalated"]
    # Told once, about the new ticket (one notification per person and event: the client-waiting
    # consumer's, for the same event), and not again on the note.
    told = Notification.objects.filter(recipient=manager, ticket=ticket)
    assert [n.event.kind for n in told] == [EventKind.CREATED]
    firing = Firing.objects.get(ticket=ticket)
    assert firing.detail == "Add tags escalated; Notify the account manager (1 told)"


def test_a_client_ticket_turning_urgent_escalates_too(
    now: datetime, client: Contact, manager: User
) -> None:
    ticket = factories.ticket(now=now, requester=client)
    drain(now)
    assert alerts(manager) == []
    tickets.change_priority(ticket, "urgent", actor=factories.agent(), now=now)
    drain(now)
    assert alerts(manager) == [EventKind.FIELD_CHANGED]


def test_an_sla_warning_on_a_client_ticket_reaches_the_account_manager(
    now: datetime, client: Contact, manager: User
) -> None:
    ticket = factories.ticket(now=now, requester=client)
    drain(now)
    sla_event(ticket, EventKind.SLA_WARNING, now)
    assert alerts(manager) == [EventKind.SLA_WARNING]


def test_an_sla_breach_on_a_client_ticket_tags_it_and_tells_leads_and_manager(
    now: datetime, client: Contact, manager: User
) -> None:
    team = factories.team()
    lead = factories.agent(Role.SUPERVISOR, teams=(team,))
    ticket = factories.ticket(now=now, requester=client, team=team)
    drain(now)
    sla_event(ticket, EventKind.SLA_BREACHED, now)

    assert "sla-breached" in ticket.tags.values_list("name", flat=True)
    assert alerts(manager) == [EventKind.SLA_BREACHED]
    # The lead hears of it once: the SLA consumer's own notification is for the same event.
    assert (
        Notification.objects.filter(recipient=lead, event__kind=EventKind.SLA_BREACHED).count() == 1
    )


def test_a_breached_customer_ticket_goes_up_to_high_and_a_client_one_does_not(
    now: datetime, client: Contact
) -> None:
    customer_ticket = factories.ticket(now=now)
    client_ticket = factories.ticket(now=now, requester=client)
    drain(now)
    sla_event(customer_ticket, EventKind.SLA_BREACHED, now)
    sla_event(client_ticket, EventKind.SLA_BREACHED, now)

    assert Ticket.objects.get(pk=customer_ticket.pk).priority == "high"
    assert Ticket.objects.get(pk=client_ticket.pk).priority == "normal"

"""The consumers that write notifications: the client-waiting one here (`notify_followers` is
exercised with the event outbox in tests/core/test_events.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User

from patron.core.models import EventDelivery
from patron.notifications import consumers
from patron.notifications.models import Notification
from patron.people.models import Contact, Organization
from patron.tickets import services as tickets
from patron.tickets.models import EventKind, TicketEvent
from tests import factories
from tests.notifications.bell import make_agent, sam_ito

pytestmark = pytest.mark.django_db

CONSUMER = "notify_account_manager"


@pytest.fixture
def sam() -> User:
    return sam_ito()


@pytest.fixture
def manager() -> User:
    return make_agent("maria")


@pytest.fixture
def client_org(now: datetime, manager: User) -> Organization:
    return factories.organization(now=now, relationship="client", account_manager=manager)


@pytest.fixture
def client_contact(now: datetime, client_org: Organization) -> Contact:
    return factories.contact(now=now, organization=client_org, name="Cleo Client")


def manager_notifications(manager: User) -> list[tuple[str, int]]:
    return list(
        Notification.objects.filter(recipient=manager, reason="client_waiting").values_list(
            "event__kind", "ticket__number"
        )
    )


# The client-waiting consumer


def test_a_client_ticket_notifies_the_account_manager_once(
    now: datetime,
    manager: User,
    client_contact: Contact,
    run_on_commit: Callable[[], Any],
) -> None:
    with run_on_commit():
        ticket = factories.ticket(now=now, requester=client_contact, subject="Down")

    assert manager_notifications(manager) == [(EventKind.CREATED, ticket.number)]
    deliveries = EventDelivery.objects.filter(consumer=CONSUMER, event__ticket=ticket)
    assert set(deliveries.values_list("state", flat=True)) == {"done"}
    # Delivered again (at least once): still one notification.
    created = TicketEvent.objects.get(ticket=ticket, kind=EventKind.CREATED)
    consumers.notify_account_manager(created)
    assert len(manager_notifications(manager)) == 1


def test_a_client_reply_notifies_the_account_manager(
    now: datetime,
    manager: User,
    client_contact: Contact,
    run_on_commit: Callable[[], Any],
) -> None:
    ticket = factories.ticket(now=now, requester=client_contact)
    Notification.objects.all().delete()

    with run_on_commit():
        tickets.add_customer_message(ticket, contact=client_contact, body="Any news?", now=now)

    assert manager_notifications(manager) == [(EventKind.MESSAGE_ADDED, ticket.number)]
    assert EventDelivery.objects.filter(consumer=CONSUMER, state="done").count() == 1


def test_a_customer_ticket_notifies_no_account_manager(
    now: datetime, manager: User, run_on_commit: Callable[[], Any]
) -> None:
    shop = factories.organization(now=now, relationship="customer", account_manager=manager)
    customer = factories.contact(now=now, organization=shop)

    with run_on_commit():
        ticket = factories.ticket(now=now, requester=customer)
        tickets.add_customer_message(ticket, contact=customer, body="Hello?", now=now)

    assert manager_notifications(manager) == []


def test_the_managers_own_ticket_for_a_client_does_not_notify_them(
    now: datetime, manager: User, client_contact: Contact, run_on_commit: Callable[[], Any]
) -> None:
    with run_on_commit():
        ticket = factories.ticket(now=now, requester=client_contact, actor=manager)
        tickets.reply(ticket, author=manager, body="On it", now=now, public=True)

    assert manager_notifications(manager) == []


def test_an_agents_reply_or_a_note_on_a_client_ticket_does_not_notify(
    now: datetime,
    manager: User,
    sam: User,
    client_contact: Contact,
    run_on_commit: Callable[[], Any],
) -> None:
    ticket = factories.ticket(now=now, requester=client_contact)
    Notification.objects.all().delete()

    with run_on_commit():
        tickets.reply(ticket, author=sam, body="Looking", now=now, public=True)
        tickets.reply(ticket, author=sam, body="Internal", now=now, public=False)

    assert manager_notifications(manager) == []

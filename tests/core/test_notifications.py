"""The notification bell: sentences newest first, marking read, the unread count, the
client-waiting consumer and the email digest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from patron.core import clock, notifications
from patron.core.models import EventDelivery, Notification
from patron.notifications import views
from patron.people.models import Contact, Organization, Role
from patron.tickets import services as tickets
from patron.tickets.models import EventKind, Ticket, TicketEvent
from tests import factories

pytestmark = pytest.mark.django_db

CONSUMER = "notify_account_manager"


def make_agent(username: str, role: str = Role.AGENT, **kwargs: Any) -> User:
    user = factories.agent(role, username=username, password=None, **kwargs)
    assert isinstance(user, User)
    return user


def notify(
    recipient: User, ticket: Ticket, *, reason: str, at: datetime, kind: str | None = None
) -> Notification:
    """A notification on the ticket's latest event (of a kind), as a consumer would write it."""
    events = TicketEvent.objects.filter(ticket=ticket)
    event = (events.filter(kind=kind) if kind else events).latest("id")
    return Notification.objects.create(
        recipient=recipient, event=event, ticket=ticket, reason=reason, created_at=at
    )


@pytest.fixture
def sam() -> User:
    user = make_agent("sam")
    user.first_name, user.last_name = "Sam", "Ito"
    user.save()
    return user


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


# Reading and marking


def test_notifications_read_as_sentences_newest_first(now: datetime, sam: User) -> None:
    me = make_agent("me")
    refund = factories.ticket(now=now, subject="Refund", actor=sam)
    tickets.reply(refund, author=sam, body="Done", now=now, public=True)
    older = notify(me, refund, reason="your_ticket", at=now, kind=EventKind.MESSAGE_ADDED)
    tickets.assign(refund, me, actor=sam, now=now + timedelta(minutes=1))
    newer = notify(me, refund, reason="assigned_to_you", at=now + timedelta(minutes=1))

    lines = notifications.lines(notifications.for_user(me))

    assert [line.notification for line in lines] == [newer, older]
    assert [line.text for line in lines] == [
        f"Sam Ito assigned #{refund.number} Refund to you",
        f"Sam Ito replied on #{refund.number} Refund",
    ]


def test_a_mention_and_a_waiting_client_are_described(now: datetime, sam: User) -> None:
    me = make_agent("me")
    ticket = factories.ticket(now=now, subject="Outage", actor=sam)

    mention = notify(me, ticket, reason="mentioned", at=now)
    assert notifications.describe(mention).endswith(f"mentioned you on #{ticket.number} Outage")
    mention.reason = "client_waiting"
    assert notifications.describe(mention).startswith("Client ticket waiting")


def test_mark_read_touches_only_the_users_own_notifications(now: datetime, sam: User) -> None:
    me, other = make_agent("me"), make_agent("other")
    ticket = factories.ticket(now=now, actor=sam)
    mine, theirs = notify(me, ticket, reason="x", at=now), notify(other, ticket, reason="x", at=now)

    assert notifications.mark_read(me, [mine.pk, theirs.pk], now) == 1

    assert notifications.unread_count(me) == 0
    assert notifications.unread_count(other) == 1


def test_mark_all_read_clears_the_count(now: datetime, sam: User) -> None:
    me = make_agent("me")
    for _ in range(3):
        notify(me, factories.ticket(now=now, actor=sam), reason="x", at=now)

    notifications.mark_all_read(me, now)

    assert notifications.unread_count(me) == 0
    assert set(Notification.objects.values_list("read_at", flat=True)) == {now}


def test_the_bell_says_how_many_are_unread(now: datetime, sam: User) -> None:
    me = make_agent("me")
    for _ in range(3):
        notify(me, factories.ticket(now=now, actor=sam), reason="x", at=now)
    client = Client()
    client.force_login(me)

    page = client.get(reverse("notification_list")).content.decode()
    fragment = client.get(reverse("notification_bell")).content.decode()

    assert "3 unread notifications" in page
    assert "3 unread notifications" in fragment
    assert "hx-trigger" not in fragment  # the live stream updates it; nothing polls


def test_the_page_lists_newest_first_and_marks_all_read(
    now: datetime, sam: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "now", lambda: now)
    me = make_agent("me")
    first = factories.ticket(now=now, subject="First", actor=sam)
    second = factories.ticket(now=now, subject="Second", actor=sam)
    notify(me, first, reason="x", at=now)
    notify(me, second, reason="x", at=now + timedelta(minutes=5))
    client = Client()
    client.force_login(me)

    page = client.get(reverse("notification_list")).content.decode()
    assert page.index("Second") < page.index("First")
    assert reverse("ticket_detail", args=[first.number]) in page

    client.post(reverse("notification_mark_read"), {"all": "1"})
    assert "0 unread notifications" in client.get(reverse("notification_bell")).content.decode()


def test_opening_a_notification_marks_it_read_and_goes_to_the_ticket(
    now: datetime, sam: User
) -> None:
    me = make_agent("me")
    ticket = factories.ticket(now=now, actor=sam)
    note = notify(me, ticket, reason="x", at=now)
    client = Client()
    client.force_login(me)

    response = client.post(reverse("notification_open", args=[note.pk]))

    assert response["Location"] == reverse("ticket_detail", args=[ticket.number])
    note.refresh_from_db()
    assert note.read_at is not None


def test_the_page_is_paginated(now: datetime, sam: User) -> None:
    me = make_agent("me")
    ticket = factories.ticket(now=now, actor=sam)
    for n in range(views.PAGE_SIZE):
        tickets.reply(ticket, author=sam, body=str(n), now=now, public=False)
    for n, row in enumerate(TicketEvent.objects.filter(ticket=ticket)):
        Notification.objects.create(
            recipient=me, event=row, ticket=ticket, reason="x", created_at=now + timedelta(n)
        )
    client = Client()
    client.force_login(me)

    page = client.get(reverse("notification_list")).content.decode()

    assert "Page 1 of 2" in page and "Older" in page


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
    notifications.notify_account_manager(created)
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


# The email digest


@pytest.fixture(autouse=True)
def _digest_clock(now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(hours=1))


def test_the_digest_sends_one_email_per_agent_with_unread_notifications(
    now: datetime, sam: User, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    busy, idle, caught_up = make_agent("busy"), make_agent("idle"), make_agent("caughtup")
    refund = factories.ticket(now=now, subject="Refund", actor=sam)
    notify(busy, refund, reason="your_ticket", at=now)
    other = factories.ticket(now=now, subject="Invoice", actor=sam)
    notify(busy, other, reason="assigned_to_you", at=now)
    notify(caught_up, other, reason="x", at=now)
    notifications.mark_all_read(caught_up, now)
    assert not Notification.objects.filter(recipient=idle).exists()
    mail.outbox = []

    call_command("notification_digest", "--since-hours", "24")

    assert [message.to for message in mail.outbox] == [["busy@desk.example"]]
    body = mail.outbox[0].body
    assert "You have 2 unread notifications" in body
    assert f"#{refund.number} Refund" in body and f"#{other.number} Invoice" in body


def test_the_digest_leaves_out_notifications_older_than_asked(
    now: datetime, sam: User, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    busy = make_agent("busy")
    notify(busy, factories.ticket(now=now, actor=sam), reason="x", at=now - timedelta(hours=24))
    mail.outbox = []

    call_command("notification_digest", "--since-hours", "24")

    assert mail.outbox == []

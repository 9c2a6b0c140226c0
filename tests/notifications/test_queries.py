"""The bell's reads and marks: sentences newest first, marking read, the unread count, and the
/notifications/ pages."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from patron.core import clock
from patron.notifications import queries as notifications
from patron.notifications import services, views
from patron.notifications.models import Notification
from patron.tickets import services as tickets
from patron.tickets.models import EventKind, TicketEvent
from tests import factories
from tests.notifications.bell import make_agent, notify, sam_ito

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam() -> User:
    return sam_ito()


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
    assert notifications.describe(mention).endswith(f"wrote on #{ticket.number} Outage")


def test_mark_read_touches_only_the_users_own_notifications(now: datetime, sam: User) -> None:
    me, other = make_agent("me"), make_agent("other")
    ticket = factories.ticket(now=now, actor=sam)
    mine, theirs = notify(me, ticket, reason="x", at=now), notify(other, ticket, reason="x", at=now)

    assert services.mark_read(me, [mine.pk, theirs.pk], now) == 1

    assert notifications.unread_count(me) == 0
    assert notifications.unread_count(other) == 1


def test_mark_all_read_clears_the_count(now: datetime, sam: User) -> None:
    me = make_agent("me")
    for _ in range(3):
        notify(me, factories.ticket(now=now, actor=sam), reason="x", at=now)

    services.mark_all_read(me, now)

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

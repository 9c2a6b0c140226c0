"""The ticket page an agent works in: sidebar edits (htmx and plain POST), mentions, attachments,
split and merge, the stale-send warning, presence, customer context and a fixed query count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patron.notifications.models import Notification
from patron.people.models import Role
from patron.tickets import attachments, merging, services
from patron.tickets.models import Message, Ticket
from patron.workspace import presence
from tests import factories

HTMX = {"HX-Request": "true"}  # what htmx sends (HTTP_HX_REQUEST in the WSGI environ)


def make_agent(role: str = Role.AGENT, **kwargs: Any) -> User:
    return factories.agent(role, password=None, **kwargs)


def page_url(ticket: Ticket) -> str:
    return reverse("ticket_detail", args=[ticket.number])


def field_url(ticket: Ticket, field: str) -> str:
    return reverse("ticket_field", args=[ticket.number, field])


def reply_url(ticket: Ticket) -> str:
    return reverse("ticket_reply", args=[ticket.number])


def last_message_id(ticket: Ticket) -> int:
    return int(ticket.messages.order_by("-pk").values_list("pk", flat=True)[0])


@pytest.fixture
def agent(client: Client) -> User:
    user = make_agent(username="sam")
    user.first_name, user.last_name = "Sam", "Ito"
    user.save()
    client.force_login(user)
    return user


@pytest.fixture
def ticket(now: datetime) -> Ticket:
    return factories.ticket(now=now, subject="Parcel never arrived")


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


# The sidebar


@pytest.mark.django_db
def test_it_changes_the_priority_and_returns_the_sidebar_fragment_to_htmx(
    client: Client, agent: User, ticket: Ticket
) -> None:
    response = client.post(field_url(ticket, "priority"), {"value": "high"}, headers=HTMX)

    assert response.status_code == 200
    assert 'id="ticket-sidebar"' in response.text
    assert "<html" not in response.text
    assert '<option value="high" selected>' in response.text
    event = ticket.events.get(kind="field_changed")
    assert event.data == {"field": "priority", "from": "normal", "to": "high"}
    assert event.actor_agent_id == agent.pk


@pytest.mark.django_db
def test_it_redirects_a_field_change_posted_without_javascript(
    client: Client, agent: User, ticket: Ticket
) -> None:
    response = client.post(field_url(ticket, "type"), {"value": "incident"})

    assert response.status_code == 302
    assert response["Location"] == page_url(ticket)
    assert Ticket.objects.get(pk=ticket.pk).type == "incident"


@pytest.mark.django_db
def test_it_assigns_and_tags_through_the_sidebar(
    client: Client, agent: User, ticket: Ticket
) -> None:
    client.post(field_url(ticket, "assignee"), {"value": str(agent.pk)}, headers=HTMX)
    client.post(field_url(ticket, "tags"), {"value": "Refund, vip"}, headers=HTMX)

    ticket.refresh_from_db()
    assert ticket.assignee_id == agent.pk
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["refund", "vip"]


@pytest.mark.django_db
def test_it_shows_a_readable_error_in_the_fragment_for_an_illegal_status(
    client: Client, agent: User, ticket: Ticket
) -> None:
    response = client.post(field_url(ticket, "status"), {"value": "closed"}, headers=HTMX)

    assert response.status_code == 200
    assert f"Solve ticket #{ticket.number} before closing it." in response.text
    assert 'role="alert"' in response.text
    assert not ticket.events.filter(kind="field_changed").exists()


@pytest.mark.django_db
def test_it_follows_and_unfollows_from_the_sidebar(
    client: Client, agent: User, ticket: Ticket
) -> None:
    followed = client.post(
        reverse("ticket_follow", args=[ticket.number]), {"follow": "1"}, headers=HTMX
    )
    assert list(ticket.followers.all()) == [agent]
    assert "Unfollow" in followed.text

    client.post(reverse("ticket_follow", args=[ticket.number]), {"follow": "0"}, headers=HTMX)
    assert not ticket.followers.exists()


@pytest.mark.django_db
def test_it_gives_a_light_agent_the_fields_as_text_without_forms(
    client: Client, ticket: Ticket
) -> None:
    client.force_login(make_agent(Role.LIGHT_AGENT))

    response = client.get(page_url(ticket))

    assert field_url(ticket, "priority") not in response.text
    assert "Normal" in response.text


# The composer


@pytest.mark.django_db
def test_it_makes_a_mentioned_agent_a_follower_and_notifies_them_after_commit(
    client: Client,
    agent: User,
    ticket: Ticket,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    priya = make_agent(username="priya")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reply_url(ticket),
            {"kind": "note", "body": "@priya can you check the courier?", "status": ""},
        )

    assert list(ticket.followers.all()) == [priya]
    notification = Notification.objects.get(recipient=priya)
    assert notification.reason == "mentioned"
    assert ticket.events.get(kind="message_added", data__public=False).data["mentions"] == [
        priya.pk
    ]


@pytest.mark.django_db
def test_it_refuses_an_oversize_attachment_and_creates_nothing(
    client: Client, agent: User, ticket: Ticket, settings: Any, media: None
) -> None:
    settings.PATRON_MAX_ATTACHMENT_BYTES = 10
    events_before = ticket.events.count()
    upload = SimpleUploadedFile("huge.log", b"x" * 11, content_type="text/plain")

    response = client.post(
        reply_url(ticket), {"kind": "reply", "body": "See the log", "attachments": [upload]}
    )

    assert response.status_code == 200
    assert "huge.log is 0.0 MB; attachments may be at most 0 MB." in response.text
    assert "See the log</textarea>" in response.text
    assert ticket.messages.count() == 1
    assert ticket.events.count() == events_before


@pytest.mark.django_db
def test_it_stores_several_attachments_and_lists_them_with_size_and_link(
    client: Client, agent: User, ticket: Ticket, media: None
) -> None:
    files = [
        SimpleUploadedFile("a.txt", b"hello", content_type="text/plain"),
        SimpleUploadedFile("b.html", b"<script>x</script>", content_type="text/html"),
    ]
    client.post(reply_url(ticket), {"kind": "reply", "body": "Two files", "attachments": files})

    message = ticket.messages.get(body_text="Two files")
    names = sorted(message.attachments.values_list("filename", flat=True))
    page = client.get(page_url(ticket))
    assert names == ["a.txt", "b.html"]
    first = message.attachments.get(filename="a.txt")
    assert reverse("ticket_attachment", args=[ticket.number, first.pk]) in page.text
    assert "a.txt</a> (5\xa0bytes)" in page.text


@pytest.mark.django_db
def test_it_serves_an_attachment_as_a_download_that_is_never_sniffed(
    client: Client, agent: User, ticket: Ticket, now: datetime, media: None
) -> None:
    upload = attachments.Upload(
        filename="page.html", content_type="text/html", content=b"<b>hi</b>"
    )
    message = services.reply(ticket, author=agent, body="File", now=now, uploads=[upload])
    attachment = message.attachments.get()

    response = client.get(reverse("ticket_attachment", args=[ticket.number, attachment.pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="page.html"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"<b>hi</b>"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_it_refuses_an_attachment_to_an_agent_restricted_to_another_team(
    client: Client, now: datetime, media: None
) -> None:
    billing, shipping = factories.team("Billing"), factories.team("Shipping")
    ticket = factories.ticket(now=now, team=shipping)
    owner = make_agent()
    upload = attachments.Upload(filename="label.pdf", content_type="application/pdf", content=b"%")
    message = services.reply(ticket, author=owner, body="Label", now=now, uploads=[upload])
    client.force_login(make_agent(teams=(billing,), restricted=True))

    response = client.get(
        reverse("ticket_attachment", args=[ticket.number, message.attachments.get().pk])
    )

    assert response.status_code == 403


@pytest.mark.django_db
def test_it_warns_about_a_newer_message_keeps_the_text_and_sends_nothing(
    client: Client, agent: User, ticket: Ticket, now: datetime
) -> None:
    seen = last_message_id(ticket)
    services.add_customer_message(
        ticket, contact=ticket.requester, body="Found it, never mind", now=now
    )

    response = client.post(
        reply_url(ticket),
        {"kind": "reply", "body": "Let me check", "last_message_id": str(seen)},
    )

    assert response.status_code == 200
    assert "A new message arrived while you were typing" in response.text
    assert "Let me check</textarea>" in response.text
    assert 'name="confirm_stale"' in response.text
    assert not ticket.messages.filter(body_text="Let me check").exists()


@pytest.mark.django_db
def test_it_sends_a_stale_reply_once_the_agent_confirms(
    client: Client, agent: User, ticket: Ticket, now: datetime
) -> None:
    seen = last_message_id(ticket)
    services.add_customer_message(ticket, contact=ticket.requester, body="Any news?", now=now)

    response = client.post(
        reply_url(ticket),
        {
            "kind": "reply",
            "body": "Yes, shipped",
            "last_message_id": str(seen),
            "confirm_stale": "1",
        },
    )

    assert response.status_code == 302
    assert ticket.messages.filter(body_text="Yes, shipped").exists()


# Split and merge


@pytest.mark.django_db
def test_it_splits_a_customer_message_into_a_new_ticket_with_events_on_both(
    client: Client, agent: User, ticket: Ticket, now: datetime
) -> None:
    message = services.add_customer_message(
        ticket, contact=ticket.requester, body="Also, my invoice is wrong", now=now
    )

    response = client.post(reverse("ticket_split", args=[ticket.number, message.pk]))

    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert response["Location"] == page_url(new)
    assert Message.objects.get(pk=message.pk).ticket_id == new.pk
    assert new.requester_id == ticket.requester_id
    assert (new.message_count, Ticket.objects.get(pk=ticket.pk).message_count) == (1, 1)
    created = new.events.get(kind="created")
    assert created.data["split_from"] == ticket.number
    assert ticket.events.get(kind=merging.SPLIT_OFF).data["into"] == new.number


@pytest.mark.django_db
def test_it_refuses_to_split_off_the_only_message(
    client: Client, agent: User, ticket: Ticket
) -> None:
    only = ticket.messages.get()

    response = client.post(reverse("ticket_split", args=[ticket.number, only.pk]), follow=True)

    assert f"That is the only message on ticket #{ticket.number}." in response.text
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_it_merges_this_ticket_into_another_by_number_after_confirmation(
    client: Client, agent: User, ticket: Ticket, now: datetime
) -> None:
    survivor = factories.ticket(now=now, requester=ticket.requester)

    refused = client.post(
        reverse("ticket_merge", args=[ticket.number]), {"into": str(survivor.number)}, follow=True
    )
    assert "Tick the box to confirm the merge" in refused.text
    assert Ticket.objects.get(pk=ticket.pk).merged_into_id is None

    response = client.post(
        reverse("ticket_merge", args=[ticket.number]),
        {"into": f"#{survivor.number}", "confirm": "1"},
    )

    assert response["Location"] == page_url(survivor)
    assert Ticket.objects.get(pk=ticket.pk).merged_into_id == survivor.pk


# Presence


@pytest.mark.django_db
def test_it_shows_another_agent_viewing_and_typing_until_thirty_seconds_pass(
    ticket: Ticket, now: datetime
) -> None:
    priya, sam = make_agent(), make_agent()

    presence.touch(priya, ticket, typing=False, now=now)
    assert [p.user for p in presence.others_on(ticket, viewer=sam, now=now)] == [priya]
    assert presence.others_on(ticket, viewer=priya, now=now) == []

    presence.touch(priya, ticket, typing=True, now=now + timedelta(seconds=10))
    (seen,) = presence.others_on(ticket, viewer=sam, now=now + timedelta(seconds=39))
    assert seen.typing
    assert presence.others_on(ticket, viewer=sam, now=now + timedelta(seconds=41)) == []


@pytest.mark.django_db
def test_it_tells_an_agent_who_else_is_on_the_ticket(
    client: Client, agent: User, ticket: Ticket
) -> None:
    priya = make_agent()
    priya.first_name, priya.last_name = "Priya", "Raman"
    priya.save()
    other = Client()
    other.force_login(priya)
    url = reverse("ticket_presence", args=[ticket.number])

    other.post(url, {"typing": "0"})
    assert "Priya Raman is viewing" in client.get(url).text

    other.post(url, {"typing": "1"})
    assert "Priya Raman is typing a reply" in client.get(page_url(ticket)).text


# Reading the page


@pytest.mark.django_db
def test_it_tells_the_timeline_in_readable_lines(
    client: Client, agent: User, ticket: Ticket, now: datetime
) -> None:
    services.change_priority(ticket, "high", actor=agent, now=now)
    services.assign(ticket, agent, actor=agent, now=now)

    response = client.get(page_url(ticket))

    assert "Sam Ito changed priority from normal to high" in response.text
    assert "Sam Ito assigned the ticket from nobody to Sam Ito" in response.text
    assert '<details class="timeline">' in response.text


@pytest.mark.django_db
def test_it_shows_the_requester_and_organization_beside_the_conversation(
    client: Client, agent: User, now: datetime
) -> None:
    organization = factories.organization(now=now, relationship="client", name="Acme")
    requester = factories.contact(
        now=now, name="Dana Reyes", organization=organization, time_zone="Asia/Tokyo"
    )
    ticket = factories.ticket(now=now, requester=requester, subject="Current")
    factories.ticket(now=now, requester=requester, subject="Older one")

    response = client.get(page_url(ticket))

    assert "(Asia/Tokyo)" in response.text
    assert 'aria-label="Organization"' in response.text
    assert "Client" in response.text
    assert '<dd class="open-tickets">2</dd>' in response.text
    assert "Older one" in response.text


@pytest.mark.django_db
def test_it_links_to_the_previous_and_next_ticket_in_list_order(
    client: Client, agent: User, now: datetime
) -> None:
    oldest = factories.ticket(now=now)
    middle = factories.ticket(now=now + timedelta(minutes=1))
    newest = factories.ticket(now=now + timedelta(minutes=2))

    response = client.get(page_url(middle) + "?view=mine")

    assert f'rel="prev" href="{page_url(newest)}?view=mine"' in response.text
    assert f'rel="next" href="{page_url(oldest)}?view=mine"' in response.text


def _conversation(ticket: Ticket, count: int, *, agent: User, now: datetime) -> None:
    for n in range(count):
        at = now + timedelta(minutes=n + 1)
        if n % 3 == 0:
            services.add_customer_message(ticket, contact=ticket.requester, body=f"C{n}", now=at)
        elif n % 3 == 1:
            upload = attachments.Upload(
                filename=f"l{n}.txt", content_type="text/plain", content=b"x"
            )
            services.add_note(ticket, author=agent, body=f"N{n}", now=at, uploads=[upload])
        else:
            services.reply(ticket, author=make_agent(), body=f"R{n}", now=at)
        services.change_priority(ticket, ["low", "high"][n % 2], actor=agent, now=at)


@pytest.mark.django_db
def test_it_shows_the_workspace_in_the_same_number_of_queries_for_3_or_30_messages(
    client: Client, agent: User, now: datetime, media: None
) -> None:
    organization = factories.organization(now=now, relationship="client")
    requester = factories.contact(now=now, organization=organization, time_zone="Europe/Paris")
    few = factories.ticket(now=now, requester=requester)
    many = factories.ticket(now=now, requester=requester)
    _conversation(few, 2, agent=agent, now=now)
    _conversation(many, 29, agent=agent, now=now)

    counts = []
    for ticket in (few, many):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page_url(ticket))
        assert response.status_code == 200
        counts.append(len(queries))

    assert Ticket.objects.get(pk=many.pk).message_count == 30
    assert counts[0] == counts[1]

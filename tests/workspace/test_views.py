"""The ticket list and ticket page, through Django's test client: access, replies, errors a
person can read, a query count that does not grow with rows, and hostile text kept inert."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patron.people.models import Role, Team
from patron.tickets import attachments, followers, merging, services
from patron.tickets.models import Message, Status, Ticket
from tests import factories

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"


def make_agent(role: str = Role.AGENT, **kwargs: Any) -> User:
    """An agent without a password hash (hashing is slow; these tests log in with force_login)."""
    return factories.agent(role, password=None, **kwargs)


def later(now: datetime, minutes: int = 5) -> datetime:
    return now + timedelta(minutes=minutes)


def list_url() -> str:
    return reverse("ticket_list")


def page_url(ticket: Ticket) -> str:
    return reverse("ticket_detail", args=[ticket.number])


def reply_url(ticket: Ticket) -> str:
    return reverse("ticket_reply", args=[ticket.number])


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.fixture
def agent() -> User:
    return make_agent()


@pytest.fixture
def ticket(now: datetime) -> Ticket:
    return factories.ticket(now=now, subject="Parcel never arrived")


# Who may open the pages


@pytest.mark.django_db
def test_it_sends_an_anonymous_visitor_from_the_list_to_the_login_page(client: Client) -> None:
    response = client.get(list_url())

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={list_url()}"


@pytest.mark.django_db
def test_it_sends_an_anonymous_visitor_from_a_ticket_to_the_login_page(
    client: Client, ticket: Ticket
) -> None:
    response = client.get(page_url(ticket))

    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=")


@pytest.mark.django_db
def test_it_sends_an_anonymous_reply_to_the_login_page_without_creating_a_message(
    client: Client, ticket: Ticket
) -> None:
    response = client.post(reply_url(ticket), {"kind": "reply", "body": "Hi"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_it_refuses_the_list_to_a_user_who_is_not_an_agent(client: Client) -> None:
    outsider = User.objects.create_user(username="outsider")

    response = logged_in(client, outsider).get(list_url())

    assert response.status_code == 403
    assert "Only agents can see the ticket list." in response.text


@pytest.mark.django_db
def test_it_refuses_a_ticket_to_a_user_who_is_not_an_agent(client: Client, ticket: Ticket) -> None:
    outsider = User.objects.create_user(username="outsider")

    response = logged_in(client, outsider).get(page_url(ticket))

    assert response.status_code == 403
    assert "Only agents can open tickets." in response.text


@pytest.mark.django_db
def test_it_shows_a_403_page_with_the_reason_for_another_teams_ticket(
    client: Client, now: datetime
) -> None:
    billing, sales = factories.team("Billing"), factories.team("Sales")
    seller = make_agent(teams=(sales,), restricted=True)
    ticket = factories.ticket(now=now, team=billing)

    response = logged_in(client, seller).get(page_url(ticket))

    assert response.status_code == 403
    assert "patron/403.html" in [template.name for template in response.templates]
    assert f"Ticket #{ticket.number} belongs to a team you are not in." in response.text


@pytest.mark.django_db
def test_it_shows_a_restricted_agent_a_ticket_assigned_to_them_in_another_team(
    client: Client, now: datetime
) -> None:
    billing, sales = factories.team("Billing"), factories.team("Sales")
    seller = make_agent(teams=(sales,), restricted=True)
    ticket = factories.ticket(now=now, team=billing)
    ticket.assignee = seller
    ticket.save(update_fields=["assignee"])

    response = logged_in(client, seller).get(page_url(ticket))

    assert response.status_code == 200


@pytest.mark.django_db
def test_it_refuses_a_reply_from_a_restricted_agent_to_another_teams_ticket(
    client: Client, now: datetime
) -> None:
    billing, sales = factories.team("Billing"), factories.team("Sales")
    seller = make_agent(teams=(sales,), restricted=True)
    ticket = factories.ticket(now=now, team=billing)

    response = logged_in(client, seller).post(reply_url(ticket), {"kind": "reply", "body": "Hi"})

    assert response.status_code == 403
    assert "belongs to a team you are not in" in response.text
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_it_answers_404_for_an_unknown_ticket_number(client: Client, agent: User) -> None:
    response = logged_in(client, agent).get(reverse("ticket_detail", args=[999999]))

    assert response.status_code == 404


@pytest.mark.django_db
def test_it_answers_404_when_replying_to_an_unknown_ticket(client: Client, agent: User) -> None:
    response = logged_in(client, agent).post(
        reverse("ticket_reply", args=[999999]), {"kind": "reply", "body": "Hi"}
    )

    assert response.status_code == 404
    assert not Message.objects.exists()


# The list


@pytest.mark.django_db
def test_it_lists_the_tickets_an_agent_can_see(client: Client, agent: User, ticket: Ticket) -> None:
    response = logged_in(client, agent).get(list_url())

    assert response.status_code == 200
    assert "Parcel never arrived" in response.text
    assert page_url(ticket) in response.text


@pytest.mark.django_db
def test_it_leaves_other_teams_tickets_out_of_a_restricted_agents_list(
    client: Client, now: datetime
) -> None:
    billing, sales = factories.team("Billing"), factories.team("Sales")
    seller = make_agent(teams=(sales,), restricted=True)
    factories.ticket(now=now, team=billing, subject="Invoice is wrong")
    factories.ticket(now=now, team=sales, subject="Upgrade my plan")

    response = logged_in(client, seller).get(list_url())

    assert "Upgrade my plan" in response.text
    assert "Invoice is wrong" not in response.text


@pytest.mark.django_db
def test_it_shows_pending_tickets_in_the_pending_view(
    client: Client, agent: User, now: datetime
) -> None:
    waiting = factories.ticket(now=now, subject="Waiting on customer")
    services.change_status(waiting, Status.PENDING, actor=agent, now=now)
    factories.ticket(now=now, subject="Brand new")

    response = logged_in(client, agent).get(list_url(), {"view": "pending"})

    assert "Waiting on customer" in response.text
    assert "Brand new" not in response.text


@pytest.mark.django_db
def test_it_leaves_merged_tickets_out_of_the_list(
    client: Client, agent: User, now: datetime
) -> None:
    duplicate = factories.ticket(now=now, subject="Duplicate question")
    survivor = factories.ticket(now=now, subject="Original question")
    merging.merge_tickets(duplicate, survivor, actor=agent, now=now)

    response = logged_in(client, agent).get(list_url())

    assert "Original question" in response.text
    assert "Duplicate question" not in response.text


def make_list_tickets(count: int, *, now: datetime, agent: User, team: Team) -> None:
    """Tickets with everything the list shows: requester (named or not), organization,
    assignee, team."""
    organization = factories.organization(now=now, relationship="client")
    for n in range(count):
        requester = factories.contact(
            now=now, name="" if n % 2 else f"Person {n}", organization=organization
        )
        factories.ticket(now=now, requester=requester, team=team, assignee=agent if n % 3 else None)


@pytest.mark.django_db
def test_it_lists_tickets_in_a_number_of_queries_that_does_not_grow_with_rows(
    client: Client, now: datetime
) -> None:
    team = factories.team("Support")
    agent = make_agent(teams=(team,))
    logged_in(client, agent)
    make_list_tickets(5, now=now, agent=agent, team=team)
    with_five = count_queries(client, list_url())

    make_list_tickets(35, now=now, agent=agent, team=team)
    with_forty = count_queries(client, list_url())

    assert with_forty == with_five


# The ticket page


@pytest.mark.django_db
def test_it_shows_the_conversation_on_the_ticket_page(
    client: Client, agent: User, ticket: Ticket, now: datetime
) -> None:
    services.reply(ticket, author=agent, body="It left our warehouse today.", now=later(now))

    response = logged_in(client, agent).get(page_url(ticket))

    assert response.status_code == 200
    assert "Parcel never arrived" in response.text
    assert "I ordered a week ago and nothing came." in response.text
    assert "It left our warehouse today." in response.text
    assert f'action="{reply_url(ticket)}"' in response.text


@pytest.mark.django_db
def test_it_offers_a_light_agent_only_internal_notes(client: Client, ticket: Ticket) -> None:
    light = make_agent(Role.LIGHT_AGENT)

    response = logged_in(client, light).get(page_url(ticket))

    assert response.status_code == 200
    assert 'value="note"' in response.text
    assert 'value="reply"' not in response.text


@pytest.mark.django_db
def test_it_shows_where_a_merged_ticket_went_and_offers_no_reply_box(
    client: Client, agent: User, now: datetime
) -> None:
    duplicate = factories.ticket(now=now)
    survivor = factories.ticket(now=now)
    merging.merge_tickets(duplicate, survivor, actor=agent, now=now)

    response = logged_in(client, agent).get(page_url(duplicate))

    assert response.status_code == 200
    assert "Merged into" in response.text
    assert f'href="{page_url(survivor)}"' in response.text
    assert reply_url(duplicate) not in response.text


def add_messages(ticket: Ticket, count: int, *, agent: User, now: datetime) -> None:
    """Replies from agents and from a nameless contact, notes, and an attachment now and then."""
    nameless = factories.contact(now=now, name="")
    for n in range(count):
        at = later(now, n + 1)
        if n % 3 == 0:
            services.add_customer_message(ticket, contact=nameless, body=f"Customer {n}", now=at)
        elif n % 3 == 1:
            upload = attachments.Upload(
                filename=f"log{n}.txt", content_type="text/plain", content=b"x"
            )
            services.add_note(ticket, author=agent, body=f"Note {n}", now=at, uploads=[upload])
        else:
            services.reply(ticket, author=make_agent(), body=f"Reply {n}", now=at)


@pytest.mark.django_db
def test_it_shows_a_ticket_in_a_number_of_queries_that_does_not_grow_with_messages(
    client: Client, agent: User, now: datetime, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    few = factories.ticket(now=now, requester=factories.contact(now=now, name=""))
    many = factories.ticket(now=now, requester=factories.contact(now=now, name=""))
    add_messages(few, 2, agent=agent, now=now)
    add_messages(many, 29, agent=agent, now=now)
    followers.follow(many, agent, actor=agent, now=now)
    followers.follow(few, agent, actor=agent, now=now)
    logged_in(client, agent)

    with_three = count_queries(client, page_url(few))
    with_thirty = count_queries(client, page_url(many))

    assert Ticket.objects.get(pk=many.pk).message_count == 30
    assert with_thirty == with_three


# Replying through the page


@pytest.mark.django_db
def test_it_adds_a_public_reply_posted_on_the_page_and_redirects_to_the_ticket(
    client: Client, agent: User, ticket: Ticket
) -> None:
    response = logged_in(client, agent).post(
        reply_url(ticket), {"kind": "reply", "body": "On its way.", "status": ""}
    )

    assert response.status_code == 302
    assert response["Location"] == page_url(ticket)
    message = ticket.messages.get(body_text="On its way.")
    assert (message.public, message.author_agent_id) == (True, agent.pk)
    assert list(ticket.events.values_list("kind", flat=True))[-2:] == [
        "message_added",
        "field_changed",
    ]
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


@pytest.mark.django_db
def test_it_adds_an_internal_note_posted_on_the_page(
    client: Client, agent: User, ticket: Ticket
) -> None:
    logged_in(client, agent).post(reply_url(ticket), {"kind": "note", "body": "VIP customer"})

    note = ticket.messages.get(body_text="VIP customer")
    assert not note.public
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


@pytest.mark.django_db
def test_it_sets_the_status_posted_with_a_reply(
    client: Client, agent: User, ticket: Ticket
) -> None:
    logged_in(client, agent).post(
        reply_url(ticket), {"kind": "reply", "body": "Which order?", "status": "pending"}
    )

    assert Ticket.objects.get(pk=ticket.pk).status == Status.PENDING


@pytest.mark.django_db
def test_it_shows_the_reason_when_a_posted_reply_is_empty(
    client: Client, agent: User, ticket: Ticket
) -> None:
    response = logged_in(client, agent).post(
        reply_url(ticket), {"kind": "reply", "body": "   "}, follow=True
    )

    assert response.status_code == 200
    assert "The reply is empty." in response.text
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_it_shows_the_reason_when_a_posted_status_is_unknown(
    client: Client, agent: User, ticket: Ticket
) -> None:
    response = logged_in(client, agent).post(
        reply_url(ticket), {"kind": "reply", "body": "Hi", "status": "done"}, follow=True
    )

    assert "&#x27;done&#x27; is not a status" in response.text
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_it_shows_the_reason_when_replying_to_a_closed_ticket(
    client: Client, agent: User, ticket: Ticket, now: datetime
) -> None:
    services.change_status(ticket, Status.SOLVED, actor=agent, now=now)
    services.change_status(ticket, Status.CLOSED, actor=agent, now=now)

    response = logged_in(client, agent).post(
        reply_url(ticket), {"kind": "reply", "body": "Hello?"}, follow=True
    )

    assert response.status_code == 200
    assert f"Ticket #{ticket.number} is closed and cannot change" in response.text
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_it_gives_a_light_agent_posting_a_public_reply_the_reason_it_is_refused(
    client: Client, ticket: Ticket
) -> None:
    light = make_agent(Role.LIGHT_AGENT)

    response = logged_in(client, light).post(
        reply_url(ticket), {"kind": "reply", "body": "Hi there"}, follow=True
    )

    assert response.status_code == 403
    assert "Light agents cannot reply to customers; add an internal note instead." in (
        response.text
    )
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_it_lets_a_light_agent_post_an_internal_note(client: Client, ticket: Ticket) -> None:
    light = make_agent(Role.LIGHT_AGENT)

    response = logged_in(client, light).post(
        reply_url(ticket), {"kind": "note", "body": "Sales says hi"}
    )

    assert response.status_code == 302
    assert not ticket.messages.get(body_text="Sales says hi").public


@pytest.mark.django_db
def test_it_refuses_a_get_on_the_reply_address(client: Client, agent: User, ticket: Ticket) -> None:
    response = logged_in(client, agent).get(reply_url(ticket))

    assert response.status_code == 405


# Hostile text stays inert


@pytest.fixture
def hostile_ticket(now: datetime) -> Ticket:
    requester = factories.contact(now=now, name=f"Mallory {XSS_IMG}")
    return factories.ticket(
        now=now,
        requester=requester,
        subject=f"Help {XSS_SCRIPT} {XSS_IMG}",
        body=f"Body {XSS_SCRIPT}\n{XSS_IMG}",
        body_html=f"<p>Body</p>{XSS_SCRIPT}{XSS_IMG}",
    )


def assert_inert(html: str) -> None:
    assert XSS_SCRIPT not in html
    assert "<img src=x" not in html
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")


@pytest.mark.django_db
def test_it_escapes_a_hostile_subject_and_body_on_the_ticket_page(
    client: Client, agent: User, hostile_ticket: Ticket
) -> None:
    response = logged_in(client, agent).get(page_url(hostile_ticket))

    assert response.status_code == 200
    assert_inert(response.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


@pytest.mark.django_db
def test_it_escapes_a_hostile_subject_in_the_list(
    client: Client, agent: User, hostile_ticket: Ticket
) -> None:
    response = logged_in(client, agent).get(list_url())

    assert response.status_code == 200
    assert_inert(response.text)
    assert "Help &lt;script&gt;alert(1)&lt;/script&gt;" in response.text


@pytest.mark.django_db
def test_it_escapes_a_hostile_reply_posted_on_the_page(
    client: Client, agent: User, ticket: Ticket
) -> None:
    logged_in(client, agent).post(reply_url(ticket), {"kind": "reply", "body": XSS_SCRIPT})

    response = client.get(page_url(ticket))

    assert_inert(response.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text

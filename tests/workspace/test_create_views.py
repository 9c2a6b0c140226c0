"""The agent's "New ticket" page: the requester found by address or created, nothing
half-created when the ticket is refused, and only agents who may create tickets get the page."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from patron.people.models import Contact, Role
from patron.tickets.models import Channel, Ticket
from tests import factories

URL = reverse("ticket_new")


def logged_in(role: str = Role.AGENT) -> tuple[Client, User]:
    user = factories.agent(role, password=None)
    assert isinstance(user, User)
    client = Client()
    client.force_login(user)
    return client, user


def form(**overrides: object) -> dict[str, object]:
    return {
        "requester_email": "Lena.Fischer@Example.org",
        "requester_name": "Lena Fischer",
        "subject": "Called about a double charge",
        "body": "She was charged twice for order 5521.",
        "channel": Channel.PHONE,
        "priority": "high",
        **overrides,
    }


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.django_db
def test_the_page_offers_the_form_with_the_agent_as_assignee() -> None:
    client, user = logged_in()
    response = client.get(URL)
    assert response.status_code == 200
    assert 'name="requester_email"' in response.text
    assert f'<option value="{user.pk}" selected>' in response.text


@pytest.mark.django_db
def test_a_new_address_becomes_a_contact_and_the_ticket_opens(media: None) -> None:
    client, user = logged_in()
    response = client.post(URL, form(assignee=user.pk))
    ticket = Ticket.objects.get(subject="Called about a double charge")
    assert response.status_code == 302
    assert response["Location"] == reverse("ticket_detail", args=[ticket.number])
    assert ticket.requester.name == "Lena Fischer"
    assert ticket.channel == Channel.PHONE and ticket.priority == "high"
    assert ticket.assignee == user
    first = ticket.messages.get()
    assert first.body_text == "She was charged twice for order 5521."
    assert first.author_agent == user


@pytest.mark.django_db
def test_a_known_address_is_matched_ignoring_case(now: Any, media: None) -> None:
    known = factories.contact(now=now, email="lena.fischer@example.org", name="Lena F.")
    client, _ = logged_in()
    client.post(URL, form(requester_name="Someone Else"))
    assert Ticket.objects.get().requester == known
    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_a_refused_ticket_leaves_no_new_contact(settings: Any, media: None) -> None:
    settings.PATRON_MAX_ATTACHMENT_BYTES = 10
    client, _ = logged_in()
    upload = SimpleUploadedFile("scan.pdf", b"x" * 11, content_type="application/pdf")
    response = client.post(URL, {**form(), "attachments": [upload]})
    assert response.status_code == 400
    assert "scan.pdf" in response.text and "at most" in response.text
    assert not Ticket.objects.exists()
    assert not Contact.objects.exists()
    assert "Called about a double charge" in response.text  # what was typed is kept


@pytest.mark.django_db
def test_a_bad_address_is_refused_with_the_field_named() -> None:
    client, _ = logged_in()
    response = client.post(URL, form(requester_email="not an address"))
    assert response.status_code == 400
    assert "Enter a valid email address." in response.text
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_light_agents_may_not_open_tickets() -> None:
    client, _ = logged_in(Role.LIGHT_AGENT)
    response = client.get(URL)
    assert response.status_code == 403
    assert "Only agents can create tickets" in response.text

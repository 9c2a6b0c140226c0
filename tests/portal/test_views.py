"""The public web form through Django's test client: what it creates, whom it matches, what it
refuses (rate limits, honeypot, oversize files, bad values) and that a refusal leaves nothing."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.people.models import Contact, ContactEmail, CustomFieldDefinition
from patron.portal import services
from patron.portal.models import WebFormSubmission
from patron.tickets.models import Attachment, AuthorKind, EventKind, Message, Ticket
from tests import factories

pytestmark = pytest.mark.django_db

FORM_URL = "/support/new"
RATE_LIMIT_TEXT = "You have sent several requests in a short time; please wait"


def form_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Jo Baker",
        "email": "jo@example.com",
        "subject": "The export button does nothing",
        "message": "I click Export and nothing downloads.",
        "website": "",
    }
    data.update(overrides)
    return data


def post(client: Client, url: str = FORM_URL, **overrides: Any) -> HttpResponse:
    return client.post(url, form_data(**overrides))  # type: ignore[return-value]


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def counts() -> dict[str, int]:
    return {
        "contacts": Contact.objects.count(),
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
        "attachments": Attachment.objects.count(),
        "files": len(stored_files()),
        "submissions": WebFormSubmission.objects.count(),
    }


def ticket_field(key: str, field_type: str, **kwargs: Any) -> CustomFieldDefinition:
    return CustomFieldDefinition.objects.create(
        applies_to="ticket",
        key=key,
        label=kwargs.pop("label", key.replace("_", " ").capitalize()),
        field_type=field_type,
        public=kwargs.pop("public", True),
        **kwargs,
    )


# What a request creates


def test_it_creates_a_contact_and_a_web_ticket_with_events_by_the_contact(client: Client) -> None:
    response = post(client)

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert ticket.channel == "web"
    assert ticket.subject == "The export button does nothing"
    assert ticket.requester.name == "Jo Baker"
    assert ticket.requester.primary_email == "jo@example.com"
    message = ticket.messages.get()
    assert (message.author_kind, message.author_contact) == (AuthorKind.CONTACT, ticket.requester)
    assert message.body_text == "I click Export and nothing downloads."
    events = list(ticket.events.values_list("kind", "actor_kind", "actor_contact"))
    assert events == [
        (EventKind.CREATED, AuthorKind.CONTACT, ticket.requester.pk),
        (EventKind.MESSAGE_ADDED, AuthorKind.CONTACT, ticket.requester.pk),
    ]


def test_it_stores_several_attachments_on_the_first_message(client: Client) -> None:
    files = [
        SimpleUploadedFile("screen.png", b"\x89PNG fake", content_type="image/png"),
        SimpleUploadedFile("log.txt", b"error 42\n", content_type="text/plain"),
    ]

    response = client.post(FORM_URL, {**form_data(), "attachments": files})

    assert response.status_code == 302
    attachments = Attachment.objects.filter(message__ticket=Ticket.objects.get())
    assert sorted(attachments.values_list("filename", "size")) == [
        ("log.txt", 9),
        ("screen.png", 9),
    ]


def test_it_matches_an_existing_contact_ignoring_the_case_of_the_address(
    client: Client, now: datetime
) -> None:
    existing = factories.contact(now=now, email="jo@example.com", name="Jo")

    post(client, email="Jo@Example.com")

    assert Ticket.objects.get().requester == existing
    assert Contact.objects.count() == 1
    assert ContactEmail.objects.count() == 1


def test_it_attaches_a_clients_colleague_to_the_client_organization(
    client: Client, now: datetime
) -> None:
    acme = factories.organization(now=now, name="Acme", relationship="client", domains=("acme.io",))

    post(client, email="new.colleague@acme.io")

    requester = Ticket.objects.get().requester
    assert requester.organization == acme
    assert requester.is_client
    assert Ticket.objects.get().organization == acme


def test_the_thanks_page_shows_the_reference_of_the_new_ticket(client: Client) -> None:
    response = post(client)

    page = client.get(response["Location"])
    ticket = Ticket.objects.get()
    assert page.status_code == 200
    assert f"#{ticket.number}" in page.content.decode()


def test_a_tampered_thanks_token_gives_404(client: Client, now: datetime) -> None:
    other = factories.ticket(now=now, subject="Someone else's secret")
    token = services.thanks_token(other)
    tampered = token[:-2] + ("aa" if not token.endswith("aa") else "bb")
    forged = token.replace(token.split(":")[0], "eyJudW1iZXIiOjF9")

    assert client.get(reverse("web_form_thanks", args=[tampered])).status_code == 404
    assert client.get(reverse("web_form_thanks", args=[forged])).status_code == 404
    assert client.get(reverse("web_form_thanks", args=["1000"])).status_code == 404


def test_the_thanks_page_names_no_subject_or_requester(client: Client) -> None:
    response = post(client, subject="Private matter about my salary")

    page = client.get(response["Location"]).content.decode()

    assert "Private matter" not in page
    assert "jo@example.com" not in page


# Abuse protection


def test_the_honeypot_answers_as_if_accepted_but_creates_nothing(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    before = counts()

    response = post(client, website="http://cheap-pills.example")

    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    assert counts() == before
    assert "honeypot" in caplog.text


def test_the_honeypot_is_labelled_for_screen_readers_and_hidden_from_people(
    client: Client,
) -> None:
    page = client.get(FORM_URL).content.decode()

    assert re.search(r'<div class="trap"><label for="id_website">Leave this field empty', page)
    assert 'tabindex="-1"' in page


def test_too_many_requests_from_one_address_answer_429_and_create_nothing(
    client: Client, settings: SettingsWrapper
) -> None:
    settings.PATRON_WEB_FORM_ADDRESS_LIMIT = 2
    assert post(client).status_code == 302
    assert post(client, email="JO@example.com").status_code == 302
    before = counts()

    response = post(client, subject="A third one")

    assert response.status_code == 429
    text = response.content.decode()
    assert RATE_LIMIT_TEXT in text
    assert "or reply to the email we sent you." in text
    assert int(response["Retry-After"]) > 0
    assert counts() == before
    assert 'value="A third one"' in text  # what was typed is kept


def test_too_many_requests_from_one_ip_answer_429_whatever_the_address(
    client: Client, settings: SettingsWrapper
) -> None:
    settings.PATRON_WEB_FORM_IP_LIMIT = 2
    post(client, email="a@example.com")
    post(client, email="b@example.com")
    before = counts()

    response = post(client, email="c@example.com")

    assert response.status_code == 429
    assert RATE_LIMIT_TEXT in response.content.decode()
    assert counts() == before


# Bad input loses nothing and half-creates nothing


def test_an_oversize_attachment_is_refused_and_nothing_is_half_created(
    client: Client, settings: SettingsWrapper
) -> None:
    settings.PATRON_MAX_ATTACHMENT_BYTES = 1024 * 1024
    big = SimpleUploadedFile("huge.iso", b"x" * (1024 * 1024 + 1), content_type="text/plain")
    small = SimpleUploadedFile("note.txt", b"fine", content_type="text/plain")
    before = counts()

    response = client.post(FORM_URL, {**form_data(), "attachments": [small, big]})

    assert response.status_code == 200
    text = response.content.decode()
    assert "huge.iso is 1.0 MB; attachments may be at most 1 MB." in text
    assert 'id="id_attachments_error"' in text
    assert 'value="The export button does nothing"' in text
    assert "I click Export and nothing downloads.</textarea>" in text
    assert counts() == before


def test_too_many_files_are_refused(client: Client, settings: SettingsWrapper) -> None:
    settings.PATRON_WEB_FORM_MAX_FILES = 1
    files = [SimpleUploadedFile(f"{n}.txt", b"x") for n in range(2)]

    response = client.post(FORM_URL, {**form_data(), "attachments": files})

    assert "You can attach at most 1 files; you chose 2." in response.content.decode()
    assert Ticket.objects.count() == 0


def test_attachments_over_the_total_limit_are_refused(
    client: Client, settings: SettingsWrapper
) -> None:
    settings.PATRON_WEB_FORM_MAX_UPLOAD_MB = 1
    files = [SimpleUploadedFile(f"{n}.bin", b"x" * 700_000) for n in range(2)]

    response = client.post(FORM_URL, {**form_data(), "attachments": files})

    assert "one request may carry at most 1 MB" in response.content.decode()
    assert counts()["tickets"] == 0


def test_an_invalid_email_and_an_empty_message_are_errors_next_to_their_fields(
    client: Client,
) -> None:
    before = counts()

    response = post(client, email="not an address", message="   ")

    text = response.content.decode()
    assert response.status_code == 200
    assert 'aria-describedby="id_email_error"' in text
    assert '<ul class="errorlist" id="id_email_error"><li>Please enter an email address' in text
    assert 'aria-describedby="id_message_error"' in text
    assert "Please write a message." in text
    assert 'value="Jo Baker"' in text
    assert counts() == before


def test_every_input_has_a_label(client: Client) -> None:
    ticket_field("plan", "choice", choices=["Free", "Pro"])
    page = client.get(FORM_URL).content.decode()

    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page)
    labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', page))
    assert ids
    assert set(ids) <= labelled


# Custom fields


def test_public_ticket_fields_are_shown_and_private_ones_are_not(client: Client) -> None:
    ticket_field("order_number", "text", label="Order number")
    ticket_field("seats", "number", label="Seats")
    ticket_field("since", "date", label="Since when")
    ticket_field("plan", "choice", label="Plan", choices=["Free", "Pro"])
    ticket_field("areas", "multi_choice", label="Areas", choices=["Billing", "Export"])
    ticket_field("urgent", "checkbox", label="It blocks my work")
    ticket_field("internal_cost", "number", label="Internal cost", public=False)
    CustomFieldDefinition.objects.create(
        applies_to="contact", key="shoe_size", label="Shoe size", field_type="number", public=True
    )

    page = client.get(FORM_URL).content.decode()

    assert re.search(r'<input type="text" name="custom_order_number"', page)
    assert re.search(r'<input type="number" name="custom_seats" step="any"', page)
    assert re.search(r'<input type="date" name="custom_since"', page)
    assert re.search(r'<select name="custom_plan"', page)
    assert page.count('name="custom_areas"') == 2
    assert re.search(r'<input type="checkbox" name="custom_urgent"', page)
    assert "Internal cost" not in page
    assert "Shoe size" not in page


def test_public_ticket_field_values_are_saved_on_the_ticket(client: Client) -> None:
    ticket_field("seats", "number")
    ticket_field("since", "date")
    ticket_field("plan", "choice", choices=["Free", "Pro"])
    ticket_field("areas", "multi_choice", choices=["Billing", "Export"])
    ticket_field("urgent", "checkbox")
    ticket_field("order_number", "text")

    post(
        client,
        custom_seats="12",
        custom_since="2026-11-01",
        custom_plan="Pro",
        custom_areas=["Export", "Billing"],
        custom_urgent="on",
        custom_order_number="",
    )

    assert Ticket.objects.get().custom_fields == {
        "seats": 12,
        "since": "2026-11-01",
        "plan": "Pro",
        "areas": ["Billing", "Export"],
        "urgent": True,
    }


def test_bad_custom_field_values_are_errors_next_to_their_fields(client: Client) -> None:
    ticket_field("seats", "number", label="Seats")
    ticket_field("plan", "choice", label="Plan", choices=["Free", "Pro"])
    ticket_field("order_number", "text", label="Order number", required=True)
    before = counts()

    response = post(client, custom_seats="many", custom_plan="Platinum")

    text = response.content.decode()
    assert "Seats must be a number, not &#x27;many&#x27;." in text
    assert 'id="id_custom_seats_error"' in text
    assert "Plan must be one of Free, Pro, not &#x27;Platinum&#x27;." in text
    assert "Order number is required." in text
    assert 'aria-describedby="id_custom_order_number_error"' in text
    assert counts() == before


def test_a_forged_post_of_a_private_field_is_ignored(client: Client) -> None:
    ticket_field("internal_cost", "number", public=False)

    post(client, custom_internal_cost="999")

    assert Ticket.objects.get().custom_fields == {}


# Embedding


def test_the_embedded_form_has_no_top_bar_and_may_be_framed(client: Client) -> None:
    response = client.get(FORM_URL, {"embed": "1"})

    assert response.status_code == 200
    assert 'class="topbar"' not in response.content.decode()
    assert "X-Frame-Options" not in response.headers


def test_the_standalone_form_keeps_the_top_bar_and_refuses_framing(client: Client) -> None:
    response = client.get(FORM_URL)

    assert 'class="topbar"' in response.content.decode()
    assert response["X-Frame-Options"] == "DENY"


def test_the_embedded_form_posts_without_a_csrf_cookie_and_stays_embedded(now: datetime) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(f"{FORM_URL}?embed=1", form_data())

    assert response.status_code == 302
    assert response["Location"].endswith("?embed=1")
    thanks = client.get(response["Location"])
    assert 'class="topbar"' not in thanks.content.decode()
    assert "X-Frame-Options" not in thanks.headers
    assert Ticket.objects.count() == 1


def test_a_logged_in_agent_submitting_the_form_acts_for_nobody(client: Client) -> None:
    agent = factories.agent(password=None)
    assert isinstance(agent, User)
    client.force_login(agent)

    post(client)

    event = Ticket.objects.get().events.first()
    assert event is not None
    assert (event.actor_kind, event.actor_agent) == (AuthorKind.CONTACT, None)

"""The web form's service: rate limits counted in the database with an explicit clock, file
limits checked before anything is read, and one transaction for contact, ticket and record."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from patron.core.errors import InvalidInput
from patron.people.models import Contact
from patron.portal import services
from patron.portal.models import WebFormSubmission
from patron.portal.services import RateLimited, WebRequest
from patron.tickets.attachments import Upload
from patron.tickets.models import Ticket

pytestmark = pytest.mark.django_db

IP = "203.0.113.7"


def web_request(**overrides: Any) -> WebRequest:
    values: dict[str, Any] = {
        "name": "Jo Baker",
        "email": "jo@example.com",
        "subject": "Login loop",
        "message": "The login page sends me back to itself.",
    }
    values.update(overrides)
    return WebRequest(**values)


def test_it_refuses_the_sixth_request_from_one_address_within_ten_minutes(now: datetime) -> None:
    for minute in range(5):
        services.submit_request(web_request(), ip=IP, now=now + timedelta(minutes=minute))

    with pytest.raises(RateLimited) as refused:
        services.submit_request(web_request(), ip="198.51.100.1", now=now + timedelta(minutes=6))

    # The first request leaves the window at minute 10, four minutes after minute 6.
    assert refused.value.wait_minutes == 4
    assert str(refused.value) == (
        "You have sent several requests in a short time; please wait 4 minutes "
        "or reply to the email we sent you."
    )
    assert Ticket.objects.count() == 5


def test_it_accepts_the_address_again_once_the_window_has_passed(now: datetime) -> None:
    for minute in range(5):
        services.submit_request(web_request(), ip=IP, now=now + timedelta(minutes=minute))

    services.submit_request(web_request(), ip=IP, now=now + timedelta(minutes=10, seconds=1))

    assert Ticket.objects.count() == 6


def test_the_address_limit_ignores_the_case_of_the_address(now: datetime) -> None:
    for _ in range(5):
        services.submit_request(web_request(email="Jo@Example.com"), ip=IP, now=now)

    with pytest.raises(RateLimited):
        services.submit_request(web_request(email="jo@example.com"), ip="198.51.100.1", now=now)


def test_it_refuses_the_twenty_first_request_from_one_ip_within_an_hour(now: datetime) -> None:
    for n in range(20):
        services.submit_request(
            web_request(email=f"person{n}@example.com"), ip=IP, now=now + timedelta(minutes=n)
        )

    with pytest.raises(RateLimited) as refused:
        services.submit_request(
            web_request(email="new@example.com"), ip=IP, now=now + timedelta(minutes=30)
        )

    assert refused.value.wait_minutes == 30
    assert not Contact.objects.filter(emails__address="new@example.com").exists()


def test_limits_follow_the_settings(now: datetime, settings: SettingsWrapper) -> None:
    settings.PATRON_WEB_FORM_ADDRESS_LIMIT = 1
    settings.PATRON_WEB_FORM_ADDRESS_WINDOW_MINUTES = 2
    services.submit_request(web_request(), ip=IP, now=now)

    with pytest.raises(RateLimited) as refused:
        services.submit_request(web_request(), ip=IP, now=now + timedelta(seconds=30))

    assert refused.value.wait_minutes == 2  # 90 seconds, rounded up


def test_it_keeps_no_address_or_ip_in_clear(now: datetime) -> None:
    services.submit_request(web_request(), ip=IP, now=now)

    row = WebFormSubmission.objects.get()
    assert "jo@example.com" not in (row.address_hash, row.ip_hash)
    assert IP not in (row.address_hash, row.ip_hash)


def test_it_forgets_submissions_older_than_the_longest_window(now: datetime) -> None:
    services.submit_request(web_request(), ip=IP, now=now)

    services.submit_request(web_request(), ip=IP, now=now + timedelta(hours=2))

    assert list(WebFormSubmission.objects.values_list("at", flat=True)) == [
        now + timedelta(hours=2)
    ]


def test_an_oversize_upload_creates_no_contact_and_no_ticket(
    now: datetime, settings: SettingsWrapper
) -> None:
    settings.PATRON_MAX_ATTACHMENT_BYTES = 10
    upload = Upload(filename="big.bin", content_type="application/octet-stream", content=b"x" * 11)

    with pytest.raises(
        InvalidInput, match=re.escape("big.bin is 0.0 MB; attachments may be at most")
    ):
        services.submit_request(web_request(uploads=[upload]), ip=IP, now=now)

    assert (Contact.objects.count(), Ticket.objects.count()) == (0, 0)
    assert WebFormSubmission.objects.count() == 0


def test_a_refused_ticket_rolls_back_the_new_contact(now: datetime) -> None:
    with pytest.raises(InvalidInput, match=re.escape("A ticket needs a subject.")):
        services.submit_request(web_request(subject="   "), ip=IP, now=now)

    assert Contact.objects.count() == 0
    assert WebFormSubmission.objects.count() == 0


def test_a_thanks_token_round_trips_and_a_foreign_one_does_not(now: datetime) -> None:
    ticket = services.submit_request(web_request(), ip=IP, now=now)

    assert services.number_from_thanks_token(services.thanks_token(ticket)) == ticket.number
    assert services.number_from_thanks_token("not-a-token") is None

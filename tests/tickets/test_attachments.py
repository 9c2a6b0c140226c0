"""Files on messages: the size limit, storage, and inline images pointed at their stored copy."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Max

from patron.core.errors import InvalidInput
from patron.tickets import attachments, services
from patron.tickets.models import Attachment, Message, Ticket, TicketEvent
from tests import factories


def last_event_id() -> int:
    return TicketEvent.objects.aggregate(last=Max("id"))["last"] or 0


def events_after(mark: int) -> list[tuple[str, dict[str, Any]]]:
    rows = TicketEvent.objects.filter(id__gt=mark).order_by("id")
    return [(event.kind, event.data) for event in rows]


def later(now: datetime, minutes: int = 5) -> datetime:
    return now + timedelta(minutes=minutes)


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def agent() -> User:
    return factories.agent(password=None)


@pytest.fixture
def ticket(now: datetime) -> Ticket:
    return factories.ticket(now=now)


def served_at(number: int, attachment_id: int) -> str:
    return f"/files/{number}/{attachment_id}"


LOGO = attachments.Upload(
    filename="logo.png", content_type="image/png", content=b"\x89PNG logo", content_id="logo@x"
)


@pytest.mark.django_db
def test_it_stores_an_uploaded_file_with_a_reply(
    now: datetime, agent: User, ticket: Ticket
) -> None:
    upload = attachments.Upload(filename="log.txt", content_type="text/plain", content=b"boom")
    mark = last_event_id()

    message = services.reply(
        ticket, author=agent, body="", now=later(now), uploads=[upload], public=False
    )

    attachment = message.attachments.get()
    assert (attachment.filename, attachment.size) == ("log.txt", 4)
    assert events_after(mark)[0][1]["attachments"] == 1


@pytest.mark.django_db
def test_it_refuses_an_upload_over_the_size_limit(
    now: datetime, agent: User, ticket: Ticket, settings: Any
) -> None:
    settings.PATRON_MAX_ATTACHMENT_BYTES = 1024 * 1024
    upload = attachments.Upload(
        filename="dump.bin", content_type="", content=b"x" * (2 * 1024 * 1024)
    )

    with pytest.raises(
        InvalidInput, match=r"dump\.bin is 2\.0 MB; attachments may be at most 1 MB"
    ):
        services.reply(ticket, author=agent, body="Here", now=later(now), uploads=[upload])

    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_it_stores_a_file_once_with_its_digest_and_a_fallback_name_and_type(
    now: datetime, ticket: Ticket
) -> None:
    upload = attachments.Upload(filename="", content_type="", content=b"data")

    message = services.add_customer_message(
        ticket, contact=ticket.requester, body="See attached", uploads=[upload], now=later(now)
    )

    attachment = message.attachments.get()
    assert (attachment.filename, attachment.content_type, attachment.size) == (
        "attachment", "application/octet-stream", 4,
    )  # fmt: skip
    assert attachment.sha256 == "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7"
    assert attachment.file.read() == b"data"


@pytest.mark.django_db
def test_it_points_inline_images_at_their_stored_files(now: datetime) -> None:
    ticket = services.create_ticket(
        requester=factories.contact(now=now),
        subject="Logo",
        body="See the logo",
        body_html='<p>Our logo: <img src="cid:logo@x" alt="logo"></p>',
        uploads=[LOGO],
        attachment_url=served_at,
        now=now,
    )

    message = ticket.messages.get()
    stored = message.attachments.get()
    assert f'src="{served_at(ticket.number, stored.pk)}"' in message.body_html
    assert "cid:" not in Message.objects.get(pk=message.pk).body_html


@pytest.mark.django_db
def test_it_points_inline_images_of_a_customer_message_at_their_files(
    now: datetime, ticket: Ticket
) -> None:
    message = services.add_customer_message(
        ticket,
        contact=ticket.requester,
        body="Logo",
        body_html='<img src="cid:logo@x">',
        uploads=[LOGO],
        attachment_url=served_at,
        now=later(now),
    )

    stored = message.attachments.get()
    assert message.body_html == f'<img src="{served_at(ticket.number, stored.pk)}">'


@pytest.mark.django_db
def test_it_refuses_inline_images_without_a_url_to_show_them_from(
    now: datetime, ticket: Ticket
) -> None:
    with pytest.raises(ValueError, match="inline uploads need attachment_url"):
        services.add_customer_message(
            ticket, contact=ticket.requester, body="Logo", uploads=[LOGO], now=later(now)
        )

    assert not Attachment.objects.exists()

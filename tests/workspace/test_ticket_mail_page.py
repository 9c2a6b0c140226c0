"""The ticket page's mail details (delivery state, quoted text, headers, raw download) cost the
same number of queries for a short or a long conversation."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patron.mail.models import InboundMail, Mailbox, OutboundMail
from patron.people.models import Role
from patron.tickets import services
from patron.tickets.models import Ticket
from tests import factories


def _mail_conversation(
    ticket: Ticket, exchanges: int, *, mailbox: Mailbox, agent: User, now: datetime
) -> None:
    """`exchanges` customer mails (stored, with quoted text and headers) and agent replies
    (each with its outbound mail, in every delivery state)."""
    states = list(OutboundMail.State)
    for n in range(exchanges):
        at = now + timedelta(minutes=2 * n + 1)
        message = services.add_customer_message(
            ticket, contact=ticket.requester, body=f"Question {n}", now=at
        )
        raw = f"Subject: Question {n}\nX-Ticket: {ticket.pk}\n\nQuestion {n}\n".encode()
        InboundMail.objects.create(
            mailbox=mailbox,
            raw=raw,
            sha256=hashlib.sha256(raw).hexdigest(),
            size=len(raw),
            source="pipe",
            received_at=at,
            state=InboundMail.State.PROCESSED,
            message_id_header=f"q{n}@customer.example",
            ticket=ticket,
            message=message,
            headers=[["Subject", f"Question {n}"], ["Message-ID", f"<q{n}@customer.example>"]],
            quoted_text=f"> earlier words {n}",
            remote_images=n % 2 == 0,
        )
        reply = services.reply(ticket, author=agent, body=f"Answer {n}", now=at)
        OutboundMail.objects.create(
            message=reply,
            ticket=ticket,
            mailbox=mailbox,
            message_id_header=f"patron.a{ticket.pk}.{n}@desk.example",
            to=[ticket.requester.primary_email],
            subject=f"Re: {ticket.subject} [#{ticket.number}]",
            state=states[n % len(states)],
            last_error="550 5.1.1 User unknown" if n % 2 else "",
            sent_at=at,
            next_attempt_at=at,
            created_at=at,
        )


@pytest.mark.django_db
def test_the_page_shows_mail_details_in_the_same_number_of_queries_for_3_or_30_exchanges(
    client: Client, now: datetime, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    agent: User = factories.agent(Role.AGENT, password=None)
    client.force_login(agent)
    mailbox = Mailbox.objects.create(address="support@desk.example")
    requester = factories.contact(now=now)
    few, many = factories.ticket(now=now, requester=requester), factories.ticket(now=now)
    _mail_conversation(few, 3, mailbox=mailbox, agent=agent, now=now)
    _mail_conversation(many, 30, mailbox=mailbox, agent=agent, now=now)

    counts, pages = [], []
    for ticket in (few, many):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("ticket_detail", args=[ticket.number]))
        assert response.status_code == 200
        counts.append(len(queries))
        pages.append(response.content.decode())

    assert counts[0] == counts[1]
    page = pages[1]
    assert page.count("<summary>Show quoted text</summary>") == 30
    assert page.count("<summary>Show original headers</summary>") == 30
    assert page.count("Show remote images") == 15
    assert page.count("Download original (.eml)") == 30
    assert page.count('class="inline retry-mail"') == 14  # the failed and the bounced ones
    assert "Queued for sending by email" in page and "Sent by email to" in page
    assert "Bounced by" in page and "Not delivered to" in page
    assert "&gt; earlier words 29" in page

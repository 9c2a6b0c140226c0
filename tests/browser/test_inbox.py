"""The inbox in Chromium: open a view, select tickets, bulk-assign them, see the change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, User
from playwright.sync_api import Page, expect

from patron.tickets.models import EventKind, Ticket
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]


def test_an_agent_bulk_assigns_two_client_tickets_to_themselves(
    page: Page, log_in: LogIn, now: datetime
) -> None:
    acme = factories.organization(now=now, relationship="client", name="Acme")
    person = factories.contact(now=now, organization=acme, name="Ada Client")
    first = factories.ticket(now=now, requester=person, subject="Contract renewal")
    second = factories.ticket(now=now, requester=person, subject="Invoice address")
    factories.ticket(now=now, subject="Customer question")
    agent = factories.agent(password=None, username="ines")
    assert isinstance(agent, User)

    log_in(agent)
    page.goto("/tickets/")
    page.get_by_role("navigation", name="Views").get_by_role("link", name="Clients").click()

    expect(page.get_by_role("heading", name="Clients", exact=True)).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_text("Customer question")).to_have_count(0)
    page.get_by_label(f"Select ticket #{first.number}").check()
    page.get_by_label(f"Select ticket #{second.number}").check()
    page.get_by_label("Assignee").select_option("me")
    page.get_by_role("button", name="Assign", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("2 updated.")
    for ticket in (first, second):
        row = page.locator(f'tr[data-ticket="{ticket.number}"]')
        expect(row.locator("td.assignee")).to_have_text("Ines")
        assert Ticket.objects.get(pk=ticket.pk).events.filter(kind=EventKind.ASSIGNED).count() == 1

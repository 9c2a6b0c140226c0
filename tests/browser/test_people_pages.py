"""Contact and organization pages in Chromium: from a ticket to its requester, an edit, and a
supervisor turning a customer into a client."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from playwright.sync_api import Page, expect

from patron.people.models import Contact, Organization, PeopleEvent, Role
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]


def test_a_supervisor_edits_the_requester_and_makes_their_organization_a_client(
    page: Page, log_in: LogIn, now: datetime
) -> None:
    acme = factories.organization(now=now, name="Acme Freight", domains=("acme.example",))
    dana = factories.contact(now=now, name="Dana Reyes", email="dana@acme.example")
    ticket = factories.ticket(now=now, requester=dana, subject="Pallets stuck in customs")
    supervisor = factories.agent(Role.SUPERVISOR, password=None)
    log_in(supervisor)

    page.goto(f"/tickets/{ticket.number}/")
    page.locator(".meta").get_by_role("link", name="Dana Reyes").click()

    expect(page).to_have_url(re.compile(rf"/people/contacts/{dana.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dana Reyes")
    expect(page.get_by_role("link", name="Pallets stuck in customs")).to_be_visible()
    page.get_by_text("Edit contact").click()
    page.get_by_label("Phone").fill("+1 555 0100")
    page.get_by_role("button", name="Save contact").click()

    expect(page.get_by_role("status")).to_contain_text("Saved Dana Reyes.")
    expect(page.locator("dd.phone")).to_have_text("+1 555 0100")
    assert Contact.objects.get(pk=dana.pk).phone == "+1 555 0100"

    page.locator(".meta").get_by_role("link", name="Acme Freight").click()
    badge = page.locator("article header .badge")
    expect(badge).to_have_text("Customer")
    page.get_by_label("Relationship").select_option("client")
    page.get_by_role("button", name="Change relationship").click()

    expect(badge).to_have_text("Client")
    expect(page.get_by_role("region", name="Activity")).to_contain_text(
        "Relationship changed: Customer → Client"
    )
    assert Organization.objects.get(pk=acme.pk).relationship == "client"
    assert PeopleEvent.objects.filter(organization=acme, actor_id=supervisor.pk).exists()

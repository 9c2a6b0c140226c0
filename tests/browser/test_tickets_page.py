"""The ticket list and ticket page in Chromium: log in, open, reply, note; who sees what."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, User
from playwright.sync_api import Locator, Page, expect

from patron.people.models import Role
from patron.tickets.models import Message, Status, Ticket
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]


def _conversation(page: Page) -> Locator:
    return page.get_by_role("region", name="Conversation")


def test_an_agent_replies_from_the_ticket_page_and_sees_the_reply(
    page: Page, log_in_with_form: LogIn, now: datetime
) -> None:
    requester = factories.contact(now=now, name="Dana Reyes")
    ticket = factories.ticket(now=now, requester=requester, subject="The invoice PDF is blank")
    agent = factories.agent()
    assert isinstance(agent, User)
    reply = "Sorry about that, Dana. A corrected invoice is attached to your account now."

    log_in_with_form(agent)
    row = page.get_by_role("row").filter(has_text="The invoice PDF is blank")
    expect(row).to_contain_text("Dana Reyes")
    row.get_by_role("link", name="The invoice PDF is blank").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("The invoice PDF is blank")
    expect(_conversation(page)).to_contain_text("I ordered a week ago and nothing came.")
    expect(page.get_by_role("radio", name="Public reply")).to_be_checked()
    page.get_by_label("Message").fill(reply)
    page.get_by_role("button", name="Send").click()

    expect(page).to_have_url(re.compile(rf"/tickets/{ticket.number}/$"))
    last = _conversation(page).locator(".message").last
    expect(last).to_contain_text(reply)
    expect(last).to_contain_text(agent.get_full_name())
    expect(last.get_by_text("Internal note")).to_have_count(0)
    expect(page.locator(".meta .status")).to_have_text("Open")  # a public reply opens a new ticket
    stored = Message.objects.get(ticket=ticket, author_agent=agent)
    assert (stored.body_text, stored.public) == (reply, True)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


def test_an_internal_note_is_labelled_and_set_apart_from_public_messages(
    page: Page, log_in: LogIn, now: datetime
) -> None:
    ticket = factories.ticket(now=now, subject="Renewal quote for 2027")
    agent = factories.agent(password=None)
    note = "Check with finance before quoting the multi-year discount."

    log_in(agent)
    page.goto(f"/tickets/{ticket.number}/")
    page.get_by_role("radio", name="Internal note").check()
    page.get_by_label("Message").fill(note)
    page.get_by_role("button", name="Send").click()

    conversation = _conversation(page)
    noted = conversation.locator(".message").filter(has_text=note)
    customer = conversation.locator(".message").filter(has_text="I ordered a week ago")
    expect(noted.get_by_text("Internal note", exact=True)).to_be_visible()
    expect(customer.get_by_text("Internal note", exact=True)).to_have_count(0)
    background = "el => getComputedStyle(el).backgroundColor"
    assert noted.evaluate(background) != customer.evaluate(background)
    assert Message.objects.get(ticket=ticket, author_agent=agent).public is False


def test_a_light_agent_is_offered_no_public_reply(page: Page, log_in: LogIn, now: datetime) -> None:
    ticket = factories.ticket(now=now)
    light_agent = factories.agent(Role.LIGHT_AGENT, password=None)

    log_in(light_agent)
    page.goto(f"/tickets/{ticket.number}/")

    expect(page.get_by_role("radio", name="Internal note")).to_be_checked()
    expect(page.get_by_role("radio", name="Public reply")).to_have_count(0)
    expect(page.get_by_text("Public reply")).to_have_count(0)
    expect(page.get_by_label("Then set status")).to_have_count(0)


def test_a_restricted_agent_sees_why_another_teams_ticket_is_closed_to_them(
    page: Page, log_in: LogIn, now: datetime
) -> None:
    billing, shipping = factories.team("Billing"), factories.team("Shipping")
    ticket = factories.ticket(now=now, subject="Parcel stuck in customs", team=shipping)
    agent = factories.agent(teams=(billing,), restricted=True, password=None)

    log_in(agent)
    page.goto("/tickets/")
    expect(page.get_by_role("heading", name="Tickets", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Parcel stuck in customs")).to_have_count(0)
    response = page.goto(f"/tickets/{ticket.number}/")

    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(
        page.get_by_text(f"Ticket #{ticket.number} belongs to a team you are not in.")
    ).to_be_visible()
    expect(page.get_by_text("Parcel stuck in customs")).to_have_count(0)
